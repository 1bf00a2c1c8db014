"""Forms of the oversight pages: the lists' filters, the report's dates and impact, a learning
note and its updates."""

from dataclasses import dataclass, field
from datetime import date

from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
)
from wtforms import RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, StopValidation

from escalate import wording
from escalate.calendar import Period
from escalate.fields import DayMonthYearField, Form, at_most, choice_id
from escalate.models import Category, LearningStatus
from escalate.queries.learning import LearningFilters
from escalate.queries.unresolved import SIDES, SORTS, UnresolvedFilters

MAX_AGE_DAYS = 36_500


@dataclass
class ParsedFilters:
    """The filters as understood, what was typed (to fill the form back in), and what was
    ignored with the reason why."""

    filters: UnresolvedFilters
    typed: dict[str, str]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)


def _whole_number(text: str) -> int | None:
    text = text.strip()
    # isascii: "²" is a digit to str.isdigit but not to int().
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def parse_filters(args, agency_ids: set[int], stage_levels: set[int]) -> ParsedFilters:
    """Read the unresolved list's query string. A value that makes no sense is ignored, and
    the page says so; it never stops the list from showing."""
    typed = {
        key: (args.get(key) or "").strip()
        for key in ("agency", "side", "stage", "theme", "waiting", "min_age", "sort")
    }
    problems: list[tuple[str, str]] = []
    values: dict = {}

    if typed["agency"]:
        agency_id = _whole_number(typed["agency"])
        if agency_id in agency_ids:
            values["agency_id"] = agency_id
        else:
            problems.append(("agency", "Select an agency from the list"))
    if typed["side"]:
        if typed["side"] in SIDES:
            values["side"] = typed["side"]
        else:
            problems.append(("side", "Select whether the agency raised or received it"))
    if typed["stage"]:
        level = _whole_number(typed["stage"])
        if level in stage_levels:
            values["stage"] = level
        else:
            problems.append(("stage", "Select a stage from the list"))
    if typed["theme"]:
        try:
            values["theme"] = Category(typed["theme"])
        except ValueError:
            problems.append(("theme", "Select a theme from the list"))
    if typed["waiting"]:
        if typed["waiting"] in ("response", "raiser"):
            values["waiting"] = typed["waiting"]
        else:
            problems.append(("waiting", "Select who it is waiting for"))
    if typed["min_age"]:
        days = _whole_number(typed["min_age"])
        if days is not None and days <= MAX_AGE_DAYS:
            values["min_age_days"] = days
        else:
            problems.append(("min_age", "Enter the age as a whole number of days, like 20"))
    if typed["sort"]:
        if typed["sort"] in SORTS:
            values["sort"] = typed["sort"]
        else:
            problems.append(("sort", "Select how to sort the list"))
    flags = set(args.getlist("only"))
    values["urgent"] = "urgent" in flags
    values["overdue"] = "overdue" in flags
    typed["only"] = sorted(flags & {"urgent", "overdue"})
    return ParsedFilters(UnresolvedFilters(**values), typed, problems)


class ReportForm(Form):
    """The report's period. Sent with GET: it reads, it changes nothing, so it needs no CSRF."""

    class Meta:
        csrf = False

    start = DayMonthYearField(
        "From",
        error_name="The start date",
        description="For example, 1 7 2026",
        validators=[InputRequired(message="Enter the start date")],
    )
    end = DayMonthYearField(
        "To",
        error_name="The end date",
        description="For example, 30 9 2026",
        validators=[InputRequired(message="Enter the end date")],
    )
    submit = SubmitField("Show the report", widget=GovSubmitInput())

    def period(self) -> Period | None:
        """The period asked for, or None (with the errors on the form) if it makes no sense."""
        if not self.validate():
            return None
        problem = period_problem(self.start.data, self.end.data)
        if problem is not None:
            name, message = problem
            getattr(self, name).errors = [message]
            return None
        return Period(self.start.data, self.end.data)


def period_problem(start: date, end: date) -> tuple[str, str] | None:
    """What is wrong with a report period, as (field, message), or None."""
    if end < start:
        return "end", "The end date must be the same as or after the start date"
    if start.year < 2000 or end.year > 2999:
        return "start", "Enter dates between the years 2000 and 2999"
    return None


def _chosen(message: str):
    """A select's choice is required: 0 is its "Select…" line (and anything that is no id)."""

    def check(form, field):
        if not field.data:
            raise StopValidation(message)

    return check


def _owner_fields(cls):
    """The owner and due date, asked when a note is written and when it is updated."""
    cls.owner_agency = SelectField(
        "Which agency owns the recommendation?",
        widget=GovSelect(),
        coerce=choice_id,
        validate_choice=False,
        validators=[_chosen("Select the agency that owns the recommendation")],
    )
    cls.owner = SelectField(
        "Who owns it there? (optional)",
        description="Someone who works for that agency. They are told.",
        widget=GovSelect(),
        coerce=choice_id,
        validate_choice=False,
    )
    cls.due_on = DayMonthYearField(
        "When is it due?",
        error_name="The due date",
        description="For example, 31 3 2027",
        validators=[InputRequired(message="Enter the date the recommendation is due")],
    )
    return cls


@_owner_fields
class LearningNoteForm(Form):
    text = TextAreaField(
        "What did the partnership learn from this difference?",
        description="For example, what should change in practice or procedure, and for whom. "
        "Do not include the child's name.",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter what the partnership learned"),
            at_most(wording.MAX_TEXT_CHARACTERS, "The learning note"),
        ],
    )
    recommendation = TextAreaField(
        "What does the partnership recommend?",
        description="What should be done, so that the board can follow it to done.",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter what the partnership recommends"),
            at_most(wording.MAX_TEXT_CHARACTERS, "The recommendation"),
        ],
    )
    submit = SubmitField("Add the learning note", widget=GovSubmitInput())


@_owner_fields
class LearningUpdateForm(Form):
    status = RadioField(
        "Status",
        widget=GovRadioInput(),
        choices=[(s.value, s.label) for s in LearningStatus],
        validators=[InputRequired(message="Select the status of the recommendation")],
    )
    reason = TextAreaField(
        "Why has it changed?",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter why it changed"),
            at_most(wording.MAX_TEXT_CHARACTERS, "The reason"),
        ],
    )
    submit = SubmitField("Update the learning note", widget=GovSubmitInput())


class ImpactForm(Form):
    text = TextAreaField(
        "What difference did the partnership's work make in this period?",
        description="For example, what changed in practice because of the learning, and how "
        "you know. Do not include any child's name.",
        widget=GovCharacterCount(),
        validators=[
            InputRequired(message="Enter the impact of the partnership's work"),
            at_most(wording.MAX_TEXT_CHARACTERS, "The impact"),
        ],
    )
    submit = SubmitField("Save the impact", widget=GovSubmitInput())


def parse_learning_filters(args, agency_ids: set[int]) -> tuple[LearningFilters, list]:
    """Read the learning list's query string; a value that makes no sense is ignored, and the
    page says so: (filters, [(field, message)])."""
    problems, values = [], {}
    status = (args.get("status") or "").strip()
    if status:
        try:
            values["status"] = LearningStatus(status)
        except ValueError:
            problems.append(("status", "Select a status from the list"))
    agency = (args.get("agency") or "").strip()
    if agency:
        if _whole_number(agency) in agency_ids:
            values["agency_id"] = _whole_number(agency)
        else:
            problems.append(("agency", "Select an agency from the list"))
    values["overdue"] = "overdue" in args.getlist("only")
    return LearningFilters(**values), problems
