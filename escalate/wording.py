"""Words, numbers and dates as people read them, and the limits on what they may type: each
defined once, for pages, emails, the command line and the rules alike.

Pure: no Flask, no database. The labels of the domain's own enums (roles, agency kinds, themes,
states, outcomes) live on the enums in escalate.models.
"""

from datetime import date, datetime

from escalate.calendar import to_local
from escalate.models import LeadRule, Nation, Outcome, ResponderRule

# --- Limits on what people type -------------------------------------------------------------

MAX_TEXT_CHARACTERS = 10_000  # any free text: a rationale, a decision, a comment
# The navigation counts unread messages up to here, then says "99+".
UNREAD_SHOWN_UP_TO = 99


def unread(count: int) -> str:
    """How many unread messages the navigation says there are: "3", or "99+"."""
    return f"{UNREAD_SHOWN_UP_TO}+" if count > UNREAD_SHOWN_UP_TO else f"{count:,}"
# How far ahead a professionals' meeting may be arranged: further is a typing slip.
LATEST_DAYS_AHEAD = 366
# How many years ahead an agreed action or a recommendation may be due (9999 is a typing slip).
LATEST_DUE_YEARS = 5
MIN_RATIONALE_CHARACTERS = 25
MIN_RATIONALE_WORDS = 5
MAX_NAME_CHARACTERS = 200  # a person's or an agency's name, a job title
MAX_STAGE_NAME_CHARACTERS = 120
MAX_CLOSURE_DESCRIPTION = 200
MAX_ACT_NOW_CHARACTERS = 2_000
MAX_EMAIL_CHARACTERS = 254  # RFC 5321's limit on a forward path
MIN_PASSWORD_CHARACTERS = 12  # NCSC: length is what makes a password strong
MAX_PASSWORD_CHARACTERS = 200
MAX_CHILD_REFERENCE_CHARACTERS = 60
MAX_CHILD_INITIALS_CHARACTERS = 10
MAX_CODE_CHARACTERS = 40  # a six-digit code, or a recovery code typed with spaces
RECOVERY_CODE_COUNT = 10  # single-use recovery codes made when two-factor sign-in is set up
SECOND_STEP_MINUTES = 5  # after the password, how long the code may take before starting again
TWO_FACTOR_ISSUER = "escalate"  # what an authenticator app shows above the account
MAX_WORKING_DAYS = 60  # a bound that catches typing 500 for 5, far beyond any real procedure
MAX_URGENT_WORKING_HOURS = 80  # two working weeks: urgent timescales are hours, not weeks
MAX_PHONE_CHARACTERS = 40

# --- Labels ------------------------------------------------------------------------------------

RESPONDER_RULE_LABELS = {
    ResponderRule.NAMED_PROFESSIONAL: "The named professional, else the agency's stage contacts",
    ResponderRule.NAMED_PROFESSIONALS_MANAGER: (
        "The named professional's line manager, else the agency's stage contacts"
    ),
    ResponderRule.AGENCY_CONTACTS: "The receiving agency's stage contacts",
    ResponderRule.PARTNERSHIP: "The safeguarding partnership",
}
LEAD_RULE_LABELS = {
    LeadRule.RAISER: "The person who raised it",
    LeadRule.RAISERS_MANAGER: "The raiser's line manager, else the agency's stage contacts",
    LeadRule.AGENCY_CONTACTS: "The raising agency's stage contacts",
    LeadRule.NONE: "Nobody (the raiser acts for their side)",
}
NATION_LABELS = {
    Nation.ENGLAND_AND_WALES: "England and Wales",
    Nation.SCOTLAND: "Scotland",
    Nation.NORTHERN_IRELAND: "Northern Ireland",
}
WITHDRAWN_LABEL = "Withdrawn"
# The dashboard's sections, each its own page under its sub navigation: the first is the overview.
DASHBOARD_SECTIONS = {
    "open": "Open now",
    "outcomes": "Outcomes",
    "themes": "Themes and learning",
    "agencies": "Agencies",
    "trend": "Trend",
    "notifications": "Notifications",
}
# The texts people type, as the page names them when one is corrected or erased.
ROW_TEXT_LABELS = {
    "child_reference": "Case reference",
    "child_initials": "Child's initials",
    "child_date_of_birth": "Date of birth",
    "decision": "The decision or action disagreed with",
    "reasons": "Why the raiser disagrees",
    "desired_outcome": "Outcome the raiser wants",
    "informal_discussion": "Informal discussion",
    "protective_action": "Protective action taken",
}
EVENT_TEXT_LABELS = {
    "rationale": "Reasons",
    "child_impact": "What this means for the child",
    "agreed_actions": "Actions agreed",
    "decision": "Decision",
    "comment": "Comment",
    "participants": "Who took part",
    "agreed": "What was agreed",
    "text": "What the partnership learned",
    "corrected_text": "Corrected text",
    "reason": "Reason",
    "advice": "Advice",
    "invited": "Who is invited",
    "chair": "Chair",
    "attendees": "Who attended",
    "recommendation": "Recommendation",
    "action": "Action agreed",
    "what_was_done": "What was done",
}
# What a notification's email carried (Notification.email_form), on the difference's page.
EMAIL_FORM_LABELS = {
    "full": "The whole message (a secure address)",
    "link_only": "Only the reference and a link",
}
# A difference the raising side never answered: its own row, never counted as resolved.
# An owner or due date a learning note was written without (before they were asked for).
NOT_SET = "Not set"
NO_REPLY_LABEL = "Closed: no reply from the raising side"
CLOSED_OUTCOMES = (*(outcome.value for outcome in Outcome), "withdrawn", "no_reply")


def outcome_label(value: str | None) -> str:
    """The words for how a stage or a difference ended: "Agreed – the decision changes"…"""
    if value == "withdrawn":
        return WITHDRAWN_LABEL
    if value == "no_reply":
        return NO_REPLY_LABEL
    try:
        return Outcome(value).label
    except ValueError:
        return ""

# --- Acting now: the immediate-risk question and the act-now page -----------------------------

IMMEDIATE_RISK_HINT = (
    "Significant harm is the legal threshold for child protection enquiries; immediate means "
    "the harm could happen today, before anyone answers a professional difference. Answer yes "
    "only if the child needs protecting now: you will be told who to call first."
)
ASK_FOR_THE_DUTY_MANAGER = (
    "If it is children's social care you disagree with, ring them now and ask for the duty "
    "manager or the team manager: say the child may be at immediate risk and that you disagree "
    "with the decision. Do not wait for this process to reach a manager."
)
EMERGENCY_NUMBER = "999"


def partnership_numbers(mash: str, out_of_hours: str, police: str) -> list[tuple[str, str]]:
    """The numbers people may need at once, as (who, number), 999 first; blank ones left out."""
    numbers = [
        ("Emergency: police or ambulance", EMERGENCY_NUMBER),
        ("Children's social care front door (MASH)", mash),
        ("Out of hours: emergency duty team", out_of_hours),
        ("Police, not an emergency", police),
    ]
    return [(who, number) for who, number in numbers if number]


# --- Numbers -----------------------------------------------------------------------------------


def plural(
    count: int, singular: str, plural_form: str | None = None, *, with_count: bool = True
) -> str:
    """"1 difference", "3 differences"; give the plural when adding "s" is wrong
    (``plural(n, "agency", "agencies")``, ``plural(n, "row was", "rows were")``)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}" if with_count else word


def either(values) -> str:
    """"1", "1 or 2", "1, 2 or 3"."""
    words = [str(value) for value in values]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


# --- Dates and times (stored in UTC, shown in the partnership's local time) -------------------


# The names of days and months, in English whatever the machine's locale (pages name dates in
# every row of every list: formatting them with strftime costs several times as much).
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def long_date(value: date | datetime | None) -> str:
    """27 November 2026."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}"


def day_and_date(value: date | datetime | None) -> str:
    """Friday 27 November 2026."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return f"{DAY_NAMES[value.weekday()]} {long_date(value)}"


def time_and_date(instant: datetime | None) -> str:
    """5:00pm on Friday 27 November 2026 (UK time)."""
    if instant is None:
        return ""
    local = to_local(instant)
    return f"{_clock(local)} on {day_and_date(local.date())}"


def when(instant: datetime | None) -> str:
    """A deadline as people say it: 5pm on Monday 28 April 2025 (minutes only when not :00)."""
    if instant is None:
        return ""
    local = to_local(instant)
    return f"{_clock(local).replace(':00', '')} on {day_and_date(local.date())}"


def iso_minute(instant: datetime | None) -> str:
    """2026-11-27 17:00, local time: for CSV files."""
    return to_local(instant).strftime("%Y-%m-%d %H:%M") if instant else ""


def _clock(local: datetime) -> str:
    """5:00pm, 10:30am, 12:05am."""
    return f"{local.hour % 12 or 12}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"


def due_by(deadline: datetime | None, now: datetime) -> str:
    """A deadline for a page read at ``now``: "3:30pm today", or "10:00am on Monday 30 November
    2026" on any other day."""
    if deadline is None:
        return ""
    local, today = to_local(deadline), to_local(now).date()
    if local.date() == today:
        return f"{_clock(local)} today"
    return time_and_date(deadline)


def working_time_left(minutes: int) -> str:
    """What is left of an urgent deadline: "3 working hours 30 minutes left"."""
    if minutes <= 0:
        return "Due now"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{plural(rest, 'working minute')} left"
    if not rest:
        return f"{plural(hours, 'working hour')} left"
    return f"{plural(hours, 'working hour')} {plural(rest, 'minute')} left"


def working_days_left(days: int) -> str:
    """What is left of a deadline in working days: "Due today", "3 working days left"."""
    if days <= 0:
        return "Due today"
    return f"{plural(days, 'working day')} left"
