"""One form per action on a difference (product.md §4: what each must record)."""

from datetime import date

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
)
from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from escalate import agreed_actions
from escalate.agreed_actions import NewAction
from escalate.errors import FieldError
from escalate.fields import DayMonthYearField, Form, choice_id, iso_date, long_text_limit
from escalate.models import Outcome


def _text(label, message=None, description=""):
    return TextAreaField(
        label,
        description=description,
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message=message) if message else Optional(),
            long_text_limit(),
        ],
    )


class ActionForm(Form):
    # The version of the difference the person was looking at: a later one means a conflict.
    version = HiddenField(validators=[InputRequired()])

    # Rows of fields shown together in their own block (RespondForm's agreed actions).
    action_rows: tuple = ()

    # Fields asked only after a given answer (GOV.UK conditional reveal): {radio field name:
    # {choice: the field shown under it}}. The page shows each under its choice.
    reveals: dict[str, dict[str, str]] = {}
    # The service's name for what the revealed questions ask (one is shown for each answer).
    revealed_as: str = ""

    def values(self) -> dict:
        """The keyword arguments the action's service takes from this form."""
        return {}

    def _revealed(self) -> str:
        """The field shown under the answer chosen (``revealed_as`` when none is)."""
        ((radio, choices),) = self.reveals.items()
        return choices.get(self[radio].data, self.revealed_as)

    def revealed_text(self) -> str:
        return self[self._revealed()].data or ""

    def error_field(self, name: str) -> str:
        """The field a rule's refusal about ``name`` is shown beside."""
        return self._revealed() if self.revealed_as and name == self.revealed_as else name


def _action_rows() -> dict:
    """The rows of agreed actions (agreed_actions.MAX_ACTIONS of them): for each, what will be
    done, which of the difference's two agencies does it (choices set by the view), by when.
    Optional here: agreed_actions.check_actions says what a response that agrees must list."""
    fields = {}
    for number in range(1, agreed_actions.MAX_ACTIONS + 1):
        fields[agreed_actions.row_field(number, "what")] = TextAreaField(
            "What will be done",
            widget=GovCharacterCount(),
            validators=[Optional(), long_text_limit()],
        )
        fields[agreed_actions.row_field(number, "agency")] = RadioField(
            "Which agency will do it?",
            widget=GovRadioInput(),
            coerce=choice_id,
            validate_choice=False,
            validators=[Optional()],
        )
        fields[agreed_actions.row_field(number, "due")] = DayMonthYearField(
            "By when?",
            error_name=f"The date action {number} is due by",
            description="Today or later. For example, 27 3 2026",
            validators=[Optional()],
        )
    return fields


class RespondForm(ActionForm):
    outcome = RadioField(
        "What is your response?",
        widget=GovRadioInput(),
        choices=[
            (Outcome.AGREED.value, "I agree: the decision will change"),
            (Outcome.PARTLY_AGREED.value, "I partly agree: a different plan"),
            (Outcome.UPHELD.value, "I uphold the decision: it stands"),
        ],
        validators=[
            InputRequired(
                message="Select whether you agree, partly agree or uphold the decision"
            )
        ],
    )
    # The actions agreed: one fieldset after the answer (it works without JavaScript), for an
    # answer that agrees or partly agrees; ignored when the decision is upheld.
    locals().update(_action_rows())
    rationale = _text(
        "Your reasons",
        "Enter the reasons for your response",
        "Explain your reasons so the person who raised the difference understands them.",
    )
    child_impact = _text(
        "What does this mean for the child?", "Enter what this means for the child"
    )
    submit = SubmitField("Send response", widget=GovSubmitInput())

    action_rows = tuple(
        tuple(agreed_actions.row_field(n, part) for part in ("what", "agency", "due"))
        for n in range(1, agreed_actions.MAX_ACTIONS + 1)
    )
    # The first day an action may be due (the view sets it from the clock).
    today: date = date.min

    def offer_agencies(self, difference) -> None:
        """The two agencies a row may choose, by name: the receiving agency first."""
        choices = [
            (difference.receiving_agency_id, difference.receiving_agency.name),
            (difference.raising_agency_id, difference.raising_agency.name),
        ]
        for _what, agency, _due in self.action_rows:
            self[agency].choices = choices

    def agrees(self) -> bool:
        return self.outcome.data in (Outcome.AGREED.value, Outcome.PARTLY_AGREED.value)

    def _rows(self) -> list[NewAction]:
        return [
            NewAction(self[what].data or "", self[agency].data, self[due].data)
            for what, agency, due in self.action_rows
        ]

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        rows = {name for row in self.action_rows for name in row}
        if not self.agrees():
            for name in rows:
                self[name].errors = []  # ignored: only an answer that agrees lists actions
        else:
            agencies = tuple(value for value, _ in self[self.action_rows[0][1]].choices or ())
            # A date the field refused already has its message: it counts as given.
            given = [
                NewAction(
                    a.what, a.agency_id, a.due_on or (self.today if self[due].errors else None)
                )
                for a, (_w, _a, due) in zip(self._rows(), self.action_rows, strict=True)
            ]
            try:
                agreed_actions.check_actions(given, agencies, self.today)
            except FieldError as error:
                presentation_errors = getattr(error, "errors", [error])
                for each in presentation_errors:
                    field = self[each.field]
                    if not field.errors:
                        field.errors = [str(each)]
        return not any(field.errors for field in self)

    def values(self):
        return {
            "outcome": self.outcome.data,
            "actions": self._rows() if self.agrees() else [],
            "rationale": self.rationale.data,
            "child_impact": self.child_impact.data,
        }


class AcceptForm(ActionForm):
    comment = _text("Comment (optional)")
    submit = SubmitField("Accept and resolve", widget=GovSubmitInput())

    def values(self):
        return {"comment": self.comment.data or ""}


class EscalateForm(ActionForm):
    rationale = _text(
        "Why are you escalating?",
        "Enter why you are escalating",
        "Say what is still unresolved and why it matters for the child.",
    )
    submit = SubmitField("Escalate", widget=GovSubmitInput())

    def values(self):
        return {"rationale": self.rationale.data}


class DecideForm(ActionForm):
    outcome = RadioField(
        "What has the partnership decided?",
        widget=GovRadioInput(),
        choices=[
            (Outcome.AGREED.value, "The decision changes"),
            (Outcome.PARTLY_AGREED.value, "A different plan"),
            (Outcome.UPHELD.value, "The decision stands"),
        ],
        validators=[
            InputRequired(
                message="Select whether the decision changes, a different plan, or it stands"
            )
        ],
    )
    decision = _text(
        "The decision", "Enter the decision", "What will happen, who does it, by when."
    )
    rationale = _text("The reasons for the decision", "Enter the reasons for the decision")
    child_impact = _text(
        "What does this mean for the child?", "Enter what this means for the child"
    )
    submit = SubmitField("Record the decision", widget=GovSubmitInput())

    def values(self):
        return {
            "outcome": self.outcome.data,
            "decision": self.decision.data,
            "rationale": self.rationale.data,
            "child_impact": self.child_impact.data,
        }


class WithdrawForm(ActionForm):
    rationale = _text("Why are you withdrawing the difference?", "Enter why you are withdrawing it")
    submit = SubmitField("Withdraw the difference", widget=GovSubmitInput())

    def values(self):
        return {"rationale": self.rationale.data}


class ExtendForm(ActionForm):
    # Every deadline that may be asked for is offered, with what it would be: the limit and the
    # new deadline are on the page before anything is sent (choices set by the view).
    new_deadline = RadioField(
        "What new deadline do you ask for?",
        description="The deadline moves only if the raising side agrees.",
        widget=GovRadioInput(),
        coerce=iso_date,
        validate_choice=False,
        validators=[InputRequired(message="Select the new deadline you ask for")],
    )
    rationale = _text("Why is more time needed?", "Enter why more time is needed")
    submit = SubmitField("Ask for more time", widget=GovSubmitInput())

    def values(self):
        return {"new_deadline": self.new_deadline.data, "rationale": self.rationale.data}


class AnswerExtensionForm(ActionForm):
    agree = RadioField(
        "Do you agree to the new deadline?",
        widget=GovRadioInput(),
        choices=[("yes", "Yes, the deadline moves"), ("no", "No, the deadline stays")],
        validators=[InputRequired(message="Select yes if you agree to the new deadline")],
    )
    comment = _text("Comment (optional)")
    answer = _text(
        "Why should the deadline stay?", description="Say why the child cannot wait longer."
    )
    submit = SubmitField("Send your answer", widget=GovSubmitInput())
    reveals = {"agree": {"yes": "comment", "no": "answer"}}
    revealed_as = "answer"

    def values(self):
        return {"agree": self.agree.data, "answer": self.revealed_text()}


class ReassignForm(ActionForm):
    new_responder = SelectField(
        "Who should respond instead?",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Select who should respond")],
    )
    rationale = _text("Why are you reassigning it?", "Enter why you are reassigning it")
    submit = SubmitField("Reassign", widget=GovSubmitInput())

    def values(self):
        return {"new_responder_id": self.new_responder.data, "rationale": self.rationale.data}


class ConversationForm(ActionForm):
    held_on = DayMonthYearField(
        "When was the conversation?",
        error_name="The date of the conversation",
        description="For example, 27 3 2026",
        validators=[InputRequired(message="Enter the date of the conversation")],
    )
    participants = _text("Who took part?", "Enter who took part", "Names and agencies.")
    agreed = _text("What was agreed?", "Enter what was agreed")
    submit = SubmitField("Record the conversation", widget=GovSubmitInput())

    def values(self):
        return {
            "held_on": self.held_on.data,
            "participants": self.participants.data,
            "agreed": self.agreed.data,
        }


class ProposeAcceptForm(ActionForm):
    rationale = _text(
        "Why do you propose accepting the response?",
        "Enter why you propose it",
        "The person who raised the difference reads this and decides: they confirm or object. "
        "If they do not answer in time, the response is accepted.",
    )
    submit = SubmitField("Send the proposal", widget=GovSubmitInput())

    def values(self):
        return {"kind": "accept", "rationale": self.rationale.data}


class ProposeWithdrawForm(ActionForm):
    rationale = _text(
        "Why do you propose withdrawing the difference?",
        "Enter why you propose it",
        "The person who raised the difference reads this and decides: they confirm or object. "
        "If they do not answer in time, the difference is withdrawn.",
    )
    submit = SubmitField("Send the proposal", widget=GovSubmitInput())

    def values(self):
        return {"kind": "withdraw", "rationale": self.rationale.data}


class AnswerProposalForm(ActionForm):
    answer = RadioField(
        "Do you agree with the proposal?",
        widget=GovRadioInput(),
        choices=[
            ("confirm", "Yes, I confirm it"),
            ("object", "No, I object: the difference goes on"),
        ],
        validators=[InputRequired(message="Select whether you confirm or object to the proposal")],
    )
    comment = _text("Comment (optional)")
    reason = _text(
        "Why should the difference go on?", description="Say what still worries you for the child."
    )
    submit = SubmitField("Send your answer", widget=GovSubmitInput())
    reveals = {"answer": {"confirm": "comment", "object": "reason"}}
    revealed_as = "reason"

    def values(self):
        return {"answer": self.answer.data, "reason": self.revealed_text()}


class AdviceForm(ActionForm):
    advice = _text(
        "Your advice",
        "Enter your advice",
        "It goes on the difference's record, where the people involved read it. The decisions "
        "stay with the person who raised it.",
    )
    submit = SubmitField("Add advice", widget=GovSubmitInput())

    def values(self):
        return {"advice": self.advice.data}


class MarkDoneForm(Form):
    note = _text(
        "What was done?",
        "Enter what was done",
        "Say what was done and when, so the person who raised the difference can see it.",
    )
    submit = SubmitField("Mark as done", widget=GovSubmitInput())


class FollowUpForm(Form):
    """The one-click button that raises a follow-up difference: its CSRF token only."""
class RecordedForm(Form):
    """An agency confirms it wrote an outcome on the child's own record (one form an entry, each
    with its own prefix, so several can share the difference's page)."""

    recorded_on = DayMonthYearField(
        "When was it recorded in your system?",
        error_name="The date it was recorded",
        description="For example, 3 12 2026",
        validators=[InputRequired(message="Enter the date it was recorded in your system")],
    )
    submit = SubmitField("Confirm it is recorded", widget=GovSubmitInput())
