"""Forms of the information-governance pages: correcting a mistaken entry, searching the access
log."""

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSubmitInput,
)
from wtforms import HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional

from escalate import wording
from escalate.fields import Form, at_most


class CorrectionForm(Form):
    # The version of the difference the person was looking at: a later one means a conflict.
    version = HiddenField(validators=[InputRequired()])
    entry = RadioField(
        "Which entry is wrong?",
        widget=GovRadioInput(),
        choices=[],  # the difference's texts that are still there (queries.erasures)
        validators=[InputRequired(message="Choose the entry to correct")],
        validate_choice=False,  # the service checks the entry, and says why if it cannot
    )
    corrected_text = TextAreaField(
        "What should it say? (optional)",
        description="Leave this empty to remove the entry and put nothing in its place.",
        widget=GovCharacterCount(),
        validators=[Optional(), at_most(wording.MAX_TEXT_CHARACTERS, "The corrected text")],
    )
    rationale = TextAreaField(
        "Why is the entry wrong?",
        description="For example: a parent's full name was typed where the initials belong. "
        "Do not repeat the wrong text here.",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter why the entry is wrong and is being removed"),
            at_most(wording.MAX_TEXT_CHARACTERS, "The reason"),
        ],
    )
    submit = SubmitField("Remove the entry and record the correction", widget=GovSubmitInput())
