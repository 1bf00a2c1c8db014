"""Forms of the administration pages. Choices that come from the database are set by the view."""

from datetime import datetime

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import (
    EmailField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from escalate import wording
from escalate.fields import DayMonthYearField, Form, WholeNumberField, at_most
from escalate.models import AgencyKind, Role
from escalate.wording import (
    LEAD_RULE_LABELS,
    NATION_LABELS,
    RESPONDER_RULE_LABELS,
)


class ConfirmForm(Form):
    """A button that changes something: only the CSRF token travels with it."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class AgencyForm(Form):
    name = StringField(
        "Agency name",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the agency's name"),
            at_most(wording.MAX_NAME_CHARACTERS, "The agency's name"),
        ],
    )
    kind = RadioField(
        "What kind of agency is it?",
        widget=GovRadioInput(),
        choices=[(kind.value, kind.label) for kind in AgencyKind],
        validators=[InputRequired(message="Select the kind of agency")],
    )
    sign_in = RadioField(
        "How do its people sign in?",
        widget=GovRadioInput(),
        choices=[
            ("password", "With a password, or single sign-on if it is set up"),
            ("single-sign-on", "Single sign-on only: passwords are refused"),
        ],
        default="password",  # a form sent without it leaves passwords allowed
    )
    submit = SubmitField("Save agency", widget=GovSubmitInput())


class AccountForm(Form):
    email = EmailField(
        "Email address",
        description="They sign in with it, and the link to set a password is sent to it.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter an email address"),
            at_most(wording.MAX_EMAIL_CHARACTERS, "The email address"),
        ],
    )
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the person's full name"),
            at_most(wording.MAX_NAME_CHARACTERS, "The name"),
        ],
    )
    job_title = StringField(
        "Job title (optional)",
        widget=GovTextInput(),
        validators=[
            Optional(),
            at_most(wording.MAX_NAME_CHARACTERS, "The job title"),
        ],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        choices=[(role.value, role.label) for role in Role],
        validators=[InputRequired(message="Select a role")],
    )
    agency = SelectField(
        "Agency",
        description="Practitioners, managers and senior managers act for an agency.",
        widget=GovSelect(),
        coerce=int,
        validators=[Optional()],
    )
    line_manager = SelectField(
        "Line manager (optional)",
        description="At stage 2 a difference goes to the line manager of the person named.",
        widget=GovSelect(),
        coerce=int,
        validators=[Optional()],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())

    def values(self) -> dict:
        return {
            "email": self.email.data,
            "name": self.name.data,
            "job_title": self.job_title.data or "",
            "role": self.role.data,
            "agency_id": self.agency.data or None,
            "line_manager_id": self.line_manager.data or None,
        }


class SafeguardingLeadForm(Form):
    user = SelectField(
        "Person",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Select a person")],
    )
    submit = SubmitField("Add designated safeguarding lead", widget=GovSubmitInput())

    def __init__(self, *args, **kwargs):
        # Its own prefix: the stage contact form on the same page has a "user" field too.
        kwargs.setdefault("prefix", "lead")
        super().__init__(*args, **kwargs)


class StageContactForm(Form):
    level = SelectField(
        "Stage",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Select a stage")],
    )
    user = SelectField(
        "Person",
        widget=GovSelect(),
        coerce=int,
        validators=[InputRequired(message="Select a person")],
    )
    submit = SubmitField("Add stage contact", widget=GovSubmitInput())


def _days(label, description, message, example="5"):
    return WholeNumberField(
        label,
        description=description,
        example=example,
        widget=GovTextInput(),
        validators=[InputRequired(message=message)],
    )


class StageForm(Form):
    name = StringField(
        "Name of the stage",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter the stage's name"),
            at_most(wording.MAX_STAGE_NAME_CHARACTERS, "The stage's name"),
        ],
    )
    responder_rule = RadioField(
        "Who responds for the receiving agency?",
        widget=GovRadioInput(),
        choices=[(rule.value, label) for rule, label in RESPONDER_RULE_LABELS.items()],
        validators=[InputRequired(message="Select who responds at this stage")],
    )
    lead_rule = RadioField(
        "Who leads for the raising agency?",
        widget=GovRadioInput(),
        choices=[(rule.value, label) for rule, label in LEAD_RULE_LABELS.items()],
        validators=[InputRequired(message="Select who leads for the raising side")],
    )
    working_days = _days(
        "Working days to respond",
        "Counted from the day the stage opens; the deadline is the end of the working day.",
        "Enter the working days to respond",
    )
    urgent_working_hours = _days(
        "Working hours to respond when the child may be at immediate risk",
        "Urgent differences use this instead, counted in the working day's hours "
        "(8 hours is one working day).",
        "Enter the working hours for an urgent difference",
        example="4",
    )
    reminder_days_before = _days(
        "Remind the responder this many working days before the deadline",
        "0 means no early reminder.",
        "Enter when to remind the responder",
        example="1",
    )
    auto_escalate = RadioField(
        "Escalate automatically when the deadline is missed?",
        widget=GovRadioInput(),
        choices=[("yes", "Yes"), ("no", "No")],
        validators=[InputRequired(message="Select yes if a missed deadline escalates")],
    )
    raiser_reply_days = _days(
        "Working days the raising side has to accept or escalate a response",
        "",
        "Enter the working days the raising side has to reply",
    )
    proposal_reply_days = _days(
        "Working days the raiser has to answer a lead's proposal to accept or withdraw",
        "If the raiser does not answer in time, the proposal takes effect.",
        "Enter the working days the raiser has to answer a proposal",
    )
    max_extension_days = _days(
        "Longest extension the responder may give themselves, in working days",
        "0 means the deadline cannot be extended.",
        "Enter the longest extension",
    )
    submit = SubmitField("Save stage", widget=GovSubmitInput())

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "responder_rule": self.responder_rule.data,
            "lead_rule": self.lead_rule.data,
            "working_days": self.working_days.data,
            "urgent_working_hours": self.urgent_working_hours.data,
            "reminder_days_before": self.reminder_days_before.data,
            "auto_escalate": self.auto_escalate.data == "yes",
            "raiser_reply_days": self.raiser_reply_days.data,
            "proposal_reply_days": self.proposal_reply_days.data,
            "max_extension_days": self.max_extension_days.data,
        }


class TimeField(StringField):
    """A time of day typed as 17:00 (or 17.00, 5pm)."""

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip().lower().replace(".", ":")
        self.raw = text
        self.data = None
        if not text:
            return
        for pattern in ("%H:%M", "%I:%M%p", "%I%p", "%H"):
            try:
                self.data = datetime.strptime(text.replace(" ", ""), pattern).time()
                return
            except ValueError:
                continue
        raise ValueError("Enter a time like 17:00")

    def _value(self):
        if self.data is not None:
            return self.data.strftime("%H:%M")
        return getattr(self, "raw", "") or ""


class CalendarForm(Form):
    nation = RadioField(
        "Whose bank holidays apply?",
        widget=GovRadioInput(),
        choices=list(NATION_LABELS.items()),
        validators=[InputRequired(message="Select the nation whose bank holidays apply")],
    )
    start_of_working_day = TimeField(
        "Start of the working day",
        description="Urgent differences count working hours from this time (UK time), "
        "for example 09:00.",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the start of the working day, like 09:00")],
    )
    end_of_working_day = TimeField(
        "End of the working day",
        description="Deadlines fall due at this time (UK time), for example 17:00.",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the end of the working day, like 17:00")],
    )
    submit = SubmitField("Save calendar", widget=GovSubmitInput())


class UrgentStartForm(Form):
    """The highest stage an urgent difference may start at (choices set by the view)."""

    highest_urgent_start = RadioField(
        "Highest stage at which the raiser of an urgent difference may start it",
        description="The raiser chooses any stage up to this one. The final stage is never a "
        "starting stage.",
        widget=GovRadioInput(),
        choices=[],
        validators=[InputRequired(message="Select the highest starting stage")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class MinutesDaysForm(Form):
    """How many working days after a professionals' meeting its minutes are due."""

    minutes_working_days = WholeNumberField(
        "Working days to record a professionals' meeting's minutes",
        description="Counted from the day of the meeting, for meetings arranged after the "
        "change. Partnership procedures often ask for 15.",
        example="15",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the number of working days, like 15")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())


class ClosureDayForm(Form):
    day = DayMonthYearField(
        "Date",
        error_name="The date",
        description="For example, 24 12 2026",
        validators=[InputRequired(message="Enter the date of the closure day")],
    )
    description = StringField(
        "Description",
        description="For example, Council closure day.",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter a description"),
            at_most(wording.MAX_CLOSURE_DESCRIPTION, "The description"),
        ],
    )
    submit = SubmitField("Add closure day", widget=GovSubmitInput())


class ActNowForm(Form):
    text = TextAreaField(
        "What must someone do if a child is in immediate danger?",
        description="Shown, before anything else, to anyone who says a child is at immediate "
        "risk of significant harm. Give the partnership's own telephone numbers.",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter what people must do when a child is in danger"),
            at_most(wording.MAX_ACT_NOW_CHARACTERS, "The text"),
        ],
    )
    mash_phone = StringField(
        "The MASH (children's social care front door): telephone",
        description="For example, 01632 960100.",
        widget=GovTextInput(),
        validators=[Optional(), at_most(wording.MAX_PHONE_CHARACTERS, "The number")],
    )
    out_of_hours_phone = StringField(
        "Out of hours: the emergency duty team's telephone",
        description="Evenings, weekends and bank holidays.",
        widget=GovTextInput(),
        validators=[Optional(), at_most(wording.MAX_PHONE_CHARACTERS, "The number")],
    )
    police_phone = StringField(
        "Police, when it is not an emergency: telephone",
        description="Usually 101. In an emergency people call 999, which is always shown.",
        widget=GovTextInput(),
        validators=[Optional(), at_most(wording.MAX_PHONE_CHARACTERS, "The number")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())

    def phones(self) -> dict:
        """The numbers the form carried (a number not sent at all stays as it is)."""
        fields = (self.mash_phone, self.out_of_hours_phone, self.police_phone)
        return {field.name: field.data or "" for field in fields if field.raw_data}


class SetPasswordForm(Form):
    password = PasswordField(
        "Choose a password",
        description=f"At least {wording.MIN_PASSWORD_CHARACTERS} characters, and not a commonly "
        "used password. A few unrelated words make a strong password.",
        widget=GovPasswordInput(),
        validators=[
            InputRequired(message="Enter a password"),
            at_most(wording.MAX_PASSWORD_CHARACTERS, "The password"),
        ],
    )
    confirmation = PasswordField(
        "Type the password again",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Type the password again")],
    )
    submit = SubmitField("Set password", widget=GovSubmitInput())


class TwoFactorSettingForm(Form):
    for_everyone = RadioField(
        "Who must use two-factor sign-in with a password?",
        widget=GovRadioInput(),
        choices=[
            ("no", "Administrators, partnership members and auditors"),
            ("yes", "Everyone who signs in with a password"),
        ],
        validators=[InputRequired(message="Select who must use two-factor sign-in")],
    )
    submit = SubmitField("Save", widget=GovSubmitInput())
