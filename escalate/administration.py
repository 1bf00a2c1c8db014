"""The rules of administering a partnership: its stage policy, accounts and invitations.

Pure: no Flask, no database session, no clock. Services load what these functions need, ask them,
and act on the answer. Refusals are domain errors written for the administrator who asked; a
:class:`~escalate.workflow.RationaleRequired` names the form field it is about.
"""

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from enum import Enum

from escalate.models import AGENCY_ROLES, AgencyKind, LeadRule, ResponderRule, Role
from escalate.workflow import InvalidRequest, RationaleRequired, StagePolicy

INVITATION_LIFETIME = timedelta(days=7)
MAX_WORKING_DAYS = 60  # a bound that catches typing 500 for 5, far beyond any real procedure
MAX_NAME_CHARACTERS = 200
MAX_STAGE_NAME_CHARACTERS = 120
MAX_CLOSURE_DESCRIPTION = 200
MAX_ACT_NOW_CHARACTERS = 2_000

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
    "england-and-wales": "England and Wales",
    "scotland": "Scotland",
    "northern-ireland": "Northern Ireland",
}


# --- Invitations -----------------------------------------------------------------------------


def new_token() -> str:
    """A random, unguessable token for a one-time link (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, so a copy of the database opens no account."""
    return hashlib.sha256((token or "").encode()).hexdigest()


def invitation_problem(*, used_at, expires_at, user_active: bool, now: datetime) -> str | None:
    """Why an invitation link cannot be used now ("used", "expired", "inactive"), or None."""
    if used_at is not None:
        return "used"
    if not user_active:
        return "inactive"
    if now >= expires_at:
        return "expired"
    return None


# --- Accounts --------------------------------------------------------------------------------


def check_role_and_agency(role: Role | str, has_agency: bool) -> Role:
    """The role, if it is one, and if the account has the agency the role needs."""
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise RationaleRequired("role", f"Choose a role: one of {allowed}") from None
    if role in AGENCY_ROLES and not has_agency:
        raise RationaleRequired(
            "agency", f"Select an agency: a {role.label.lower()} acts for an agency"
        )
    return role


def check_line_manager(
    user_id: int | None, manager_id: int | None, manager_of: Mapping[int, int | None]
) -> None:
    """Refuse a line manager who is the person themselves or reports to them, at any distance.

    ``manager_of`` maps each user id to their line manager's id, as the accounts stand now.
    """
    if manager_id is None or user_id is None:
        return
    if manager_id == user_id:
        raise RationaleRequired("line_manager", "A person cannot be their own line manager")
    seen = set()
    current = manager_id
    while current is not None and current not in seen:
        if current == user_id:
            raise RationaleRequired(
                "line_manager",
                "That person reports to this one (directly or through others): choose someone "
                "outside their line",
            )
        seen.add(current)
        current = manager_of.get(current)


def check_still_an_admin(*, active_admin_ids: set[int], user_id: int, remains_admin: bool):
    """Refuse a change that would leave the partnership with no active administrator."""
    if not remains_admin and active_admin_ids <= {user_id}:
        raise InvalidRequest(
            "This is the only active administrator. Make someone else an administrator first, "
            "so that the partnership can still manage escalate."
        )


def check_name(value: str | None, *, field: str, what: str, limit: int = MAX_NAME_CHARACTERS):
    cleaned = " ".join((value or "").split())
    if not cleaned:
        raise RationaleRequired(field, f"Enter {what}")
    if len(cleaned) > limit:
        raise RationaleRequired(
            field, f"{what[0].upper()}{what[1:]} must be {limit} characters or fewer"
        )
    return cleaned


EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_email(value: str | None) -> str:
    cleaned = (value or "").strip().lower()
    if not cleaned:
        raise RationaleRequired("email", "Enter an email address")
    if len(cleaned) > 254 or not EMAIL_SHAPE.fullmatch(cleaned):
        raise RationaleRequired(
            "email", "Enter an email address in the correct format, like name@example.org"
        )
    return cleaned


def agency_kind(value: str | None) -> AgencyKind:
    """An agency kind from its stored value or its label, ignoring case ("Police", "police")."""
    wanted = " ".join((value or "").replace("_", " ").split()).lower()
    for kind in AgencyKind:
        if wanted in (kind.value.replace("_", " "), kind.label.lower()):
            return kind
    allowed = "; ".join(kind.label for kind in AgencyKind)
    raise RationaleRequired("kind", f"Choose the kind of agency: one of {allowed}")


# --- The stage policy ------------------------------------------------------------------------


def _days(value, *, field: str, what: str, minimum: int, maximum: int = MAX_WORKING_DAYS) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RationaleRequired(field, f"Enter {what} as a whole number, like 5")
    if value < minimum:
        raise RationaleRequired(field, f"{what[0].upper()}{what[1:]} must be at least {minimum}")
    if value > maximum:
        raise RationaleRequired(
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
        raise RationaleRequired(
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
        raise RationaleRequired(
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
        raise RationaleRequired("responder_rule", "Select who responds at this stage") from None
    try:
        lead_rule = LeadRule(stage.lead_rule)
    except ValueError:
        raise RationaleRequired("lead_rule", "Select who leads for the raising side") from None
    if is_final:
        # At the final stage only the partnership can act (it decides; nobody responds).
        if responder_rule != ResponderRule.PARTNERSHIP:
            raise RationaleRequired(
                "responder_rule",
                "The last stage is the final stage, where the safeguarding partnership decides: "
                "its responder must be the partnership",
            )
        if lead_rule != LeadRule.NONE:
            raise RationaleRequired(
                "lead_rule", "The final stage has no lead: the partnership decides"
            )
        if stage.auto_escalate:
            raise RationaleRequired(
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


# --- Recording what changed ------------------------------------------------------------------


def as_record(value):
    """A value as it is kept in the record of changes (JSON): enums by value, times as text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def differences_between(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, before and after (JSON-ready)."""
    before = {key: as_record(value) for key, value in before.items()}
    after = {key: as_record(value) for key, value in after.items()}
    changed = [key for key in after if before.get(key) != after[key]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


# --- Importing from CSV ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


AGENCY_COLUMNS = ("name", "kind")
USER_COLUMNS = ("email", "name", "job_title", "role", "agency", "line_manager_email")


def check_columns(found: Sequence[str] | None, expected: Sequence[str]) -> None:
    """Refuse a file whose header row is not the documented columns (in any order)."""
    wanted = ", ".join(expected)
    if not found:
        raise InvalidRequest(f"The file is empty: its first line must name the columns {wanted}.")
    names = [(name or "").strip().lower() for name in found]
    missing = [name for name in expected if name not in names]
    unknown = [name for name in names if name not in expected]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("unknown " + ", ".join(repr(n) for n in unknown))
    if duplicated:
        problems.append("repeated " + ", ".join(duplicated))
    if problems:
        raise InvalidRequest(
            f"The first line must name the columns {wanted} (found: {'; '.join(problems)})."
        )


def collect_rejections(rows, check: Callable[[int, dict], None]) -> list[Rejection]:
    """Run ``check`` on every (line, row); gather each refusal with its line instead of stopping."""
    rejected = []
    for line, row in rows:
        if row.get("__too_many__"):
            rejected.append(
                Rejection(line, "The row has more values than there are columns (a value "
                          "containing a comma must be in double quotes).")
            )
            continue
        try:
            check(line, row)
        except (InvalidRequest, RationaleRequired) as error:
            rejected.append(Rejection(line, str(error).rstrip(".") + "."))
    return rejected


# --- The invitation email --------------------------------------------------------------------


def invitation_email(
    *, to: str, name: str, link: str, expires_at: datetime, sender: str, service_name: str,
    partnership: str | None = None,
) -> EmailMessage:
    """The plain-text email carrying a one-time link to set a password."""
    from escalate.messages import when

    message = EmailMessage()
    message["Subject"] = f"{service_name}: set your password"
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="escalate")
    who = partnership or "your local safeguarding children partnership"
    message.set_content(
        f"Dear {name},\n\n"
        f"An account has been set up for you on {service_name}, the service {who} uses to "
        "resolve professional differences between agencies.\n\n"
        f"Set your password using this link (it works once, until {when(expires_at)}):\n\n"
        f"{link}\n\n"
        "If the link has expired, ask your partnership's administrator for a new one. If you "
        "were not expecting this email, you can ignore it.\n"
    )
    return message
