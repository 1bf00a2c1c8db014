"""The partnership's stage policy (product.md §3): the default, and the rules any policy must
keep. Pure: no Flask, no database session, no clock."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from escalate.models import LeadRule, ResponderRule
from escalate.validation import check_name
from escalate.wording import (
    MAX_ACT_NOW_CHARACTERS,
    MAX_STAGE_NAME_CHARACTERS,
    MAX_WORKING_DAYS,
)
from escalate.workflow import FieldError, InvalidRequest


@dataclass(frozen=True)
class StagePolicy:
    level: int
    name: str
    responder_rule: ResponderRule
    lead_rule: LeadRule
    working_days: int
    urgent_working_days: int
    reminder_days_before: int = 1
    auto_escalate: bool = True
    raiser_reply_days: int = 5
    max_extension_days: int = 5


# product.md §3: the policy a new partnership starts with (an administrator can change it).
DEFAULT_POLICY = (
    StagePolicy(
        1, "Practitioner to practitioner", ResponderRule.NAMED_PROFESSIONAL, LeadRule.RAISER, 5, 1
    ),
    StagePolicy(
        2,
        "Manager to manager",
        ResponderRule.NAMED_PROFESSIONALS_MANAGER,
        LeadRule.RAISERS_MANAGER,
        5,
        1,
    ),
    StagePolicy(
        3,
        "Senior manager or designated professional",
        ResponderRule.AGENCY_CONTACTS,
        LeadRule.AGENCY_CONTACTS,
        5,
        1,
    ),
    StagePolicy(
        4,
        "Partnership resolution",
        ResponderRule.PARTNERSHIP,
        LeadRule.NONE,
        10,
        2,
        auto_escalate=False,
        max_extension_days=10,
    ),
)

DEFAULT_ACT_NOW_TEXT = (
    "If a child is in immediate danger, call 999 now. If you think a child is at risk of "
    "significant harm, make a referral to children's social care (the MASH) straight away, "
    "by telephone, and follow it up in writing."
)


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
    _days(
        stage.urgent_working_days,
        field="urgent_working_days",
        what="the working days for an urgent difference",
        minimum=1,
    )
    if stage.urgent_working_days > stage.working_days:
        raise FieldError(
            "urgent_working_days",
            "An urgent difference cannot have longer than the usual "
            f"{stage.working_days} working days",
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
