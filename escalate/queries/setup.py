"""How the partnership is set up: settings, stage policy, working calendar, agencies, accounts, the
record of changes. Never commits.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from flask import g, has_app_context
from sqlalchemy.orm import Bundle, joinedload

from escalate import calendar, policy, validation
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Agency,
    AgencySafeguardingLead,
    AgencyStageContact,
    ClosureDay,
    Difference,
    InboxTally,
    Invitation,
    LeadRule,
    Notification,
    PartnershipSettings,
    PolicyStage,
    RecoveryCode,
    ResponderRule,
    Role,
    Side,
    Stage,
    State,
    User,
)
from escalate.queries import conditions
from escalate.queries.inbox import InboxCounts
from escalate.workflow import OVERSIGHT_ROLES, FieldError, InvalidRequest, NotFound

# Who may read what a change record says about differences: the partnership and auditors.
DIFFERENCE_READERS = OVERSIGHT_ROLES


def normalise_email(email: str) -> str:
    """The form in which an email address is stored and looked up: trimmed and lower-cased."""
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    if validation.text_problem(email or "") is not None:
        return None  # nothing stored has a NUL or a file in it (and PostgreSQL cannot compare)
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def find_agency_by_name(name: str) -> Agency | None:
    if validation.text_problem(name or "") is not None:
        return None
    return db.session.scalar(
        sa.select(Agency).where(sa.func.lower(Agency.name) == (name or "").strip().lower())
    )


def partnership_settings() -> PartnershipSettings:
    settings = db.session.get(PartnershipSettings, 1)
    if settings is None:
        raise InvalidRequest("The partnership's settings are missing: run `flask db upgrade`.")
    # The session holds its rows only weakly: kept for the rest of the request (or command), the
    # row is read once however many parts of a page ask for it (the calendar, the footer).
    if has_app_context():
        g.partnership_settings = settings
    return settings


# The signed-in person with their agency, the partnership's settings every page reads (whether
# two-factor sign-in is for everyone, the footer's numbers) and the person's inbox tally (the
# navigation shows the unread, the inbox both): one statement, built once, as every request
# asks it first.
_SIGNED_IN = (
    sa.select(
        User,
        PartnershipSettings,
        InboxTally.messages,
        InboxTally.unread,
    )
    .select_from(User)
    .outerjoin(PartnershipSettings, PartnershipSettings.id == 1)
    .outerjoin(InboxTally, InboxTally.user_id == User.id)
    .options(joinedload(User.agency))
    .where(User.id == sa.bindparam("user_id"))
)


def signed_in_person(user_id: int) -> tuple[User, InboxCounts] | None:
    """The person signed in, and how many messages they have and how many are unread; the
    partnership's settings are held for the request."""
    row = db.session.execute(_SIGNED_IN, {"user_id": user_id}).first()
    if row is None:
        return None
    if row[1] is not None and has_app_context():
        g.partnership_settings = row[1]  # held for the request: partnership_settings() reads it
    return row[0], InboxCounts.of(row[2], row[3])


def policy_stages() -> list[PolicyStage]:
    return list(db.session.scalars(sa.select(PolicyStage).order_by(PolicyStage.level)))


@dataclass(frozen=True)
class WorkingCalendar:
    """The partnership's calendar, loaded once per request or command."""

    nation: str
    end_of_day: time
    closures: frozenset[date]
    start_of_day: time = calendar.START_OF_WORKING_DAY

    def deadline(self, opened: datetime, days: int) -> datetime:
        return calendar.deadline_at(
            opened, days, self.nation, self.closures, end_of_day=self.end_of_day
        )

    def deadline_in_hours(self, opened: datetime, hours: int) -> datetime:
        """An urgent stage's deadline: ``hours`` working hours after ``opened``."""
        return calendar.add_working_hours(
            opened, hours, self.nation, self.closures, self.start_of_day, self.end_of_day
        )

    def stage_deadline(self, opened: datetime, timescale: "policy.Timescale") -> datetime:
        if timescale.hours:
            return self.deadline_in_hours(opened, timescale.hours)
        return self.deadline(opened, timescale.days)

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        return calendar.add_working_minutes(
            start, minutes, self.nation, self.closures, self.start_of_day, self.end_of_day
        )

    def minutes_between(self, start: datetime, end: datetime) -> int:
        return calendar.working_minutes_between(
            start, end, self.nation, self.closures, self.start_of_day, self.end_of_day
        )

    def days_left(self, deadline: datetime, now: datetime) -> int:
        return calendar.working_days_left(deadline, now, self.nation, self.closures)


def working_calendar() -> WorkingCalendar:
    settings = partnership_settings()
    closures = frozenset(db.session.scalars(sa.select(ClosureDay.day)))
    return WorkingCalendar(
        str(settings.nation), settings.end_of_working_day, closures, settings.start_of_working_day
    )


def stage_record(stage: PolicyStage) -> dict:
    return {
        "name": stage.name,
        "responder_rule": ResponderRule(stage.responder_rule),
        "lead_rule": LeadRule(stage.lead_rule),
        "working_days": stage.working_days,
        "urgent_working_hours": stage.urgent_working_hours,
        "reminder_days_before": stage.reminder_days_before,
        "auto_escalate": stage.auto_escalate,
        "raiser_reply_days": stage.raiser_reply_days,
        "proposal_reply_days": stage.proposal_reply_days,
        "max_extension_days": stage.max_extension_days,
    }


def as_stage_policy(stage: PolicyStage) -> policy.StagePolicy:
    return policy.StagePolicy(level=stage.level, **stage_record(stage))


def agencies_with_user_counts() -> sa.Select:
    """Every agency, by name, with how many active accounts it has: rows of ``id``, ``name``,
    ``kind`` and ``active_accounts`` (one value each, as ``db.paginate`` takes scalars)."""
    active_accounts = (
        sa.select(sa.func.count(User.id))
        .where(User.agency_id == Agency.id, User.active.is_(True))
        .correlate(Agency)
        .scalar_subquery()
    )
    row = Bundle(
        "agency",
        Agency.id,
        Agency.name,
        Agency.kind,
        active_accounts.label("active_accounts"),
    )
    return sa.select(row).order_by(Agency.name, Agency.id)


def get_agency(agency_id: int) -> Agency:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Agency not found.")
    return agency


def safeguarding_leads_of(agency: Agency) -> list[AgencySafeguardingLead]:
    """The agency's designated safeguarding leads, by name."""
    return list(
        db.session.scalars(
            sa.select(AgencySafeguardingLead)
            .join(User, User.id == AgencySafeguardingLead.user_id)
            .where(AgencySafeguardingLead.agency_id == agency.id)
            .order_by(User.name, User.id)
        )
    )


def stage_contacts_of(agency: Agency) -> dict[int, list[AgencyStageContact]]:
    """The agency's stage contacts for every level of the policy (levels with none included)."""
    by_level: dict[int, list[AgencyStageContact]] = {s.level: [] for s in policy_stages()}
    contacts = db.session.scalars(
        sa.select(AgencyStageContact)
        .join(User, User.id == AgencyStageContact.user_id)
        .where(AgencyStageContact.agency_id == agency.id)
        .order_by(AgencyStageContact.stage_level, User.name)
    )
    for contact in contacts:
        by_level.setdefault(contact.stage_level, []).append(contact)
    return by_level


def find_users(
    *, agency_id: int | None = None, role: str | None = None, active: bool | None = None
) -> sa.Select:
    """Accounts by name, filtered by agency, role and whether they are active."""
    query = sa.select(User).order_by(User.name, User.email)
    if agency_id:
        query = query.where(User.agency_id == agency_id)
    if role:
        query = query.where(User.role == Role(role))
    if active is not None:
        query = query.where(User.active.is_(active))
    return query


def people_of(agency: Agency, *, active_only: bool = False) -> list[User]:
    """Everyone with an account in ``agency``, by name (the agency page and its choices)."""
    active = True if active_only else None
    return list(db.session.scalars(find_users(agency_id=agency.id, active=active)))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Account not found.")
    return user


def manager_map() -> dict[int, int | None]:
    return dict(db.session.execute(sa.select(User.id, User.line_manager_id)).all())


def open_responsibilities(user: User) -> int:
    """How many open differences wait for ``user`` to respond (a warning before deactivating)."""
    return db.session.scalar(
        sa.select(sa.func.count(Difference.id)).where(
            Difference.state == State.AWAITING_RESPONSE,
            conditions.current_party(user.id, Side.RESPONDER),
        )
    )


def invitation_for_token(token: str, now: datetime) -> tuple[Invitation | None, str | None]:
    """The invitation a link carries, and why it cannot be used ("unknown", "used", …) if so."""
    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == validation.token_hash(token))
    )
    if invitation is None:
        return None, "unknown"
    problem = validation.invitation_problem(
        used_at=invitation.used_at,
        expires_at=invitation.expires_at,
        user_active=invitation.user.active,
        now=now,
    )
    return invitation, problem


def latest_link_email(user: User) -> Notification | None:
    """The email with the newest set-password link for ``user``, with its invitation: how far its
    delivery got (the administrator's page for the account shows it)."""
    return db.session.scalar(
        sa.select(Notification)
        .where(Notification.recipient_id == user.id, Notification.invitation_id.is_not(None))
        .options(joinedload(Notification.invitation))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )


def get_policy_stage(level: int) -> PolicyStage:
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    if stage is None:
        raise NotFound("Stage not found.")
    return stage


def open_differences_at(levels) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Difference.id)).where(
            Difference.stage_level.in_(list(levels)),
            Difference.state.in_([State.AWAITING_RESPONSE, State.AWAITING_RAISER]),
        )
    )


def removal_problem() -> str | None:
    """Why the last stage cannot be removed now, or None when it can."""
    stages = policy_stages()
    if len(stages) <= 1:
        return "The policy must have at least one stage."
    last, previous = stages[-1], stages[-2]
    if open_differences_at([last.level, previous.level]):
        # Administrators read this: it says that there are some, not which or how many.
        return (
            f"Some open differences are at stage {previous.level} or {last.level}, and could "
            f"still reach stage {last.level}. Remove the stage once they have closed."
        )
    try:
        policy.check_stage(as_stage_policy(previous), is_final=True)
    except FieldError as error:
        return (
            f"Stage {previous.level} would become the final stage. {error}. "
            f"Change stage {previous.level} first."
        )
    return None


@dataclass(frozen=True)
class DeadlineMove:
    difference: Difference
    stage: Stage
    old: datetime
    new: datetime
    timescale: policy.Timescale


def deadline_moves(now: datetime, *, lock: bool = False) -> list[DeadlineMove]:
    """The open stages (waiting for a response) whose deadline the current policy and calendar
    would set differently. Extensions already granted are kept on top."""
    cal = working_calendar()
    rules = {stage.level: stage for stage in policy_stages()}
    query = (
        sa.select(Difference)
        .where(Difference.state == State.AWAITING_RESPONSE)
        .order_by(Difference.id)
    )
    if lock:
        # Read again once held: a difference loaded earlier may have moved on meanwhile.
        query = query.with_for_update(of=Difference).execution_options(populate_existing=True)
    moves = []
    for difference in db.session.scalars(query):
        stage, rule = difference.open_stage, rules.get(difference.stage_level)
        if stage is None or rule is None:
            continue
        timescale = policy.timescale(rule, urgent=difference.urgent)
        new = cal.stage_deadline(stage.opened_at, timescale)
        if stage.extended_days:
            new = cal.deadline(new, stage.extended_days)
        if new != stage.deadline:
            moves.append(DeadlineMove(difference, stage, stage.deadline, new, timescale))
    return moves


def closure_days() -> list[ClosureDay]:
    return list(db.session.scalars(sa.select(ClosureDay).order_by(ClosureDay.day)))


def admin_changes() -> sa.Select:
    """The record of changes, newest first."""
    return sa.select(AdminChange).order_by(AdminChange.at.desc(), AdminChange.id.desc())


# What a change record says about differences, which administrators do not see (product.md §1):
# the fields naming them, and the summaries of the actions that hold such fields.
DIFFERENCE_FIELDS = frozenset({"moved"})
SUMMARIES_WITHOUT_DIFFERENCES = {"deadlines recomputed": "Open deadlines recomputed"}


@dataclass(frozen=True)
class ChangeEntry:
    """One change as a reader may see it."""

    at: datetime
    actor: User | None
    summary: str
    before: dict | None
    after: dict | None


def change_as_seen_by(change: AdminChange, reader: Role) -> ChangeEntry:
    """The change, without what it says about differences when ``reader`` may see none."""
    if reader in DIFFERENCE_READERS:
        return ChangeEntry(change.at, change.actor, change.summary, change.before, change.after)

    def without(fields):
        if fields is None:
            return None
        return {key: value for key, value in fields.items() if key not in DIFFERENCE_FIELDS}

    summary = SUMMARIES_WITHOUT_DIFFERENCES.get(change.action, change.summary)
    return ChangeEntry(
        change.at, change.actor, summary, without(change.before), without(change.after)
    )


def setup_summary() -> dict[str, int]:
    """Counts for the administration start page."""
    count = lambda model, *where: db.session.scalar(  # noqa: E731
        sa.select(sa.func.count()).select_from(model).where(*where)
    )
    return {
        "agencies": count(Agency),
        "active_users": count(User, User.active.is_(True)),
        "awaiting_password": count(User, User.active.is_(True), User.password_hash.is_(None)),
        "stages": count(PolicyStage),
        "closure_days": count(ClosureDay),
    }


def recovery_codes_left(user_id: int) -> int:
    """How many of a person's recovery codes are unused."""
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    )


def agencies_without_passwords() -> list[Agency]:
    """The agencies whose people sign in through single sign-on only (a short list)."""
    return list(
        db.session.scalars(
            sa.select(Agency).where(Agency.passwords_allowed.is_(False)).order_by(Agency.name)
        )
    )
