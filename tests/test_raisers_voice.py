"""The raiser keeps their voice, is supported from the first step, gets responses that resolve
rather than rule, is never left hanging, and the partnership is alerted (issue 13), through the
services on every database."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from escalate import calendar, queries, services, workflow
from escalate.extensions import db
from escalate.models import (
    AgencySafeguardingLead,
    Difference,
    EventKind,
    Notification,
    PartnershipDigest,
    PolicyStage,
    ProposalEnd,
    Side,
    State,
    Supporter,
)
from escalate.queries.conditions import visible_to
from escalate.workflow import Action, NotAllowed, RationaleRequired, WrongState
from tests import factories
from tests.test_workflow_services import (
    COMMENT,
    T0,
    T1,
    awaiting_raiser,
    build_cast,
    escalate,
    last_event,
    notifications,
    raise_,
    recipients,
    respond,
    utc,
)

PROPOSAL = "The family has moved to another area and the case has been transferred there."
OBJECTION = "The child is still registered with our practice and the risk has not gone away."
ADVICE = "Ask for a strategy discussion in writing and copy in the designated doctor."


@pytest.fixture
def cast(ctx):
    return build_cast()


def at_stage_three(cast):
    """The GP's difference, escalated by each responder to stage 3, where the health senior
    (the designated professional) leads for the GP's agency."""
    d = raise_(cast)
    escalate(cast.sw, d, now=T0 + timedelta(hours=1))
    escalate(cast.sw_manager, d, now=T0 + timedelta(hours=2))
    assert d.stage_level == 3 and d.open_stage.people(Side.LEAD) == [cast.health_senior]
    return d


def propose(user, d, kind="withdraw", now=T1, rationale=PROPOSAL):
    return services.proposals.propose(
        user, d.id, d.version, kind=kind, rationale=rationale, now=now
    )


def answer(user, d, answer_, reason="", now=T1):
    return services.proposals.answer_proposal(
        user, d.id, d.version, answer=answer_, reason=reason, now=now
    )


def actions(user, d, now=T1):
    return queries.differences.facts(user, d, now).actions


# --- The raiser keeps their voice ----------------------------------------------------------------


def test_a_lead_cannot_withdraw_or_accept_for_the_raiser_only_propose(cast):
    d = at_stage_three(cast)
    with pytest.raises(NotAllowed, match="propose withdrawing it"):
        services.differences.withdraw(
            cast.health_senior, d.id, d.version, rationale=PROPOSAL, now=T1
        )
    assert Action.PROPOSE_WITHDRAW in actions(cast.health_senior, d)
    assert Action.WITHDRAW not in actions(cast.health_senior, d)
    # The raiser still withdraws directly, and proposes nothing.
    assert Action.WITHDRAW in actions(cast.gp, d)
    assert Action.PROPOSE_WITHDRAW not in actions(cast.gp, d)

    respond(cast.csc_senior, d, now=T1)
    with pytest.raises(NotAllowed, match="propose accepting it"):
        services.differences.accept(cast.health_senior, d.id, d.version, comment="", now=T1)
    assert Action.PROPOSE_ACCEPT in actions(cast.health_senior, d)
    assert d.state == State.AWAITING_RAISER


def test_the_raiser_is_told_at_once_and_their_objection_keeps_the_difference_going(cast):
    d = at_stage_three(cast)
    propose(cast.health_senior, d, now=T1)

    [told] = notifications(cast.gp, last_event(d))
    assert "Dr Hannah Senior proposes withdrawing the difference" in told.subject
    assert PROPOSAL in told.body
    # Two working days from Tuesday 3 March: 5pm on Thursday 5 March.
    assert "by 5pm on Thursday 5 March 2026" in told.body
    assert d.open_proposal.reply_by == utc(2026, 3, 5, 17, 0)
    # One proposal at a time; only the raiser answers it.
    with pytest.raises(WrongState):
        propose(cast.health_senior, d, kind="withdraw")
    with pytest.raises(NotAllowed):
        answer(cast.health_senior, d, "confirm")

    with pytest.raises(RationaleRequired) as refused:
        answer(cast.gp, d, "object", reason="n/a")
    assert refused.value.field == "reason"
    answer(cast.gp, d, "object", reason=OBJECTION, now=T1 + timedelta(hours=1))

    assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 3)
    event = last_event(d)
    assert event.kind == EventKind.PROPOSAL_OBJECTED and event.actor == cast.gp
    assert event.details["reason"] == OBJECTION
    assert cast.health_senior.id in recipients(event)
    assert d.proposals[0].end == ProposalEnd.OBJECTED
    # Long after the window, the sweep applies nothing: the raiser answered.
    services.sweep.sweep(utc(2026, 3, 6, 9, 0))
    assert d.state == State.AWAITING_RESPONSE


def test_silence_applies_the_proposal_when_the_window_ends_once(cast):
    d = at_stage_three(cast)
    propose(cast.health_senior, d, now=T1)

    assert services.sweep.sweep(utc(2026, 3, 5, 16, 59)).count(
        services.sweep.deadlines.Duty.PROPOSAL_APPLIED
    ) == 0
    dry = services.sweep.sweep(utc(2026, 3, 5, 17, 1), dry_run=True)
    assert [item.summary for item in dry.items if "proposal" in item.summary] == [
        "RPD-2026-00001, stage 3 (Senior manager or designated professional): apply the "
        "lead's proposal, which the raiser did not answer in time"
    ]
    db.session.expire_all()
    assert d.state == State.AWAITING_RESPONSE

    report = services.sweep.sweep(utc(2026, 3, 5, 17, 1))
    assert str(report).endswith(", 1 proposal applied")
    db.session.expire_all()
    assert (d.state, d.outcome) == (State.WITHDRAWN, "withdrawn")
    event = last_event(d)
    assert (event.kind, event.actor) == (EventKind.WITHDRAWN, None)
    assert event.data["applied_after_no_reply"] is True
    assert event.data["proposed_by"] == "Dr Hannah Senior"
    [told] = notifications(cast.gp, event)
    assert "applied after no reply" in told.body and PROPOSAL in told.body

    again = services.sweep.sweep(utc(2026, 3, 5, 17, 2))
    assert again.count(services.sweep.deadlines.Duty.PROPOSAL_APPLIED) == 0
    assert len([e for e in d.events if e.kind == EventKind.WITHDRAWN]) == 1


def test_the_raiser_confirming_applies_the_proposal_at_once(cast):
    d = awaiting_raiser(cast)
    escalate(cast.gp, d, now=T1)
    respond(cast.sw_manager, d, now=T1 + timedelta(hours=1))
    propose(cast.gp_manager, d, kind="accept", now=T1 + timedelta(hours=2))
    answer(cast.gp, d, "confirm", reason=COMMENT, now=T1 + timedelta(hours=3))

    assert d.state == State.RESOLVED
    event = last_event(d)
    assert (event.kind, event.actor) == (EventKind.ACCEPTED, cast.gp)
    assert event.data["applied_after_no_reply"] is False
    assert event.details["comment"] == COMMENT
    assert d.proposals[0].end == ProposalEnd.CONFIRMED


def test_a_proposal_the_difference_moves_past_is_overtaken_and_never_applied(cast):
    d = at_stage_three(cast)
    propose(cast.health_senior, d, now=T1)
    escalate(cast.csc_senior, d, now=T1 + timedelta(hours=1))  # to the partnership

    assert d.proposals[0].end == ProposalEnd.OVERTAKEN
    services.sweep.sweep(utc(2026, 3, 6, 9, 0))
    db.session.expire_all()
    assert (d.state, d.stage_level) == (State.AWAITING_RESPONSE, 4)


# --- Support from the first step -----------------------------------------------------------------


def test_the_raisers_line_manager_is_told_sees_it_and_adds_advice_but_takes_no_action(cast):
    d = raise_(cast)
    assert [(s.user, s.basis.value) for s in d.supporters] == [(cast.gp_manager, "line_manager")]
    [told] = notifications(cast.gp_manager, d.events[0])
    assert "you support them" in told.subject
    assert d.events[0].data["supporters"] == [cast.gp_manager.name]

    # As a manager of the raising agency they may record a conversation, as before; nothing
    # that decides the difference.
    assert set(actions(cast.gp_manager, d)) == {Action.ADD_ADVICE, Action.RECORD_CONVERSATION}
    with pytest.raises(RationaleRequired):
        services.support.add_advice(cast.gp_manager, d.id, d.version, advice="n/a", now=T1)
    services.support.add_advice(cast.gp_manager, d.id, d.version, advice=ADVICE, now=T1)
    event = last_event(d)
    assert (event.kind, event.details["advice"]) == (EventKind.ADVICE, ADVICE)
    [to_gp] = notifications(cast.gp, event)
    assert ADVICE in to_gp.body
    with pytest.raises(NotAllowed):
        services.support.add_advice(cast.sw, d.id, d.version, advice=ADVICE, now=T1)


def test_without_a_line_manager_the_agencys_designated_safeguarding_lead_supports(cast):
    dsl = factories.user(workflow.Role.PRACTITIONER, agency=cast.health, name="Dee Lead")
    db.session.add(AgencySafeguardingLead(agency_id=cast.health.id, user_id=dsl.id))
    db.session.commit()
    d = raise_(cast, raiser=cast.gp_colleague, named_professional_id=None)

    assert [(s.user, s.basis.value) for s in d.supporters] == [(dsl, "safeguarding_lead")]
    assert dsl.id in recipients(d.events[0])
    # A practitioner sees it only because they support the raiser.
    assert queries.differences.find_difference(dsl, d.reference) == d
    assert d.id in set(db.session.scalars(sa.select(Difference.id).where(visible_to(dsl))))
    assert actions(dsl, d) == [Action.ADD_ADVICE]
    # Someone with a line manager is supported by the manager, not the safeguarding lead.
    other = raise_(cast)
    assert [s.user for s in other.supporters] == [cast.gp_manager]


# --- Responses fit resolving, not ruling ---------------------------------------------------------


def test_a_response_may_partly_agree_with_the_actions_of_a_different_plan(cast):
    d = raise_(cast)
    with pytest.raises(workflow.FieldError) as refused:
        respond(cast.sw, d, outcome="partly_agreed", actions=[])
    assert refused.value.field == "action_1_what"
    respond(
        cast.sw,
        d,
        outcome="partly_agreed",
        actions=factories.agreed_actions(
            cast.csc.id, "A joint home visit this week instead of a strategy discussion."
        ),
    )
    assert d.open_stage.outcome.value == "partly_agreed"
    [told] = notifications(cast.gp, last_event(d))
    assert "partly agreed: it proposes a different plan" in told.subject
    assert "Outcome: partly agreed – a different plan." in told.body


NA = "n/a"


def _working_day_after(deadline):
    cal = queries.setup.working_calendar()
    day = calendar.to_local(deadline).date() + timedelta(days=1)
    while not calendar.is_working_day(day, cal.nation, cal.closures):
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("respond", "rationale"),
        ("respond", "child_impact"),
        ("respond", "action_1_what"),
        ("escalate", "rationale"),
        ("withdraw", "rationale"),
        ("extend", "rationale"),
        ("reassign", "rationale"),
        ("conversation", "agreed"),
        ("conversation", "participants"),
        ("propose", "rationale"),
        ("object", "reason"),
        ("advice", "advice"),
        ("decide", "decision"),
        ("decide", "rationale"),
        ("decide", "child_impact"),
        ("raise", "reasons"),
        ("raise", "decision"),
        ("raise", "desired_outcome"),
        ("raise", "informal_discussion"),
        ("raise", "protective_action"),
    ],
)
def test_n_a_is_refused_on_every_rationale_field(cast, action, field):
    good = "The reasons are set out here in full for anyone who reads the record later."
    d = raise_(cast)
    calls = {
        "respond": lambda v: services.differences.respond(
            cast.sw, d.id, d.version, outcome="agreed", now=T1,
            actions=factories.agreed_actions(cast.csc.id, v.pop("action_1_what", good)),
            **({"rationale": good, "child_impact": good} | v),
        ),
        "escalate": lambda v: services.differences.escalate(
            cast.sw, d.id, d.version, now=T1, **({"rationale": good} | v)
        ),
        "withdraw": lambda v: services.differences.withdraw(
            cast.gp, d.id, d.version, now=T1, **({"rationale": good} | v)
        ),
        "extend": lambda v: services.extension_requests.request_extension(
            cast.sw, d.id, d.version, new_deadline=_working_day_after(d.open_stage.deadline),
            now=T1, **({"rationale": good} | v)
        ),
        "reassign": lambda v: services.differences.reassign(
            cast.sw_manager, d.id, d.version, new_responder_id=cast.sw2.id, now=T1,
            **({"rationale": good} | v),
        ),
        "conversation": lambda v: services.differences.record_conversation(
            cast.gp, d.id, d.version, held_on=T0.date(), now=T1,
            **({"participants": "Dr Patel and Sam Wilson", "agreed": good} | v),
        ),
        "advice": lambda v: services.support.add_advice(
            cast.gp_manager, d.id, d.version, now=T1, **({"advice": good} | v)
        ),
    }
    values = {field: NA}
    if action in calls:
        call = calls[action]
    elif action in ("propose", "object"):
        d = at_stage_three(cast)
        if action == "object":
            propose(cast.health_senior, d)
            call = lambda v: answer(cast.gp, d, "object", **v)  # noqa: E731
        else:
            call = lambda v: propose(cast.health_senior, d, **v)  # noqa: E731
    elif action == "decide":
        d = at_stage_three(cast)
        escalate(cast.csc_senior, d, now=T1)
        call = lambda v: services.differences.decide(  # noqa: E731
            cast.chair, d.id, d.version, outcome="agreed", now=T1,
            **({"decision": good, "rationale": good, "child_impact": good} | v),
        )
    else:
        fields = {"discussed_informally": True, "informal_discussion": good,
                  "immediate_risk": True, "protective_action": good} | values  # fmt: skip
        new = factories.new_difference(cast.csc, **fields)
        call = lambda v: services.differences.raise_difference(cast.gp, new, T1)  # noqa: E731
    before = len(d.events), d.state, d.stage_level
    with pytest.raises(workflow.FieldError) as refused:
        call(values)
    assert refused.value.field == field
    assert "n/a" in str(refused.value)
    db.session.rollback()
    db.session.expire_all()
    assert (len(d.events), d.state, d.stage_level) == before


# --- No difference left hanging -----------------------------------------------------------------


def test_a_raising_side_that_never_answers_is_reminded_then_its_manager_told_then_closed(cast):
    d = awaiting_raiser(cast)  # responded Tuesday 3 March, 10am
    stage = d.open_stage
    # Five working days: 5pm on Tuesday 10 March.
    assert stage.reply_by == utc(2026, 3, 10, 17, 0)
    [told] = notifications(cast.gp, last_event(d))
    assert "by 5pm on Tuesday 10 March 2026" in told.body

    first = services.sweep.sweep(utc(2026, 3, 10, 17, 1))
    assert first.raiser_reminders == 1
    # (Not the reminder to write the response on the GP practice's own record.)
    reminder = [n for n in notifications(cast.gp) if "record the outcome" not in n.subject][-1]
    assert "a response is waiting for your answer" in reminder.subject
    assert "5pm on Tuesday 17 March 2026" in reminder.body  # when the manager is told

    assert not services.sweep.sweep(utc(2026, 3, 17, 16, 0)).items
    second = services.sweep.sweep(utc(2026, 3, 17, 17, 1))
    assert second.count(services.sweep.deadlines.Duty.RAISER_MANAGER) == 1
    [to_manager] = [n for n in notifications(cast.gp_manager) if "not answered" in n.subject]
    assert "5pm on Tuesday 24 March 2026" in to_manager.body

    third = services.sweep.sweep(utc(2026, 3, 24, 17, 1))
    assert third.count(services.sweep.deadlines.Duty.CLOSE_NO_REPLY) == 1
    db.session.expire_all()
    assert (d.state, d.outcome) == (State.CLOSED_NO_REPLY, "no_reply")
    event = last_event(d)
    assert (event.kind, event.actor) == (EventKind.CLOSED_NO_REPLY, None)
    assert "no reply from the raising side" in event.details["reason"]
    assert {cast.gp.id, cast.sw.id, cast.gp_manager.id} <= recipients(event)
    # Once only, and not counted as resolved.
    assert not services.sweep.sweep(utc(2026, 3, 31, 17, 1)).items
    totals = queries.figures.totals()
    assert (totals.resolved, totals.closed_no_reply, totals.closed) == (0, 1, 1)
    assert ("Closed: no reply from the raising side", 1) in queries.figures.outcomes()


def test_a_difference_closed_for_want_of_a_reply_shows_as_closed(cast, client_for):
    """Grey, as a withdrawn difference is, on the raiser's list and on its own page: not in a
    tag without a colour of its own."""
    d = awaiting_raiser(cast)
    for at in (utc(2026, 3, 10, 17, 1), utc(2026, 3, 17, 17, 1), utc(2026, 3, 24, 17, 1)):
        services.sweep.sweep(at)
    db.session.expire_all()
    assert d.state == State.CLOSED_NO_REPLY
    browser = client_for(cast.gp)
    tag = (
        '<strong class="govuk-tag govuk-tag--grey">Closed: no reply from the raising side</strong>'
    )
    assert tag in browser.get("/differences/yours").get_data(as_text=True)
    assert tag in browser.get(f"/differences/{d.reference}").get_data(as_text=True)


def test_answering_in_time_stops_the_raising_sides_reminders(cast):
    d = awaiting_raiser(cast)
    services.differences.accept(cast.gp, d.id, d.version, comment="", now=T1)
    report = services.sweep.sweep(utc(2026, 4, 30, 17, 1))
    assert report.raiser_reminders == 0 and d.state == State.RESOLVED


# --- The partnership is alerted -----------------------------------------------------------------


def partnership_told(cast, event) -> set[int]:
    return recipients(event) & {cast.chair.id, cast.business_manager.id}


def test_the_partnership_is_alerted_when_an_urgent_difference_is_raised(cast):
    urgent = raise_(cast, immediate_risk=True, protective_action="Police attended; she is safe.")
    usual = raise_(cast)

    assert partnership_told(cast, urgent.events[0]) == {cast.chair.id, cast.business_manager.id}
    [alert] = notifications(cast.chair, urgent.events[0])
    assert alert.subject.endswith("an urgent difference has been raised")
    assert partnership_told(cast, usual.events[0]) == set()


def test_the_partnership_is_alerted_at_the_senior_stage_and_when_overdue_there(cast):
    d = raise_(cast)
    escalate(cast.sw, d, now=T0 + timedelta(hours=1))
    assert partnership_told(cast, last_event(d)) == set()  # stage 2
    escalate(cast.sw_manager, d, now=T0 + timedelta(hours=2))
    assert partnership_told(cast, last_event(d)) == {cast.chair.id, cast.business_manager.id}

    services.sweep.sweep(d.open_stage.deadline + timedelta(minutes=1))
    db.session.expire_all()
    overdue = next(e for e in d.events if e.kind == EventKind.OVERDUE)
    [alert] = notifications(cast.chair, overdue)
    assert "overdue at the Senior manager or designated professional stage" in alert.subject


def test_an_overdue_stage_below_the_senior_stage_is_not_the_partnerships_alert(cast):
    d = raise_(cast)
    services.sweep.sweep(d.open_stage.deadline + timedelta(minutes=1))
    db.session.expire_all()
    overdue = next(e for e in d.events if e.kind == EventKind.OVERDUE)
    assert partnership_told(cast, overdue) == set()


def test_the_weekly_digest_goes_once_a_week_with_what_is_open_by_stage(app, cast):
    app.config["WEEKLY_DIGEST"] = True
    # Missed deadlines stay where they are, so the digest has something overdue to report.
    db.session.execute(sa.update(PolicyStage).values(auto_escalate=False))
    db.session.commit()
    raise_(cast)
    late = raise_(cast, now=T0 - timedelta(days=14))
    escalate(cast.sw, late, now=T0 - timedelta(days=13))

    first = services.sweep.sweep(utc(2026, 3, 9, 7, 0))  # Monday
    assert first.digests == 1
    [digest] = [n for n in notifications(cast.chair) if n.difference_id is None]
    assert digest.subject == "Weekly digest, week of 9 March 2026: 2 open differences, 1 overdue"
    assert "Stage 1 (Practitioner to practitioner): 1 open, 0 overdue" in digest.body
    assert "Stage 2 (Manager to manager): 1 open, 1 overdue" in digest.body
    assert {n.recipient_id for n in db.session.scalars(
        sa.select(Notification).where(Notification.difference_id.is_(None))
    )} == {cast.chair.id, cast.business_manager.id}  # fmt: skip

    assert services.sweep.sweep(utc(2026, 3, 13, 16, 0)).digests == 0  # Friday, same week
    assert services.sweep.sweep(utc(2026, 3, 16, 0, 1)).digests == 1  # the next Monday
    assert db.session.scalar(sa.select(sa.func.count(PartnershipDigest.id))) == 2


def test_supporters_are_rows_of_their_own_and_leave_the_sealed_row_alone(cast):
    d = raise_(cast)
    assert db.session.scalar(sa.select(sa.func.count(Supporter.id))) == 1
    assert queries.histories.verify_difference(d).ok
