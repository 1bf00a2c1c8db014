from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from escalate import wording
from escalate.fields import (
    DayMonthYearField,
    Form,
    GovSelectWithData,
    at_most,
    choice_id,
    long_text_limit,
)
from escalate.models import Category


class RiskForm(Form):
    immediate_risk = RadioField(
        "Is the child at immediate risk of significant harm?",
        widget=GovRadioInput(),
        choices=[("yes", "Yes"), ("no", "No")],
        validators=[InputRequired(message="Select yes if the child is at immediate risk")],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


def _text(label, message, description="", required=True):
    validators = [long_text_limit()]
    validators.insert(0, InputRequired(message=message) if required else Optional())
    return TextAreaField(
        label,
        description=description,
        widget=GovCharacterCount(),
        validators=validators,
    )


class DifferenceForm(Form):
    """Everything product.md §2 records, in the order the page asks (so the error summary
    follows the page). Agencies and people are filled in by the view."""

    protective_action = _text(
        "What protective action has been taken for the child?",
        "",
        "For example: referral to the MASH at 10am today; police called; child at hospital.",
        required=False,
    )
    start_stage = RadioField(
        "At which stage should the difference start?",
        description="Start higher when the child cannot wait for the practitioner who made the "
        "decision: stage 2 goes straight to the managers.",
        widget=GovRadioInput(),
        choices=[],  # set by the view, for an urgent difference only
        validate_choice=False,
        validators=[Optional()],
    )
    child_reference = StringField(
        "Case reference for the child",
        description="The reference your agency or theirs uses for the child. Do not enter the "
        "child's name.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the case reference for the child"),
            at_most(wording.MAX_CHILD_REFERENCE_CHARACTERS, "The case reference"),
        ],
    )
    child_initials = StringField(
        "Child's initials",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the child's initials"),
            Length(
                max=wording.MAX_CHILD_INITIALS_CHARACTERS, message="Enter initials only, like JS"
            ),
        ],
    )
    child_date_of_birth = DayMonthYearField(
        "Child's date of birth (optional)",
        error_name="Date of birth",
        description="For example, 27 3 2019",
        validators=[Optional()],
    )
    # The choices below are checked by the rules of raising, which say what is wrong with one
    # (an agency with nobody to answer, a person of another agency), not "Not a valid choice".
    receiving_agency = SelectField(
        "Which agency do you disagree with?",
        widget=GovSelect(),
        coerce=choice_id,
        validate_choice=False,
        validators=[InputRequired(message="Select the agency you disagree with")],
    )
    named_professional = SelectField(
        "Who made the decision, if you know? (optional)",
        description="They will be asked to respond first. If you do not know, the agency's "
        "contact for differences will be asked.",
        widget=GovSelectWithData(),
        coerce=choice_id,
        validate_choice=False,
        validators=[Optional()],
    )
    category = RadioField(
        "What is the difference about?",
        widget=GovRadioInput(),
        choices=[(c.value, c.label) for c in Category],
        validate_choice=False,
        validators=[InputRequired(message="Select what the difference is about")],
    )
    decision = _text(
        "What decision, action or lack of action do you disagree with?",
        "Enter the decision or action you disagree with",
        "Say who decided, when, and what was decided.",
    )
    reasons = _text(
        "Why do you disagree?",
        "Enter why you disagree",
        "Give your evidence and what it means for the child.",
    )
    desired_outcome = _text(
        "What outcome do you want?",
        "Enter the outcome you want",
    )
    discussed_informally = RadioField(
        "Have you already discussed this with them informally?",
        widget=GovRadioInput(),
        choices=[("yes", "Yes"), ("no", "No")],
        validators=[InputRequired(message="Select yes if you have discussed it informally")],
    )
    informal_discussion = _text(
        "When did you discuss it, with whom, and what was said?",
        "",
        required=False,
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())
