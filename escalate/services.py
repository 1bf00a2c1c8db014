"""Use cases. The only layer that commits: each public function is one transaction."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.security import check_password_hash, generate_password_hash

from escalate import audit, calendar, messages, workflow
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    AgencyStageContact,
    Assignment,
    Category,
    ClosureDay,
    Difference,
    Event,
    EventKind,
    Nation,
    Notification,
    Outcome,
    PartnershipSettings,
    PolicyStage,
    Role,
    Side,
    Stage,
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


def seed_demo(password: str) -> dict[str, int]:
    """Load the fictional Northshire partnership; running it again adds nothing already there."""
    from escalate import demo

    created = {"agencies": 0, "users": 0, "stage contacts": 0}
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
    return created


def stage_contacts_for(agency: Agency, level: int) -> Iterable[User]:
    """The active users an agency names for a stage level."""
    return db.session.scalars(
        sa.select(User)
        .join(AgencyStageContact, AgencyStageContact.user_id == User.id)
        .where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            User.active.is_(True),
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

    def extend(self, deadline: datetime, days: int) -> datetime:
        return calendar.extend_deadline(
            deadline, days, self.nation, self.closures, end_of_day=self.end_of_day
        )


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
    if receiving is None:
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
        if named is None or named.agency_id != receiving.id or not named.active:
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
        _message_facts(difference, stage, user) | {"comment": comment},
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
    stage.deadline = working_calendar().extend(stage.deadline, days)
    stage.extended_days += days
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
        or (expected_agency is not None and new_responder.agency_id != expected_agency)
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
    if version is not None and int(version) != difference.version:
        raise StaleDifference()
    workflow.check(actor_for(user), situation(difference, now), action)
    return difference, difference.open_stage


def _close(difference, stage, state: State, outcome: str, now) -> None:
    difference.state = state
    difference.outcome = outcome
    difference.closed_at = now
    if stage is not None:
        stage.closed_at = now


def _escalate(difference, stage, actor: User | None, rationale: str, now, *, automatic) -> Stage:
    stage.closed_at = now
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
        at=now,
        stage_level=difference.stage_level,
        deadline=(stage.deadline if stage else None) if deadline is ... else deadline,
        data=data,
    )
    audit.seal(event, previous.hash if previous else audit.GENESIS)
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
            )
        )


def _notify_everyone(difference, event, now, kind: str, facts_: dict) -> None:
    """A final outcome: the raiser first, then everyone who answered or led at any stage."""
    _notify(difference, event, now, [difference.raiser], kind, "raiser", facts_)
    involved = [a.user for s in difference.stages for a in s.assignments]
    _notify(difference, event, now, involved, kind, "involved", facts_)


# --- Choices for forms -------------------------------------------------------------------------


def other_agencies(user: User) -> list[Agency]:
    """The agencies a user may raise a difference with: every agency but their own."""
    return list(
        db.session.scalars(
            sa.select(Agency).where(Agency.id != user.agency_id).order_by(Agency.name)
        )
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
