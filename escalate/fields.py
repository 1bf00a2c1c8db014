"""Form fields shared by the journeys' forms."""

from datetime import datetime

from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import DateField, IntegerField
from wtforms.validators import Length

from escalate import wording


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
