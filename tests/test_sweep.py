"""The deadline sweep: reminders, missed deadlines, automatic escalation, raiser reminders.

Every test injects the clock. The dates are around Easter 2025 in England: Good Friday is
18 April and Easter Monday 21 April, so neither is a working day.
"""

import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from escalate import queries, services, workflow
from escalate.deadlines import Duty
from escalate.extensions import db
from escalate.models import (
    Difference,
    Event,
    EventKind,
    Notification,
    PolicyStage,
    Stage,
    StageAlert,
    State,
    User,
)
from tests import factories

GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MONDAY = utc(2025, 4, 14, 9)  # 10am BST on Monday 14 April 2025
# Stage 1 raised then (5 working days, skipping Good Friday and Easter Monday) is due by 5pm BST
# on Wednesday 23 April; the reminder falls one working day before, at 5pm on Tuesday 22 April.
DEADLINE = utc(2025, 4, 23, 16)
REMINDER = utc(2025, 4, 22, 16)


# --- Helpers -----------------------------------------------------------------------------------


def get(person) -> User:
    return db.session.get(User, person.id)


def raise_one(people, at=MONDAY, *, urgent=False, reference="CSC-884512") -> int:
    """The GP raises a difference with children's social care, naming the social worker."""
    difference = services.differences.raise_difference(
        get(people.gp),
        services.differences.NewDifference(
            receiving_agency_id=people.csc.id,
            named_professional_id=people.sw.id,
            child_reference=reference,
            child_initials="QZ",
            child_date_of_birth=datetime(2019, 5, 14).date(),
            category="threshold",
            decision="The referral was closed with no further action after the initial contact.",
            reasons="The child told her teacher she is hit at home and has bruising on both arms.",
            desired_outcome="A strategy discussion and a section 47 enquiry.",
            discussed_informally=False,
            immediate_risk=urgent,
            protective_action="The school kept her safe and called the MASH." if urgent else "",
        ),
        at,
    )
    return difference.id


def difference(difference_id) -> Difference:
    db.session.expire_all()
    return db.session.get(Difference, difference_id)


def version(difference_id) -> int:
    return difference(difference_id).version


def set_policy(level: int, **fields) -> None:
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    for key, value in fields.items():
        setattr(stage, key, value)
    db.session.commit()


def messages_to(person, since_id: int = 0) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.recipient_id == person.id, Notification.id > since_id)
            .order_by(Notification.id)
        )
    )


def last_notification_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(Notification.id))) or 0


def events(difference_id, kind=None) -> list[Event]:
    query = sa.select(Event).where(Event.difference_id == difference_id)
    if kind is not None:
        query = query.where(Event.kind == kind)
    return list(db.session.scalars(query.order_by(Event.sequence)))


def row_counts() -> dict:
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Difference, Stage, Event, Notification, StageAlert)
    }


def sweep(now, **kwargs):
    report = services.sweep.sweep(now, **kwargs)
    db.session.expire_all()
    return report


def assert_nothing_more_to_do(now) -> None:
    before = row_counts()
    again = sweep(now)
    assert again.items == [] and again.skipped == 0 and again.problems == []
    assert row_counts() == before
    assert factories.stages_out_of_step() == []


# --- Reminders before the deadline -------------------------------------------------------------


def test_a_stage_opens_with_its_reminder_one_working_day_before_its_deadline(ctx, people):
    stage = difference(raise_one(people)).open_stage
    assert stage.deadline == DEADLINE
    assert stage.remind_at == REMINDER


def test_the_responder_is_reminded_once_when_the_reminder_falls_due(ctx, people):
    difference_id = raise_one(people)
    mark = last_notification_id()
    assert sweep(utc(2025, 4, 22, 15, 59)).items == []

    report = sweep(REMINDER)
    assert (report.reminders, report.overdue, report.escalated) == (1, 0, 0)
    [reminder] = messages_to(people.sw, mark)
    assert reminder.subject == (
        "RPD-2025-00001: reminder: a response is due by 5pm on Wednesday 23 April 2025"
    )
    assert "due by 5pm on Wednesday 23 April 2025. 1 working day left." in reminder.body
    assert "ask the raising side to agree a later deadline" in reminder.body
    assert "QZ" not in reminder.body + reminder.subject and "2019" not in reminder.body
    assert reminder.event_id is None  # a reminder changes nothing in the history
    assert messages_to(people.gp, mark) == []
    assert events(difference_id, EventKind.OVERDUE) == []
    assert_nothing_more_to_do(REMINDER)
    assert_nothing_more_to_do(utc(2025, 4, 23, 15))


def test_an_urgent_difference_uses_the_urgent_timescale_for_its_reminder_and_deadline(ctx, people):
    # Raised urgent at 10am on Wednesday 16 April 2025: due four working hours later, by 2pm
    # that day; the reminder falls halfway, at noon.
    stage = difference(raise_one(people, utc(2025, 4, 16, 9), urgent=True)).open_stage
    assert (stage.deadline, stage.remind_at) == (utc(2025, 4, 16, 13), utc(2025, 4, 16, 11))
    assert (stage.working_days, stage.working_hours) == (0, 4)
    mark = last_notification_id()
    assert sweep(utc(2025, 4, 16, 10, 59)).items == []
    assert sweep(utc(2025, 4, 16, 11)).reminders == 1
    [reminder] = messages_to(people.sw, mark)
    assert "due by 2pm on Wednesday 16 April 2025" in reminder.subject
    assert "2 working hours left" in reminder.body
    assert "its deadline cannot be extended" in reminder.body


def test_an_urgent_difference_raised_after_hours_starts_its_clock_the_next_morning(ctx, people):
    # Raised at 6pm on Wednesday 16 April: the four working hours run from 9am on Thursday 17,
    # so it is due by 1pm then, with a reminder at 11am (never during the night).
    stage = difference(raise_one(people, utc(2025, 4, 16, 17), urgent=True)).open_stage
    assert stage.deadline == utc(2025, 4, 17, 12)
    assert stage.remind_at == utc(2025, 4, 17, 10)
    assert sweep(utc(2025, 4, 17, 8)).items == []
    assert sweep(utc(2025, 4, 17, 10)).reminders == 1


def test_a_policy_without_reminders_sends_none(ctx, people):
    set_policy(1, reminder_days_before=0)
    assert difference(raise_one(people)).open_stage.remind_at is None
    assert sweep(utc(2025, 4, 23, 15)).items == []


def test_a_response_before_the_deadline_ends_the_reminders_and_the_overdue_notice(ctx, people):
    difference_id = raise_one(people)
    services.differences.respond(
        get(people.sw),
        difference_id,
        version(difference_id),
        outcome="upheld",
        rationale=GOOD,
        child_impact="Family support continues through early help.",
        now=utc(2025, 4, 17, 9),
    )
    assert difference(difference_id).open_stage.remind_at is None
    report = sweep(utc(2025, 4, 24, 9))  # after the deadline, before the raiser reminder
    assert report.items == []
    assert events(difference_id, EventKind.OVERDUE) == []


# --- Missed deadlines --------------------------------------------------------------------------


def test_a_missed_deadline_escalates_automatically_over_the_easter_weekend(ctx, people):
    # Urgent, raised at 10am on Wednesday 16 April 2025, due by 2pm that day; nobody responds
    # and no sweep runs after 2pm until 9am on Good Friday.
    difference_id = raise_one(people, utc(2025, 4, 16, 9), urgent=True)
    mark = last_notification_id()
    assert sweep(utc(2025, 4, 16, 13)).overdue == 0  # due by 2pm: not overdue at 2pm
    mark_after_reminder = last_notification_id()
    assert mark_after_reminder == mark + 1  # the reminder went

    good_friday = utc(2025, 4, 18, 8)
    report = sweep(good_friday)
    assert (report.reminders, report.overdue, report.escalated) == (0, 1, 1)
    [item, _] = report.items
    assert (item.reference, item.stage_level, item.duty) == ("RPD-2025-00001", 1, Duty.OVERDUE)

    moved = difference(difference_id)
    assert (moved.state, moved.stage_level) == (State.AWAITING_RESPONSE, 2)
    first, second = moved.stages
    assert first.closed_at == good_friday and first.remind_at is None
    # The next stage opens with its own urgent deadline: its four working hours start on
    # Tuesday 22 April at 9am (Good Friday and Easter Monday are not working days), so it is due
    # by 1pm then, with a reminder at 11am.
    assert second.deadline == utc(2025, 4, 22, 12) and second.working_hours == 4
    assert second.remind_at == utc(2025, 4, 22, 10)

    overdue, escalated = events(difference_id)[-2:]
    assert overdue.kind == EventKind.OVERDUE and overdue.actor_id is None
    assert overdue.deadline == utc(2025, 4, 16, 13) and overdue.stage_level == 1
    assert escalated.kind == EventKind.ESCALATED and escalated.actor_id is None
    assert escalated.data["automatic"] is True
    reason = (
        "The response was due by 2pm on Wednesday 16 April 2025 and none was recorded, so the "
        "difference moved to the next stage automatically."
    )
    assert escalated.details["rationale"] == reason
    assert queries.histories.verify_difference(moved).ok

    # The raiser is told, with the system's reason; the stage-2 responder (the social worker's
    # line manager) is told it is theirs; the social worker that it no longer waits for them.
    [to_raiser] = messages_to(people.gp, mark_after_reminder)
    assert to_raiser.subject == "RPD-2025-00001: escalated to Manager to manager"
    assert reason in to_raiser.body and "due by 1pm on Tuesday 22 April 2025" in to_raiser.body
    [to_manager] = messages_to(people.tm, mark_after_reminder)
    assert "escalated to you" in to_manager.subject and reason in to_manager.body
    [to_social_worker] = messages_to(people.sw, mark_after_reminder)
    assert "is overdue" in to_social_worker.subject
    assert "moved to the Manager to manager stage automatically" in to_social_worker.body
    [to_raisers_manager] = messages_to(people.gp_lead, mark_after_reminder)  # stage-2 lead
    assert "has reached Manager to manager" in to_raisers_manager.subject
    for message in (to_raiser, to_manager, to_social_worker):
        assert "QZ" not in message.subject + message.body

    assert_nothing_more_to_do(good_friday)


def test_where_the_policy_does_not_escalate_both_sides_and_the_next_responder_are_told(ctx, people):
    set_policy(1, auto_escalate=False)
    difference_id = raise_one(people)
    mark = last_notification_id()
    after = utc(2025, 4, 23, 16, 1)
    report = sweep(after)
    assert (report.overdue, report.escalated) == (1, 0)
    assert difference(difference_id).stage_level == 1
    [overdue] = events(difference_id, EventKind.OVERDUE)
    assert overdue.data["next_stage"] == "Manager to manager"
    assert overdue.data["next_responders"] == ["Jo Evans"]

    [to_raiser] = messages_to(people.gp, mark)  # the raiser leads at stage 1: told once
    assert to_raiser.subject == "RPD-2025-00001: the response is overdue"
    assert "was due by 5pm on Wednesday 23 April 2025 and none was recorded" in to_raiser.body
    assert "You can now escalate it to the Manager to manager stage" in to_raiser.body
    [to_responder] = messages_to(people.sw, mark)
    assert "Please respond as soon as you can" in to_responder.body
    [to_next] = messages_to(people.tm, mark)
    assert to_next.subject == "RPD-2025-00001: a difference may be escalated to you " + (
        "(Manager to manager)"
    )
    assert messages_to(people.gp_lead, mark) == []  # not a lead until stage 2 opens
    assert_nothing_more_to_do(after)

    # Overdue is derived from the clock: the raiser may escalate by hand now.
    services.differences.escalate(
        get(people.gp), difference_id, version(difference_id), rationale=GOOD, now=after
    )
    assert difference(difference_id).stage_level == 2


def test_at_the_final_stage_a_missed_deadline_is_noticed_but_never_escalated(ctx, people):
    difference_id = raise_one(people)
    for responder in (people.sw, people.tm, people.hos):  # each says it cannot resolve it
        services.differences.escalate(
            get(responder), difference_id, version(difference_id), rationale=GOOD, now=MONDAY
        )
    final = difference(difference_id).open_stage
    assert final.is_final and final.level == 4
    # Ten working days from Monday 14 April, skipping Easter: Wednesday 30 April, 5pm BST.
    assert final.deadline == utc(2025, 4, 30, 16)
    assert final.remind_at == utc(2025, 4, 29, 16)
    mark = last_notification_id()

    after = utc(2025, 5, 1, 8)
    report = sweep(after)
    assert (report.overdue, report.escalated) == (1, 0)
    still = difference(difference_id)
    assert (still.state, still.stage_level) == (State.AWAITING_RESPONSE, 4)
    [overdue] = events(difference_id, EventKind.OVERDUE)
    assert overdue.data["next_stage"] is None and overdue.stage_level == 4
    [to_chair] = messages_to(people.chair, mark)
    assert "Please record the partnership's decision as soon as you can." in to_chair.body
    [to_raiser] = messages_to(people.gp, mark)
    assert "The partnership has been told that its decision is overdue." in to_raiser.body
    assert_nothing_more_to_do(after)
    assert_nothing_more_to_do(utc(2025, 6, 2, 8))
    # Noticed once, the stage leaves what the overdue query reads (its partial index), so an
    # overdue stage left waiting is not read again every minute.
    assert difference(difference_id).open_stage.overdue_noticed_at == after
    unnoticed = db.session.scalars(
        sa.select(Stage.id).where(
            queries.conditions.overdue(utc(2025, 6, 2, 8)), Stage.overdue_noticed_at.is_(None)
        )
    ).all()
    assert final.id not in unnoticed


# --- Extensions and reassignment ---------------------------------------------------------------


def more_time(people, difference_id, new_deadline, now, *, agree=True):
    services.extension_requests.request_extension(
        get(people.sw),
        difference_id,
        version(difference_id),
        new_deadline=new_deadline,
        rationale=GOOD,
        now=now,
    )
    if agree:
        services.extension_requests.answer_extension(
            get(people.gp), difference_id, version(difference_id), agree="yes", now=now
        )


def test_an_extension_moves_the_reminder_and_the_overdue_moment(ctx, people):
    set_policy(1, auto_escalate=False)
    difference_id = raise_one(people)
    assert sweep(REMINDER).reminders == 1

    # The social worker asks for two more working days, and the GP agrees: due by 5pm on
    # Friday 25 April.
    more_time(people, difference_id, date(2025, 4, 25), utc(2025, 4, 22, 16, 30))
    stage = difference(difference_id).open_stage
    assert stage.deadline == utc(2025, 4, 25, 16)
    assert stage.remind_at == utc(2025, 4, 24, 16)
    assert sweep(utc(2025, 4, 23, 16, 30)).items == []  # the old deadline passes unnoticed
    mark = last_notification_id()
    assert sweep(utc(2025, 4, 24, 16)).reminders == 1  # reminded of the new deadline
    [reminder] = messages_to(people.sw, mark)
    assert "due by 5pm on Friday 25 April 2025" in reminder.subject

    assert sweep(utc(2025, 4, 25, 16, 1)).overdue == 1
    overdue = events(difference_id, EventKind.OVERDUE)
    assert [event.deadline for event in overdue] == [utc(2025, 4, 25, 16)]
    # Once the deadline has passed, more time can no longer be asked for.
    with pytest.raises(workflow.WrongState):
        more_time(people, difference_id, date(2025, 4, 29), utc(2025, 4, 28, 16, 30))
    assert_nothing_more_to_do(utc(2025, 4, 30, 9))


def test_an_unanswered_request_for_more_time_lapses_at_the_deadline(ctx, people):
    set_policy(1, auto_escalate=False)
    difference_id = raise_one(people)  # due by 5pm on Wednesday 23 April 2025
    more_time(people, difference_id, date(2025, 4, 25), utc(2025, 4, 22, 9), agree=False)
    assert sweep(utc(2025, 4, 23, 15, 59)).lapsed == 0
    mark = last_notification_id()

    report = sweep(utc(2025, 4, 23, 16, 1))
    assert (report.lapsed, report.overdue) == (1, 1)
    assert str(report).endswith("1 request for more time lapsed")
    lapsed = events(difference_id, EventKind.EXTENSION_LAPSED)[0]
    assert lapsed.actor_id is None and lapsed.deadline == utc(2025, 4, 23, 16)
    assert difference(difference_id).open_stage.deadline == utc(2025, 4, 23, 16)
    told = {
        n.recipient_id
        for n in db.session.scalars(
            sa.select(Notification).where(Notification.event_id == lapsed.id)
        )
    }
    assert told == {people.sw.id, people.gp.id}
    [to_sw, _] = messages_to(people.sw, mark)
    assert to_sw.subject == "RPD-2025-00001: the request for more time lapsed"
    # Too late to agree now, and the sweep does it once.
    with pytest.raises(workflow.WrongState):
        services.extension_requests.answer_extension(
            get(people.gp), difference_id, version(difference_id), agree="yes",
            now=utc(2025, 4, 23, 16, 2),
        )
    assert_nothing_more_to_do(utc(2025, 4, 24, 9))


def test_a_responder_reassigned_before_the_reminder_receives_it(ctx, people):
    difference_id = raise_one(people)
    services.differences.reassign(
        get(people.tm),
        difference_id,
        version(difference_id),
        new_responder_id=people.sw2.id,
        rationale=GOOD,
        now=utc(2025, 4, 15, 9),
    )
    mark = last_notification_id()
    assert sweep(REMINDER).reminders == 1
    assert [m.subject for m in messages_to(people.sw2, mark)] == [
        "RPD-2025-00001: reminder: a response is due by 5pm on Wednesday 23 April 2025"
    ]
    assert messages_to(people.sw, mark) == []


def test_a_responder_reassigned_after_the_reminder_is_not_reminded_again_but_told_if_overdue(
    ctx, people
):
    set_policy(1, auto_escalate=False)
    difference_id = raise_one(people)
    assert sweep(REMINDER).reminders == 1
    mark = last_notification_id()
    services.differences.reassign(
        get(people.tm),
        difference_id,
        version(difference_id),
        new_responder_id=people.sw2.id,
        rationale=GOOD,
        now=utc(2025, 4, 22, 16, 30),
    )
    [assigned] = messages_to(people.sw2, mark)
    assert "A response is due by 5pm on Wednesday 23 April 2025." in assigned.body
    assert sweep(utc(2025, 4, 23, 9)).items == []
    assert sweep(utc(2025, 4, 23, 16, 1)).overdue == 1
    [overdue] = messages_to(people.sw2, assigned.id)
    assert "is overdue" in overdue.subject
    assert messages_to(people.sw, mark) == []  # the previous responder is no longer told


# --- Reminding the raising side ----------------------------------------------------------------


def respond_on_thursday(people, difference_id) -> None:
    services.differences.respond(
        get(people.sw),
        difference_id,
        version(difference_id),
        outcome="upheld",
        rationale=GOOD,
        child_impact="Family support continues through early help.",
        now=utc(2025, 4, 17, 9),
    )


def test_the_raising_side_is_reminded_once_when_it_has_not_answered_a_response(ctx, people):
    """The first of the raising side's reply windows (tests/test_raisers_voice.py follows the
    second and third)."""
    difference_id = raise_one(people)
    respond_on_thursday(people, difference_id)
    # Five working days after Thursday 17 April, skipping Easter: 5pm BST on Monday 28 April.
    assert difference(difference_id).open_stage.raiser_remind_at == utc(2025, 4, 28, 16)
    mark = last_notification_id()
    assert sweep(utc(2025, 4, 28, 15, 59)).items == []
    report = sweep(utc(2025, 4, 28, 16))
    assert report.raiser_reminders == 1 and len(report.items) == 1
    # (Each agency is also reminded, by then, to write the response on its own record.)
    [reminder] = [m for m in messages_to(people.gp, mark) if "record the outcome" not in m.subject]
    assert reminder.subject == "RPD-2025-00001: a response is waiting for your answer"
    assert "responded on Thursday 17 April 2025" in reminder.body
    assert "accept the response, or escalate the difference" in reminder.body
    assert [m for m in messages_to(people.sw, mark) if "record the outcome" not in m.subject] == []
    # Nothing more until the second window ends, five working days on.
    assert_nothing_more_to_do(utc(2025, 5, 6, 9))


def test_a_raising_side_that_answered_in_time_is_not_reminded(ctx, people):
    difference_id = raise_one(people)
    respond_on_thursday(people, difference_id)
    services.differences.accept(
        get(people.gp), difference_id, version(difference_id), now=utc(2025, 4, 22, 9)
    )
    assert difference(difference_id).stages[0].raiser_remind_at is None
    assert sweep(utc(2025, 4, 29, 9)).items == []


# --- Dry run, the command, and the history page --------------------------------------------------


def three_things_due(people) -> tuple[int, int, int]:
    """At 5pm BST on Tuesday 22 April 2025: one reminder, one overdue, one raiser reminder."""
    reminded = raise_one(people, reference="A-1")  # its reminder is due then
    overdue = raise_one(people, utc(2025, 4, 15, 9), urgent=True, reference="A-2")
    answered = raise_one(people, utc(2025, 4, 10, 9), reference="A-3")
    services.differences.respond(
        get(people.sw),
        answered,
        version(answered),
        outcome="agreed",
        rationale=GOOD,
        child_impact="A strategy discussion will be held.",
        actions=factories.agreed_actions(people.csc.id, "A strategy discussion tomorrow."),
        now=utc(2025, 4, 11, 9),  # five working days later, skipping Easter: Tuesday 22 April
    )
    return reminded, overdue, answered


def stage_schedule() -> list[tuple]:
    """Every stage's schedule and every difference's version: what a dry run must not touch."""
    stages = db.session.scalars(sa.select(Stage).order_by(Stage.id))
    versions = db.session.scalars(sa.select(Difference.version).order_by(Difference.id))
    return [(s.id, s.deadline, s.remind_at, s.raiser_remind_at) for s in stages] + list(versions)


def test_a_dry_run_lists_what_is_due_and_changes_nothing(ctx, people):
    three_things_due(people)
    before = row_counts()
    schedule = stage_schedule()
    report = sweep(REMINDER, dry_run=True)
    assert report.dry_run
    assert [(item.reference, item.duty) for item in report.items] == [
        ("RPD-2025-00002", Duty.OVERDUE),
        ("RPD-2025-00002", Duty.AUTO_ESCALATE),
        ("RPD-2025-00001", Duty.REMINDER),
        ("RPD-2025-00003", Duty.RAISER_REMINDER),
    ]
    assert row_counts() == before
    assert stage_schedule() == schedule
    # Done for real, it does exactly what the dry run listed.
    done = sweep(REMINDER)
    assert [(i.reference, i.duty) for i in done.items] == [
        (i.reference, i.duty) for i in report.items
    ]


def test_the_sweep_command_and_its_dry_run(app, runner, people):
    with app.app_context():
        three_things_due(people)
        before = row_counts()
    app.config["CLOCK"] = lambda: REMINDER

    dry = runner.invoke(args=["escalate", "sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    lines = dry.output.strip().splitlines()
    assert lines == [
        "RPD-2025-00002, stage 1 (Practitioner to practitioner): record that the response due "
        "by 2pm on Tuesday 15 April 2025 is overdue, and tell both sides",
        "RPD-2025-00002, stage 1 (Practitioner to practitioner): escalate automatically to the "
        "next stage",
        "RPD-2025-00001, stage 1 (Practitioner to practitioner): remind the responder that the "
        "response is due by 5pm on Wednesday 23 April 2025",
        "RPD-2025-00003, stage 1 (Practitioner to practitioner): remind the raising side that a "
        "response is waiting for their answer",
        "Dry run, nothing changed. The sweep would do: 1 reminder, 1 overdue, 1 escalated, "
        "1 raiser reminder, 2 record reminders.",
    ]
    with app.app_context():
        assert row_counts() == before

    done = runner.invoke(args=["escalate", "sweep"])
    assert done.exit_code == 0, done.output
    assert done.output == (
        "Sweep done: 1 reminder, 1 overdue, 1 escalated, 1 raiser reminder, 2 record reminders.\n"
    )
    again = runner.invoke(args=["escalate", "sweep"])
    assert again.output == (
        "Sweep done: 0 reminders, 0 overdue, 0 escalated, 0 raiser reminders.\n"
    )


def test_the_history_shows_the_missed_deadline(app, people, client_for):
    with app.app_context():
        set_policy(1, auto_escalate=False)
        raise_one(people)
        services.sweep.sweep(utc(2025, 4, 24, 8))
        db.session.remove()
    app.config["CLOCK"] = lambda: utc(2025, 4, 24, 9)
    page = client_for(people.gp).get("/differences/RPD-2025-00001").get_data(as_text=True)
    assert "The response deadline was missed" in page and "Recorded automatically" in page
    assert "by escalate" not in page  # the service is not named as if it were a person
    assert "Response was due" in page and "5:00pm on Wednesday 23 April 2025" in page
    assert "Waiting for" in page and "Sam Okafor" in page
    assert "The raising side can escalate it to Manager to manager, where Jo Evans" in page


# --- Idempotence and concurrency ---------------------------------------------------------------


def test_two_sweeps_at_once_do_everything_exactly_once(app, people):
    """Two sweeps started together (each with its own session and connection) on the same due
    work: every difference is noticed overdue and escalated once, every message sent once."""
    count = 12
    with app.app_context():
        ids = [raise_one(people, reference=f"P-{n}") for n in range(count)]
        db.session.remove()
    now = utc(2025, 4, 24, 8)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                reports.append(services.sweep.sweep(now))
                db.session.remove()
        except Exception as error:  # reported below, with the test's failure
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(reports) == 2
    assert sum(r.overdue for r in reports) == count
    assert sum(r.escalated for r in reports) == count

    with app.app_context():
        for difference_id in ids:
            moved = db.session.get(Difference, difference_id)
            assert moved.stage_level == 2  # escalated once, not twice
            assert len(events(difference_id, EventKind.OVERDUE)) == 1
            assert len(events(difference_id, EventKind.ESCALATED)) == 1
            assert queries.histories.verify_difference(moved).ok
        alerts = db.session.execute(sa.select(StageAlert.stage_id, StageAlert.kind)).all()
        assert len(alerts) == 2 * count
        duplicates = db.session.execute(
            sa.select(Notification.event_id, Notification.recipient_id)
            .where(Notification.event_id.is_not(None))
            .group_by(Notification.event_id, Notification.recipient_id)
            .having(sa.func.count() > 1)
        ).all()
        assert duplicates == []
        # One overdue notice per difference to the social worker, one escalation to her manager.
        assert len(messages_to(people.sw)) == 2 * count  # raised + overdue
        assert len(messages_to(people.tm)) == count
        assert_nothing_more_to_do(now)


def test_a_second_copy_of_the_work_fails_on_the_unique_alert_and_is_undone(ctx, people):
    """What protects two machines on any database: if another sweep records the stage's alert
    between our check and our insert, our insert fails and our copy of the work is undone."""
    difference_id = raise_one(people)
    stage_id = difference(difference_id).open_stage.id
    mark = last_notification_id()
    session = db.session()
    other_sweep = []

    def another_machine_gets_there_first(session_, flush_context, instances):
        if other_sweep or not any(isinstance(o, StageAlert) for o in session_.new):
            return
        with db.engine.connect() as connection:
            connection.execute(
                sa.insert(StageAlert).values(stage_id=stage_id, kind="reminder", at=REMINDER)
            )
            connection.commit()
        other_sweep.append(True)

    sa.event.listen(session, "before_flush", another_machine_gets_there_first)
    try:
        report = services.sweep.sweep(REMINDER)
    finally:
        sa.event.remove(session, "before_flush", another_machine_gets_there_first)
    db.session.expire_all()
    assert other_sweep and report.skipped == 1 and report.items == []
    assert messages_to(people.sw, mark) == []  # only the other sweep's reminder would be sent
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StageAlert)) == 1
    assert difference(difference_id).open_stage.remind_at == REMINDER  # our change undone


# --- The demo ----------------------------------------------------------------------------------


def expected_work(now) -> dict:
    """What is due in the database at ``now``, read straight from the stages."""
    open_stages = db.session.execute(
        sa.select(Stage, Difference)
        .join(Difference, Difference.id == Stage.difference_id)
        .where(Stage.level == Difference.stage_level)
    ).all()
    auto = {p.level: p.auto_escalate for p in db.session.scalars(sa.select(PolicyStage))}
    waiting = [(s, d) for s, d in open_stages if d.state == State.AWAITING_RESPONSE]
    overdue = [(s, d) for s, d in waiting if now > s.deadline]
    return {
        "reminders": sum(
            1 for s, _ in waiting if s.remind_at is not None and s.remind_at <= now <= s.deadline
        ),
        "overdue": len(overdue),
        "escalated": sum(1 for s, _ in overdue if auto[s.level] and not s.is_final),
        "raiser reminders": sum(
            1
            for s, d in open_stages
            if d.state == State.AWAITING_RAISER and s.raiser_remind_at and s.raiser_remind_at <= now
        ),
    }


def test_with_the_demo_one_sweep_does_what_is_due_and_a_second_does_nothing(app, runner):
    seeded = runner.invoke(args=["escalate", "seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    now = datetime.now(UTC)  # seed-demo plays its differences back from the wall clock
    app.config["CLOCK"] = lambda: now
    with app.app_context():
        expected = expected_work(now)
        records = sum(reminds for _, reminds in services.chronology.due_reminders(now))
        before = row_counts()
        # The demo's agreed actions already due: each owner is asked once (an event each).
        asked = len(services.actions.due_actions(now))
    assert expected["overdue"] >= 1 and expected["escalated"] >= 1 and asked >= 1

    first = runner.invoke(args=["escalate", "sweep"])
    assert first.exit_code == 0, first.output
    assert first.output == (
        f"Sweep done: {expected['reminders']} reminder{'s' if expected['reminders'] != 1 else ''}"
        f", {expected['overdue']} overdue, {expected['escalated']} escalated, "
        f"{expected['raiser reminders']} raiser reminder"
        f"{'s' if expected['raiser reminders'] != 1 else ''}"
        f", {asked} agreed action{'s' if asked != 1 else ''} asked about"
        + (f", {records} record reminder{'s' if records != 1 else ''}" if records else "")
        + ".\n"
    )
    with app.app_context():
        after = row_counts()
        assert after["StageAlert"] - before["StageAlert"] == sum(expected.values())
        assert after["Event"] - before["Event"] == (
            expected["overdue"] + expected["escalated"] + asked
        )

    second = runner.invoke(args=["escalate", "sweep"])
    assert second.output == "Sweep done: 0 reminders, 0 overdue, 0 escalated, 0 raiser reminders.\n"
    with app.app_context():
        assert row_counts() == after


@pytest.mark.parametrize(
    "now",
    [
        utc(2026, 4, 7, 7, 30),  # early on the Tuesday after Easter Monday
        utc(2026, 11, 27, 17, 30),  # a Friday, after the end of the working day
    ],
)
def test_the_demo_loaded_at_a_fixed_moment_is_swept_once(ctx, now):
    from escalate import demo

    services.demo.seed_demo(demo.DEMO_PASSWORD, now)
    db.session.expire_all()
    expected = expected_work(now)
    report = sweep(now)
    assert (report.reminders, report.overdue, report.escalated, report.raiser_reminders) == (
        expected["reminders"],
        expected["overdue"],
        expected["escalated"],
        expected["raiser reminders"],
    )
    assert report.overdue >= 1 and report.escalated >= 1
    for difference_ in db.session.scalars(sa.select(Difference)):
        assert queries.histories.verify_difference(difference_).ok
    assert_nothing_more_to_do(now)
