"""Use cases. The only layer that commits: each public function is one transaction."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.security import check_password_hash, generate_password_hash

from escalate import administration, audit, calendar, deadlines, messages, notify, workflow
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    AdminChange,
    Agency,
    AgencyStageContact,
    Assignment,
    Category,
    ClosureDay,
    Difference,
    EmailStatus,
    Event,
    EventKind,
    Invitation,
    LeadRule,
    Nation,
    Notification,
    Outcome,
    PartnershipSettings,
    PolicyStage,
    ResponderRule,
    Role,
    Side,
    Stage,
    StageAlert,
    State,
    User,
)
from escalate.visibility import visible_to
from escalate.workflow import (
    InvalidRequest,
    NotAllowed,
    NotFound,
    RationaleRequired,
    StaleDifference,
)

MIN_PASSWORD_LENGTH = 12

# Compared against when no account matches, so a failed sign-in takes as long either way.
_UNUSED_HASH = generate_password_hash("an unused password for timing parity")


def normalise_email(email: str) -> str:
    """The form in which an email address is stored and looked up: trimmed and lower-cased."""
    return (email or "").strip().lower()


def check_password_strength(password: str) -> None:
    """Refuse a password that is too short to protect an account on a shared machine."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
        )


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def find_agency_by_name(name: str) -> Agency | None:
    return db.session.scalar(
        sa.select(Agency).where(sa.func.lower(Agency.name) == (name or "").strip().lower())
    )


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with this email and password, or None (and never say which failed)."""
    user = find_user_by_email(email)
    if user is None or not user.password_hash:
        check_password_hash(_UNUSED_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user if user.active else None


def _build_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    agency: Agency | None,
    job_title: str = "",
    line_manager: User | None = None,
    password: str | None = None,
    password_hash: str | None = None,
) -> User:
    email = normalise_email(email)
    if not email or "@" not in email:
        raise InvalidRequest("Enter an email address in the correct format, like name@example.org.")
    if not (name or "").strip():
        raise InvalidRequest("Enter the person's full name.")
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidRequest(f"Unknown role {role!r}. Choose one of: {allowed}.") from None
    if role in AGENCY_ROLES and agency is None:
        raise InvalidRequest(f"A {role.value} must belong to an agency.")
    if find_user_by_email(email) is not None:
        raise InvalidRequest(f"There is already an account for {email}.")
    if password is not None:
        check_password_strength(password)
        password_hash = generate_password_hash(password)
    return User(
        email=email,
        name=name.strip(),
        job_title=(job_title or "").strip(),
        role=role,
        agency=agency,
        line_manager=line_manager,
        password_hash=password_hash,
    )


def create_user(
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    agency_name: str | None = None,
    job_title: str = "",
) -> User:
    """Create an account that can sign in straight away (used to bootstrap an administrator)."""
    agency = None
    if agency_name:
        agency = find_agency_by_name(agency_name)
        if agency is None:
            known = db.session.scalars(sa.select(Agency.name).order_by(Agency.name)).all()
            hint = f" Known agencies: {', '.join(known)}." if known else " No agencies exist yet."
            raise InvalidRequest(f"There is no agency called {agency_name!r}.{hint}")
    user = _build_user(
        email=email, name=name, role=role, agency=agency, job_title=job_title, password=password
    )
    db.session.add(user)
    db.session.commit()
    return user


def seed_demo(password: str, now: datetime) -> dict[str, int]:
    """Load the fictional Northshire partnership; running it again adds nothing already there.

    Its differences are played through the ordinary services at moments counted back from
    ``now`` in working days, so each is at the stage, and as overdue, as its scenario says.
    """
    from escalate import demo

    created = {"agencies": 0, "users": 0, "stage contacts": 0, "differences": 0}
    password_hash = generate_password_hash(password)
    agencies: dict[str, Agency] = {}
    for name, kind in demo.AGENCIES:
        agency = find_agency_by_name(name)
        if agency is None:
            agency = Agency(name=name, kind=kind)
            db.session.add(agency)
            created["agencies"] += 1
        agencies[name] = agency
    db.session.flush()

    users: dict[str, User] = {}
    for person in demo.USERS:
        user = find_user_by_email(person.email)
        if user is None:
            user = _build_user(
                email=person.email,
                name=person.name,
                job_title=person.job_title,
                role=person.role,
                agency=agencies.get(person.agency),
                line_manager=users.get(person.line_manager) if person.line_manager else None,
                password_hash=password_hash,
            )
            db.session.add(user)
            db.session.flush()
            created["users"] += 1
        users[person.email] = user

    for agency_name, level, email in demo.STAGE_CONTACTS:
        agency, user = agencies[agency_name], users[email]
        exists = db.session.scalar(
            sa.select(AgencyStageContact.id).where(
                AgencyStageContact.agency_id == agency.id,
                AgencyStageContact.stage_level == level,
                AgencyStageContact.user_id == user.id,
            )
        )
        if exists is None:
            db.session.add(AgencyStageContact(agency=agency, stage_level=level, user=user))
            created["stage contacts"] += 1
    db.session.commit()

    cal = working_calendar()
    for scenario in demo.SCENARIOS:
        created["differences"] += int(_seed_demo_difference(scenario, now, cal))
    return created


def _seed_demo_difference(scenario, now: datetime, cal: "WorkingCalendar") -> bool:
    """Raise one demo difference and take its actions, unless its raiser already recorded it."""
    from datetime import UTC

    raiser = find_user_by_email(scenario.raiser)
    if db.session.scalar(
        sa.select(Difference.id).where(
            Difference.raiser_id == raiser.id,
            Difference.child_reference == scenario.child_reference,
        )
    ):
        return False
    local_now = calendar.to_local(now)
    moments = len(scenario.steps) + 1

    def moment(index: int, days_ago: int) -> datetime:
        """The index-th moment of the scenario, ``days_ago`` working days before ``now``."""
        if days_ago == 0:  # earlier today, a few minutes apart
            return (now - timedelta(minutes=20 * (moments - index))).astimezone(UTC)
        day = local_now.date()
        for _ in range(days_ago):
            day -= timedelta(days=1)
            while not calendar.is_working_day(day, cal.nation, cal.closures):
                day -= timedelta(days=1)
        start = datetime.combine(day, time(9), tzinfo=local_now.tzinfo)
        return (start + timedelta(minutes=40 * index)).astimezone(UTC)

    raised_at = moment(0, scenario.raised_days_ago)
    born = None
    if scenario.child_age_months is not None:
        age_days = round(scenario.child_age_months * 30.44) + 3
        born = calendar.to_local(raised_at).date() - timedelta(days=age_days)
    named = find_user_by_email(scenario.named) if scenario.named else None
    difference = raise_difference(
        raiser,
        NewDifference(
            receiving_agency_id=find_agency_by_name(scenario.receiving).id,
            named_professional_id=named.id if named else None,
            child_reference=scenario.child_reference,
            child_initials=scenario.child_initials,
            child_date_of_birth=born,
            category=scenario.category,
            decision=scenario.decision,
            reasons=scenario.reasons,
            desired_outcome=scenario.desired_outcome,
            discussed_informally=bool(scenario.informal_discussion),
            informal_discussion=scenario.informal_discussion,
            immediate_risk=bool(scenario.protective_action),
            protective_action=scenario.protective_action,
        ),
        raised_at,
    )
    actions = {
        workflow.Action.RESPOND: respond,
        workflow.Action.ACCEPT: accept,
        workflow.Action.ESCALATE: escalate,
        workflow.Action.DECIDE: decide,
        workflow.Action.WITHDRAW: withdraw,
        workflow.Action.EXTEND: extend,
        workflow.Action.REASSIGN: reassign,
        workflow.Action.RECORD_CONVERSATION: record_conversation,
    }
    previous = scenario.raised_days_ago
    for index, step in enumerate(scenario.steps, start=1):
        if step.days_ago > previous:
            raise ValueError(f"demo {scenario.child_reference}: steps must be in time order")
        previous = step.days_ago
        at = moment(index, step.days_ago)
        fields = dict(step.fields)
        if step.action == workflow.Action.REASSIGN:
            fields["new_responder_id"] = find_user_by_email(fields.pop("new_responder")).id
        if step.action == workflow.Action.RECORD_CONVERSATION:
            fields["held_on"] = calendar.to_local(at).date()
        difference = actions[step.action](
            find_user_by_email(step.by), difference.id, difference.version, now=at, **fields
        )
    return True


def stage_contacts_for(agency: Agency, level: int) -> Iterable[User]:
    """The active users an agency names for a stage level."""
    return db.session.scalars(
        sa.select(User)
        .join(AgencyStageContact, AgencyStageContact.user_id == User.id)
        .where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            User.active.is_(True),
            User.role.in_(AGENCY_ROLES),
        )
        .order_by(User.name)
    ).all()


# --- Policy, settings and the calendar ---------------------------------------------------------


def install_defaults() -> None:
    """Give an empty database the default stage policy and settings (product.md §3)."""
    if db.session.get(PartnershipSettings, 1) is None:
        db.session.add(
            PartnershipSettings(
                id=1,
                nation=Nation.ENGLAND_AND_WALES,
                end_of_working_day=calendar.END_OF_WORKING_DAY,
                act_now_text=workflow.DEFAULT_ACT_NOW_TEXT,
            )
        )
    if db.session.scalar(sa.select(sa.func.count(PolicyStage.id))) == 0:
        for stage in workflow.DEFAULT_POLICY:
            db.session.add(PolicyStage(**vars(stage)))
    db.session.commit()


def partnership_settings() -> PartnershipSettings:
    settings = db.session.get(PartnershipSettings, 1)
    if settings is None:
        raise InvalidRequest("The partnership's settings are missing: run `flask db upgrade`.")
    return settings


def policy() -> list[PolicyStage]:
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


# --- Reading differences -----------------------------------------------------------------------


def actor_for(user: User | None) -> workflow.Actor:
    if user is None:
        return workflow.SYSTEM
    return workflow.Actor(id=user.id, role=user.role, agency_id=user.agency_id)


def situation(difference: Difference, now: datetime) -> workflow.Situation:
    """Describe a difference to the rules as it stands at ``now``."""
    stage = difference.open_stage
    policy_stage = (
        db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level))
        if stage
        else None
    )
    involved = frozenset(a.user_id for s in difference.stages for a in s.assignments)
    return workflow.Situation(
        state=difference.state,
        stage_level=difference.stage_level,
        is_final_stage=bool(stage and stage.is_final),
        is_overdue=bool(
            stage and difference.state == State.AWAITING_RESPONSE and now > stage.deadline
        ),
        raiser_id=difference.raiser_id,
        raising_agency_id=difference.raising_agency_id,
        receiving_agency_id=difference.receiving_agency_id,
        named_professional_id=difference.named_professional_id,
        responder_ids=frozenset(u.id for u in stage.people(Side.RESPONDER))
        if stage
        else frozenset(),
        lead_ids=frozenset(u.id for u in stage.people(Side.LEAD)) if stage else frozenset(),
        involved_ids=involved,
        extended_days=stage.extended_days if stage else 0,
        max_extension_days=policy_stage.max_extension_days if policy_stage else 0,
    )


def find_difference(user: User, reference: str) -> Difference:
    """The difference with this reference if ``user`` may see it; otherwise NotFound."""
    difference = db.session.scalar(
        sa.select(Difference).where(
            Difference.reference == (reference or "").strip().upper(), visible_to(user)
        )
    )
    if difference is None:
        raise NotFound("Difference not found.")
    return difference


@dataclass(frozen=True)
class DifferenceFacts:
    """What a page shows about a difference for one user at one instant."""

    difference: Difference
    stage: Stage | None
    deadline: datetime | None
    is_overdue: bool
    working_days_left: int | None
    actions: list[workflow.Action]
    responders: list[User]
    leads: list[User]
    latest_response: dict | None  # the open stage's response, while the raising side decides


def facts(user: User, difference: Difference, now: datetime, cal: WorkingCalendar | None = None):
    """Precompute what a page needs so templates never derive a rule."""
    cal = cal or working_calendar()
    stage = difference.open_stage
    state = situation(difference, now)
    awaiting = stage is not None and difference.state == State.AWAITING_RESPONSE
    return DifferenceFacts(
        difference=difference,
        stage=stage,
        deadline=stage.deadline if awaiting else None,
        is_overdue=state.is_overdue,
        working_days_left=cal.days_left(stage.deadline, now) if awaiting else None,
        actions=workflow.allowed_actions(actor_for(user), state),
        responders=stage.people(Side.RESPONDER) if stage else [],
        leads=stage.people(Side.LEAD) if stage else [],
        latest_response=_latest_response(difference),
    )


def _latest_response(difference: Difference) -> dict | None:
    if difference.state != State.AWAITING_RAISER:
        return None
    response = next((e for e in reversed(difference.events) if e.kind == EventKind.RESPONDED), None)
    if response is None:
        return None
    return {"by": response.actor.name if response.actor else "", "at": response.at, **response.data}


def differences_raised_by(user: User) -> list[Difference]:
    return list(
        db.session.scalars(
            sa.select(Difference)
            .where(Difference.raiser_id == user.id)
            .order_by(Difference.raised_at.desc())
        )
    )


def differences_involving(user: User) -> list[Difference]:
    """Differences the user is a party to, other than those they raised."""
    involved = (
        sa.select(Assignment.id)
        .join(Stage, Stage.id == Assignment.stage_id)
        .where(Stage.difference_id == Difference.id, Assignment.user_id == user.id)
        .exists()
    )
    return list(
        db.session.scalars(
            sa.select(Difference)
            .where(
                Difference.raiser_id != user.id,
                sa.or_(involved, Difference.named_professional_id == user.id),
            )
            .order_by(Difference.raised_at.desc())
        )
    )


def waiting_for(user: User) -> list[Difference]:
    """Differences waiting for this user to act, soonest deadline first.

    Responders: an open stage assigned to them awaits their response. The raising side (raiser
    or the stage's lead): a response awaits their acceptance or escalation.
    """
    responding = (
        sa.select(Stage.difference_id)
        .join(Assignment, Assignment.stage_id == Stage.id)
        .join(Difference, Difference.id == Stage.difference_id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.RESPONDER,
            Stage.level == Difference.stage_level,
            Difference.state == State.AWAITING_RESPONSE,
        )
    )
    leading = (
        sa.select(Stage.difference_id)
        .join(Assignment, Assignment.stage_id == Stage.id)
        .join(Difference, Difference.id == Stage.difference_id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.LEAD,
            Stage.level == Difference.stage_level,
            Difference.state == State.AWAITING_RAISER,
        )
    )
    conditions = [
        Difference.id.in_(responding),
        Difference.id.in_(leading),
        sa.and_(Difference.raiser_id == user.id, Difference.state == State.AWAITING_RAISER),
    ]
    return list(
        db.session.scalars(
            sa.select(Difference)
            .join(
                Stage,
                sa.and_(
                    Stage.difference_id == Difference.id, Stage.level == Difference.stage_level
                ),
            )
            .where(sa.or_(*conditions))
            .order_by(Stage.deadline, Difference.id)
        )
    )


# --- Raising and acting on differences ---------------------------------------------------------


@dataclass
class NewDifference:
    """What a raiser records (product.md §2)."""

    receiving_agency_id: int
    child_reference: str
    child_initials: str
    category: Category | str
    decision: str
    reasons: str
    desired_outcome: str
    discussed_informally: bool
    immediate_risk: bool
    named_professional_id: int | None = None
    child_date_of_birth: date | None = None
    informal_discussion: str = ""
    protective_action: str = ""


def check_new_difference(raiser: User, new: NewDifference, now: datetime) -> None:
    """Apply every rule raise_difference applies, without recording anything (check answers)."""
    _build_difference(raiser, new, now)


def raise_difference(raiser: User, new: NewDifference, now: datetime) -> Difference:
    """Record a new difference and open its first stage."""
    difference = _build_difference(raiser, new, now)
    db.session.add(difference)
    db.session.flush()
    difference.reference = f"RPD-{now.year}-{difference.id:05d}"
    cal = working_calendar()
    stage, opened = _open_stage(difference, _policy_stage(1), now, cal)
    event = _record(
        difference, EventKind.RAISED, raiser, now, {"urgent": difference.urgent, **opened}
    )
    common = _message_facts(difference, stage, raiser) | {
        "raiser": raiser.name,
        "deadline": stage.deadline,
        "urgent": difference.urgent,
    }
    _notify(difference, event, now, [raiser], "raised", "raiser", common)
    _notify(difference, event, now, stage.people(Side.RESPONDER), "raised", "responder", common)
    _commit()
    return difference


def _build_difference(raiser: User, new: NewDifference, now: datetime) -> Difference:
    """A new, unsaved difference from what the raiser recorded, or the first rule it breaks."""
    if not workflow.may_raise(actor_for(raiser)):
        raise NotAllowed("Only a professional in a member agency can raise a difference.")
    receiving = db.session.get(Agency, new.receiving_agency_id)
    if receiving is None or not db.session.scalar(sa.select(_has_professionals(receiving.id))):
        raise RationaleRequired("receiving_agency", "Select the agency you disagree with")
    if receiving.id == raiser.agency_id:
        raise RationaleRequired(
            "receiving_agency",
            "A professional difference is between agencies: select another agency, or raise it "
            "through your own agency's management line",
        )
    named = None
    if new.named_professional_id is not None:
        named = db.session.get(User, new.named_professional_id)
        if (
            named is None
            or named.agency_id != receiving.id
            or not named.active
            or named.role not in AGENCY_ROLES
        ):
            raise RationaleRequired(
                "named_professional", f"Select a professional who works for {receiving.name}"
            )
    try:
        category = Category(new.category)
    except ValueError:
        raise RationaleRequired("category", "Select what the difference is about") from None
    workflow.check_child(
        new.child_reference,
        new.child_initials,
        new.child_date_of_birth,
        calendar.to_local(now).date(),
    )
    difference = Difference(
        raiser=raiser,
        raising_agency_id=raiser.agency_id,
        receiving_agency=receiving,
        named_professional=named,
        child_reference=new.child_reference.strip(),
        child_initials=new.child_initials.strip().upper(),
        child_date_of_birth=new.child_date_of_birth,
        category=category,
        decision=workflow.require_text(
            new.decision, field="decision", what="the decision or action you disagree with"
        ),
        reasons=workflow.require_rationale(new.reasons, field="reasons", what="why you disagree"),
        desired_outcome=workflow.require_text(
            new.desired_outcome, field="desired_outcome", what="the outcome you want"
        ),
        discussed_informally=new.discussed_informally,
        informal_discussion=(
            workflow.require_text(
                new.informal_discussion,
                field="informal_discussion",
                what="when you discussed it, with whom, and what was said",
            )
            if new.discussed_informally
            else ""
        ),
        immediate_risk=new.immediate_risk,
        protective_action=(
            workflow.require_text(
                new.protective_action,
                field="protective_action",
                what="the protective action that has been taken",
            )
            if new.immediate_risk
            else ""
        ),
        urgent=new.immediate_risk,
        state=State.AWAITING_RESPONSE,
        stage_level=1,
        raised_at=now,
    )
    return difference


def respond(
    user, difference_id, version, *, outcome, rationale, child_impact, agreed_actions="", now
) -> Difference:
    """The responder answers at a stage: agreed (the decision changes) or upheld."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.RESPOND, now)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise RationaleRequired(
            "outcome", "Select whether you agree or uphold the decision"
        ) from None
    rationale = workflow.require_rationale(rationale, what="the reasons for your response")
    child_impact = workflow.require_text(
        child_impact, field="child_impact", what="what this means for the child"
    )
    agreed_actions = (
        workflow.require_text(agreed_actions, field="agreed_actions", what="the actions agreed")
        if outcome == Outcome.AGREED
        else ""
    )
    stage.outcome, stage.responded_at = outcome, now
    difference.state = State.AWAITING_RAISER
    _schedule_raiser_reminder(stage, now)
    data = {
        "outcome": outcome.value,
        "rationale": rationale,
        "child_impact": child_impact,
        "agreed_actions": agreed_actions,
    }
    event = _record(difference, EventKind.RESPONDED, user, now, data, deadline=None)
    facts_ = _message_facts(difference, stage, user) | data
    _notify(difference, event, now, [difference.raiser], "responded", "raiser", facts_)
    _notify(difference, event, now, stage.people(Side.LEAD), "responded", "lead", facts_)
    _commit()
    return difference


def accept(user, difference_id, version, *, comment="", now) -> Difference:
    """The raising side accepts the response: the difference is resolved."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.ACCEPT, now)
    comment = (comment or "").strip()
    if len(comment) > workflow.MAX_TEXT_CHARACTERS:
        raise RationaleRequired("comment", "Keep the comment to 10,000 characters or fewer")
    response = _latest_response(difference) or {}
    _close(difference, stage, State.RESOLVED, stage.outcome.value, now)
    event = _record(
        difference,
        EventKind.ACCEPTED,
        user,
        now,
        {"comment": comment, "outcome": stage.outcome.value},
        deadline=None,
    )
    _notify_everyone(
        difference,
        event,
        now,
        "accepted",
        # The raiser is told what was accepted and why, even when their lead accepted it.
        _message_facts(difference, stage, user)
        | {
            "comment": comment,
            "outcome": stage.outcome.value,
            "rationale": response.get("rationale", ""),
        },
    )
    _commit()
    return difference


def escalate(user, difference_id, version, *, rationale, now) -> Difference:
    """Move the difference to the next stage, which opens with its own deadline."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.ESCALATE, now)
    rationale = workflow.require_rationale(rationale, what="why you are escalating")
    _escalate(difference, stage, user, rationale, now, automatic=False)
    _commit()
    return difference


def decide(
    user, difference_id, version, *, outcome, decision, rationale, child_impact, now
) -> Difference:
    """The partnership decides at the final stage: the difference is resolved."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.DECIDE, now)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise RationaleRequired(
            "outcome", "Select whether the decision changes or stands"
        ) from None
    decision = workflow.require_text(decision, field="decision", what="the decision")
    rationale = workflow.require_rationale(rationale, what="the reasons for the decision")
    child_impact = workflow.require_text(
        child_impact, field="child_impact", what="what this means for the child"
    )
    stage.outcome, stage.responded_at = outcome, now
    _close(difference, stage, State.RESOLVED, outcome.value, now)
    data = {
        "outcome": outcome.value,
        "decision": decision,
        "rationale": rationale,
        "child_impact": child_impact,
    }
    event = _record(difference, EventKind.DECIDED, user, now, data, deadline=None)
    _notify_everyone(
        difference, event, now, "decided", _message_facts(difference, stage, user) | data
    )
    _commit()
    return difference


def withdraw(user, difference_id, version, *, rationale, now) -> Difference:
    """The raising side withdraws the difference, saying why."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.WITHDRAW, now)
    rationale = workflow.require_rationale(rationale, what="why you are withdrawing it")
    _close(difference, stage, State.WITHDRAWN, "withdrawn", now)
    event = _record(
        difference, EventKind.WITHDRAWN, user, now, {"rationale": rationale}, deadline=None
    )
    _notify_everyone(
        difference,
        event,
        now,
        "withdrawn",
        _message_facts(difference, stage, user) | {"rationale": rationale},
    )
    _commit()
    return difference


def extend(user, difference_id, version, *, days, rationale, now) -> Difference:
    """The responder moves the stage's deadline by some working days, within the policy."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.EXTEND, now)
    days = workflow.check_extension(situation(difference, now), days)
    rationale = workflow.require_rationale(rationale, what="why more time is needed")
    # Counted from the deadline, or from now if it has already passed, so that an extension
    # always gives time that is still to come.
    stage.deadline = working_calendar().deadline(max(stage.deadline, now), days)
    stage.extended_days += days
    _rearm_deadline_alerts(stage, now)
    data = {"days": days, "rationale": rationale}
    event = _record(difference, EventKind.EXTENDED, user, now, data)
    facts_ = _message_facts(difference, stage, user) | data | {"deadline": stage.deadline}
    _notify(difference, event, now, [difference.raiser], "extended", "raiser", facts_)
    _notify(difference, event, now, stage.people(Side.LEAD), "extended", "lead", facts_)
    _commit()
    return difference


def reassign(user, difference_id, version, *, new_responder_id, rationale, now) -> Difference:
    """Give the open stage's response to someone else, saying why."""
    difference, stage = _begin(user, difference_id, version, workflow.Action.REASSIGN, now)
    new_responder = db.session.get(User, new_responder_id) if new_responder_id else None
    expected_agency = None if stage.is_final else difference.receiving_agency_id
    if (
        new_responder is None
        or not new_responder.active
        or (stage.is_final and new_responder.role != Role.PARTNERSHIP)
        or (
            expected_agency is not None
            and (
                new_responder.agency_id != expected_agency
                or new_responder.role not in AGENCY_ROLES
            )
        )
    ):
        raise RationaleRequired(
            "new_responder",
            "Select a partnership member"
            if stage.is_final
            else f"Select someone who works for {difference.receiving_agency.name}",
        )
    current = stage.people(Side.RESPONDER)
    if current == [new_responder]:
        raise RationaleRequired("new_responder", f"{new_responder.name} is already the responder")
    rationale = workflow.require_rationale(rationale, what="why you are reassigning it")
    for assignment in stage.assignments:
        if assignment.side == Side.RESPONDER:
            assignment.active = False
    stage.assignments.append(Assignment(user=new_responder, side=Side.RESPONDER))
    data = {
        "rationale": rationale,
        "new_responder_id": new_responder.id,
        "new_responder": new_responder.name,
        "previous_responders": [u.name for u in current],
    }
    event = _record(difference, EventKind.REASSIGNED, user, now, data)
    facts_ = _message_facts(difference, stage, user) | data | {"deadline": stage.deadline}
    _notify(difference, event, now, [new_responder], "reassigned", "responder", facts_)
    _notify(difference, event, now, [difference.raiser], "reassigned", "raiser", facts_)
    _commit()
    return difference


def record_conversation(
    user, difference_id, version, *, held_on, participants, agreed, now
) -> Difference:
    """Put a conversation about the difference on its record (it changes no state)."""
    difference, stage = _begin(
        user, difference_id, version, workflow.Action.RECORD_CONVERSATION, now
    )
    if not isinstance(held_on, date) or held_on > calendar.to_local(now).date():
        raise RationaleRequired("held_on", "Enter the date of the conversation: today or earlier")
    if held_on < calendar.to_local(difference.raised_at).date() - timedelta(days=365):
        raise RationaleRequired("held_on", "The date must be within a year before it was raised")
    participants = workflow.require_text(participants, field="participants", what="who took part")
    agreed = workflow.require_rationale(agreed, field="agreed", what="what was agreed")
    data = {"held_on": held_on.isoformat(), "participants": participants, "agreed": agreed}
    event = _record(difference, EventKind.CONVERSATION, user, now, data)
    if difference.raiser_id != user.id:
        facts_ = (
            _message_facts(difference, stage, user)
            | data
            | {"held_on": f"{held_on.day} {held_on.strftime('%B %Y')}"}
        )
        _notify(difference, event, now, [difference.raiser], "conversation", "raiser", facts_)
    _commit()
    return difference


# --- The inbox ---------------------------------------------------------------------------------


def inbox(user: User) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.recipient_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        )
    )


def unread_count(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None)
        )
    )


def open_notification(user: User, notification_id: int, now: datetime) -> Notification:
    """A notification addressed to ``user`` (NotFound otherwise), marked read."""
    notification = db.session.scalar(
        sa.select(Notification).where(
            Notification.id == notification_id, Notification.recipient_id == user.id
        )
    )
    if notification is None:
        raise NotFound("Notification not found.")
    if notification.read_at is None:
        notification.read_at = now
        db.session.commit()
    return notification


def mark_all_read(user: User, now: datetime) -> int:
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    db.session.commit()
    return result.rowcount


# --- Internals ---------------------------------------------------------------------------------


def _commit() -> None:
    """Commit an action; if another one reached the same difference first, say so."""
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise StaleDifference() from None


def _policy_stage(level: int) -> PolicyStage:
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    if stage is None:
        raise InvalidRequest(f"The stage policy has no stage {level}.")
    return stage


def _is_final_level(level: int) -> bool:
    return level == db.session.scalar(sa.select(sa.func.max(PolicyStage.level)))


def _active(user: User | None) -> User | None:
    return user if user is not None and user.active else None


def _pick(rule, difference: Difference, level: int, agency_id: int):
    contacts = stage_contacts_for(db.session.get(Agency, agency_id), level)
    partnership = db.session.scalars(
        sa.select(User)
        .where(User.role == Role.PARTNERSHIP, User.active.is_(True))
        .order_by(User.name)
    ).all()
    named = _active(difference.named_professional)
    raiser = _active(difference.raiser)
    return workflow.pick_people(
        rule,
        named=named,
        named_manager=_active(named.line_manager) if named else None,
        raiser=raiser,
        raiser_manager=_active(raiser.line_manager) if raiser else None,
        contacts=contacts,
        partnership=partnership,
    )


def _open_stage(
    difference, policy_stage: PolicyStage, now, cal: WorkingCalendar
) -> tuple[Stage, dict]:
    """Open a stage with its deadline and people; also return what its history event records."""
    days = policy_stage.urgent_working_days if difference.urgent else policy_stage.working_days
    stage = Stage(
        level=policy_stage.level,
        name=policy_stage.name,
        is_final=_is_final_level(policy_stage.level),
        opened_at=now,
        deadline=cal.deadline(now, days),
        working_days=days,
    )
    stage.remind_at = _reminder_at(stage.deadline, policy_stage, since=now, cal=cal)
    responders, responders_fell_back = _pick(
        policy_stage.responder_rule, difference, policy_stage.level, difference.receiving_agency_id
    )
    leads, _ = _pick(
        policy_stage.lead_rule, difference, policy_stage.level, difference.raising_agency_id
    )
    for user in responders:
        stage.assignments.append(Assignment(user=user, side=Side.RESPONDER))
    for user in leads:
        stage.assignments.append(Assignment(user=user, side=Side.LEAD))
    difference.stages.append(stage)
    difference.stage_level = stage.level
    db.session.flush()
    record = {
        "stage": stage.name,
        "responders": [u.name for u in responders],
        "leads": [u.name for u in leads],
        "responders_fell_back": responders_fell_back,
    }
    return stage, record


def _begin(user, difference_id, version, action, now) -> tuple[Difference, Stage | None]:
    """Load a difference for change, locking its row, and check the rules and the version."""
    difference = db.session.scalar(
        sa.select(Difference)
        .where(Difference.id == difference_id, visible_to(user))
        .with_for_update(of=Difference)
    )
    if difference is None:
        raise NotFound("Difference not found.")
    try:
        shown = int(version) if version is not None else None
    except (TypeError, ValueError):
        raise StaleDifference() from None
    if shown is not None and shown != difference.version:
        raise StaleDifference()
    workflow.check(actor_for(user), situation(difference, now), action)
    return difference, difference.open_stage


def _close(difference, stage, state: State, outcome: str, now) -> None:
    difference.state = state
    difference.outcome = outcome
    difference.closed_at = now
    # Fixed now, in the calendar in force, so reports can aggregate time to resolution in SQL.
    cal = working_calendar()
    difference.resolution_working_days = calendar.working_days_between(
        calendar.to_local(difference.raised_at).date(),
        calendar.to_local(now).date(),
        cal.nation,
        cal.closures,
    )
    if stage is not None:
        stage.closed_at = now
        _stop_reminders(stage)


def _escalate(difference, stage, actor: User | None, rationale: str, now, *, automatic) -> Stage:
    stage.closed_at = now
    _stop_reminders(stage)
    cal = working_calendar()
    next_stage, opened = _open_stage(difference, _policy_stage(stage.level + 1), now, cal)
    difference.state = State.AWAITING_RESPONSE
    data = {"rationale": rationale, "from_stage": stage.name, "automatic": automatic, **opened}
    event = _record(difference, EventKind.ESCALATED, actor, now, data)
    facts_ = _message_facts(difference, next_stage, actor) | {
        "previous_stage": stage.name,
        "rationale": rationale,
        "deadline": next_stage.deadline,
        "automatic": automatic,
    }
    _notify(difference, event, now, [difference.raiser], "escalated", "raiser", facts_)
    _notify(
        difference, event, now, next_stage.people(Side.RESPONDER), "escalated", "responder", facts_
    )
    _notify(difference, event, now, next_stage.people(Side.LEAD), "escalated", "lead", facts_)
    return next_stage


def _record(difference, kind, actor: User | None, now, data: dict, *, deadline=...) -> Event:
    """Append an event to the difference's history, chained to the one before."""
    previous = db.session.scalar(
        sa.select(Event)
        .where(Event.difference_id == difference.id)
        .order_by(Event.sequence.desc())
        .limit(1)
    )
    stage = difference.open_stage
    event = Event(
        difference_id=difference.id,
        sequence=(previous.sequence + 1) if previous else 1,
        kind=kind,
        actor_id=actor.id if actor else None,
        at=now.astimezone(UTC),  # as the database gives it back, so the hash still verifies
        stage_level=difference.stage_level,
        deadline=(stage.deadline if stage else None) if deadline is ... else deadline,
        data=data,
    )
    audit.seal(event, previous.hash if previous else audit.GENESIS)
    # Every action moves the version on, so a form shown before any of them is refused as stale.
    flag_modified(difference, "stage_level")
    db.session.add(event)
    db.session.flush()
    return event


def _message_facts(difference, stage, actor: User | None) -> dict:
    return {
        "reference": difference.reference,
        "stage": stage.name if stage else "",
        "actor": actor.name if actor else "escalate",
        "raising_agency": difference.raising_agency.name,
        "receiving_agency": difference.receiving_agency.name,
    }


def _notify(difference, event, now, recipients, kind: str, role: str, facts_: dict) -> None:
    """Write one outbox row per recipient, in the caller's transaction."""
    # One message per person per event, however many parts they play in it.
    already = set(
        db.session.scalars(
            sa.select(Notification.recipient_id).where(Notification.event_id == event.id)
        )
    )
    for recipient in dict.fromkeys(recipients):
        if recipient is None or recipient.id in already or not recipient.active:
            continue
        already.add(recipient.id)
        subject, body = messages.compose(kind, for_recipient=role, **facts_)
        db.session.add(
            Notification(
                recipient_id=recipient.id,
                difference_id=difference.id,
                event_id=event.id,
                subject=subject,
                body=body,
                created_at=now,
                next_attempt_at=now,
            )
        )


def _notify_everyone(difference, event, now, kind: str, facts_: dict) -> None:
    """A final outcome: the raiser first, then everyone who answered or led at any stage."""
    _notify(difference, event, now, [difference.raiser], kind, "raiser", facts_)
    involved = [a.user for s in difference.stages for a in s.assignments]
    _notify(difference, event, now, involved, kind, "involved", facts_)


# --- Choices for forms -------------------------------------------------------------------------


def other_agencies(user: User) -> list[Agency]:
    """The agencies a user may raise a difference with: every other agency that has
    professionals to answer it (not, say, the partnership's own business unit)."""
    return list(
        db.session.scalars(
            sa.select(Agency)
            .where(Agency.id != user.agency_id, _has_professionals(Agency.id))
            .order_by(Agency.name)
        )
    )


def _has_professionals(agency_id):
    return (
        sa.select(User.id)
        .where(
            User.agency_id == agency_id, User.active.is_(True), User.role.in_(AGENCY_ROLES)
        )
        .exists()
    )


def professionals_outside(user: User) -> list[User]:
    """Active professionals of other agencies, who can be named as having made a decision."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(Agency, Agency.id == User.agency_id)
            .where(
                User.agency_id != user.agency_id,
                User.active.is_(True),
                User.role.in_(AGENCY_ROLES),
            )
            .order_by(Agency.name, User.name)
        )
    )


def possible_responders(difference: Difference) -> list[User]:
    """Who the open stage could be reassigned to: the receiving agency, or at the final stage
    the partnership."""
    stage = difference.open_stage
    query = sa.select(User).where(User.active.is_(True))
    if stage is not None and stage.is_final:
        query = query.where(User.role == Role.PARTNERSHIP)
    else:
        query = query.where(
            User.agency_id == difference.receiving_agency_id, User.role.in_(AGENCY_ROLES)
        )
    return list(db.session.scalars(query.order_by(User.name)))


def ensure_may(user: User, difference: Difference, action: workflow.Action, now: datetime):
    """Raise the domain error explaining why ``user`` may not take ``action`` now, if so."""
    workflow.check(actor_for(user), situation(difference, now), action)


def forget_changes() -> None:
    """Drop anything loaded in this request so the next read sees the database afresh."""
    db.session.rollback()
    db.session.expire_all()


# --- Oversight and learning (issue 6) ----------------------------------------------------------


def add_learning_note(user: User, reference: str, text: str, now: datetime):
    """The partnership records what it learned from a closed difference, on its history too."""
    from escalate.models import LearningNote

    # Locked like any action, so two notes at once take the next two places in the history.
    difference = db.session.scalar(
        sa.select(Difference)
        .where(Difference.reference == (reference or "").strip().upper(), visible_to(user))
        .with_for_update(of=Difference)
    )
    if difference is None:
        raise NotFound("Difference not found.")
    workflow.check_learning_note(actor_for(user), situation(difference, now))
    text = workflow.require_rationale(text, field="text", what="what the partnership learned")
    note = LearningNote(difference_id=difference.id, author_id=user.id, text=text, created_at=now)
    db.session.add(note)
    _record(difference, EventKind.LEARNING_NOTE, user, now, {"text": text}, deadline=None)
    _commit()
    return note


def all_agencies() -> list[Agency]:
    return list(db.session.scalars(sa.select(Agency).order_by(Agency.name)))


def ensure_may_add_learning_note(user: User, difference: Difference, now: datetime) -> None:
    """Raise the domain error explaining why ``user`` may not add a learning note now, if so."""
    workflow.check_learning_note(actor_for(user), situation(difference, now))


@dataclass(frozen=True)
class OversightFacts:
    """What the difference page shows about its history's integrity and its learning."""

    verification: audit.Verification
    learning_notes: list
    may_add_learning_note: bool


def oversight_facts(user: User, difference: Difference, now: datetime) -> OversightFacts:
    from escalate.models import LearningNote

    notes = db.session.scalars(
        sa.select(LearningNote)
        .where(LearningNote.difference_id == difference.id)
        .order_by(LearningNote.created_at, LearningNote.id)
    ).all()
    return OversightFacts(
        verification=audit.verify(difference.events),
        learning_notes=list(notes),
        may_add_learning_note=workflow.may_add_learning_note(
            actor_for(user), situation(difference, now)
        ),
    )


# --- Administration ----------------------------------------------------------------------------
# Every change made here writes an AdminChange row (who, when, the fields before and after) in
# the same transaction. The actor None is the command line (`flask escalate import-…`).


def _require_admin(actor: User | None) -> None:
    if actor is not None and (actor.role != Role.ADMIN or not actor.active):
        raise NotAllowed("Only an administrator can change how the partnership is set up.")


def _admin_change(
    actor: User | None,
    now: datetime,
    *,
    entity: str,
    entity_id: int | None,
    action: str,
    summary: str,
    before: dict | None = None,
    after: dict | None = None,
) -> AdminChange:
    def as_json(record):
        if record is None:
            return None
        return {key: administration.as_record(value) for key, value in record.items()}

    change = AdminChange(
        actor_id=actor.id if actor else None,
        at=now,
        entity=entity,
        entity_id=entity_id,
        action=action,
        summary=summary[:300],
        before=as_json(before),
        after=as_json(after),
    )
    db.session.add(change)
    return change


def _record_edit(actor, now, *, entity, entity_id, summary, before: dict, after: dict) -> bool:
    """Record the fields that changed; False (and nothing recorded) when none did."""
    old, new = administration.differences_between(before, after)
    if not new:
        return False
    _admin_change(
        actor, now, entity=entity, entity_id=entity_id, action="changed", summary=summary,
        before=old, after=new,
    )
    return True


def _agency_record(agency: Agency) -> dict:
    return {"name": agency.name, "kind": agency.kind.value}


def _user_record(user: User) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "job_title": user.job_title,
        "role": user.role.value,
        "agency": user.agency.name if user.agency else None,
        "line_manager": user.line_manager.email if user.line_manager else None,
        "active": user.active,
    }


def _stage_record(stage: PolicyStage) -> dict:
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


def _settings_record(settings: PartnershipSettings) -> dict:
    return {
        "nation": settings.nation.value,
        "end_of_working_day": settings.end_of_working_day.strftime("%H:%M"),
        "act_now_text": settings.act_now_text,
    }


# Agencies


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


def _check_agency_name(name: str, *, except_id: int | None = None) -> str:
    name = administration.check_name(name, field="name", what="the agency's name")
    existing = find_agency_by_name(name)
    if existing is not None and existing.id != except_id:
        raise RationaleRequired("name", f"There is already an agency called {existing.name}")
    return name


def add_agency(actor: User | None, *, name: str, kind, now: datetime) -> Agency:
    """Add a member agency. Names are unique whatever their case."""
    _require_admin(actor)
    agency = Agency(name=_check_agency_name(name), kind=administration.agency_kind(kind))
    db.session.add(agency)
    db.session.flush()
    _admin_change(
        actor, now, entity="agency", entity_id=agency.id, action="created",
        summary=f"Agency {agency.name} added", after=_agency_record(agency),
    )
    db.session.commit()
    return agency


def change_agency(actor: User | None, agency_id: int, *, name: str, kind, now: datetime) -> bool:
    """Rename an agency or change its kind; False when nothing changed."""
    _require_admin(actor)
    agency = get_agency(agency_id)
    before = _agency_record(agency)
    agency.name = _check_agency_name(name, except_id=agency.id)
    agency.kind = administration.agency_kind(kind)
    changed = _record_edit(
        actor, now, entity="agency", entity_id=agency.id,
        summary=f"Agency {before['name']} changed", before=before, after=_agency_record(agency),
    )
    db.session.commit()
    return changed


# Stage contacts


def stage_contacts_of(agency: Agency) -> dict[int, list[AgencyStageContact]]:
    """The agency's stage contacts for every level of the policy (levels with none included)."""
    by_level: dict[int, list[AgencyStageContact]] = {s.level: [] for s in policy()}
    contacts = db.session.scalars(
        sa.select(AgencyStageContact)
        .join(User, User.id == AgencyStageContact.user_id)
        .where(AgencyStageContact.agency_id == agency.id)
        .order_by(AgencyStageContact.stage_level, User.name)
    )
    for contact in contacts:
        by_level.setdefault(contact.stage_level, []).append(contact)
    return by_level


def add_stage_contact(actor: User | None, agency_id: int, *, level, user_id, now) -> None:
    """Name someone of the agency to receive its differences at a stage level."""
    _require_admin(actor)
    agency = get_agency(agency_id)
    levels = [s.level for s in policy()]
    if level not in levels:
        raise RationaleRequired("level", "Select a stage of the policy")
    user = db.session.get(User, user_id) if user_id else None
    if (
        user is None
        or user.agency_id != agency.id
        or not user.active
        or user.role not in AGENCY_ROLES
    ):
        raise RationaleRequired(
            "user",
            f"Select an active practitioner, manager or senior manager of {agency.name}",
        )
    exists = db.session.scalar(
        sa.select(AgencyStageContact.id).where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            AgencyStageContact.user_id == user.id,
        )
    )
    if exists is not None:
        raise RationaleRequired("user", f"{user.name} is already a stage {level} contact")
    contact = AgencyStageContact(agency=agency, stage_level=level, user=user)
    db.session.add(contact)
    db.session.flush()
    _admin_change(
        actor, now, entity="stage contact", entity_id=contact.id, action="created",
        summary=f"{user.name} made a stage {level} contact for {agency.name}",
        after={"agency": agency.name, "stage": level, "user": user.email},
    )
    db.session.commit()


def remove_stage_contact(actor: User | None, agency_id: int, contact_id: int, now) -> str:
    """Stop someone receiving an agency's differences at a level; returns their name."""
    _require_admin(actor)
    contact = db.session.get(AgencyStageContact, contact_id)
    if contact is None or contact.agency_id != agency_id:
        raise NotFound("Stage contact not found.")
    record = {
        "agency": contact.agency.name,
        "stage": contact.stage_level,
        "user": contact.user.email,
    }
    name = contact.user.name
    _admin_change(
        actor, now, entity="stage contact", entity_id=contact.id, action="removed",
        summary=f"{name} is no longer a stage {contact.stage_level} contact for "
        f"{contact.agency.name}",
        before=record,
    )
    db.session.delete(contact)
    db.session.commit()
    return name


# Users


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


def possible_line_managers(user: User | None = None) -> list[User]:
    """Active professionals who could manage ``user`` (not themselves): a line manager may be
    asked to respond or lead at stage 2, so administrators and auditors cannot be one."""
    query = (
        sa.select(User)
        .where(User.active.is_(True), User.role.in_(AGENCY_ROLES))
        .order_by(User.name)
    )
    if user is not None:
        query = query.where(User.id != user.id)
    return list(db.session.scalars(query))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Account not found.")
    return user


def _manager_map() -> dict[int, int | None]:
    return dict(db.session.execute(sa.select(User.id, User.line_manager_id)).all())


def _account_fields(user_id, *, email, name, job_title, role, agency_id, line_manager_id):
    """Check what an administrator typed for an account; return the values to store."""
    email = administration.check_email(email)
    existing = find_user_by_email(email)
    if existing is not None and existing.id != user_id:
        raise RationaleRequired("email", f"There is already an account for {email}")
    name = administration.check_name(name, field="name", what="the person's full name")
    job_title = " ".join((job_title or "").split())
    if len(job_title) > administration.MAX_NAME_CHARACTERS:
        raise RationaleRequired("job_title", "The job title must be 200 characters or fewer")
    agency = db.session.get(Agency, agency_id) if agency_id else None
    if agency_id and agency is None:
        raise RationaleRequired("agency", "Select an agency from the list")
    role = administration.check_role_and_agency(role, agency is not None)
    manager = db.session.get(User, line_manager_id) if line_manager_id else None
    if line_manager_id and (
        manager is None or not manager.active or manager.role not in AGENCY_ROLES
    ):
        raise RationaleRequired(
            "line_manager",
            "Select an active practitioner, manager or senior manager as the line manager",
        )
    administration.check_line_manager(user_id, line_manager_id or None, _manager_map())
    return {
        "email": email,
        "name": name,
        "job_title": job_title,
        "role": role,
        "agency": agency,
        "line_manager": manager,
    }


def _create_invitation(user: User, actor: User | None, now: datetime) -> tuple[str, Invitation]:
    """A new one-time link for ``user``; earlier unused links stop working."""
    db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.user_id == user.id,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = administration.new_token()
    invitation = Invitation(
        user=user,
        token_hash=administration.token_hash(token),
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + administration.INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    return token, invitation


@dataclass(frozen=True)
class Invited:
    """An account with a new set-password link. The token exists only here, never stored."""

    user: User
    token: str
    expires_at: datetime


def invite_user(
    actor: User | None,
    *,
    email,
    name,
    job_title="",
    role,
    agency_id=None,
    line_manager_id=None,
    now: datetime,
) -> Invited:
    """Create an account without a password, and a one-time link for its owner to set one."""
    _require_admin(actor)
    fields = _account_fields(
        None, email=email, name=name, job_title=job_title, role=role, agency_id=agency_id,
        line_manager_id=line_manager_id,
    )
    user = User(**fields, password_hash=None, active=True, created_at=now)
    db.session.add(user)
    db.session.flush()
    token, invitation = _create_invitation(user, actor, now)
    _admin_change(
        actor, now, entity="user", entity_id=user.id, action="invited",
        summary=f"{user.name} ({user.email}) invited as {user.role.label.lower()}",
        after=_user_record(user),
    )
    db.session.commit()
    return Invited(user, token, invitation.expires_at)


def send_new_link(actor: User | None, user_id: int, now: datetime) -> Invited:
    """A fresh set-password link for an account (first invitation lost, or password forgotten)."""
    _require_admin(actor)
    user = get_user(user_id)
    if not user.active:
        raise InvalidRequest(f"{user.name}'s account is deactivated: reactivate it first.")
    token, invitation = _create_invitation(user, actor, now)
    _admin_change(
        actor, now, entity="user", entity_id=user.id, action="link sent",
        summary=f"New set-password link for {user.name} ({user.email})",
    )
    db.session.commit()
    return Invited(user, token, invitation.expires_at)


def _lock_active_admins() -> set[int]:
    # Locked so that two administrators removing each other at once cannot both succeed.
    return set(
        db.session.scalars(
            sa.select(User.id)
            .where(User.role == Role.ADMIN, User.active.is_(True))
            .with_for_update()
        )
    )


def change_user(
    actor: User | None,
    user_id: int,
    *,
    email,
    name,
    job_title="",
    role,
    agency_id=None,
    line_manager_id=None,
    now: datetime,
) -> bool:
    """Change an account's details, role, agency or line manager; False when nothing changed."""
    _require_admin(actor)
    user = get_user(user_id)
    fields = _account_fields(
        user.id, email=email, name=name, job_title=job_title, role=role, agency_id=agency_id,
        line_manager_id=line_manager_id,
    )
    if user.role == Role.ADMIN and fields["role"] != Role.ADMIN and user.active:
        administration.check_still_an_admin(
            active_admin_ids=_lock_active_admins(), user_id=user.id, remains_admin=False
        )
    new_agency = fields["agency"]
    if user.agency_id is not None and (new_agency is None or new_agency.id != user.agency_id):
        levels = db.session.scalars(
            sa.select(AgencyStageContact.stage_level).where(
                AgencyStageContact.user_id == user.id,
                AgencyStageContact.agency_id == user.agency_id,
            )
        ).all()
        if levels:
            raise RationaleRequired(
                "agency",
                f"{user.name} is a stage {', '.join(map(str, sorted(levels)))} contact for "
                f"{user.agency.name}: remove them as a contact there before moving them",
            )
    before = _user_record(user)
    for key, value in fields.items():
        setattr(user, key, value)
    changed = _record_edit(
        actor, now, entity="user", entity_id=user.id,
        summary=f"Account of {user.name} ({user.email}) changed", before=before,
        after=_user_record(user),
    )
    db.session.commit()
    return changed


def open_responsibilities(user: User) -> int:
    """How many open differences wait for ``user`` to respond (a warning before deactivating)."""
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Difference.id)))
        .join(Stage, sa.and_(Stage.difference_id == Difference.id,
                             Stage.level == Difference.stage_level))
        .join(Assignment, Assignment.stage_id == Stage.id)
        .where(
            Assignment.user_id == user.id,
            Assignment.active.is_(True),
            Assignment.side == Side.RESPONDER,
            Difference.state == State.AWAITING_RESPONSE,
        )
    )


def deactivate_user(actor: User | None, user_id: int, now: datetime) -> User:
    """Stop an account signing in or receiving work. Accounts are never deleted: they appear in
    differences' histories, which must keep saying who did what."""
    _require_admin(actor)
    user = get_user(user_id)
    if actor is not None and user.id == actor.id:
        raise InvalidRequest("You cannot deactivate your own account: ask another administrator.")
    if not user.active:
        raise InvalidRequest(f"{user.name}'s account is already deactivated.")
    if user.role == Role.ADMIN:
        administration.check_still_an_admin(
            active_admin_ids=_lock_active_admins(), user_id=user.id, remains_admin=False
        )
    user.active = False
    _admin_change(
        actor, now, entity="user", entity_id=user.id, action="deactivated",
        summary=f"Account of {user.name} ({user.email}) deactivated",
        before={"active": True}, after={"active": False},
    )
    db.session.commit()
    return user


def reactivate_user(actor: User | None, user_id: int, now: datetime) -> User:
    _require_admin(actor)
    user = get_user(user_id)
    if user.active:
        raise InvalidRequest(f"{user.name}'s account is already active.")
    user.active = True
    _admin_change(
        actor, now, entity="user", entity_id=user.id, action="reactivated",
        summary=f"Account of {user.name} ({user.email}) reactivated",
        before={"active": False}, after={"active": True},
    )
    db.session.commit()
    return user


def invitation_for_token(token: str, now: datetime) -> tuple[Invitation | None, str | None]:
    """The invitation a link carries, and why it cannot be used ("unknown", "used", …) if so."""
    invitation = db.session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == administration.token_hash(token))
    )
    if invitation is None:
        return None, "unknown"
    problem = administration.invitation_problem(
        used_at=invitation.used_at,
        expires_at=invitation.expires_at,
        user_active=invitation.user.active,
        now=now,
    )
    return invitation, problem


def set_password_from_invitation(token: str, password: str, confirmation: str, now) -> User:
    """Set the password an invitation link is for, and use the link up."""
    invitation = db.session.scalar(
        sa.select(Invitation)
        .where(Invitation.token_hash == administration.token_hash(token))
        .with_for_update()
    )
    problem = (
        "unknown"
        if invitation is None
        else administration.invitation_problem(
            used_at=invitation.used_at,
            expires_at=invitation.expires_at,
            user_active=invitation.user.active,
            now=now,
        )
    )
    if problem is not None:
        raise InvalidRequest(problem)
    try:
        check_password_strength(password)
    except InvalidRequest as error:
        raise RationaleRequired("password", str(error).rstrip(".")) from None
    if password != confirmation:
        raise RationaleRequired("confirmation", "The passwords do not match")
    user = invitation.user
    had_password = user.password_hash is not None
    user.password_hash = generate_password_hash(password)
    invitation.used_at = now
    _admin_change(
        user, now, entity="user", entity_id=user.id, action="password set",
        summary=f"{user.name} ({user.email}) set a password with a one-time link",
        before={"password": "set" if had_password else "not set"}, after={"password": "set"},
    )
    db.session.commit()
    return user


# The stage policy


def _as_stage_policy(stage: PolicyStage) -> workflow.StagePolicy:
    return workflow.StagePolicy(level=stage.level, **_stage_record(stage))


def _valid_stage(stage: workflow.StagePolicy, *, is_final: bool) -> dict:
    """The stage's columns, once it passes every guard (rules as enums)."""
    administration.check_stage(stage, is_final=is_final)
    values = vars(stage) | {
        "responder_rule": ResponderRule(stage.responder_rule),
        "lead_rule": LeadRule(stage.lead_rule),
    }
    values.pop("level")
    return values


def _stage_values(level: int, values: dict) -> workflow.StagePolicy:
    return workflow.StagePolicy(
        level=level,
        name=(values.get("name") or "").strip(),
        responder_rule=values.get("responder_rule"),
        lead_rule=values.get("lead_rule"),
        working_days=values.get("working_days"),
        urgent_working_days=values.get("urgent_working_days"),
        reminder_days_before=values.get("reminder_days_before"),
        auto_escalate=bool(values.get("auto_escalate")),
        raiser_reply_days=values.get("raiser_reply_days"),
        max_extension_days=values.get("max_extension_days"),
    )


def get_policy_stage(level: int) -> PolicyStage:
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    if stage is None:
        raise NotFound("Stage not found.")
    return stage


def change_stage(actor: User | None, level: int, values: dict, now: datetime) -> bool:
    """Change one stage of the policy. It governs stages opened from now on: open stages keep
    their deadlines unless an administrator recomputes them."""
    _require_admin(actor)
    stages = policy()
    stage = get_policy_stage(level)
    wanted = _valid_stage(_stage_values(level, values), is_final=level == stages[-1].level)
    before = _stage_record(stage)
    for key, value in wanted.items():
        setattr(stage, key, value)
    changed = _record_edit(
        actor, now, entity="stage policy", entity_id=level,
        summary=f"Stage {level} ({stage.name}) changed", before=before, after=_stage_record(stage),
    )
    db.session.commit()
    return changed


def add_stage(actor: User | None, values: dict, now: datetime) -> PolicyStage:
    """Add a stage after the last one: it becomes the final stage, which the partnership decides."""
    _require_admin(actor)
    stages = policy()
    level = stages[-1].level + 1 if stages else 1
    wanted = _stage_values(
        level,
        values | {"responder_rule": ResponderRule.PARTNERSHIP, "lead_rule": LeadRule.NONE,
                  "auto_escalate": False},
    )
    administration.check_policy([*map(_as_stage_policy, stages), wanted])
    stage = PolicyStage(level=level, **_valid_stage(wanted, is_final=True))
    db.session.add(stage)
    db.session.flush()
    _admin_change(
        actor, now, entity="stage policy", entity_id=level, action="created",
        summary=f"Stage {level} ({stage.name}) added as the final stage",
        after=_stage_record(stage),
    )
    db.session.commit()
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
    stages = policy()
    if len(stages) <= 1:
        return "The policy must have at least one stage."
    last, previous = stages[-1], stages[-2]
    waiting = open_differences_at([last.level, previous.level])
    if waiting:
        plural = "difference is" if waiting == 1 else "differences are"
        return (
            f"{waiting} open {plural} at stage {previous.level} or {last.level}, and could still "
            f"reach stage {last.level}. Remove the stage once they have closed."
        )
    try:
        administration.check_stage(_as_stage_policy(previous), is_final=True)
    except RationaleRequired as error:
        return (
            f"Stage {previous.level} would become the final stage. {error}. "
            f"Change stage {previous.level} first."
        )
    return None


def remove_last_stage(actor: User | None, now: datetime) -> PolicyStage:
    """Remove the last stage; the one before becomes final. Refused while a difference could
    still reach it."""
    _require_admin(actor)
    db.session.execute(sa.select(PolicyStage.id).with_for_update())
    problem = removal_problem()
    if problem:
        raise InvalidRequest(problem)
    last = policy()[-1]
    _admin_change(
        actor, now, entity="stage policy", entity_id=last.level, action="removed",
        summary=f"Stage {last.level} ({last.name}) removed", before=_stage_record(last),
    )
    db.session.delete(last)
    db.session.commit()
    return last


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
    rules = {stage.level: stage for stage in policy()}
    query = (
        sa.select(Difference)
        .where(Difference.state == State.AWAITING_RESPONSE)
        .order_by(Difference.id)
    )
    if lock:
        query = query.with_for_update(of=Difference)
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


def recompute_deadlines(actor: User | None, now: datetime) -> int:
    """Apply the current policy and calendar to every open stage's deadline. Each difference
    whose deadline moves gets an event in its history, and its raiser and responders are told."""
    _require_admin(actor)
    moves = deadline_moves(now, lock=True)
    for move in moves:
        move.stage.deadline = move.new
        move.stage.working_days = move.working_days
        _rearm_deadline_alerts(move.stage, now)
        data = {
            "previous_deadline": move.old.isoformat(),
            "working_days": move.working_days,
            "extended_days": move.stage.extended_days,
        }
        event = _record(move.difference, EventKind.DEADLINE_RECOMPUTED, actor, now, data)
        facts_ = _message_facts(move.difference, move.stage, actor) | {
            "previous_deadline": move.old,
            "deadline": move.new,
            "overdue": now > move.new,
        }
        _notify(move.difference, event, now, [move.difference.raiser], "deadline_recomputed",
                "raiser", facts_)
        _notify(move.difference, event, now, move.stage.people(Side.RESPONDER),
                "deadline_recomputed", "responder", facts_)
    _admin_change(
        actor, now, entity="stage policy", entity_id=None, action="deadlines recomputed",
        summary=f"Open deadlines recomputed: {len(moves)} "
        f"difference{'s' if len(moves) != 1 else ''} moved",
        after={"moved": {m.difference.reference: m.new.isoformat() for m in moves}},
    )
    _commit()
    return len(moves)


# The calendar and the "act now" text


def closure_days() -> list[ClosureDay]:
    return list(db.session.scalars(sa.select(ClosureDay).order_by(ClosureDay.day)))


def change_calendar(actor: User | None, *, nation, end_of_working_day, now) -> bool:
    """Set the nation whose bank holidays apply and the time deadlines fall due each day."""
    _require_admin(actor)
    try:
        nation = Nation(nation)
    except ValueError:
        raise RationaleRequired("nation", "Select the nation whose bank holidays apply") from None
    if not isinstance(end_of_working_day, time) or not (
        time(12, 0) <= end_of_working_day <= time(23, 59)
    ):
        raise RationaleRequired(
            "end_of_working_day",
            "Enter the end of the working day as a time between 12:00 and 23:59, like 17:00",
        )
    settings = partnership_settings()
    before = _settings_record(settings)
    settings.nation = nation
    settings.end_of_working_day = end_of_working_day.replace(second=0, microsecond=0)
    changed = _record_edit(
        actor, now, entity="calendar", entity_id=None, summary="Working calendar changed",
        before=before, after=_settings_record(settings),
    )
    db.session.commit()
    return changed


def add_closure_day(actor: User | None, *, day, description, now) -> ClosureDay:
    """A local closure day: not a working day for deadlines opened (or recomputed) after this."""
    _require_admin(actor)
    if not isinstance(day, date):
        raise RationaleRequired("day", "Enter the date of the closure day")
    description = administration.check_name(
        description, field="description", what="a description, like Council closure day",
        limit=administration.MAX_CLOSURE_DESCRIPTION,
    )
    if db.session.scalar(sa.select(ClosureDay.id).where(ClosureDay.day == day)):
        raise RationaleRequired("day", "That date is already a closure day")
    closure = ClosureDay(day=day, description=description)
    db.session.add(closure)
    db.session.flush()
    _admin_change(
        actor, now, entity="closure day", entity_id=closure.id, action="created",
        summary=f"Closure day {day.isoformat()} added ({description})",
        after={"day": day.isoformat(), "description": description},
    )
    db.session.commit()
    return closure


def remove_closure_day(actor: User | None, closure_id: int, now) -> ClosureDay:
    _require_admin(actor)
    closure = db.session.get(ClosureDay, closure_id)
    if closure is None:
        raise NotFound("Closure day not found.")
    _admin_change(
        actor, now, entity="closure day", entity_id=closure.id, action="removed",
        summary=f"Closure day {closure.day.isoformat()} removed ({closure.description})",
        before={"day": closure.day.isoformat(), "description": closure.description},
    )
    db.session.delete(closure)
    db.session.commit()
    return closure


def change_act_now_text(actor: User | None, text: str, now) -> bool:
    """The contacts shown to someone who says a child is at immediate risk."""
    _require_admin(actor)
    cleaned = (text or "").strip()
    if not cleaned:
        raise RationaleRequired("text", "Enter what people must do when a child is in danger")
    if len(cleaned) > administration.MAX_ACT_NOW_CHARACTERS:
        raise RationaleRequired(
            "text", f"Keep it to {administration.MAX_ACT_NOW_CHARACTERS:,} characters or fewer"
        )
    settings = partnership_settings()
    before = _settings_record(settings)
    settings.act_now_text = cleaned
    changed = _record_edit(
        actor, now, entity="act now text", entity_id=None,
        summary="Immediate-risk contact text changed", before=before,
        after=_settings_record(settings),
    )
    db.session.commit()
    return changed


# The record of changes


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


# Importing from CSV (`flask escalate import-agencies` and `import-users`)


@dataclass
class ImportResult:
    rejections: list
    created: list  # agencies or users, when nothing was rejected
    invited: list[Invited]


def import_agencies(rows: list[tuple[int, dict]], now: datetime, *, source: str) -> ImportResult:
    """Add every agency of the file, or none: any rejected row stops the whole import."""
    seen: dict[str, int] = {}

    def check(line, row):
        name = administration.check_name(row.get("name"), field="name", what="the agency's name")
        if name.lower() in seen:
            raise InvalidRequest(f"{name} is already on line {seen[name.lower()]}")
        seen[name.lower()] = line
        if find_agency_by_name(name) is not None:
            raise InvalidRequest(f"There is already an agency called {name}")
        administration.agency_kind(row.get("kind"))

    rejections = administration.collect_rejections(rows, check)
    if rejections:
        return ImportResult(rejections, [], [])
    created = []
    for _line, row in rows:
        agency = Agency(
            name=" ".join(row["name"].split()), kind=administration.agency_kind(row["kind"])
        )
        db.session.add(agency)
        db.session.flush()
        _admin_change(
            None, now, entity="agency", entity_id=agency.id, action="created",
            summary=f"Agency {agency.name} imported from {source}", after=_agency_record(agency),
        )
        created.append(agency)
    db.session.commit()
    return ImportResult([], created, [])


def import_users(
    rows: list[tuple[int, dict]], now: datetime, *, source: str, invite: bool
) -> ImportResult:
    """Create every account of the file without a password, or none: any rejected row stops the
    whole import. Line managers may be existing accounts or other rows of the file."""
    in_file: dict[str, int] = {}
    for line, row in rows:
        in_file.setdefault((row.get("email") or "").strip().lower(), line)
    file_managers: dict[str, str | None] = {}

    def check(line, row):
        email = administration.check_email(row.get("email"))
        if in_file.get(email) != line:
            raise InvalidRequest(f"{email} is already on line {in_file[email]}")
        if find_user_by_email(email) is not None:
            raise InvalidRequest(f"There is already an account for {email}")
        administration.check_name(row.get("name"), field="name", what="the person's full name")
        if len((row.get("job_title") or "").strip()) > administration.MAX_NAME_CHARACTERS:
            raise InvalidRequest("The job title must be 200 characters or fewer")
        agency_name = (row.get("agency") or "").strip()
        if agency_name and find_agency_by_name(agency_name) is None:
            raise InvalidRequest(f"There is no agency called {agency_name!r}")
        try:
            role = Role((row.get("role") or "").strip().lower())
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidRequest(
                f"Unknown role {row.get('role')!r}: use one of {allowed}"
            ) from None
        if role in AGENCY_ROLES and not agency_name:
            raise InvalidRequest(f"A {role.value} needs an agency")
        manager_email = (row.get("line_manager_email") or "").strip().lower()
        if manager_email:
            if manager_email == email:
                raise InvalidRequest("A person cannot be their own line manager")
            existing = find_user_by_email(manager_email)
            if manager_email not in in_file and existing is None:
                raise InvalidRequest(
                    f"The line manager {manager_email} has no account and is not in the file"
                )
            if existing is not None and not existing.active:
                raise InvalidRequest(f"The line manager {manager_email} is deactivated")
        file_managers[email] = manager_email or None

    rejections = administration.collect_rejections(rows, check)
    # Managers within the file must not form a loop (accounts already stored cannot point back).
    for line, row in rows:
        email = (row.get("email") or "").strip().lower()
        if email not in file_managers or any(r.line == line for r in rejections):
            continue
        try:
            administration.check_line_manager(email, file_managers[email], file_managers)
        except RationaleRequired:
            rejections.append(
                administration.Rejection(
                    line, "The line managers in the file go round in a circle through this row."
                )
            )
    if rejections:
        return ImportResult(sorted(rejections, key=lambda r: r.line), [], [])

    created: dict[str, User] = {}
    for _line, row in rows:
        agency_name = (row.get("agency") or "").strip()
        user = User(
            email=row["email"].strip().lower(),
            name=" ".join(row["name"].split()),
            job_title=" ".join((row.get("job_title") or "").split()),
            role=Role(row["role"].strip().lower()),
            agency=find_agency_by_name(agency_name) if agency_name else None,
            password_hash=None,
            active=True,
            created_at=now,
        )
        db.session.add(user)
        created[user.email] = user
    db.session.flush()
    invited = []
    for email, user in created.items():
        manager = file_managers.get(email)
        if manager:
            user.line_manager = created.get(manager) or find_user_by_email(manager)
        _admin_change(
            None, now, entity="user", entity_id=user.id, action="created",
            summary=f"{user.name} ({user.email}) imported from {source}",
            after=_user_record(user),
        )
        if invite:
            token, invitation = _create_invitation(user, None, now)
            invited.append(Invited(user, token, invitation.expires_at))
    db.session.commit()
    return ImportResult([], list(created.values()), invited)



# --- The deadline sweep ------------------------------------------------------------------------
#
# Reminders before a deadline, missed deadlines, automatic escalation and reminders to a raising
# side that has not answered a response (product.md §5). When each is due is decided by the pure
# rules in escalate.deadlines; this section keeps each stage's schedule (remind_at,
# raiser_remind_at) and does the work. Overdue itself stays derived from the clock everywhere
# (see `situation`): the sweep only records it and tells people.
#
# Safe to run twice, or on several machines at once: each item is one transaction that first
# inserts its stage_alert row (UNIQUE(stage_id, kind)), so a second copy fails and rolls back;
# on PostgreSQL the difference's row is also taken FOR UPDATE SKIP LOCKED, so two sweeps do not
# even try the same item, and the state is checked again once the row is held.


def _reminder_at(deadline, policy_stage: PolicyStage, *, since, cal: WorkingCalendar):
    return deadlines.reminder_at(
        deadline,
        policy_stage.reminder_days_before,
        since=since,
        nation=cal.nation,
        closures=cal.closures,
    )


def _schedule_raiser_reminder(stage: Stage, now: datetime) -> None:
    """After a response: nothing more to remind the responder of; remind the raising side if
    they have not accepted or escalated within the policy's window."""
    cal = working_calendar()
    stage.remind_at = None
    stage.raiser_remind_at = deadlines.raiser_reminder_at(
        now,
        _policy_stage(stage.level).raiser_reply_days,
        nation=cal.nation,
        closures=cal.closures,
        end_of_day=cal.end_of_day,
    )


def _rearm_deadline_alerts(stage: Stage, now: datetime) -> None:
    """A moved deadline gets its own reminder and, if it is missed too, its own overdue notice.

    Reassignment does not come here: the schedule stays, and whoever is the responder when a
    reminder or overdue notice falls due receives it (the assignment message itself states the
    deadline, so a responder assigned after the reminder went is not sent a second one).
    """
    stage.remind_at = _reminder_at(
        stage.deadline, _policy_stage(stage.level), since=now, cal=working_calendar()
    )
    db.session.execute(
        sa.delete(StageAlert).where(
            StageAlert.stage_id == stage.id,
            StageAlert.kind.in_([duty.value for duty in deadlines.RESPONDER_DUTIES]),
        )
    )


def _stop_reminders(stage: Stage) -> None:
    """The stage has closed: nothing is left to remind anyone of (keeps the due queries small)."""
    stage.remind_at = None
    stage.raiser_remind_at = None


@dataclass(frozen=True)
class SweepItem:
    """One thing the sweep did (or, in a dry run, would do) for one stage."""

    reference: str
    stage_level: int
    stage: str
    duty: deadlines.Duty
    deadline: datetime

    @property
    def summary(self) -> str:
        due = messages.when(self.deadline)
        what = {
            deadlines.Duty.REMINDER: f"remind the responder that the response is due by {due}",
            deadlines.Duty.OVERDUE: f"record that the response due by {due} is overdue, and "
            "tell both sides",
            deadlines.Duty.AUTO_ESCALATE: "escalate automatically to the next stage",
            deadlines.Duty.RAISER_REMINDER: "remind the raising side that a response is waiting "
            "for their answer",
        }[self.duty]
        return f"{self.reference}, stage {self.stage_level} ({self.stage}): {what}"


@dataclass
class SweepReport:
    """What one sweep did. ``skipped`` counts items another sweep or a person reached first;
    ``problems`` items that could not be done (they are tried again by the next sweep)."""

    dry_run: bool = False
    items: list[SweepItem] = field(default_factory=list)
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def count(self, duty: deadlines.Duty) -> int:
        return sum(1 for item in self.items if item.duty == duty)

    @property
    def reminders(self) -> int:
        return self.count(deadlines.Duty.REMINDER)

    @property
    def overdue(self) -> int:
        return self.count(deadlines.Duty.OVERDUE)

    @property
    def escalated(self) -> int:
        return self.count(deadlines.Duty.AUTO_ESCALATE)

    @property
    def raiser_reminders(self) -> int:
        return self.count(deadlines.Duty.RAISER_REMINDER)

    def __bool__(self) -> bool:
        return bool(self.items or self.skipped or self.problems)

    def __str__(self) -> str:
        def plural(n, word):
            return f"{n} {word}{'s' if n != 1 else ''}"

        return (
            f"{plural(self.reminders, 'reminder')}, {self.overdue} overdue, "
            f"{self.escalated} escalated, {plural(self.raiser_reminders, 'raiser reminder')}"
        )


def sweep(now: datetime, *, dry_run: bool = False) -> SweepReport:
    """Do everything that is due at ``now``: one transaction per stage, each done exactly once.

    With ``dry_run`` it reports what it would do and changes nothing. Everything due is done in
    one call (no cap): the due queries are indexed range queries on ``remind_at``, ``deadline``
    and ``raiser_remind_at``, so the work grows with what is due, not with what is open.
    """
    report = SweepReport(dry_run=dry_run)
    due = _due_stages(now)
    db.session.rollback()  # end the read: each item below is its own transaction
    for stage_id, difference_id in due:
        try:
            items = _sweep_stage(stage_id, difference_id, now, act=not dry_run)
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
        except (IntegrityError, StaleDataError):
            # Another sweep, or a person, reached this stage first: their work stands.
            db.session.rollback()
            report.skipped += 1
            continue
        except workflow.DomainError as error:
            db.session.rollback()
            report.problems.append(f"{_reference_of(difference_id)}: {error}")
            continue
        if items is None:
            report.skipped += 1  # held by another sweep right now
        else:
            report.items.extend(items)
    return report


def _due_stages(now: datetime) -> list[tuple[int, int]]:
    """(stage id, difference id) of every open stage with something due, soonest first.

    Each query is a range on one indexed column of `stage` alone, never a walk over the open
    differences: remind_at and raiser_remind_at are set only while there is something to remind
    of (cleared on a response, a reminder, an escalation or a close), and the overdue query
    matches the partial index ix_stage_awaiting_deadline (stages with no response, not closed).
    _sweep_stage checks the difference's state again once it holds the row.
    """

    def not_done(duty: deadlines.Duty):
        return ~sa.exists().where(StageAlert.stage_id == Stage.id, StageAlert.kind == duty.value)

    def due(moment, duty: deadlines.Duty, *conditions):
        return db.session.execute(
            sa.select(Stage.id, Stage.difference_id)
            .where(*conditions, not_done(duty))
            .order_by(moment, Stage.id)
        ).all()

    overdue = due(
        Stage.deadline,
        deadlines.Duty.OVERDUE,
        Stage.deadline < now,
        Stage.closed_at.is_(None),
        Stage.responded_at.is_(None),
    )
    reminders = due(
        Stage.remind_at,
        deadlines.Duty.REMINDER,
        Stage.remind_at <= now,
        Stage.deadline >= now,
    )
    raisers = due(
        Stage.raiser_remind_at,
        deadlines.Duty.RAISER_REMINDER,
        Stage.raiser_remind_at <= now,
    )
    return [tuple(row) for row in (*overdue, *reminders, *raisers)]


def _reference_of(difference_id: int) -> str:
    return db.session.scalar(sa.select(Difference.reference).where(Difference.id == difference_id))


def _sweep_stage(stage_id: int, difference_id: int, now: datetime, *, act: bool):
    """Do (or, without ``act``, describe) what is due for one stage. None: another sweep holds
    the difference. The caller commits or rolls back."""
    query = (
        sa.select(Difference)
        .where(Difference.id == difference_id)
        .execution_options(populate_existing=True)
    )
    if act:
        query = query.with_for_update(of=Difference, skip_locked=True)
    difference = db.session.scalar(query)
    if difference is None:
        return None
    stage = db.session.get(Stage, stage_id, populate_existing=True)
    policy_stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level))
    done = frozenset(
        db.session.scalars(sa.select(StageAlert.kind).where(StageAlert.stage_id == stage.id))
    )
    # Checked again now that the row is held: the difference may have moved on since the query.
    duties = deadlines.duties(
        deadlines.StageClock(
            state=difference.state,
            is_open_stage=stage.level == difference.stage_level and stage.closed_at is None,
            is_final=stage.is_final,
            deadline=stage.deadline,
            remind_at=stage.remind_at,
            raiser_remind_at=stage.raiser_remind_at,
            auto_escalate=bool(policy_stage and policy_stage.auto_escalate),
            done=done,
        ),
        now,
    )
    items = [
        SweepItem(difference.reference, stage.level, stage.name, duty, stage.deadline)
        for duty in duties
    ]
    if not act or not duties:
        return items
    for duty in duties:
        db.session.add(StageAlert(stage_id=stage.id, kind=duty.value, at=now))
    db.session.flush()  # a second sweep stops here, on the unique constraint, before any work
    if deadlines.Duty.OVERDUE in duties:
        _record_overdue(
            difference, stage, now, escalating=deadlines.Duty.AUTO_ESCALATE in duties
        )
    elif deadlines.Duty.REMINDER in duties:
        _remind_responders(difference, stage, now)
    elif deadlines.Duty.RAISER_REMINDER in duties:
        _remind_raising_side(difference, stage, now)
    return items


def _record_overdue(difference: Difference, stage: Stage, now: datetime, *, escalating: bool):
    """The deadline passed with no response: an event, and both sides told; then, if the policy
    says so, the difference escalates automatically (the raiser and the next stage are told by
    the escalation's own message, which gives the missed deadline as its reason)."""
    next_policy = (
        None
        if stage.is_final
        else db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == stage.level + 1))
    )
    next_responders = []
    if next_policy is not None and not escalating:
        # Who would receive it if the raising side escalates now.
        next_responders, _ = _pick(
            next_policy.responder_rule,
            difference,
            next_policy.level,
            difference.receiving_agency_id,
        )
    responders, leads = stage.people(Side.RESPONDER), stage.people(Side.LEAD)
    data = {
        "stage": stage.name,
        "responders": [u.name for u in responders],
        "next_stage": next_policy.name if next_policy else None,
        "next_responders": [u.name for u in next_responders],
        "escalated_automatically": escalating,
    }
    event = _record(difference, EventKind.OVERDUE, None, now, data)
    stage.remind_at = None
    facts_ = _message_facts(difference, stage, None) | {
        "deadline": stage.deadline,
        "next_stage": data["next_stage"],
        "escalating": escalating,
        "is_final": stage.is_final,
    }
    _notify(difference, event, now, responders, "overdue", "responder", facts_)
    if escalating:
        others = [lead for lead in leads if lead.id != difference.raiser_id]
        _notify(difference, event, now, others, "overdue", "lead", facts_)
        workflow.check(workflow.SYSTEM, situation(difference, now), workflow.Action.ESCALATE)
        reason = messages.automatic_escalation_reason(stage.deadline)
        _escalate(difference, stage, None, reason, now, automatic=True)
    else:
        _notify(difference, event, now, [difference.raiser], "overdue", "raiser", facts_)
        _notify(difference, event, now, leads, "overdue", "lead", facts_)
        _notify(difference, event, now, next_responders, "overdue", "next_responder", facts_)


def _remind_responders(difference: Difference, stage: Stage, now: datetime) -> None:
    stage.remind_at = None
    facts_ = _message_facts(difference, stage, None) | {
        "deadline": stage.deadline,
        "days_left": working_calendar().days_left(stage.deadline, now),
    }
    _notify_without_event(
        difference, now, stage.people(Side.RESPONDER), "reminder", "responder", facts_
    )


def _remind_raising_side(difference: Difference, stage: Stage, now: datetime) -> None:
    stage.raiser_remind_at = None
    facts_ = _message_facts(difference, stage, None) | {
        "responded_at": stage.responded_at,
        "outcome": stage.outcome.value if stage.outcome else "",
    }
    recipients = [difference.raiser, *stage.people(Side.LEAD)]
    _notify_without_event(difference, now, recipients, "raiser_reminder", "raiser", facts_)


def _notify_without_event(difference, now, recipients, kind: str, role: str, facts_) -> None:
    """Outbox rows for a reminder: it changes nothing in the difference, so it has no event."""
    for recipient in dict.fromkeys(recipients):
        if recipient is None or not recipient.active:
            continue
        subject, body = messages.compose(kind, for_recipient=role, **facts_)
        db.session.add(
            Notification(
                recipient_id=recipient.id,
                difference_id=difference.id,
                subject=subject,
                body=body,
                created_at=now,
                next_attempt_at=now,
            )
        )


# --- Delivering the outbox by email ------------------------------------------------------------
#
# Every notification is in the inbox from the moment its action commits; these functions email
# it. A worker claims one notification at a time (status "sending", claimed_by, claimed_until)
# and commits the claim before it talks to the mail server, so no other worker takes it. The
# claim lapses at claimed_until: if the worker died mid-send, another sends the message again,
# with the same Message-ID. For a notification that is not emailed, last_error says why.

NOT_EMAILED_INACTIVE = "The recipient's account is deactivated, so no email was sent."
NOT_EMAILED_PARTNERSHIP_NOTICE = "A notice to the partnership, shown in the app only."
NOBODY_FINISHED = "The worker sending it stopped before it finished"


@dataclass
class DeliveryCounts:
    """What one call of deliver_due did, notification by notification."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_emailed: int = 0

    def add(self, status: EmailStatus) -> None:
        name = {EmailStatus.SENT: "sent", EmailStatus.RETRYING: "retrying"}.get(status, "failed")
        setattr(self, name, getattr(self, name) + 1)

    def __bool__(self) -> bool:
        return any((self.sent, self.retrying, self.failed, self.not_emailed))

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to try again later, {self.failed} failed, "
            f"{self.not_emailed} not emailed"
        )


def deliver_due(
    mailer: notify.Mailer,
    clock: Callable[[], datetime],
    *,
    worker_id: str,
    limit: int | None = None,
    stopping: Callable[[], bool] | None = None,
) -> DeliveryCounts:
    """Email the notifications that are due, one at a time, and count what happened.

    ``clock()`` gives the current instant; it is read for each message, since a round can take
    a while. ``stopping()``, if given, is asked before each message: once it answers True the
    round ends (the message in hand is finished first). A message that fails is tried again
    after 1, 2, 4, 8… minutes; after ``mailer.max_attempts`` tries, or when the mail server
    refuses it for good, it is marked failed and the partnership is told in the app. Nobody
    whose account is deactivated is emailed.
    """
    counts = DeliveryCounts(not_emailed=_skip_inactive_recipients())
    claimed = 0
    while limit is None or claimed < limit:
        if stopping is not None and stopping():
            break
        notification_id = _claim_email(clock(), worker_id, mailer.claim_seconds)
        if notification_id is None:
            break
        claimed += 1
        counts.add(_deliver_claimed(notification_id, mailer, clock, worker_id))
    return counts


def _email_due(now: datetime):
    """Due: waiting with its time come, or claimed by a worker whose claim has lapsed."""
    waiting = sa.and_(
        Notification.email_status.in_((EmailStatus.QUEUED, EmailStatus.RETRYING)),
        sa.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )
    return sa.and_(
        sa.or_(waiting, Notification.email_status == EmailStatus.SENDING),
        sa.or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
    )


def _claim_email(now: datetime, worker_id: str, claim_seconds: int) -> int | None:
    """Claim the next due notification for ``worker_id`` and commit; None if nothing is due.

    One statement both picks and claims. On PostgreSQL the pick skips rows another worker has
    locked (FOR UPDATE SKIP LOCKED); SQLite has no row locks (SQLAlchemy leaves the clause out)
    but runs one writer at a time, and the repeated WHERE finds a row another worker has just
    claimed no longer due.
    """
    candidate = (
        sa.select(Notification.id)
        .where(_email_due(now))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == candidate, _email_due(now))
        .values(
            email_status=EmailStatus.SENDING,
            claimed_by=worker_id,
            claimed_until=now + timedelta(seconds=claim_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.commit()
    return claimed


def _deliver_claimed(notification_id: int, mailer: notify.Mailer, clock, worker_id: str):
    """Send one claimed notification and record what happened; return its new status."""
    notification = db.session.get(Notification, notification_id)
    try:
        if notification.attempts > mailer.max_attempts:
            # Every try was cut short (a worker that died mid-send each time): stop trying.
            raise notify.DeliveryError(notification.last_error or NOBODY_FINISHED, permanent=True)
        message = notify.compose(notification, mailer)
        db.session.commit()  # no transaction stays open while the mail server is talked to
        mailer.sender.send(message)
    except notify.DeliveryError as error:
        db.session.rollback()
        return _record_failure(notification_id, worker_id, clock(), mailer, error)
    _end_claim(notification_id, worker_id, email_status=EmailStatus.SENT, sent_at=clock())
    db.session.commit()
    return EmailStatus.SENT


def _end_claim(notification_id: int, worker_id: str, **values) -> bool:
    """Record a result, if ``worker_id`` still holds the claim (it may have lapsed and been
    taken over; the other worker's result then stands)."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.claimed_by == worker_id)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _record_failure(notification_id, worker_id, now, mailer, error) -> EmailStatus:
    notification = db.session.get(Notification, notification_id)
    reason = str(error).rstrip(". ")[:1000]
    if error.permanent or notification.attempts >= mailer.max_attempts:
        status, next_attempt_at = EmailStatus.FAILED, None
    else:
        status = EmailStatus.RETRYING
        next_attempt_at = now + notify.retry_delay(notification.attempts)
    held = _end_claim(
        notification_id,
        worker_id,
        email_status=status,
        last_error=reason,
        next_attempt_at=next_attempt_at,
    )
    if held and status == EmailStatus.FAILED:
        _tell_partnership_email_failed(notification, reason, now)
    db.session.commit()
    return status


def _tell_partnership_email_failed(notification: Notification, reason: str, now) -> None:
    """An in-app notice to every partnership member: somebody was not told by email."""
    recipient, reference = notification.recipient, notification.difference.reference
    tries = f"{notification.attempts} tr{'ies' if notification.attempts != 1 else 'y'}"
    body = "\n\n".join(
        [
            f"escalate could not email {recipient.name} ({recipient.email}) about difference "
            f"{reference}, after {tries}.",
            f"The reason: {reason}.",
            f"The message was: {notification.subject}",
            "It is still in their inbox in escalate, but they may not know it is there. Please "
            "make sure they are told another way, and check their email address.",
            f"Difference {reference}: sign in to see its full record.",
        ]
    )
    partnership = db.session.scalars(
        sa.select(User)
        .where(User.role == Role.PARTNERSHIP, User.active.is_(True))
        .order_by(User.name)
    )
    for member in partnership:
        db.session.add(
            Notification(
                recipient_id=member.id,
                difference_id=notification.difference_id,
                subject=f"{reference}: an email to {recipient.name} could not be delivered"[:200],
                body=body,
                created_at=now,
                email_status=EmailStatus.NOT_EMAILED,
                last_error=NOT_EMAILED_PARTNERSHIP_NOTICE,
            )
        )


def _skip_inactive_recipients() -> int:
    """Mark waiting emails to deactivated accounts not emailed, and say how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.email_status.in_((EmailStatus.QUEUED, EmailStatus.RETRYING)),
            Notification.recipient_id.in_(sa.select(User.id).where(User.active.is_(False))),
        )
        .values(
            email_status=EmailStatus.NOT_EMAILED,
            last_error=NOT_EMAILED_INACTIVE,
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def notifications_about(difference: Difference) -> list[Notification]:
    """Every notification about a difference with its recipient, newest first: who was told of
    what, and how far each email got (the difference page shows them)."""
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.difference_id == difference.id)
            .options(joinedload(Notification.recipient))
            .order_by(Notification.created_at.desc(), Notification.id.desc())
        )
    )
