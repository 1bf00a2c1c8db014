"""How the partnership is set up: settings, stage policy, working calendar, agencies, accounts, the
record of changes. Never commits.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa

from escalate import calendar, policy, validation, wording
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Agency,
    AgencyStageContact,
    Assignment,
    ClosureDay,
    Difference,
    Invitation,
    LeadRule,
    PartnershipSettings,
    PolicyStage,
    ResponderRule,
    Role,
    Side,
    Stage,
    State,
    User,
)
from escalate.workflow import FieldError, InvalidRequest, NotFound


def normalise_email(email: str) -> str:
    """The form in which an email address is stored and looked up: trimmed and lower-cased."""
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def find_agency_by_name(name: str) -> Agency | None:
    return db.session.scalar(
        sa.select(Agency).where(sa.func.lower(Agency.name) == (name or "").strip().lower())
    )


def partnership_settings() -> PartnershipSettings:
    settings = db.session.get(PartnershipSettings, 1)
    if settings is None:
        raise InvalidRequest("The partnership's settings are missing: run `flask db upgrade`.")
    return settings


def policy_stages() -> list[PolicyStage]:
    return list(db.session.scalars(sa.select(PolicyStage).order_by(PolicyStage.level)))


@dataclass(frozen=True)
class WorkingCalendar:
    """The partnership's calendar, loaded once per request or command."""

    nation: str
    end_of_day: time
    closures: frozenset[date]

    def deadline(self, opened: datetime, days: int) -> datetime:
        return calendar.deadline_at(
            opened, days, self.nation, self.closures, end_of_day=self.end_of_day
        )

    def days_left(self, deadline: datetime, now: datetime) -> int:
        return calendar.working_days_left(deadline, now, self.nation, self.closures)


def working_calendar() -> WorkingCalendar:
    settings = partnership_settings()
    closures = frozenset(db.session.scalars(sa.select(ClosureDay.day)))
    return WorkingCalendar(str(settings.nation), settings.end_of_working_day, closures)


def stage_record(stage: PolicyStage) -> dict:
    return {
        "name": stage.name,
        "responder_rule": ResponderRule(stage.responder_rule),
        "lead_rule": LeadRule(stage.lead_rule),
        "working_days": stage.working_days,
        "urgent_working_days": stage.urgent_working_days,
        "reminder_days_before": stage.reminder_days_before,
        "auto_escalate": stage.auto_escalate,
        "raiser_reply_days": stage.raiser_reply_days,
        "max_extension_days": stage.max_extension_days,
    }


def as_stage_policy(stage: PolicyStage) -> policy.StagePolicy:
    return policy.StagePolicy(level=stage.level, **stage_record(stage))


def agencies_with_user_counts() -> list[tuple[Agency, int]]:
    """Every agency, by name, with how many active accounts it has."""
    counts = (
        sa.select(User.agency_id, sa.func.count(User.id).label("n"))
        .where(User.active.is_(True))
        .group_by(User.agency_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Agency, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.agency_id == Agency.id)
        .order_by(Agency.name)
    ).all()
    return [(agency, count) for agency, count in rows]


def get_agency(agency_id: int) -> Agency:
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise NotFound("Agency not found.")
    return agency


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


def find_users(*, agency_id: int | None = None, role: str | None = None, active=None) -> list[User]:
    """Accounts by name, filtered by agency, role and whether they are active."""
    query = sa.select(User).order_by(User.name, User.email)
    if agency_id:
        query = query.where(User.agency_id == agency_id)
    if role:
        query = query.where(User.role == Role(role))
    if active is not None:
        query = query.where(User.active.is_(active))
    return list(db.session.scalars(query))


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
        sa.select(sa.func.count(sa.distinct(Difference.id)))
        .join(
            Stage,
            sa.and_(Stage.difference_id == Difference.id, Stage.level == Difference.stage_level),
        )
        .join(Assignment, Assignment.stage_id == Stage.id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.RESPONDER,
            Difference.state == State.AWAITING_RESPONSE,
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
    waiting = open_differences_at([last.level, previous.level])
    if waiting:
        open_now = wording.plural(waiting, "open difference is", "open differences are")
        return (
            f"{open_now} at stage {previous.level} or {last.level}, and could still "
            f"reach stage {last.level}. Remove the stage once they have closed."
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
    working_days: int


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
        days = rule.urgent_working_days if difference.urgent else rule.working_days
        new = cal.deadline(stage.opened_at, days)
        if stage.extended_days:
            new = cal.deadline(new, stage.extended_days)
        if new != stage.deadline:
            moves.append(DeadlineMove(difference, stage, stage.deadline, new, days))
    return moves


def closure_days() -> list[ClosureDay]:
    return list(db.session.scalars(sa.select(ClosureDay).order_by(ClosureDay.day)))


CHANGES_PER_PAGE = 50


def admin_changes(page: int) -> tuple[list[AdminChange], int]:
    """One page of the record of changes, newest first, and how many pages there are."""
    total = db.session.scalar(sa.select(sa.func.count(AdminChange.id)))
    pages = max(1, -(-total // CHANGES_PER_PAGE))
    if page < 1 or page > pages:
        raise NotFound("There is no such page.")
    changes = db.session.scalars(
        sa.select(AdminChange)
        .order_by(AdminChange.at.desc(), AdminChange.id.desc())
        .offset((page - 1) * CHANGES_PER_PAGE)
        .limit(CHANGES_PER_PAGE)
    ).all()
    return list(changes), pages


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
