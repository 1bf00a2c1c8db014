"""The base of every form, and the form fields shared by the journeys' forms."""

from datetime import date, datetime

from flask import request
from flask_wtf import FlaskForm
from govuk_frontend_wtf.gov_form_base import GovFormBase
from govuk_frontend_wtf.wtforms_widgets import GovDateInput, GovSelect
from werkzeug.datastructures import MultiDict
from wtforms import DateField, IntegerField, TextAreaField
from wtforms.validators import Length

from escalate import validation, wording

SUBMIT_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class Form(FlaskForm):
    """Every form's base. What no browser sends from a page is refused with a message beside
    the field, never with a server error: a file (or a JSON value) where text was expected, a
    NUL or other control character, a line break in a one-line box, text longer than any field
    takes. The checks are escalate.validation's, shared with the command line and importer."""

    def __init__(self, *args, **kwargs):
        self._not_text: set[str] = set()
        if not args and "formdata" not in kwargs:
            kwargs["formdata"] = self._typed_formdata()
        super().__init__(*args, **kwargs)

    def _typed_formdata(self) -> MultiDict | None:
        """The request's form fields as text. Files are kept out (the field is refused in
        validate): this service takes no uploads, and a field must never hold a file."""
        if request.method not in SUBMIT_METHODS:
            return None
        self._not_text = set(request.files)
        if not request.form and not request.files:
            return None
        return MultiDict(
            (name, value) for name, value in request.form.items(multi=True) if name not in
            self._not_text
        )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            problem = self._problem(field)
            if problem is not None:
                label = field.label.text or ""
                field.errors = [f"{label if 0 < len(label) <= 40 else 'This answer'} {problem}"]
                valid = False
        return valid

    def _problem(self, field) -> str | None:
        if field.name in self._not_text:
            return validation.text_problem(None)
        multiline = isinstance(field, TextAreaField)
        for value in field.raw_data or ():
            problem = validation.text_problem(value, multiline=multiline)
            if problem is not None:
                return problem
        return None


def choice_id(value) -> int:
    """A choice of a row by its id: anything but a whole number is no choice (0), for the rules
    to refuse with what to choose."""
    text = str(value if value is not None else "").strip()
    # isascii: "²" is a digit to str.isdigit but not to int().
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0


def iso_date(value):
    """A date chosen from a list (2026-12-01), or None for anything else (the rules refuse it)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


class GovSelectWithData(GovSelect):
    """GovSelect that gives each option the attributes its choice carries (a choice's third
    part, like ``{"data-agency": "3"}``), for the page's script to read."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        kwargs["items"] = [
            {"text": label, "value": value, "selected": selected, "attributes": render_kw or {}}
            for value, label, selected, render_kw in field.iter_choices()
        ]
        return GovFormBase.__call__(self, field, **kwargs)


class DayMonthYearField(DateField):
    """A GOV.UK date input (day, month, year boxes) with GOV.UK's error wording."""

    widget = GovDateInput()

    def __init__(self, label=None, validators=None, *, error_name="The date", **kwargs):
        super().__init__(label, validators, format="%d %m %Y", **kwargs)
        self.error_name = error_name

    def process_formdata(self, valuelist):
        if len(valuelist) != 3:
            # The widget redraws its three boxes from raw_data: a request that sent no date, or
            # the wrong number of parts (never a browser), must not break the page.
            self.raw_data = [*valuelist, "", "", ""][:3]
        if not valuelist or not any(part.strip() for part in valuelist):
            # Boxes holding only spaces are empty: a required date is then missing, not a
            # date the form goes on to use.
            self.raw_data = ["", "", ""]
            self.data = None
            return
        if len(valuelist) != 3 or not all(part.strip() for part in valuelist):
            self.data = None
            raise ValueError(f"{self.error_name} must include a day, month and year")
        try:
            self.data = datetime.strptime(" ".join(p.strip() for p in valuelist), "%d %m %Y").date()
        except ValueError:
            self.data = None
            raise ValueError(f"{self.error_name} must be a real date") from None


class WholeNumberField(IntegerField):
    """A whole number, with an error message that says what to type."""

    def __init__(self, label=None, validators=None, *, example="3", **kwargs):
        super().__init__(label, validators, **kwargs)
        self.example = example

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(f"Enter a whole number, like {self.example}") from None


def at_most(limit: int, subject: str = "This") -> Length:
    """A length limit with the wording every form uses: "The name must be 200 characters or
    fewer". Limits themselves are defined in escalate.wording."""
    return Length(max=limit, message=f"{subject} must be {limit:,} characters or fewer")


def long_text_limit() -> Length:
    """The limit on any free text (a rationale, a decision, a comment)."""
    return at_most(wording.MAX_TEXT_CHARACTERS)
