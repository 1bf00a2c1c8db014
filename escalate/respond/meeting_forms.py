"""The forms of professionals' meetings (follow-through): arranging one, its outcome, its
minutes."""

from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSubmitInput, GovTextInput
from wtforms import RadioField, StringField, SubmitField
from wtforms.validators import InputRequired, Optional

from escalate.fields import DayMonthYearField, at_most
from escalate.models import MeetingKind
from escalate.respond.forms import ActionForm, _text
from escalate.wording import MAX_NAME_CHARACTERS


class ArrangeMeetingForm(ActionForm):
    # Offered only at the final stage, to the partnership (the view removes it otherwise).
    kind = RadioField(
        "What kind of meeting is it?",
        widget=GovRadioInput(),
        choices=[(kind.value, kind.label) for kind in MeetingKind],
        validators=[InputRequired(message="Select the kind of meeting")],
    )
    meets_on = DayMonthYearField(
        "When is the meeting?",
        error_name="The date of the meeting",
        validators=[InputRequired(message="Enter the date of the meeting")],
    )
    chair = StringField(
        "Who will chair it?",
        description="Their name and role.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter who will chair the meeting"),
            at_most(MAX_NAME_CHARACTERS, "The chair"),
        ],
    )
    invited = _text("Who is invited?", "Enter who is invited", "Names, roles and agencies.")
    submit = SubmitField("Arrange the meeting", widget=GovSubmitInput())

    def values(self):
        return {
            "kind": self.kind.data if "kind" in self._fields else None,
            "meets_on": self.meets_on.data,
            "chair": self.chair.data,
            "invited": self.invited.data,
        }


class MeetingOutcomeForm(ActionForm):
    attendees = _text("Who attended?", "Enter who attended", "Names, roles and agencies.")
    agreed = _text(
        "What was agreed?",
        "Enter what was agreed",
        "What will happen, who does it, and by when.",
    )
    minutes_recorded_on = DayMonthYearField(
        "When were the minutes recorded? (optional)",
        error_name="The date the minutes were recorded",
        description="Leave it empty if they are not recorded yet. For example, 27 3 2026",
        validators=[Optional()],
    )
    submit = SubmitField("Record the outcome", widget=GovSubmitInput())

    def values(self):
        return {
            "attendees": self.attendees.data,
            "agreed": self.agreed.data,
            "minutes_recorded_on": self.minutes_recorded_on.data,
        }


class MinutesForm(ActionForm):
    minutes_recorded_on = DayMonthYearField(
        "When were the minutes recorded?",
        error_name="The date the minutes were recorded",
        description="For example, 27 3 2026",
        validators=[InputRequired(message="Enter the date the minutes were recorded")],
    )
    submit = SubmitField("Record the minutes", widget=GovSubmitInput())

    def values(self):
        return {"minutes_recorded_on": self.minutes_recorded_on.data}
