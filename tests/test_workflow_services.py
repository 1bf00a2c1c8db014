"""Integration tests of the difference workflow services (product.md §1-6), on every database.

Every test drives the services the way the pages do, with a fixed clock, and checks what the
people involved would notice: who must answer and by when, what they are told, who can see the
difference, and that every refusal explains itself and changes nothing.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from escalate import calendar, queries, services, workflow
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgencyKind,
    Assignment,
    ChronologyEntry,
    Difference,
    Event,
    EventKind,
    Notification,
    Outcome,
    Role,
    Side,
    Stage,
    State,
    User,
)
from escalate.queries.conditions import visible_to
from escalate.workflow import (
    Action,
    FieldError,
    NotAllowed,
    NotFound,
    RationaleRequired,
    StaleDifference,
    WrongState,
)
from tests import factories

LONDON = ZoneInfo("Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Monday 2 March 2026, 9am (GMT, so London time is UTC). No bank holiday until Good Friday.
T0 = utc(2026, 3, 2, 9, 0)
T1 = utc(2026, 3, 3, 10, 0)  # Tuesday, the next morning
STAGE_ONE_DEADLINE = utc(2026, 3, 9, 17, 0)  # 5 working days after Monday 2 March, 5pm

# Distinct texts, so that each can be traced to the message or event that should carry it.
RESPONSE = "The threshold for a section 47 enquiry was not met on the information we hold."
AGREED_RESPONSE = "Having read the school's account we agree the threshold for an enquiry is met."
AGREED_ACTIONS = "A strategy discussion will be held on Thursday with police and health."
IMPACT = "The family will be offered early help; the school will keep monitoring the child."
ESCALATION = "The response does not address the disclosure the child made at school."
COMMENT = "Thank you for the quick reply and for explaining the decision so clearly."
DECISION = "Children's social care will convene a strategy discussion within two working days."
DECISION_RATIONALE = "The disclosure and the bruising together meet the threshold for an enquiry."
WITHDRAWAL = "The family has moved out of the area and the case has been transferred."
EXTENSION = "I need to read the school's records before I can give a considered answer."
REFUSAL = "The child sees the paediatrician on Wednesday and the plan is needed before then."
REASSIGNMENT = "The allocated social worker is on leave for the next two weeks."
CONVERSATION = "We agreed to share the school nurse's notes and to talk again on Friday."
PARTICIPANTS = "Dr Gita Patel (GP) and Sam Wilson (social worker)"
PROPOSAL = "The family has moved away and the new authority has accepted the case transfer."
OBJECTION = "The child still attends our practice and the risk to her has not been looked at."
ADVICE = "Ask for a strategy discussion in writing and copy in the designated doctor."


# --- The people of a small partnership -----------------------------------------------------------


@dataclass
class Cast:
    health: Agency
    csc: Agency
    police: Agency
    gp: User  # raises the differences; line managed by gp_manager
    gp_colleague: User  # a practitioner at the same practice, not involved, no line manager
    gp_manager: User
    health_duty_manager: User  # health's stage 2 contact
    health_senior: User  # health's stage 3 contact
    sw: User  # the named professional; line managed by sw_manager
    sw2: User
    duty_sw: User  # children's social care's stage 1 contact
    csc_colleague: User  # a social worker who is not involved
    sw_manager: User
    csc_duty_manager: User  # children's social care's stage 2 contact
    csc_senior: User  # children's social care's stage 3 contact
    police_officer: User
    police_manager: User
    chair: User
    business_manager: User
    auditor: User
    admin: User

    def everyone(self) -> dict[str, User]:
        return {name: value for name, value in vars(self).items() if isinstance(value, User)}


@pytest.fixture
def cast(ctx) -> Cast:
    return build_cast()


def build_cast() -> Cast:
    """The people of a small partnership, in the current application context (committed)."""
    health = factories.agency("Northshire Health", AgencyKind.HEALTH)
    csc = factories.agency("Northshire Children's Social Care", AgencyKind.CHILDRENS_SOCIAL_CARE)
    police = factories.agency("Northshire Police", AgencyKind.POLICE)

    def person(name, role, agency=None, line_manager=None):
        return factories.user(role, agency=agency, name=name, line_manager=line_manager)

    health_senior = person("Dr Hannah Senior", Role.SENIOR, health)
    gp_manager = person("Gail Manager", Role.MANAGER, health, health_senior)
    csc_senior = person("Carol Senior", Role.SENIOR, csc)
    sw_manager = person("Stan Manager", Role.MANAGER, csc, csc_senior)
    people = Cast(
        health=health,
        csc=csc,
        police=police,
        gp=person("Dr Gita Patel", Role.PRACTITIONER, health, gp_manager),
        gp_colleague=person("Dr Colin Colleague", Role.PRACTITIONER, health),
        gp_manager=gp_manager,
        health_duty_manager=person("Harriet Duty", Role.MANAGER, health),
        health_senior=health_senior,
        sw=person("Sam Wilson", Role.PRACTITIONER, csc, sw_manager),
        sw2=person("Sasha Second", Role.PRACTITIONER, csc, sw_manager),
        duty_sw=person("Dev Duty", Role.PRACTITIONER, csc),
        csc_colleague=person("Chris Colleague", Role.PRACTITIONER, csc),
        sw_manager=sw_manager,
        csc_duty_manager=person("Connie Duty", Role.MANAGER, csc),
        csc_senior=csc_senior,
        police_officer=person("PC Paul Officer", Role.PRACTITIONER, police),
        police_manager=person("DS Priya Manager", Role.MANAGER, police),
        chair=person("Ines Chair", Role.PARTNERSHIP),
        business_manager=person("Bea Business", Role.PARTNERSHIP),
        auditor=person("Audrey Auditor", Role.AUDITOR),
        admin=person("Adam Admin", Role.ADMIN),
    )
    factories.stage_contact(csc, 1, people.duty_sw)
    factories.stage_contact(csc, 2, people.csc_duty_manager)
    factories.stage_contact(csc, 3, people.csc_senior)
    factories.stage_contact(health, 2, people.health_duty_manager)
    factories.stage_contact(health, 3, people.health_senior)
    db.session.commit()
    return people


# --- Helpers -------------------------------------------------------------------------------------


def raise_(cast: Cast, now: datetime = T0, raiser: User | None = None, **overrides) -> Difference:
    """The GP raises a difference with children's social care, naming the social worker."""
    overrides.setdefault("named_professional_id", cast.sw.id)
    receiving = overrides.pop("receiving", cast.csc)
    new = factories.new_difference(receiving, **overrides)
    return services.differences.raise_difference(raiser or cast.gp, new, now)


def respond(user, d, now=T1, outcome="upheld", rationale=RESPONSE, **kwargs) -> Difference:
    kwargs.setdefault("child_impact", IMPACT)
    if outcome == "agreed":
        kwargs.setdefault(
            "actions", factories.agreed_actions(d.receiving_agency_id, AGREED_ACTIONS)
        )
    return services.differences.respond(
        user, d.id, d.version, outcome=outcome, rationale=rationale, now=now, **kwargs
    )


def escalate(user, d, now=T1, rationale=ESCALATION) -> Difference:
    return services.differences.escalate(user, d.id, d.version, rationale=rationale, now=now)


def decide(user, d, now=T1, **kwargs) -> Difference:
    fields = {
        "outcome": "agreed",
        "decision": DECISION,
        "rationale": DECISION_RATIONALE,
        "child_impact": IMPACT,
    } | kwargs
    return services.differences.decide(user, d.id, d.version, now=now, **fields)


def withdraw(user, d, now=T1, rationale=WITHDRAWAL) -> Difference:
    return services.differences.withdraw(user, d.id, d.version, rationale=rationale, now=now)


def ask_for_more_time(user, d, new_deadline: date, now=T1, rationale=EXTENSION):
    return services.extension_requests.request_extension(
        user, d.id, d.version, new_deadline=new_deadline, rationale=rationale, now=now
    )


def answer_more_time(user, d, agree="yes", answer="", now=T1) -> Difference:
    return services.extension_requests.answer_extension(
        user, d.id, d.version, agree=agree, answer=answer, now=now
    )


def extend(user, d, days, now=T1, rationale=EXTENSION) -> Difference:
    """The responder asks for ``days`` more working days and the raiser agrees."""
    cal = queries.setup.working_calendar()
    current = calendar.to_local(d.open_stage.deadline).date()
    day = calendar.add_working_days(current, days, cal.nation, cal.closures)
    ask_for_more_time(user, d, day, now=now, rationale=rationale)
    return answer_more_time(d.raiser, d, now=now)


def more_time_asked(cast: Cast) -> Difference:
    """Waiting for a response; the social worker has asked for Thursday 12 March instead."""
    d = raise_(cast)
    ask_for_more_time(cast.sw, d, date(2026, 3, 12))
    return d


def reassign(user, d, new_responder_id, now=T1, rationale=REASSIGNMENT) -> Difference:
    return services.differences.reassign(
        user, d.id, d.version, new_responder_id=new_responder_id, rationale=rationale, now=now
    )


def converse(user, d, now=T1, held_on=None, participants=PARTICIPANTS, agreed=CONVERSATION):
    held_on = held_on if held_on is not None else now.astimezone(LONDON).date()
    return services.differences.record_conversation(
        user, d.id, d.version, held_on=held_on, participants=participants, agreed=agreed, now=now
    )


def at_final_stage(cast: Cast) -> Difference:
    """A difference each responder in turn escalated, up to the partnership."""
    d = raise_(cast)
    escalate(cast.sw, d, now=T0 + timedelta(hours=1))
    escalate(cast.sw_manager, d, now=T0 + timedelta(hours=2))
    escalate(cast.csc_senior, d, now=T0 + timedelta(hours=3))
    assert d.stage_level == 4
    return d


def at_stage_two(cast: Cast) -> Difference:
    """The social worker escalated it: at stage 2 the GP's manager leads for the practice."""
    d = raise_(cast)
    escalate(cast.sw, d, now=T0 + timedelta(hours=1))
    return d


def proposed_at_stage_two(cast: Cast) -> Difference:
    """At stage 2, the GP's manager proposes withdrawing it; the GP has not answered."""
    d = at_stage_two(cast)
    services.proposals.propose(
        cast.gp_manager,
        d.id,
        d.version,
        kind="withdraw",
        rationale=PROPOSAL,
        now=T0 + timedelta(hours=2),
    )
    return d


def awaiting_raiser(cast: Cast) -> Difference:
    d = raise_(cast)
    respond(cast.sw, d)
    return d


def resolved(cast: Cast) -> Difference:
    d = awaiting_raiser(cast)
    services.differences.accept(cast.gp, d.id, d.version, comment=COMMENT, now=T1)
    return d


def withdrawn(cast: Cast) -> Difference:
    d = raise_(cast)
    withdraw(cast.gp, d)
    return d


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def row_counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Difference, Stage, Assignment, Event, Notification)}


def snapshot(difference_id: int | None) -> dict:
    """Everything an action could change, read afresh from the database."""
    db.session.expire_all()
    taken = {"rows": row_counts()}
    if difference_id is not None:
        d = db.session.get(Difference, difference_id)
        taken["difference"] = (d.state, d.stage_level, d.version, d.outcome, d.closed_at)
        taken["stages"] = [
            (
                s.level,
                s.deadline,
                s.extended_days,
                s.outcome,
                s.responded_at,
                s.closed_at,
                [(a.user_id, a.side, a.active) for a in s.assignments],
            )
            for s in d.stages
        ]
    return taken


def assert_refused(error, action: Callable, difference=None, field: str | None = None):
    """The action raises ``error`` (with the form ``field`` given) and changes nothing."""
    difference_id = difference.id if difference is not None else None
    before = snapshot(difference_id)
    with pytest.raises(error) as refused:
        action()
    # Anything a refused action left behind in the session would be saved by the next commit.
    db.session.commit()
    assert snapshot(difference_id) == before
    if field is not None:
        assert refused.value.field == field
    assert str(refused.value)  # the person is always told why
    return refused.value


def notifications(user: User | None = None, event: Event | None = None) -> list[Notification]:
    query = sa.select(Notification).order_by(Notification.id)
    if user is not None:
        query = query.where(Notification.recipient_id == user.id)
    if event is not None:
        query = query.where(Notification.event_id == event.id)
    return list(db.session.scalars(query))


def recipients(event: Event) -> set[int]:
    return {n.recipient_id for n in notifications(event=event)}


def last_event(d: Difference) -> Event:
    return d.events[-1]


def waiting_for(user: User) -> list[Difference]:
    """Everything on the user's Waiting for you list, in its order."""
    return list(db.session.scalars(queries.differences.waiting_for(user)))


def names(users) -> list[str]:
    return [u.name for u in users]


# --- Raising a difference ------------------------------------------------------------------------


def test_raising_opens_stage_one_for_the_named_professional(cast):
    d = raise_(cast)

    assert d.reference == "RPD-2026-00001"
    assert queries.differences.find_difference(cast.gp, "rpd-2026-00001 ") == d
    assert (d.state, d.stage_level, d.urgent) == (State.AWAITING_RESPONSE, 1, False)
    assert (d.raiser, d.raising_agency, d.receiving_agency) == (cast.gp, cast.health, cast.csc)
    stage = d.open_stage
    assert stage.name == "Practitioner to practitioner"
    assert stage.people(Side.RESPONDER) == [cast.sw]
    assert stage.people(Side.LEAD) == [cast.gp]
    assert stage.deadline == STAGE_ONE_DEADLINE
    assert stage.working_days == 5

    [event] = d.events
    assert (event.kind, event.actor, event.stage_level, event.sequence) == (
        EventKind.RAISED,
        cast.gp,
        1,
        1,
    )
    assert event.deadline == STAGE_ONE_DEADLINE
    assert event.data["responders"] == ["Sam Wilson"]
    assert event.data["responders_fell_back"] is False

    # The GP's line manager supports them from the first step.
    assert recipients(event) == {cast.gp.id, cast.sw.id, cast.gp_manager.id}
    [to_sw] = notifications(cast.sw)
    assert "needs your response by 5pm on Monday 9 March 2026" in to_sw.subject
    assert "Dr Gita Patel (Northshire Health)" in to_sw.body
    assert "It has been assigned to you" in to_sw.body


def test_without_a_named_professional_stage_one_goes_to_the_agencys_stage_one_contacts(cast):
    d = raise_(cast, named_professional_id=None)

    assert d.open_stage.people(Side.RESPONDER) == [cast.duty_sw]
    assert d.events[0].data["responders_fell_back"] is True
    assert recipients(d.events[0]) == {cast.gp.id, cast.duty_sw.id, cast.gp_manager.id}
    assert [d] == waiting_for(cast.duty_sw)


def test_without_stage_contacts_stage_one_goes_to_the_partnership(cast):
    d = raise_(cast, receiving=cast.police, named_professional_id=None)

    assert names(d.open_stage.people(Side.RESPONDER)) == ["Bea Business", "Ines Chair"]
    assert recipients(d.events[0]) == {
        cast.gp.id,
        cast.chair.id,
        cast.business_manager.id,
        cast.gp_manager.id,  # the GP's supporter
    }


def test_the_deadline_skips_easter_bank_holidays_and_the_weekend(cast):
    # Thursday 17 April 2025: Good Friday and Easter Monday are bank holidays in England.
    d = raise_(cast, now=utc(2025, 4, 17, 10, 0))

    assert d.reference == "RPD-2025-00001"
    assert d.open_stage.deadline == utc(2025, 4, 28, 16, 0)  # Monday 28 April, 5pm BST
    [to_sw] = notifications(cast.sw)
    assert "5pm on Monday 28 April 2025" in to_sw.body


@pytest.mark.parametrize(
    ("raised_at", "deadline"),
    [
        # Friday afternoon: five working days later is the next Friday.
        (utc(2026, 3, 6, 15, 0), utc(2026, 3, 13, 17, 0)),
        # 11:30pm UTC on Tuesday 30 June is already Wednesday 1 July in London.
        (utc(2026, 6, 30, 23, 30), utc(2026, 7, 8, 16, 0)),
    ],
)
def test_the_deadline_is_5pm_london_time_a_number_of_working_days_later(cast, raised_at, deadline):
    d = raise_(cast, now=raised_at)

    assert d.urgent is False
    assert (d.open_stage.working_days, d.open_stage.working_hours) == (5, None)
    assert d.open_stage.deadline == deadline
    assert d.open_stage.deadline.astimezone(LONDON).hour == 17


def test_an_urgent_deadline_is_four_working_hours_away_across_the_weekend(cast):
    protective = "The child is staying with her aunt tonight; police have been informed."
    # 3pm on Friday 6 March 2026: two working hours that day, two on Monday from 9am.
    d = raise_(cast, now=utc(2026, 3, 6, 15, 0), immediate_risk=True, protective_action=protective)
    assert d.urgent and d.protective_action == protective
    assert (d.open_stage.working_days, d.open_stage.working_hours) == (0, 4)
    assert d.open_stage.deadline == utc(2026, 3, 9, 11, 0)
    [to_sw] = notifications(cast.sw)
    assert "marked urgent" in to_sw.body and "11am on Monday 9 March 2026" in to_sw.body


def test_references_number_differences_in_order(cast):
    first = raise_(cast)
    second = raise_(cast, raiser=cast.police_officer, named_professional_id=None)

    assert (first.reference, second.reference) == ("RPD-2026-00001", "RPD-2026-00002")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"receiving": "own agency"}, "receiving_agency"),
        ({"receiving_agency_id": 999_999}, "receiving_agency"),
        ({"named_professional_id": "police officer"}, "named_professional"),
        ({"named_professional_id": "inactive social worker"}, "named_professional"),
        ({"reasons": ""}, "reasons"),
        ({"reasons": "   "}, "reasons"),
        ({"reasons": "n/a"}, "reasons"),
        ({"reasons": "See above."}, "reasons"),
        ({"reasons": "As discussed"}, "reasons"),
        ({"reasons": "Threshold was met."}, "reasons"),
        ({"decision": ""}, "decision"),
        ({"desired_outcome": " "}, "desired_outcome"),
        ({"category": "gossip"}, "category"),
        ({"child_reference": ""}, "child_reference"),
        ({"child_initials": "J5"}, "child_initials"),
        ({"child_date_of_birth": date(2026, 3, 3)}, "child_date_of_birth"),
        ({"immediate_risk": True, "protective_action": ""}, "protective_action"),
        ({"discussed_informally": True, "informal_discussion": " "}, "informal_discussion"),
    ],
)
def test_raising_refuses_an_incomplete_difference_and_records_nothing(cast, overrides, field):
    overrides = dict(overrides)  # the parameters are shared by both databases' runs
    if overrides.get("receiving") == "own agency":
        overrides["receiving"] = cast.health
        overrides["named_professional_id"] = None
    if overrides.get("named_professional_id") == "police officer":
        overrides["named_professional_id"] = cast.police_officer.id
    if overrides.get("named_professional_id") == "inactive social worker":
        overrides["named_professional_id"] = factories.user(agency=cast.csc, active=False).id
        db.session.commit()

    assert_refused(FieldError, lambda: raise_(cast, **overrides), field=field)

    assert count(Difference) == 0


@pytest.mark.parametrize("who", ["chair", "auditor", "admin"])
def test_only_a_professional_of_a_member_agency_can_raise(cast, who):
    user = getattr(cast, who)
    assert_refused(NotAllowed, lambda: raise_(cast, raiser=user))


def test_a_manager_can_raise_and_nobody_discussed_it_informally(cast):
    d = raise_(cast, raiser=cast.police_manager, discussed_informally=False, informal_discussion="")

    assert d.raiser == cast.police_manager
    assert d.informal_discussion == ""
    assert d.open_stage.people(Side.LEAD) == [cast.police_manager]


# --- Respond -------------------------------------------------------------------------------------


def test_the_responder_upholds_the_decision(cast):
    d = raise_(cast)
    respond(cast.sw, d, outcome="upheld")

    assert d.state == State.AWAITING_RAISER
    assert d.stage_level == 1
    assert (d.stages[0].outcome, d.stages[0].responded_at) == (Outcome.UPHELD, T1)
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (EventKind.RESPONDED, cast.sw, 1)
    assert event.details["rationale"] == RESPONSE
    assert event.details["child_impact"] == IMPACT

    [to_gp] = notifications(cast.gp, event)
    assert "upheld its decision" in to_gp.subject
    assert f"Rationale: {RESPONSE}" in to_gp.body
    assert f"What this means for the child: {IMPACT}" in to_gp.body
    assert "accept this response, or escalate" in to_gp.body
    assert recipients(event) == {cast.gp.id}


def test_agreeing_requires_the_agreed_actions(cast):
    d = raise_(cast)
    assert_refused(
        FieldError,
        lambda: respond(cast.sw, d, outcome="agreed", actions=[]),
        d,
        "action_1_what",
    )

    respond(cast.sw, d, outcome="agreed", rationale=AGREED_RESPONSE)

    assert d.stages[0].outcome == Outcome.AGREED
    listed = f"{AGREED_ACTIONS} — {cast.csc.name} — by 7 January 2030"
    assert last_event(d).details["agreed_actions"] == listed
    [to_gp] = notifications(cast.gp, last_event(d))
    assert "agreed to change its decision" in to_gp.subject
    assert f"Actions agreed: {listed}" in to_gp.body
    assert f"Rationale: {AGREED_RESPONSE}" in to_gp.body


@pytest.mark.parametrize(
    ("who", "kwargs", "error", "field"),
    [
        ("gp", {}, NotAllowed, None),
        ("sw_manager", {}, NotAllowed, None),
        ("duty_sw", {}, NotFound, None),
        ("gp_colleague", {}, NotFound, None),
        ("auditor", {}, NotAllowed, None),
        ("chair", {}, NotAllowed, None),
        ("sw", {"rationale": ""}, RationaleRequired, "rationale"),
        ("sw", {"rationale": "As discussed."}, RationaleRequired, "rationale"),
        ("sw", {"rationale": "N/A"}, RationaleRequired, "rationale"),
        ("sw", {"rationale": "Threshold not met."}, RationaleRequired, "rationale"),
        ("sw", {"child_impact": ""}, FieldError, "child_impact"),
        ("sw", {"outcome": "maybe"}, FieldError, "outcome"),
    ],
)
def test_respond_refusals(cast, who, kwargs, error, field):
    d = raise_(cast)
    assert_refused(error, lambda: respond(getattr(cast, who), d, **kwargs), d, field)


def test_a_stage_is_answered_once(cast):
    d = awaiting_raiser(cast)
    assert_refused(WrongState, lambda: respond(cast.sw, d, outcome="agreed"), d)


# --- Accept --------------------------------------------------------------------------------------


def test_the_raiser_accepts_the_response_and_the_difference_is_resolved(cast):
    d = awaiting_raiser(cast)
    services.differences.accept(
        cast.gp, d.id, d.version, comment=COMMENT, now=T1 + timedelta(hours=1)
    )

    assert (d.state, d.outcome, d.closed_at) == (
        State.RESOLVED,
        "upheld",
        T1 + timedelta(hours=1),
    )
    assert d.open_stage is None
    assert d.stages[0].closed_at == T1 + timedelta(hours=1)
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (EventKind.ACCEPTED, cast.gp, 1)
    assert event.details == {"comment": COMMENT, "outcome": "upheld"}
    assert recipients(event) == {cast.gp.id, cast.sw.id}
    [to_sw] = notifications(cast.sw, event)
    assert "resolved" in to_sw.subject
    assert f"Comment: {COMMENT}" in to_sw.body


def test_when_the_leads_proposal_to_accept_applies_the_raiser_is_told_the_outcome_and_why(cast):
    d = raise_(cast)
    escalate(cast.sw, d, rationale="I cannot change a decision my manager made last week.")
    respond(cast.sw_manager, d, outcome="agreed", rationale=AGREED_RESPONSE)
    services.proposals.propose(
        cast.gp_manager, d.id, d.version, kind="accept", rationale=PROPOSAL, now=T1
    )
    services.sweep.sweep(utc(2026, 3, 5, 17, 1))  # two working days on, no reply
    db.session.expire_all()

    assert (d.state, d.outcome) == (State.RESOLVED, "agreed")
    [to_gp] = notifications(cast.gp, last_event(d))
    assert "resolved" in to_gp.subject
    assert "escalate accepted the response" in to_gp.body
    assert "Gail Manager proposed this, and there was no reply by 5pm on Thursday 5 March" in (
        to_gp.body
    )
    assert "the decision changes" in to_gp.body
    assert AGREED_RESPONSE in to_gp.body


@pytest.mark.parametrize(
    ("setup", "who", "comment", "error", "field"),
    [
        (raise_, "gp", "", WrongState, None),
        (awaiting_raiser, "sw", "", NotAllowed, None),
        (awaiting_raiser, "sw_manager", "", NotAllowed, None),
        # At stage 1 the raiser leads: their manager may see the difference but not accept.
        (awaiting_raiser, "gp_manager", "", NotAllowed, None),
        (awaiting_raiser, "gp_colleague", "", NotFound, None),
        (awaiting_raiser, "gp", "x" * 10_001, FieldError, "comment"),
    ],
)
def test_accept_refusals(cast, setup, who, comment, error, field):
    d = setup(cast)
    assert_refused(
        error,
        lambda: services.differences.accept(
            getattr(cast, who), d.id, d.version, comment=comment, now=T1
        ),
        d,
        field,
    )


# --- Escalate ------------------------------------------------------------------------------------


def test_the_raiser_escalates_after_the_response_to_the_managers(cast):
    d = awaiting_raiser(cast)
    escalate(cast.gp, d, now=T1)

    assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 2)
    assert d.stages[0].closed_at == T1
    stage = d.open_stage
    assert stage.name == "Manager to manager"
    assert stage.opened_at == T1
    assert stage.deadline == utc(2026, 3, 10, 17, 0)  # Tuesday + 5 working days
    # The named professional's line manager answers; the raiser's line manager leads.
    assert stage.people(Side.RESPONDER) == [cast.sw_manager]
    assert stage.people(Side.LEAD) == [cast.gp_manager]

    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (EventKind.ESCALATED, cast.gp, 2)
    assert event.deadline == stage.deadline
    assert event.details["rationale"] == ESCALATION
    assert event.data["from_stage"] == "Practitioner to practitioner"
    assert event.data["automatic"] is False

    assert recipients(event) == {cast.gp.id, cast.sw_manager.id, cast.gp_manager.id}
    [to_gp] = notifications(cast.gp, event)
    assert f"Reason: {ESCALATION}" in to_gp.body
    assert "to the Manager to manager stage" in to_gp.body
    [to_manager] = notifications(cast.sw_manager, event)
    assert "escalated to you" in to_manager.subject
    assert "5pm on Tuesday 10 March 2026" in to_manager.body
    [to_lead] = notifications(cast.gp_manager, event)
    assert "You lead for the raising agency" in to_lead.body


def test_the_raiser_cannot_escalate_before_the_response_until_the_deadline_passes(cast):
    d = raise_(cast)
    for now in (T1, STAGE_ONE_DEADLINE):
        assert_refused(WrongState, lambda now=now: escalate(cast.gp, d, now=now), d)

    escalate(cast.gp, d, now=STAGE_ONE_DEADLINE + timedelta(minutes=1))

    assert d.stage_level == 2
    assert d.open_stage.deadline == utc(2026, 3, 16, 17, 0)


def test_the_responder_escalates_when_they_cannot_resolve_it_at_their_level(cast):
    d = raise_(cast)
    escalate(cast.sw, d, rationale="Only my manager can change a decision made at panel.")

    assert d.stage_level == 2
    assert last_event(d).actor == cast.sw
    [to_gp] = notifications(cast.gp, last_event(d))
    assert "Sam Wilson escalated the difference" in to_gp.body
    assert "Only my manager can change a decision made at panel." in to_gp.body


def test_stage_three_goes_to_the_agencies_stage_three_contacts(cast):
    d = raise_(cast)
    escalate(cast.sw, d)
    respond(cast.sw_manager, d)
    escalate(cast.gp_manager, d, rationale="The managers could not agree on the threshold.")

    stage = d.open_stage
    assert (stage.level, stage.name) == (3, "Senior manager or designated professional")
    assert stage.people(Side.RESPONDER) == [cast.csc_senior]
    assert stage.people(Side.LEAD) == [cast.health_senior]
    event = last_event(d)
    assert event.actor == cast.gp_manager
    # The partnership is alerted when a difference reaches the senior stage.
    assert recipients(event) == {
        cast.gp.id,
        cast.csc_senior.id,
        cast.health_senior.id,
        cast.chair.id,
        cast.business_manager.id,
    }


def test_the_final_stage_goes_to_the_partnership(cast):
    d = at_final_stage(cast)

    stage = d.open_stage
    assert (stage.name, stage.is_final, stage.working_days) == ("Partnership resolution", True, 10)
    assert names(stage.people(Side.RESPONDER)) == ["Bea Business", "Ines Chair"]
    assert stage.people(Side.LEAD) == []
    # Opened Monday 2 March: ten working days later is Monday 16 March.
    assert stage.deadline == utc(2026, 3, 16, 17, 0)
    assert recipients(last_event(d)) == {cast.gp.id, cast.chair.id, cast.business_manager.id}


def test_stage_two_falls_back_to_the_agencies_stage_two_contacts(cast):
    # The colleague has no line manager, and no professional is named.
    d = raise_(cast, raiser=cast.gp_colleague, named_professional_id=None)
    escalate(cast.duty_sw, d)

    assert d.open_stage.people(Side.RESPONDER) == [cast.csc_duty_manager]
    assert d.open_stage.people(Side.LEAD) == [cast.health_duty_manager]
    assert last_event(d).data["responders_fell_back"] is True


def test_an_urgent_difference_keeps_urgent_timescales_when_escalated(cast):
    d = raise_(cast, immediate_risk=True, protective_action="Police attended and she is safe.")
    escalate(cast.sw, d, now=T0)

    # Escalated at 9am on Monday 2 March: stage 2 gives its four working hours, to 1pm.
    assert (d.open_stage.level, d.open_stage.working_hours) == (2, 4)
    assert d.open_stage.deadline == utc(2026, 3, 2, 13, 0)


def test_the_raiser_of_an_urgent_difference_escalates_before_any_response(cast):
    d = raise_(cast, immediate_risk=True, protective_action="Police attended and she is safe.")
    with pytest.raises(WrongState, match="Wait for the response"):
        escalate(cast.gp, raise_(cast, child_reference="CSC-2"), now=T0)
    escalate(cast.gp, d, now=T0)
    assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 2)
    event = last_event(d)
    assert event.kind == EventKind.ESCALATED and event.actor_id == cast.gp.id
    assert event.details["rationale"] == ESCALATION and event.data["automatic"] is False
    with pytest.raises(RationaleRequired):
        escalate(cast.gp, d, now=T0, rationale="n/a")
    # Again at stage 2, still before any response: to stage 3, one working day.
    escalate(cast.gp, d, now=T0)
    assert (d.stage_level, d.open_stage.working_hours) == (3, 8)
    assert d.open_stage.deadline == utc(2026, 3, 2, 17, 0)


@pytest.mark.parametrize(
    ("setup", "who", "rationale", "error", "field"),
    [
        (awaiting_raiser, "sw", ESCALATION, WrongState, None),  # already responded
        (raise_, "sw_manager", ESCALATION, NotAllowed, None),
        (raise_, "gp_manager", ESCALATION, NotAllowed, None),
        (raise_, "chair", ESCALATION, NotAllowed, None),
        (raise_, "auditor", ESCALATION, NotAllowed, None),
        (raise_, "police_manager", ESCALATION, NotFound, None),
        (awaiting_raiser, "gp", "", RationaleRequired, "rationale"),
        (awaiting_raiser, "gp", "see above", RationaleRequired, "rationale"),
        (awaiting_raiser, "gp", "Not good enough.", RationaleRequired, "rationale"),
        (at_final_stage, "gp", ESCALATION, WrongState, None),
        (at_final_stage, "chair", ESCALATION, WrongState, None),
    ],
)
def test_escalate_refusals(cast, setup, who, rationale, error, field):
    d = setup(cast)
    assert_refused(
        error, lambda: escalate(getattr(cast, who), d, now=T1, rationale=rationale), d, field
    )


# --- Decide --------------------------------------------------------------------------------------


def test_the_partnership_decides_at_the_final_stage(cast):
    d = at_final_stage(cast)
    decide(cast.business_manager, d, outcome="upheld")

    assert (d.state, d.outcome, d.closed_at) == (State.RESOLVED, "upheld", T1)
    assert d.stages[-1].outcome == Outcome.UPHELD
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (
        EventKind.DECIDED,
        cast.business_manager,
        4,
    )
    assert event.details["decision"] == DECISION
    assert event.details["rationale"] == DECISION_RATIONALE
    [to_gp] = notifications(cast.gp, event)
    assert "the partnership has decided" in to_gp.subject
    assert f"Decision: {DECISION}" in to_gp.body
    assert f"Rationale: {DECISION_RATIONALE}" in to_gp.body
    assert "the decision stands" in to_gp.body
    # Everyone who answered or led at any stage hears the outcome.
    involved = {
        cast.gp,
        cast.sw,
        cast.sw_manager,
        cast.gp_manager,
        cast.csc_senior,
        cast.health_senior,
        cast.chair,
        cast.business_manager,
    }
    assert recipients(event) == {u.id for u in involved}


@pytest.mark.parametrize(
    ("setup", "who", "kwargs", "error", "field"),
    [
        (raise_, "chair", {}, WrongState, None),
        (awaiting_raiser, "chair", {}, WrongState, None),
        (at_final_stage, "csc_senior", {}, NotAllowed, None),
        (at_final_stage, "gp", {}, NotAllowed, None),
        (at_final_stage, "auditor", {}, NotAllowed, None),
        (at_final_stage, "admin", {}, NotFound, None),
        (at_final_stage, "chair", {"outcome": ""}, FieldError, "outcome"),
        (at_final_stage, "chair", {"decision": ""}, FieldError, "decision"),
        (at_final_stage, "chair", {"rationale": "as agreed"}, RationaleRequired, "rationale"),
        (at_final_stage, "chair", {"child_impact": " "}, FieldError, "child_impact"),
    ],
)
def test_decide_refusals(cast, setup, who, kwargs, error, field):
    d = setup(cast)
    assert_refused(error, lambda: decide(getattr(cast, who), d, **kwargs), d, field)


def test_nobody_responds_at_the_final_stage(cast):
    d = at_final_stage(cast)
    assert_refused(WrongState, lambda: respond(cast.chair, d), d)


# --- Withdraw ------------------------------------------------------------------------------------


def test_the_raiser_withdraws_and_everyone_involved_is_told_why(cast):
    d = raise_(cast)
    withdraw(cast.gp, d)

    assert (d.state, d.outcome, d.closed_at) == (State.WITHDRAWN, "withdrawn", T1)
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (EventKind.WITHDRAWN, cast.gp, 1)
    assert event.details == {"rationale": WITHDRAWAL}
    assert recipients(event) == {cast.gp.id, cast.sw.id}
    for user in (cast.gp, cast.sw):
        [message] = notifications(user, event)
        assert f"Reason: {WITHDRAWAL}" in message.body


def test_the_lead_at_stage_two_proposes_withdrawing_and_the_raiser_confirms_it(cast):
    d = raise_(cast)
    escalate(cast.sw, d)
    assert_refused(NotAllowed, lambda: withdraw(cast.gp_manager, d), d)
    services.proposals.propose(
        cast.gp_manager, d.id, d.version, kind="withdraw", rationale=WITHDRAWAL, now=T1
    )
    services.proposals.answer_proposal(cast.gp, d.id, d.version, answer="confirm", now=T1)

    assert d.state == State.WITHDRAWN
    [to_gp] = notifications(cast.gp, last_event(d))
    assert "Gail Manager proposed this, and the person who raised it confirmed it" in to_gp.body
    assert WITHDRAWAL in to_gp.body


@pytest.mark.parametrize(
    ("who", "rationale", "error", "field"),
    [
        ("sw", WITHDRAWAL, NotAllowed, None),
        ("sw_manager", WITHDRAWAL, NotAllowed, None),
        ("gp_manager", WITHDRAWAL, NotAllowed, None),  # not the lead at stage 1
        ("chair", WITHDRAWAL, NotAllowed, None),
        ("gp_colleague", WITHDRAWAL, NotFound, None),
        ("gp", "", RationaleRequired, "rationale"),
        ("gp", "n/a", RationaleRequired, "rationale"),
        ("gp", "Family moved.", RationaleRequired, "rationale"),
    ],
)
def test_withdraw_refusals(cast, who, rationale, error, field):
    d = raise_(cast)
    assert_refused(error, lambda: withdraw(getattr(cast, who), d, rationale=rationale), d, field)


# --- Extend --------------------------------------------------------------------------------------


def test_more_time_moves_the_deadline_only_when_the_raiser_agrees(cast):
    d = raise_(cast)
    request = ask_for_more_time(cast.sw, d, date(2026, 3, 12))

    # Asked for: the deadline stands until the raising side agrees.
    assert d.open_stage.deadline == STAGE_ONE_DEADLINE and d.open_stage.extended_days == 0
    assert request.proposed_deadline == utc(2026, 3, 12, 17, 0) and request.working_days == 3
    asked = last_event(d)
    assert (asked.kind, asked.actor, asked.deadline) == (
        EventKind.EXTENSION_REQUESTED,
        cast.sw,
        STAGE_ONE_DEADLINE,
    )
    assert asked.details == {
        "proposed_deadline": "2026-03-12T17:00:00+00:00",
        "working_days": 3,
        "rationale": EXTENSION,
    }
    [to_gp] = notifications(cast.gp, asked)
    assert "more time asked for: to 5pm on Thursday 12 March 2026" in to_gp.subject
    assert f"Why: {EXTENSION}" in to_gp.body and "moves only if you agree" in to_gp.body
    assert recipients(asked) == {cast.gp.id}
    # The responder cannot agree to their own request, nor ask twice.
    assert_refused(NotAllowed, lambda: answer_more_time(cast.sw, d), d)
    assert_refused(WrongState, lambda: ask_for_more_time(cast.sw, d, date(2026, 3, 11)), d)

    answer_more_time(cast.gp, d, answer="Fine, the school records matter here.")
    assert d.open_stage.deadline == utc(2026, 3, 12, 17, 0)
    assert d.open_stage.extended_days == 3
    agreed = last_event(d)
    assert (agreed.kind, agreed.actor, agreed.deadline) == (
        EventKind.EXTENSION_AGREED,
        cast.gp,
        utc(2026, 3, 12, 17, 0),
    )
    [to_sw] = notifications(cast.sw, agreed)
    assert "more time agreed: the response is due by 5pm on Thursday 12 March 2026" in (
        to_sw.subject
    )
    assert recipients(agreed) == {cast.sw.id}
    assert queries.histories.verify_difference(d).ok


def test_the_raiser_refuses_more_time_saying_why(cast):
    d = more_time_asked(cast)
    assert_refused(
        RationaleRequired, lambda: answer_more_time(cast.gp, d, agree="no", answer="no"), d,
        "answer",
    )
    assert_refused(FieldError, lambda: answer_more_time(cast.gp, d, agree="maybe"), d, "agree")
    reason = "The child is seen by the paediatrician on Wednesday and needs the plan before."
    answer_more_time(cast.gp, d, agree="no", answer=reason)
    assert d.open_stage.deadline == STAGE_ONE_DEADLINE and d.open_stage.extended_days == 0
    refused = last_event(d)
    assert (refused.kind, refused.details["answer"]) == (EventKind.EXTENSION_REFUSED, reason)
    [to_sw] = notifications(cast.sw, refused)
    assert "still due by 5pm on Monday 9 March 2026" in to_sw.subject and reason in to_sw.body
    # Refused, the responder may ask again (for less), while the deadline is still to come.
    ask_for_more_time(cast.sw, d, date(2026, 3, 10))
    assert last_event(d).kind == EventKind.EXTENSION_REQUESTED


def test_the_raising_sides_lead_may_answer_for_the_raiser(cast):
    d = raise_(cast)
    escalate(cast.sw, d)  # stage 2: the GP's manager leads for the raising side
    ask_for_more_time(cast.sw_manager, d, date(2026, 3, 11))
    answer_more_time(cast.gp_manager, d)
    assert last_event(d).kind == EventKind.EXTENSION_AGREED
    # Everyone concerned is told: the responder and the raiser.
    assert recipients(last_event(d)) == {cast.sw_manager.id, cast.gp.id}


def test_an_extension_skips_bank_holidays(cast):
    d = raise_(cast, now=utc(2025, 4, 9, 9, 0))  # Wednesday 9 April: due Wednesday 16 April
    assert d.open_stage.deadline == utc(2025, 4, 16, 16, 0)
    extend(cast.sw, d, 2, now=utc(2025, 4, 15, 9, 0))

    # Thursday 17, then Good Friday, the weekend and Easter Monday, then Tuesday 22 April.
    assert d.open_stage.deadline == utc(2025, 4, 22, 16, 0)
    assert d.open_stage.extended_days == 2


def test_extensions_are_bounded_by_the_policy(cast):
    d = raise_(cast)
    extend(cast.sw, d, 3)
    # Thursday 12 March + 3 working days would be 6 in all; 2 more is the most.
    assert_refused(
        FieldError, lambda: ask_for_more_time(cast.sw, d, date(2026, 3, 17)), d, "new_deadline"
    )
    extend(cast.sw, d, 2)
    assert d.open_stage.extended_days == 5
    assert d.open_stage.deadline == utc(2026, 3, 16, 17, 0)
    assert_refused(WrongState, lambda: ask_for_more_time(cast.sw, d, date(2026, 3, 17)), d)


def test_an_urgent_difference_cannot_be_extended(cast):
    d = raise_(cast, immediate_risk=True, protective_action="Police attended and she is safe.")
    assert Action.EXTEND not in queries.differences.facts(cast.sw, d, T0).actions
    assert_refused(
        WrongState, lambda: ask_for_more_time(cast.sw, d, date(2026, 3, 3), now=T0), d
    )


@pytest.mark.parametrize(
    ("setup", "who", "new_deadline", "rationale", "error", "field"),
    [
        (raise_, "gp", date(2026, 3, 10), EXTENSION, NotAllowed, None),
        (raise_, "sw_manager", date(2026, 3, 10), EXTENSION, NotAllowed, None),
        (raise_, "gp_colleague", date(2026, 3, 10), EXTENSION, NotFound, None),
        (awaiting_raiser, "sw", date(2026, 3, 10), EXTENSION, WrongState, None),
        (raise_, "sw", date(2026, 3, 17), EXTENSION, FieldError, "new_deadline"),  # 6 days
        (raise_, "sw", date(2026, 3, 9), EXTENSION, FieldError, "new_deadline"),  # the same day
        (raise_, "sw", date(2026, 3, 2), EXTENSION, FieldError, "new_deadline"),  # earlier
        (raise_, "sw", date(2026, 3, 14), EXTENSION, FieldError, "new_deadline"),  # a Saturday
        (raise_, "sw", "next week", EXTENSION, FieldError, "new_deadline"),
        (raise_, "sw", date(2026, 3, 10), "tbc", RationaleRequired, "rationale"),
        (raise_, "sw", date(2026, 3, 10), "", RationaleRequired, "rationale"),
    ],
)
def test_asking_for_more_time_refusals(cast, setup, who, new_deadline, rationale, error, field):
    d = setup(cast)
    assert_refused(
        error,
        lambda: ask_for_more_time(getattr(cast, who), d, new_deadline, rationale=rationale),
        d,
        field,
    )


def test_more_time_cannot_be_asked_for_once_the_deadline_has_passed(cast):
    d = raise_(cast)
    late = utc(2026, 3, 10, 9, 0)
    assert_refused(
        WrongState, lambda: ask_for_more_time(cast.sw, d, date(2026, 3, 12), now=late), d
    )


def test_a_response_overtakes_a_request_for_more_time(cast):
    d = more_time_asked(cast)
    respond(cast.sw, d)
    assert queries.differences.pending_extension(d.open_stage, T1) is None
    assert_refused(WrongState, lambda: answer_more_time(cast.gp, d), d)


# --- Reassign ------------------------------------------------------------------------------------


def test_a_manager_of_the_receiving_agency_reassigns_the_response(cast):
    d = raise_(cast)
    reassign(cast.sw_manager, d, cast.sw2.id)

    stage = d.open_stage
    assert stage.people(Side.RESPONDER) == [cast.sw2]
    assert stage.people(Side.RESPONDER, current_only=False) == [cast.sw, cast.sw2]
    assert stage.deadline == STAGE_ONE_DEADLINE
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (
        EventKind.REASSIGNED,
        cast.sw_manager,
        1,
    )
    assert event.details["rationale"] == REASSIGNMENT
    assert event.data["previous_responders"] == ["Sam Wilson"]

    assert recipients(event) == {cast.gp.id, cast.sw2.id}
    [to_sw2] = notifications(cast.sw2, event)
    assert "assigned to you" in to_sw2.subject
    assert f"Reason: {REASSIGNMENT}" in to_sw2.body
    [to_gp] = notifications(cast.gp, event)
    assert "now assigned to Sasha Second" in to_gp.subject
    assert f"Reason: {REASSIGNMENT}" in to_gp.body

    # The former responder can no longer answer; the new one can.
    assert_refused(NotAllowed, lambda: respond(cast.sw, d), d)
    assert waiting_for(cast.sw) == []
    assert waiting_for(cast.sw2) == [d]
    respond(cast.sw2, d)
    assert last_event(d).actor == cast.sw2


@pytest.mark.parametrize("who", ["csc_senior", "csc_duty_manager", "chair"])
def test_seniors_and_the_partnership_can_also_reassign(cast, who):
    d = raise_(cast)
    reassign(getattr(cast, who), d, cast.duty_sw.id)

    assert d.open_stage.people(Side.RESPONDER) == [cast.duty_sw]


def test_the_partnership_reassigns_at_the_final_stage_only_to_a_partnership_member(cast):
    d = at_final_stage(cast)
    assert waiting_for(cast.chair) == [d]
    # The receiving agency does not choose who decides its own difference.
    for manager in (cast.sw_manager, cast.csc_senior):
        assert_refused(NotAllowed, lambda m=manager: reassign(m, d, cast.business_manager.id), d)
    assert_refused(FieldError, lambda: reassign(cast.chair, d, cast.sw.id), d, "new_responder")
    reassign(cast.chair, d, cast.business_manager.id)

    assert d.open_stage.people(Side.RESPONDER) == [cast.business_manager]


@pytest.mark.parametrize(
    ("setup", "who", "new_responder", "rationale", "error", "field"),
    [
        (raise_, "sw", "sw2", REASSIGNMENT, NotAllowed, None),
        (raise_, "gp", "sw2", REASSIGNMENT, NotAllowed, None),
        (raise_, "gp_manager", "sw2", REASSIGNMENT, NotAllowed, None),
        (raise_, "health_senior", "sw2", REASSIGNMENT, NotAllowed, None),
        (raise_, "auditor", "sw2", REASSIGNMENT, NotAllowed, None),
        (raise_, "police_manager", "sw2", REASSIGNMENT, NotFound, None),
        (raise_, "csc_colleague", "sw2", REASSIGNMENT, NotFound, None),
        (raise_, "sw_manager", "gp_colleague", REASSIGNMENT, FieldError, "new_responder"),
        (raise_, "sw_manager", "sw", REASSIGNMENT, FieldError, "new_responder"),
        (raise_, "sw_manager", None, REASSIGNMENT, FieldError, "new_responder"),
        (raise_, "sw_manager", 999_999, REASSIGNMENT, FieldError, "new_responder"),
        (raise_, "sw_manager", "inactive", REASSIGNMENT, FieldError, "new_responder"),
        (raise_, "sw_manager", "sw2", "ok", RationaleRequired, "rationale"),
        (raise_, "sw_manager", "sw2", "", RationaleRequired, "rationale"),
        (awaiting_raiser, "sw_manager", "sw2", REASSIGNMENT, WrongState, None),
    ],
)
def test_reassign_refusals(cast, setup, who, new_responder, rationale, error, field):
    if new_responder == "inactive":
        new_responder_id = factories.user(agency=cast.csc, active=False).id
        db.session.commit()
    elif isinstance(new_responder, str):
        new_responder_id = getattr(cast, new_responder).id
    else:
        new_responder_id = new_responder
    d = setup(cast)
    assert_refused(
        error,
        lambda: reassign(getattr(cast, who), d, new_responder_id, rationale=rationale),
        d,
        field,
    )


# --- Record a conversation -----------------------------------------------------------------------


def test_a_party_records_a_conversation_and_the_raiser_is_told(cast):
    d = raise_(cast)
    converse(cast.sw, d, held_on=date(2026, 3, 2))

    assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 1)
    event = last_event(d)
    assert (event.kind, event.actor, event.stage_level) == (EventKind.CONVERSATION, cast.sw, 1)
    assert event.details == {
        "held_on": "2026-03-02",
        "participants": PARTICIPANTS,
        "agreed": CONVERSATION,
    }
    [to_gp] = notifications(cast.gp, event)
    assert "held on 2 March 2026" in to_gp.body
    assert f"What was agreed: {CONVERSATION}" in to_gp.body


def test_the_raiser_is_not_told_of_a_conversation_they_recorded(cast):
    d = raise_(cast)
    converse(cast.gp, d)

    assert recipients(last_event(d)) == set()
    assert last_event(d).kind == EventKind.CONVERSATION


def test_a_conversation_held_today_in_london_is_not_in_the_future(cast):
    # 00:30 on Wednesday 1 July in London is still Tuesday in UTC.
    d = raise_(cast, now=utc(2026, 6, 30, 12, 0))
    converse(cast.sw, d, now=utc(2026, 6, 30, 23, 30), held_on=date(2026, 7, 1))

    assert last_event(d).data["held_on"] == "2026-07-01"


@pytest.mark.parametrize(
    ("who", "kwargs", "error", "field"),
    [
        ("sw", {"held_on": date(2026, 3, 4)}, FieldError, "held_on"),
        ("sw", {"held_on": date(2024, 1, 1)}, FieldError, "held_on"),
        ("sw", {"participants": " "}, FieldError, "participants"),
        ("sw", {"agreed": "as discussed"}, RationaleRequired, "agreed"),
        ("auditor", {}, NotAllowed, None),
        ("gp_colleague", {}, NotFound, None),
        ("admin", {}, NotFound, None),
    ],
)
def test_record_conversation_refusals(cast, who, kwargs, error, field):
    d = raise_(cast)
    assert_refused(error, lambda: converse(getattr(cast, who), d, **kwargs), d, field)


# --- Every action, on every kind of difference ---------------------------------------------------


@dataclass(frozen=True)
class Case:
    setup: Callable[[Cast], Difference]
    actor: str
    act: Callable[..., Difference]  # act(cast, user, difference, version)
    kind: EventKind
    stage_level: int  # the stage the event belongs to
    text: str  # what the event must record


CASES = {
    "respond": Case(
        raise_,
        "sw",
        lambda c, u, d, v: services.differences.respond(
            u, d.id, v, outcome="upheld", rationale=RESPONSE, child_impact=IMPACT, now=T1
        ),
        EventKind.RESPONDED,
        1,
        RESPONSE,
    ),
    "accept": Case(
        awaiting_raiser,
        "gp",
        lambda c, u, d, v: services.differences.accept(u, d.id, v, comment=COMMENT, now=T1),
        EventKind.ACCEPTED,
        1,
        COMMENT,
    ),
    "escalate": Case(
        awaiting_raiser,
        "gp",
        lambda c, u, d, v: services.differences.escalate(u, d.id, v, rationale=ESCALATION, now=T1),
        EventKind.ESCALATED,
        2,
        ESCALATION,
    ),
    "decide": Case(
        at_final_stage,
        "chair",
        lambda c, u, d, v: services.differences.decide(
            u,
            d.id,
            v,
            outcome="agreed",
            decision=DECISION,
            rationale=DECISION_RATIONALE,
            child_impact=IMPACT,
            now=T1,
        ),
        EventKind.DECIDED,
        4,
        DECISION_RATIONALE,
    ),
    "withdraw": Case(
        raise_,
        "gp",
        lambda c, u, d, v: services.differences.withdraw(u, d.id, v, rationale=WITHDRAWAL, now=T1),
        EventKind.WITHDRAWN,
        1,
        WITHDRAWAL,
    ),
    "extend": Case(
        raise_,
        "sw",
        lambda c, u, d, v: services.extension_requests.request_extension(
            u, d.id, v, new_deadline=date(2026, 3, 11), rationale=EXTENSION, now=T1
        ),
        EventKind.EXTENSION_REQUESTED,
        1,
        EXTENSION,
    ),
    "answer_extension": Case(
        more_time_asked,
        "gp",
        lambda c, u, d, v: services.extension_requests.answer_extension(
            u, d.id, v, agree="no", answer=REFUSAL, now=T1
        ),
        EventKind.EXTENSION_REFUSED,
        1,
        REFUSAL,
    ),
    "reassign": Case(
        raise_,
        "sw_manager",
        lambda c, u, d, v: services.differences.reassign(
            u, d.id, v, new_responder_id=c.sw2.id, rationale=REASSIGNMENT, now=T1
        ),
        EventKind.REASSIGNED,
        1,
        REASSIGNMENT,
    ),
    "propose_accept": Case(
        lambda c: respond(c.sw_manager, at_stage_two(c)),
        "gp_manager",
        lambda c, u, d, v: services.proposals.propose(
            u, d.id, v, kind="accept", rationale=PROPOSAL, now=T1
        ),
        EventKind.PROPOSED,
        2,
        PROPOSAL,
    ),
    "propose_withdraw": Case(
        lambda c: at_stage_two(c),
        "gp_manager",
        lambda c, u, d, v: services.proposals.propose(
            u, d.id, v, kind="withdraw", rationale=PROPOSAL, now=T1
        ),
        EventKind.PROPOSED,
        2,
        PROPOSAL,
    ),
    "answer_proposal": Case(
        lambda c: proposed_at_stage_two(c),
        "gp",
        lambda c, u, d, v: services.proposals.answer_proposal(
            u, d.id, v, answer="object", reason=OBJECTION, now=T1
        ),
        EventKind.PROPOSAL_OBJECTED,
        2,
        OBJECTION,
    ),
    "add_advice": Case(
        raise_,
        "gp_manager",
        lambda c, u, d, v: services.support.add_advice(u, d.id, v, advice=ADVICE, now=T1),
        EventKind.ADVICE,
        1,
        ADVICE,
    ),
    "record_conversation": Case(
        raise_,
        "sw",
        lambda c, u, d, v: services.differences.record_conversation(
            u,
            d.id,
            v,
            held_on=date(2026, 3, 3),
            participants=PARTICIPANTS,
            agreed=CONVERSATION,
            now=T1,
        ),
        EventKind.CONVERSATION,
        1,
        CONVERSATION,
    ),
}


def test_the_cases_cover_every_action():
    assert set(CASES) == {action.value for action in Action}


@pytest.mark.parametrize("name", CASES)
def test_each_action_appends_exactly_one_event_to_a_verifiable_history(cast, name):
    case = CASES[name]
    d = case.setup(cast)
    user = getattr(cast, case.actor)
    events_before = len(d.events)
    version_before = d.version

    case.act(cast, user, d, d.version)

    db.session.expire_all()
    assert len(d.events) == events_before + 1
    event = last_event(d)
    assert [e.sequence for e in d.events] == list(range(1, events_before + 2))
    assert (event.kind, event.actor, event.stage_level, event.at) == (
        case.kind,
        user,
        case.stage_level,
        T1,
    )
    assert case.text in event.details.values()
    assert queries.histories.verify_difference(d).ok
    # Whatever changed, a form shown before it is now out of date.
    assert d.version > version_before
    assert_refused(StaleDifference, lambda: case.act(cast, user, d, version_before), d)


@pytest.mark.parametrize("name", CASES)
def test_a_stale_form_is_refused_and_nothing_changes(cast, name):
    case = CASES[name]
    d = case.setup(cast)
    user = getattr(cast, case.actor)
    shown = d.version
    # Someone else acts on the difference after the form was shown.
    converse(cast.health_senior, d, held_on=date(2026, 3, 3))

    assert_refused(StaleDifference, lambda: case.act(cast, user, d, shown), d)

    case.act(cast, user, d, d.version)  # with the difference as it now stands, it succeeds
    assert last_event(d).kind == case.kind


@pytest.mark.parametrize("final", [resolved, withdrawn])
@pytest.mark.parametrize("name", CASES)
def test_nothing_can_be_done_to_a_final_difference(cast, name, final):
    case = CASES[name]
    d = final(cast)
    user = cast.chair if name == "decide" else getattr(cast, case.actor)

    error = assert_refused(WrongState, lambda: case.act(cast, user, d, d.version), d)
    assert "can be read but not changed" in str(error)


def test_the_version_passed_as_text_from_a_form_is_understood(cast):
    d = raise_(cast)
    shown = str(d.version)
    converse(cast.gp_manager, d)

    assert_refused(StaleDifference, lambda: CASES["respond"].act(cast, cast.sw, d, shown), d)


# --- History -------------------------------------------------------------------------------------


def full_journey(cast: Cast) -> Difference:
    """GP → social worker upholds → GP escalates → managers respond → lead escalates →
    stage 3 escalates → the partnership decides."""
    d = raise_(cast, now=T0)
    respond(cast.sw, d, now=utc(2026, 3, 3, 10, 0), rationale=RESPONSE)
    escalate(cast.gp, d, now=utc(2026, 3, 3, 15, 0), rationale=ESCALATION)
    respond(
        cast.sw_manager,
        d,
        now=utc(2026, 3, 5, 11, 0),
        rationale="Panel considered the referral and found no evidence of significant harm.",
    )
    escalate(
        cast.gp_manager,
        d,
        now=utc(2026, 3, 5, 16, 0),
        rationale="Panel did not see the school's account of the child's disclosure.",
    )
    escalate(
        cast.csc_senior,
        d,
        now=utc(2026, 3, 9, 12, 0),
        rationale="The senior managers need the independent chair to decide on the threshold.",
    )
    decide(cast.chair, d, now=utc(2026, 3, 12, 14, 0))
    return d


JOURNEY_TEXTS = [
    RESPONSE,
    ESCALATION,
    "Panel considered the referral and found no evidence of significant harm.",
    "Panel did not see the school's account of the child's disclosure.",
    "The senior managers need the independent chair to decide on the threshold.",
    DECISION_RATIONALE,
]


def test_the_full_journey_is_recorded_and_the_gp_is_told_every_outcome(cast):
    d = full_journey(cast)

    assert (d.state, d.outcome, d.stage_level) == (State.RESOLVED, "agreed", 4)
    assert [(e.kind, e.actor, e.stage_level) for e in d.events] == [
        (EventKind.RAISED, cast.gp, 1),
        (EventKind.RESPONDED, cast.sw, 1),
        (EventKind.ESCALATED, cast.gp, 2),
        (EventKind.RESPONDED, cast.sw_manager, 2),
        (EventKind.ESCALATED, cast.gp_manager, 3),
        (EventKind.ESCALATED, cast.csc_senior, 4),
        (EventKind.DECIDED, cast.chair, 4),
    ]
    assert queries.histories.verify_difference(d).ok

    inbox = db.session.scalars(queries.inbox.inbox(cast.gp)).all()
    assert [n.event.kind for n in inbox] == [e.kind for e in reversed(d.events)]
    bodies = [n.body for n in reversed(inbox)]
    for text, body in zip(JOURNEY_TEXTS, bodies[1:], strict=True):
        assert text in body
    assert "Outcome: upheld – the decision stands." in bodies[1]
    assert "to the Manager to manager stage" in bodies[2]
    assert "Stan Manager responded at the Manager to manager stage" in bodies[3]
    assert "to the Senior manager or designated professional stage" in bodies[4]
    assert "to the Partnership resolution" in bodies[5]
    assert f"Decision: {DECISION}" in bodies[6]
    assert all(n.subject.startswith("RPD-2026-00001: ") for n in inbox)
    assert queries.inbox.counts(cast.gp).unread == 7


def test_responders_and_leads_are_told_when_their_stage_opens(cast):
    d = full_journey(cast)
    raised, _, to_two, _, to_three, to_four, decided = d.events

    assert recipients(raised) == {cast.gp.id, cast.sw.id, cast.gp_manager.id}
    assert recipients(to_two) == {cast.gp.id, cast.sw_manager.id, cast.gp_manager.id}
    partnership = {cast.chair.id, cast.business_manager.id}  # alerted at the senior stage
    assert recipients(to_three) == {
        cast.gp.id,
        cast.csc_senior.id,
        cast.health_senior.id,
        *partnership,
    }
    [alert] = notifications(cast.chair, to_three)
    assert "a difference has reached Senior manager or designated professional" in alert.subject
    assert recipients(to_four) == {cast.gp.id, cast.chair.id, cast.business_manager.id}
    [to_senior] = notifications(cast.health_senior, to_three)
    assert "You lead for the raising agency at this stage." in to_senior.body
    [to_chair] = notifications(cast.chair, to_four)
    assert "escalated to you (Partnership resolution)" in to_chair.subject
    assert "5pm on Monday 23 March 2026" in to_chair.body
    assert cast.gp.id in recipients(decided)


def test_nobody_gets_two_notifications_for_one_event(cast):
    full_journey(cast)
    d = raise_(cast)
    extend(cast.sw, d, 1)
    reassign(cast.sw_manager, d, cast.sw2.id)
    converse(cast.sw2, d)
    withdraw(cast.gp, d)

    pairs = [(n.event_id, n.recipient_id) for n in notifications()]
    assert len(pairs) == len(set(pairs))
    assert all(n.event_id is not None for n in notifications())


def test_no_notification_identifies_the_child(cast):
    full_journey(cast)
    asked = raise_(cast, child_reference="CSC-884512")
    extend(cast.sw, asked, 1)
    d = raise_(cast, immediate_risk=True, protective_action="Police attended; she is safe.")
    reassign(cast.sw_manager, d, cast.sw2.id)
    converse(cast.sw2, d)
    respond(cast.sw2, d, outcome="agreed")
    services.differences.accept(cast.gp, d.id, d.version, comment=COMMENT, now=T1)

    sent = notifications()
    assert len(sent) > 20
    for message in sent:
        text = f"{message.subject}\n{message.body}"
        assert not re.search(r"\bQZ\b", text, re.IGNORECASE)
        assert "CSC-884512" not in text
        for date_of_birth in ("2019-05-14", "14/05/2019", "14 May 2019", "14.05.2019"):
            assert date_of_birth not in text


def test_an_event_altered_in_the_database_breaks_verification_at_that_event(cast):
    d = full_journey(cast)
    third = d.events[2]
    # The rationale is a free text: kept beside the sealed data, under its sealed commitment.
    altered = dict(third.texts, rationale="The GP agreed the decision was right.")

    db.session.execute(
        sa.text("UPDATE event SET texts = :texts WHERE id = :id").bindparams(
            sa.bindparam("texts", type_=sa.JSON)
        ),
        {"texts": altered, "id": third.id},
    )
    db.session.commit()
    db.session.expire_all()

    assert d.events[2].details["rationale"] == "The GP agreed the decision was right."
    verification = queries.histories.verify_difference(d)
    assert (verification.ok, verification.broken_at) == (False, 3)
    assert "altered" in verification.reason


@pytest.mark.tampers
def test_an_event_removed_from_the_database_breaks_verification(cast):
    d = full_journey(cast)
    fourth = d.events[3]
    db.session.execute(sa.text("DELETE FROM notification WHERE event_id = :id"), {"id": fourth.id})
    db.session.execute(sa.delete(ChronologyEntry).where(ChronologyEntry.event_id == fourth.id))
    db.session.execute(sa.text("DELETE FROM event WHERE id = :id"), {"id": fourth.id})
    db.session.commit()
    db.session.expire_all()

    verification = queries.histories.verify_difference(d)
    assert (verification.ok, verification.broken_at) == (False, 4)


def test_the_history_cannot_be_changed_or_removed_through_the_orm(cast):
    d = awaiting_raiser(cast)
    event = d.events[1]

    event.data = dict(event.data, rationale="Something else entirely was said here.")
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    db.session.delete(d.events[0])
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    db.session.expire_all()
    assert [e.details["rationale"] for e in d.events[1:]] == [RESPONSE]
    assert len(d.events) == 2
    assert queries.histories.verify_difference(d).ok


def test_the_history_verifies_whatever_time_zone_the_clock_reads_in(cast):
    # The same instants as T0 and T1 in summer, given as London time (UTC+1).
    d = raise_(cast, now=datetime(2026, 6, 1, 10, 0, tzinfo=LONDON))
    respond(cast.sw, d, now=datetime(2026, 6, 2, 11, 0, tzinfo=LONDON))
    db.session.expire_all()

    assert d.events[0].at == utc(2026, 6, 1, 9, 0)
    assert queries.histories.verify_difference(d).ok


# --- Who sees what -------------------------------------------------------------------------------

# product.md §1: parties (raiser, named professional, past and present responders and leads),
# managers and seniors of either agency, partnership and auditors.
SEES = {
    "gp",  # raiser
    "sw",  # named professional, and the first responder
    "sw2",  # responder until a second reassignment
    "duty_sw",  # the responder now
    "gp_manager",
    "health_duty_manager",
    "health_senior",
    "sw_manager",
    "csc_duty_manager",
    "csc_senior",
    "chair",
    "business_manager",
    "auditor",
}
DOES_NOT_SEE = {"gp_colleague", "csc_colleague", "police_officer", "police_manager", "admin"}


def test_the_roles_of_the_cast_are_all_considered(cast):
    assert set(cast.everyone()) == SEES | DOES_NOT_SEE
    assert not SEES & DOES_NOT_SEE


def test_a_difference_is_found_exactly_by_those_allowed_to_see_it(cast):
    d = raise_(cast)
    reassign(cast.sw_manager, d, cast.sw2.id)
    reassign(cast.csc_senior, d, cast.duty_sw.id)
    now = T1 + timedelta(hours=1)

    for name, user in cast.everyone().items():
        by_rule = workflow.can_see(
            queries.differences.actor_for(user), queries.differences.situation(d, now)
        )
        by_sql = db.session.scalar(
            sa.select(sa.func.count(Difference.id)).where(Difference.id == d.id, visible_to(user))
        )
        assert by_rule is (name in SEES), name
        assert by_sql == int(by_rule), name
        if name in SEES:
            assert queries.differences.find_difference(user, d.reference) == d
        else:
            with pytest.raises(NotFound) as refused:
                queries.differences.find_difference(user, d.reference)
            assert str(refused.value) == "Difference not found."


def test_the_sql_and_the_rule_agree_for_every_user_and_difference(cast):
    raised = [
        raise_(cast),
        raise_(cast, raiser=cast.police_officer, receiving=cast.health, named_professional_id=None),
        raise_(cast, raiser=cast.csc_colleague, receiving=cast.police, named_professional_id=None),
        at_final_stage(cast),
        resolved(cast),
    ]
    for user in cast.everyone().values():
        by_sql = set(db.session.scalars(sa.select(Difference.id).where(visible_to(user))))
        by_rule = {
            d.id
            for d in raised
            if workflow.can_see(
                queries.differences.actor_for(user), queries.differences.situation(d, T1)
            )
        }
        assert by_sql == by_rule, user.name

    # A colleague of the raiser sees nothing of theirs; the police manager sees only police's.
    assert not any(
        workflow.can_see(
            queries.differences.actor_for(cast.gp_colleague), queries.differences.situation(d, T1)
        )
        for d in raised
    )
    police = visible_to(cast.police_manager)
    police = set(db.session.scalars(sa.select(Difference.id).where(police)))
    assert police == {raised[1].id, raised[2].id}


def test_an_unknown_reference_is_not_found(cast):
    raise_(cast)
    for reference in ("RPD-2026-00002", "", "nonsense"):
        with pytest.raises(NotFound):
            queries.differences.find_difference(cast.chair, reference)


# --- What is waiting, and when -------------------------------------------------------------------


def test_waiting_for_lists_what_each_person_must_act_on_soonest_deadline_first(cast):
    routine = raise_(cast, now=T0)
    urgent = raise_(
        cast,
        now=T0 + timedelta(hours=2),
        immediate_risk=True,
        protective_action="The child is staying with her grandmother.",
    )
    assert waiting_for(cast.sw) == [
        urgent,
        routine,
    ]  # due Tuesday before Monday next
    assert waiting_for(cast.gp) == []

    respond(cast.sw, routine)
    assert waiting_for(cast.sw) == [urgent]
    assert waiting_for(cast.gp) == [routine]

    escalate(cast.gp, routine)
    assert waiting_for(cast.gp) == []
    assert waiting_for(cast.sw_manager) == [routine]
    assert waiting_for(cast.gp_manager) == []

    respond(cast.sw_manager, routine)
    assert waiting_for(cast.sw_manager) == []
    assert waiting_for(cast.gp_manager) == [routine]  # the lead at stage 2
    assert waiting_for(cast.gp) == [routine]

    services.differences.accept(cast.gp, routine.id, routine.version, comment="", now=T1)
    assert waiting_for(cast.gp_manager) == []
    assert waiting_for(cast.gp) == []
    for user in (cast.auditor, cast.chair, cast.csc_senior, cast.gp_colleague):
        assert waiting_for(user) == []


def test_waiting_for_orders_by_deadline_not_by_when_raised(cast):
    later_deadline = raise_(cast, now=utc(2026, 3, 2, 9, 0))
    extend(cast.sw, later_deadline, 4)  # due Friday 13 March
    sooner = raise_(cast, now=utc(2026, 3, 3, 9, 0))  # due Tuesday 10 March

    assert waiting_for(cast.sw) == [sooner, later_deadline]


@pytest.mark.parametrize(
    ("now", "overdue", "days_left"),
    [
        (T0, False, 5),
        (utc(2026, 3, 6, 12, 0), False, 1),
        (utc(2026, 3, 9, 16, 59), False, 0),
        (STAGE_ONE_DEADLINE, False, 0),
        (utc(2026, 3, 9, 17, 1), True, 0),
        (utc(2026, 3, 10, 9, 0), True, -1),
        (utc(2026, 3, 16, 9, 0), True, -5),
    ],
)
def test_facts_derive_overdue_and_working_days_left_from_the_clock(cast, now, overdue, days_left):
    d = raise_(cast)
    seen = queries.differences.facts(cast.gp, d, now)

    assert (seen.deadline, seen.is_overdue, seen.working_days_left) == (
        STAGE_ONE_DEADLINE,
        overdue,
        days_left,
    )
    assert seen.responders == [cast.sw]
    assert seen.leads == [cast.gp]
    assert (Action.ESCALATE in seen.actions) is overdue
    assert d.state == State.AWAITING_RESPONSE  # overdue is not a state


def test_facts_offer_each_person_the_actions_they_may_take(cast):
    d = raise_(cast)

    assert queries.differences.facts(cast.sw, d, T1).actions == [
        Action.RESPOND,
        Action.ESCALATE,
        Action.EXTEND,
        Action.RECORD_CONVERSATION,
    ]
    assert queries.differences.facts(cast.gp, d, T1).actions == [
        Action.WITHDRAW,
        Action.RECORD_CONVERSATION,
    ]
    assert queries.differences.facts(cast.sw_manager, d, T1).actions == [
        Action.REASSIGN,
        Action.RECORD_CONVERSATION,
    ]
    assert queries.differences.facts(cast.auditor, d, T1).actions == []

    respond(cast.sw, d)
    after = queries.differences.facts(cast.gp, d, utc(2026, 3, 20, 9, 0))
    assert after.actions == [
        Action.ACCEPT,
        Action.ESCALATE,
        Action.WITHDRAW,
        Action.RECORD_CONVERSATION,
    ]
    assert (after.deadline, after.is_overdue, after.working_days_left) == (None, False, None)
