"""The partnership's stage policy (product.md §3): the default, and the rules any policy must
keep. Pure: no Flask, no database session, no clock."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from escalate.models import LeadRule, ResponderRule, Role
from escalate.validation import check_name
from escalate.wording import (
    MAX_ACT_NOW_CHARACTERS,
    MAX_PHONE_CHARACTERS,
    MAX_STAGE_NAME_CHARACTERS,
    MAX_URGENT_WORKING_HOURS,
    MAX_WORKING_DAYS,
    plural,
)
from escalate.workflow import FieldError, InvalidRequest


@dataclass(frozen=True)
class StagePolicy:
    level: int
    name: str
    responder_rule: ResponderRule
    lead_rule: LeadRule
    working_days: int
    urgent_working_hours: int
    reminder_days_before: int = 1
    auto_escalate: bool = True
    raiser_reply_days: int = 5
    max_extension_days: int = 5
    proposal_reply_days: int = 2


DEFAULT_PROPOSAL_REPLY_DAYS = 2


@dataclass(frozen=True)
class Timescale:
    """How long a stage gives the responder: working days, or (urgent) working hours."""

    days: int = 0
    hours: int = 0

    @property
    def is_hours(self) -> bool:
        return bool(self.hours)


def timescale(stage, *, urgent: bool) -> Timescale:
    """A policy stage's timescale for a difference: working hours when it is urgent."""
    if urgent:
        return Timescale(hours=stage.urgent_working_hours)
    return Timescale(days=stage.working_days)


# product.md §3: the policy a new partnership starts with (an administrator can change it).
DEFAULT_POLICY = (
    StagePolicy(
        1, "Practitioner to practitioner", ResponderRule.NAMED_PROFESSIONAL, LeadRule.RAISER, 5, 4
    ),
    StagePolicy(
        2,
        "Manager to manager",
        ResponderRule.NAMED_PROFESSIONALS_MANAGER,
        LeadRule.RAISERS_MANAGER,
        5,
        4,
    ),
    StagePolicy(
        3,
        "Senior manager or designated professional",
        ResponderRule.AGENCY_CONTACTS,
        LeadRule.AGENCY_CONTACTS,
        5,
        8,
    ),
    StagePolicy(
        4,
        "Partnership resolution",
        ResponderRule.PARTNERSHIP,
        LeadRule.NONE,
        10,
        16,
        auto_escalate=False,
        max_extension_days=10,
    ),
)

DEFAULT_ACT_NOW_TEXT = (
    "If a child is in immediate danger, call 999 now. If you think a child is at risk of "
    "significant harm, make a referral to children's social care (the MASH) straight away, "
    "by telephone, and follow it up in writing."
)
DEFAULT_POLICE_PHONE = "101"


def is_senior_level(level: int, final_level: int) -> bool:
    """The senior stage: the last one before the partnership's final stage (stage 3 of the
    default policy), unless that would be the first stage. The partnership is alerted when a
    difference reaches it, and when it is overdue there or at the final stage."""
    return 1 < level == final_level - 1


def partnership_watches_overdue(level: int, final_level: int) -> bool:
    """A missed deadline the partnership is alerted to: at the senior or the final stage."""
    return level == final_level or is_senior_level(level, final_level)


def _days(value, *, field: str, what: str, minimum: int, maximum: int = MAX_WORKING_DAYS) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"Enter {what} as a whole number, like 5")
    if value < minimum:
        raise FieldError(field, f"{what[0].upper()}{what[1:]} must be at least {minimum}")
    if value > maximum:
        raise FieldError(
            field, f"{what[0].upper()}{what[1:]} must be {maximum} working days or fewer"
        )
    return value


def check_stage(stage: StagePolicy, *, is_final: bool) -> None:
    """One stage's rules: a name, positive timescales, and a final stage the partnership decides."""
    check_name(stage.name, field="name", what="the stage's name", limit=MAX_STAGE_NAME_CHARACTERS)
    _days(stage.working_days, field="working_days", what="the working days", minimum=1)
    hours = stage.urgent_working_hours
    if isinstance(hours, bool) or not isinstance(hours, int):
        raise FieldError(
            "urgent_working_hours", "Enter the working hours for an urgent difference, like 4"
        )
    if not 1 <= hours <= MAX_URGENT_WORKING_HOURS:
        raise FieldError(
            "urgent_working_hours",
            "The working hours for an urgent difference must be between 1 and "
            f"{MAX_URGENT_WORKING_HOURS}",
        )
    if hours > stage.working_days * HOURS_IN_A_WORKING_DAY:
        raise FieldError(
            "urgent_working_hours",
            "An urgent difference cannot have longer than the usual "
            f"{plural(stage.working_days, 'working day')} "
            f"({stage.working_days * HOURS_IN_A_WORKING_DAY} working hours)",
        )
    _days(
        stage.reminder_days_before,
        field="reminder_days_before",
        what="the reminder",
        minimum=0,
    )
    if stage.reminder_days_before >= stage.working_days:
        raise FieldError(
            "reminder_days_before",
            f"The reminder must come before the deadline: fewer than {stage.working_days} "
            "working days before it (0 for no early reminder)",
        )
    _days(
        stage.raiser_reply_days,
        field="raiser_reply_days",
        what="the raising side's time to reply",
        minimum=1,
    )
    _days(
        stage.proposal_reply_days,
        field="proposal_reply_days",
        what="the raiser's time to answer a proposal",
        minimum=1,
    )
    _days(
        stage.max_extension_days,
        field="max_extension_days",
        what="the longest extension",
        minimum=0,
    )
    try:
        responder_rule = ResponderRule(stage.responder_rule)
    except ValueError:
        raise FieldError("responder_rule", "Select who responds at this stage") from None
    try:
        lead_rule = LeadRule(stage.lead_rule)
    except ValueError:
        raise FieldError("lead_rule", "Select who leads for the raising side") from None
    if is_final:
        # At the final stage only the partnership can act (it decides; nobody responds).
        if responder_rule != ResponderRule.PARTNERSHIP:
            raise FieldError(
                "responder_rule",
                "The last stage is the final stage, where the safeguarding partnership decides: "
                "its responder must be the partnership",
            )
        if lead_rule != LeadRule.NONE:
            raise FieldError(
                "lead_rule", "The final stage has no lead: the partnership decides"
            )
        if stage.auto_escalate:
            raise FieldError(
                "auto_escalate", "The final stage cannot escalate: there is no stage after it"
            )


def check_policy(stages: Sequence[StagePolicy]) -> None:
    """A whole policy: at least one stage, levels 1, 2, 3… in order, each stage valid, and the
    last one a final stage the partnership decides."""
    if not stages:
        raise InvalidRequest("The policy must have at least one stage.")
    for expected, stage in enumerate(stages, start=1):
        if stage.level != expected:
            raise InvalidRequest("The stages must be numbered 1, 2, 3… with none missing.")
        check_stage(stage, is_final=expected == len(stages))


# What "N working days" is in hours when the rules compare an urgent timescale with the usual one.
HOURS_IN_A_WORKING_DAY = 8

EARLIEST_END_OF_WORKING_DAY = time(12, 0)
LATEST_END_OF_WORKING_DAY = time(23, 59)


def check_end_of_working_day(value) -> time:
    """The time deadlines fall due each day: a time of day between 12:00 and 23:59."""
    if not isinstance(value, time) or not (
        EARLIEST_END_OF_WORKING_DAY <= value <= LATEST_END_OF_WORKING_DAY
    ):
        raise FieldError(
            "end_of_working_day",
            "Enter the end of the working day as a time between 12:00 and 23:59, like 17:00",
        )
    return value.replace(second=0, microsecond=0)


EARLIEST_START_OF_WORKING_DAY = time(6, 0)
MIN_WORKING_DAY_HOURS = 2


def check_start_of_working_day(value, end_of_working_day: time) -> time:
    """When the working day starts (urgent differences count working hours from it): from 06:00,
    and at least two hours before the day ends."""
    if not isinstance(value, time) or value < EARLIEST_START_OF_WORKING_DAY:
        raise FieldError(
            "start_of_working_day",
            "Enter the start of the working day as a time from 06:00, like 09:00",
        )
    value = value.replace(second=0, microsecond=0)
    start = value.hour * 60 + value.minute
    end = end_of_working_day.hour * 60 + end_of_working_day.minute
    if end - start < MIN_WORKING_DAY_HOURS * 60:
        raise FieldError(
            "start_of_working_day",
            f"The working day must start at least {MIN_WORKING_DAY_HOURS} hours before it ends "
            f"({end_of_working_day.strftime('%H:%M')})",
        )
    return value


def check_highest_urgent_start(value, stage_levels: Sequence[int]) -> int:
    """The highest stage an urgent difference may start at: a stage before the final one."""
    choices = list(stage_levels)[:-1] or [1]
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
        raise FieldError(
            "highest_urgent_start",
            f"Choose a stage between 1 and {max(choices)}: an urgent difference cannot start "
            "at the final stage",
        )
    return value


def urgent_start_levels(highest_urgent_start: int, stage_levels: Sequence[int]) -> list[int]:
    """The stages the raiser of an urgent difference may choose to start at."""
    before_final = list(stage_levels)[:-1] or list(stage_levels)
    return [level for level in before_final if level <= highest_urgent_start] or [1]


_PHONE = re.compile(r"\+?[0-9][0-9 ()-]*[0-9]")


def check_phone(value: str | None, *, field: str, what: str) -> str:
    """A telephone number as people dial it (digits, spaces, brackets, hyphens; may be blank)."""
    cleaned = " ".join((value or "").split())
    if not cleaned:
        return ""
    if (
        len(cleaned) > MAX_PHONE_CHARACTERS
        or not _PHONE.fullmatch(cleaned)
        or sum(c.isdigit() for c in cleaned) < 3
    ):
        raise FieldError(field, f"Enter {what} as digits, like 01632 960000")
    return cleaned


def check_act_now_text(text: str | None) -> str:
    """What people must do when a child is in danger: required, and short enough to read."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise FieldError("text", "Enter what people must do when a child is in danger")
    if len(cleaned) > MAX_ACT_NOW_CHARACTERS:
        raise FieldError("text", f"Keep it to {MAX_ACT_NOW_CHARACTERS:,} characters or fewer")
    return cleaned


# --- Retention ------------------------------------------------------------------------------

DEFAULT_RETENTION_YEARS = 6  # a closed difference is anonymised six years after it closed


def retention_cutoff(now: datetime, years: int) -> datetime:
    """A difference closed at or before this instant is due to be anonymised at ``now``: the
    same moment ``years`` calendar years earlier (29 February counts from 28 February)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


# --- Signing in --------------------------------------------------------------------------------

# Who can see every difference or change the partnership's setup: a password alone never opens
# their account.
TWO_FACTOR_ROLES = frozenset({Role.ADMIN, Role.PARTNERSHIP, Role.AUDITOR})


def two_factor_required(role: Role, *, for_everyone: bool) -> bool:
    """Whether a person signing in with a password must also give a code from an authenticator
    app: always for administrators, partnership members and auditors; for everyone when the
    partnership says so. (Single sign-on relies on the organisation's own multi-factor checks.)"""
    return for_everyone or role in TWO_FACTOR_ROLES


def passwords_allowed(agency) -> bool:
    """Whether a person of ``agency`` (None: the partnership's own staff) may sign in with a
    password; otherwise only through single sign-on."""
    return agency is None or agency.passwords_allowed
