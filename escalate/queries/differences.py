"""Reading differences: finding one a user may see, what a page shows about it, and the lists of a
user's differences. Never commits.
"""

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from escalate import calendar, deadlines, history, learning, wording, workflow
from escalate.extensions import db
from escalate.models import (
    Agency,
    Assignment,
    Category,
    Difference,
    Event,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    Involvement,
    LearningNote,
    Notification,
    PolicyStage,
    Proposal,
    Side,
    Stage,
    State,
    Supporter,
    User,
)
from escalate.queries.conditions import reach, visible_bound, visible_to
from escalate.queries.histories import verify_difference
from escalate.queries.paging import page_of_counted
from escalate.queries.setup import WorkingCalendar, working_calendar
from escalate.workflow import (
    NotFound,
)


def actor_for(user: User | None) -> workflow.Actor:
    if user is None:
        return workflow.SYSTEM
    return workflow.Actor(id=user.id, role=user.role, agency_id=user.agency_id)


def person_for(user: User | None) -> workflow.Person | None:
    """A user as the rules see a candidate for a part in a difference."""
    if user is None:
        return None
    return workflow.Person(id=user.id, role=user.role, agency_id=user.agency_id, active=user.active)


def takes_part(
    user: User, difference: Difference, now: datetime, state: workflow.Situation | None = None
) -> bool:
    """workflow.takes_part, for this person and this difference (``state``: its situation at
    ``now``, if the page has it already)."""
    return workflow.takes_part(actor_for(user), state or situation(difference, now))


def situation(difference: Difference, now: datetime) -> workflow.Situation:
    """Describe a difference to the rules as it stands at ``now``."""
    stage = difference.open_stage
    policy_stage = db.session.scalar(_POLICY_AT, {"level": stage.level}) if stage else None
    involved = frozenset(a.user_id for s in difference.stages for a in s.assignments)
    awaiting = stage is not None and difference.state == State.AWAITING_RESPONSE
    return workflow.Situation(
        state=difference.state,
        stage_level=difference.stage_level,
        is_final_stage=bool(stage and stage.is_final),
        is_overdue=deadlines.is_overdue(difference.state, stage.deadline if stage else None, now),
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
        urgent=difference.urgent,
        extension_pending=awaiting and pending_extension(stage, now) is not None,
        supporter_ids=frozenset(s.user_id for s in difference.supporters),
        open_proposal=proposal.kind.value if (proposal := difference.open_proposal) else None,
    )


def pending_extension(stage: Stage | None, now: datetime) -> ExtensionRequest | None:
    """The request for more time waiting for the raising side's answer at this stage, if any.
    One whose deadline has come is no longer pending, whether or not the sweep has recorded
    its lapse yet."""
    if stage is None:
        return None
    return db.session.scalar(_PENDING, {"stage": stage.id, "now": now})


# Built once: every page of a difference asks them.
_POLICY_AT = sa.select(PolicyStage).where(PolicyStage.level == sa.bindparam("level"))
_PENDING = (
    sa.select(ExtensionRequest)
    .where(
        ExtensionRequest.stage_id == sa.bindparam("stage"),
        ExtensionRequest.status == ExtensionStatus.PENDING,
        ExtensionRequest.current_deadline > sa.bindparam("now"),
    )
    .options(joinedload(ExtensionRequest.requested_by))
)


# What a difference's own pages show, loaded with it: its people and agencies and every stage
# with its assignments, joined to its row (a few stages of a few people each).
PAGE_LOADS = (
    joinedload(Difference.raiser),
    joinedload(Difference.named_professional),
    joinedload(Difference.raising_agency),
    joinedload(Difference.receiving_agency),
    joinedload(Difference.stages).joinedload(Stage.assignments).joinedload(Assignment.user),
)
# And its whole history with who did each thing, its supporters and its proposals, however
# long: one statement each, built once (a relationship's own eager load builds its statement
# again for every difference it loads), in each relationship's order.
_DIFFERENCE = sa.bindparam("difference")
_COLLECTIONS = {
    "events": sa.select(Event)
    .where(Event.difference_id == _DIFFERENCE)
    .options(joinedload(Event.actor))
    .order_by(Event.sequence),
    "supporters": sa.select(Supporter)
    .where(Supporter.difference_id == _DIFFERENCE)
    .options(joinedload(Supporter.user))
    .order_by(Supporter.id),
    "proposals": sa.select(Proposal)
    .where(Proposal.difference_id == _DIFFERENCE)
    .options(joinedload(Proposal.proposer))
    .order_by(Proposal.id),
}
_LOADED = sa.select(Difference).where(Difference.id == _DIFFERENCE).options(*PAGE_LOADS)


def _with_collections(difference: Difference | None) -> Difference:
    """``difference`` with its history, supporters and proposals as they are now; NotFound if
    there is no difference."""
    if difference is None:
        raise NotFound("Difference not found.")
    for name, statement in _COLLECTIONS.items():
        found = list(db.session.scalars(statement, {"difference": difference.id}))
        set_committed_value(difference, name, found)
    return difference


def find_difference(user: User, reference: str) -> Difference:
    """The difference with this reference if ``user`` may see it; otherwise NotFound."""
    return _with_collections(
        db.session.scalar(
            sa.select(Difference)
            .where(Difference.reference == (reference or "").strip().upper(), visible_to(user))
            .options(*PAGE_LOADS)
        )
    )


def load_difference(difference_id: int) -> Difference:
    """The difference ``find_difference_id`` found, with what its page shows; NotFound if it
    has gone since (erased)."""
    return _with_collections(db.session.scalar(_LOADED, {"difference": difference_id}))


@functools.cache
def _id_of(reach_: str) -> sa.Select:
    """``find_difference_id``'s statement for the people of one reach, built once."""
    return sa.select(Difference.id).where(
        Difference.reference == sa.bindparam("reference"), visible_bound(reach_)
    )


def find_difference_id(user: User, reference: str) -> int:
    """The id of the difference with this reference if ``user`` may see it; otherwise NotFound.
    One statement, for what is written (the access log) before the page loads the difference."""
    found = db.session.scalar(
        _id_of(reach(user)),
        {
            "reference": (reference or "").strip().upper(),
            "person": user.id,
            "agency": user.agency_id,
        },
    )
    if found is None:
        raise NotFound("Difference not found.")
    return found


def extension_choices(difference: Difference, now: datetime) -> list[tuple[str, str]]:
    """The new deadlines a responder may ask for at the open stage, soonest first, each as
    (the local date, ISO; what it would be: "5:00pm on Tuesday 1 December 2026 (2 more working
    days)"), up to the policy's bound less what the stage was extended by already."""
    stage = difference.open_stage
    if stage is None or stage.deadline is None or stage.working_hours:
        return []
    facts = situation(difference, now)
    cal = working_calendar()
    choices = []
    for days in range(1, facts.max_extension_days - facts.extended_days + 1):
        moved = cal.deadline(stage.deadline, days)
        words = f"{wording.time_and_date(moved)} ({wording.plural(days, 'more working day')})"
        choices.append((calendar.to_local(moved).date().isoformat(), words))
    return choices


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
    situation: workflow.Situation | None = None
    due: str = ""  # the deadline as read now: "3:30pm today"
    time_left: str = ""  # "2 working hours left", "3 working days left"
    extension_request: ExtensionRequest | None = None  # waiting for the raising side
    last_response: dict | None = None  # the most recent response at any stage
    raised_by_viewer: bool = False
    # While the raising side decides: by when they should accept or escalate.
    reply_by: datetime | None = None
    proposal: Proposal | None = None  # a lead's proposal waiting for the raiser's answer
    supporters: tuple = ()  # Supporter rows: who supports the raiser


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
        latest_response=latest_response(difference),
        situation=state,
        **deadline_words(stage if awaiting else None, now, cal),
        extension_request=pending_extension(stage, now) if state.extension_pending else None,
        last_response=last_response(difference),
        raised_by_viewer=difference.raiser_id == user.id,
        reply_by=stage.reply_by
        if stage is not None and difference.state == State.AWAITING_RAISER
        else None,
        proposal=difference.open_proposal,
        supporters=tuple(difference.supporters),
    )


def deadline_words(stage: Stage | None, now: datetime, cal: WorkingCalendar) -> dict:
    """How a page says when a response is due and how long is left: working hours for an
    urgent difference's stage, working days otherwise."""
    if stage is None:
        return {"due": "", "time_left": ""}
    if stage.working_hours:
        left = wording.working_time_left(cal.minutes_between(now, stage.deadline))
    else:
        left = wording.working_days_left(cal.days_left(stage.deadline, now))
    return {"due": wording.due_by(stage.deadline, now), "time_left": left}


def latest_response(difference: Difference) -> dict | None:
    if difference.state != State.AWAITING_RAISER:
        return None
    response = next((e for e in reversed(difference.events) if e.kind == EventKind.RESPONDED), None)
    if response is None:
        return None
    by = response.actor.name if response.actor else ""
    return {"by": by, "at": response.at, **response.details}


def last_response(difference: Difference) -> dict | None:
    """The most recent response at any stage (an action's page shows it), or None."""
    response = next((e for e in reversed(difference.events) if e.kind == EventKind.RESPONDED), None)
    if response is None:
        return None
    return {
        "by": response.actor.name if response.actor else "",
        "at": response.at,
        "stage_level": response.stage_level,
        **response.details,
    }


@dataclass(frozen=True, slots=True)
class ListedStage:
    name: str
    deadline: datetime
    working_hours: int | None


@dataclass(frozen=True, slots=True)
class Listed:
    """What a list shows of one difference, read as columns rather than loaded as an entity (a
    page of entities and their stages and agencies costs several times as much to build): its
    own fields, its agencies' names and its current stage."""

    id: int
    reference: str
    category: Category
    stage_level: int
    urgent: bool
    state: State
    raising_agency_name: str
    receiving_agency_name: str
    current_stage: ListedStage | None


_RAISING, _RECEIVING, _CURRENT = aliased(Agency), aliased(Agency), aliased(Stage)


def listed(statement: sa.Select) -> sa.Select:
    """``statement`` (which selects from ``Difference``) giving a ``Listed``'s columns."""
    return (
        statement.with_only_columns(
            Difference.id,
            Difference.reference,
            Difference.category,
            Difference.stage_level,
            Difference.urgent,
            Difference.state,
            _RAISING.name,
            _RECEIVING.name,
            _CURRENT.name,
            _CURRENT.deadline,
            _CURRENT.working_hours,
            maintain_column_froms=True,
        )
        .join(_RAISING, _RAISING.id == Difference.raising_agency_id)
        .join(_RECEIVING, _RECEIVING.id == Difference.receiving_agency_id)
        .outerjoin(
            _CURRENT,
            sa.and_(
                _CURRENT.difference_id == Difference.id, _CURRENT.level == Difference.stage_level
            ),
        )
    )


def _as_listed(found) -> list[Listed]:
    return [
        Listed(
            *row[:8],
            current_stage=ListedStage(*row[8:]) if row[8] is not None else None,
        )
        for row in found
    ]


@dataclass(frozen=True)
class DifferenceRow:
    """What a list shows of one difference: its current stage, and any deadline waiting."""

    difference: Listed
    stage_name: str
    deadline: datetime | None
    is_overdue: bool
    working_days_left: int | None
    due: str = ""
    time_left: str = ""
    action_overdue: bool = False  # one of its agreed actions is overdue (queries.actions)


def rows(differences: list[Listed], now: datetime, cal: WorkingCalendar) -> list[DifferenceRow]:
    """The rows of a list of differences: no further query."""
    made = []
    for difference in differences:
        stage = difference.current_stage
        awaiting = stage is not None and difference.state == State.AWAITING_RESPONSE
        deadline = stage.deadline if awaiting else None
        made.append(
            DifferenceRow(
                difference=difference,
                stage_name=stage.name if stage is not None else "",
                deadline=deadline,
                is_overdue=deadlines.is_overdue(difference.state, deadline, now),
                working_days_left=cal.days_left(deadline, now) if awaiting else None,
                **deadline_words(stage if awaiting else None, now, cal),
            )
        )
    return made


# The lists below are built once, with the person (and the page) as bound parameters: what a
# request then pays is the query, not building it.
_PERSON = sa.bindparam("person")


def _own(raised: bool) -> sa.Select:
    """``own_page``'s differences in its order: one index's range, read backwards."""
    return (
        listed(
            sa.select(Difference)
            .join(Involvement, Involvement.difference_id == Difference.id)
            .where(Involvement.user_id == _PERSON, Involvement.raised == raised)
            .order_by(
                Involvement.is_open.desc(),
                Involvement.raised_at.desc(),
                Involvement.difference_id.desc(),
            )
        )
        .offset(sa.bindparam("offset"))
        .limit(sa.bindparam("limit"))
    )


_OWN = {raised: _own(raised) for raised in (True, False)}
_OWN_COUNTED = {
    raised: sa.select(sa.func.count()).where(
        Involvement.user_id == _PERSON, Involvement.raised == raised
    )
    for raised in (True, False)
}


def own_page(user: User, page: int, per_page: int, *, raised: bool) -> Pagination:
    """A page of *Your differences*: the differences the user raised, or (not ``raised``) was
    named in, or assigned or reassigned to at any stage, open first, then closed, most recently
    raised first. Counted from the index alone; the page's rows read with LIMIT."""
    total = db.session.scalar(_OWN_COUNTED[raised], {"person": user.id})
    return page_of_counted(
        lambda offset, limit: _as_listed(
            db.session.execute(_OWN[raised], {"person": user.id, "offset": offset, "limit": limit})
        ),
        total,
        page,
        per_page,
    )


def _waiting(person, what) -> sa.Select:
    """Starts from the person's own open differences (raised or not: both ranges of the index),
    so what it reads follows their open work, not the partnership's. ``person``: their id, or
    a bound parameter."""
    current = sa.orm.aliased(Stage)

    def party(side: Side):
        return (
            sa.select(Assignment.id)
            .where(
                Assignment.stage_id == current.id,
                Assignment.user_id == person,
                Assignment.active.is_(True),
                Assignment.side == side,
            )
            .exists()
        )

    responding = sa.and_(Difference.state == State.AWAITING_RESPONSE, party(Side.RESPONDER))
    deciding = sa.and_(
        Difference.state == State.AWAITING_RAISER,
        sa.or_(Difference.raiser_id == person, party(Side.LEAD)),
    )
    return (
        sa.select(what)
        .select_from(Involvement)
        .join(Difference, Difference.id == Involvement.difference_id)
        .join(
            current,
            sa.and_(
                current.difference_id == Difference.id, current.level == Difference.stage_level
            ),
        )
        .where(
            Involvement.user_id == person,
            Involvement.raised.in_((False, True)),
            Involvement.is_open == sa.true(),
            sa.or_(responding, deciding),
        )
        .order_by(current.deadline, Difference.id)
    )


_WAITING_IDS = _waiting(_PERSON, Difference.id)
_LISTED_BY_ID = listed(
    sa.select(Difference).where(Difference.id.in_(sa.bindparam("ids", expanding=True)))
)


def waiting_for(user: User) -> sa.Select:
    """Differences waiting for this user to act, soonest deadline first.

    Responders: an open stage assigned to them awaits their response. The raising side (raiser
    or the stage's lead): a response awaits their acceptance or escalation.
    """
    return _waiting(user.id, Difference)


def waiting_page(user: User, page: int, per_page: int) -> Pagination:
    """A page of ``waiting_for``. What waits for one person is short, so its ids are found once,
    in order, and counted in Python; the page's rows are then read by id."""
    ids = list(db.session.scalars(_WAITING_IDS, {"person": user.id}))

    def fetch(offset: int, limit: int) -> list[Listed]:
        chosen = ids[offset : offset + limit]
        by_id = {d.id: d for d in _as_listed(db.session.execute(_LISTED_BY_ID, {"ids": chosen}))}
        return [by_id[i] for i in chosen]

    return page_of_counted(fetch, len(ids), page, per_page)


_NOTIFICATIONS = (
    sa.select(Notification)
    .where(Notification.difference_id == _DIFFERENCE)
    .options(joinedload(Notification.recipient))
    .order_by(Notification.created_at.desc(), Notification.id.desc())
)


def notifications_about(difference: Difference) -> list[Notification]:
    """Every notification about a difference with its recipient, newest first: who was told of
    what, and how far each email got (the difference page shows them)."""
    return list(db.session.scalars(_NOTIFICATIONS, {"difference": difference.id}))


def ensure_may(user: User, difference: Difference, action: workflow.Action, now: datetime):
    """Raise the domain error explaining why ``user`` may not take ``action`` now, if so."""
    workflow.check(actor_for(user), situation(difference, now), action)


def ensure_may_add_learning_note(user: User, difference: Difference, now: datetime) -> None:
    """Raise the domain error explaining why ``user`` may not add a learning note now, if so."""
    workflow.check_learning_note(actor_for(user), situation(difference, now))


def ensure_may_correct(user: User, difference: Difference, now: datetime) -> None:
    """Raise the domain error explaining why ``user`` may not correct an entry now, if so."""
    workflow.check_correction(
        actor_for(user), situation(difference, now), anonymised=difference.anonymised_at is not None
    )


@dataclass(frozen=True)
class OversightFacts:
    """What the difference page shows about its history's integrity and its learning."""

    verification: history.Verification
    learning_notes: list
    may_add_learning_note: bool
    may_correct: bool = False
    erased: bool = False  # some texts were removed (the retention policy, or a correction)
    may_update_learning: bool = False  # the partnership: a note's status, owner, due date
    overdue_notes: frozenset = frozenset()  # ids of notes past their due date and not done


_LEARNING_NOTES = (
    sa.select(LearningNote)
    .where(LearningNote.difference_id == _DIFFERENCE)
    .order_by(LearningNote.created_at, LearningNote.id)
    .options(
        joinedload(LearningNote.author),
        joinedload(LearningNote.owner_agency),
        joinedload(LearningNote.owner),
    )
)


def oversight_facts(
    user: User, difference: Difference, now: datetime, state: workflow.Situation | None = None
) -> OversightFacts:
    """``state``: the difference's situation at ``now``, if the page has it already."""
    notes = db.session.scalars(_LEARNING_NOTES, {"difference": difference.id}).all()
    today = calendar.to_local(now).date()
    return OversightFacts(
        verification=verify_difference(difference),
        learning_notes=list(notes),
        may_add_learning_note=workflow.may_add_learning_note(
            actor_for(user), state or situation(difference, now)
        ),
        may_correct=workflow.may_correct(
            actor_for(user), anonymised=difference.anonymised_at is not None
        ),
        erased=bool(difference.erasures),
        may_update_learning=learning.may_write(user.role),
        overdue_notes=frozenset(
            n.id for n in notes if learning.is_overdue(n.status, n.due_on, today)
        ),
    )
