"""Forms of the information-governance pages: correcting a mistaken entry, searching the access
log."""

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional

from escalate import wording
from escalate.fields import DayMonthYearField, Form, at_most
from escalate.queries.access import AccessFilters


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


class AccessLogForm(Form):
    """The access log's filters. Sent with GET: it reads, it changes nothing, so no CSRF."""

    class Meta:
        csrf = False

    person = StringField(
        "Person",
        description="Part of their name or email address.",
        widget=GovTextInput(),
        validators=[Optional(), at_most(wording.MAX_EMAIL_CHARACTERS, "The person")],
    )
    reference = StringField(
        "Difference",
        description="Its reference, for example RPD-2026-00012.",
        widget=GovTextInput(),
        validators=[Optional(), at_most(20, "The reference")],
    )
    start = DayMonthYearField("From", error_name="The start date", validators=[Optional()])
    end = DayMonthYearField("To", error_name="The end date", validators=[Optional()])
    submit = SubmitField("Search the access log", widget=GovSubmitInput())

    def filters(self) -> AccessFilters:
        """The filters that make sense (each one with a mistake is left out, and says why)."""
        self.validate()
        start = self.start.data if not self.start.errors else None
        end = self.end.data if not self.end.errors else None
        if start and end and end < start:
            self.end.errors = ["The end date must be the same as or after the start date"]
            end = None
        return AccessFilters(
            person=(self.person.data or "").strip() if not self.person.errors else "",
            reference=(self.reference.data or "").strip() if not self.reference.errors else "",
            first=start,
            last=end,
        )

    def args(self) -> dict:
        """The query string of the filters in force, for the CSV link and the pages."""
        f = self.filters()
        args = {"person": f.person or None, "reference": f.reference or None}
        for name, day in (("start", f.first), ("end", f.last)):
            if day is not None:  # a date input sends its day, month and year under one name
                args[name] = [day.day, day.month, day.year]
        return {k: v for k, v in args.items() if v is not None}
