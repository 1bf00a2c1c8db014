"""The pure rules of professionals' meetings (escalate.meetings)."""

from datetime import date, time

import pytest

from escalate import meetings
from escalate.models import MeetingKind, Role, State
from escalate.workflow import Actor, FieldError, NotAllowed, NotFound, Situation, WrongState

RAISER, NAMED, RESPONDER, PAST_LEAD = 1, 2, 3, 4
GP, CSC, POLICE = 10, 20, 30
NATION = "england-and-wales"


def situation(state=State.AWAITING_RESPONSE, final=False):
    return Situation(
        state=state,
        stage_level=4 if final else 1,
        is_final_stage=final,
        is_overdue=False,
        raiser_id=RAISER,
        raising_agency_id=GP,
        receiving_agency_id=CSC,
        named_professional_id=NAMED,
        responder_ids=frozenset({RESPONDER}),
        involved_ids=frozenset({RESPONDER, PAST_LEAD}),
    )


def actor(id_, role=Role.PRACTITIONER, agency=GP):
    return Actor(id=id_, role=role, agency_id=agency)


PARTNERSHIP = actor(50, Role.PARTNERSHIP, None)
AUDITOR = actor(60, Role.AUDITOR, None)
MANAGER = actor(70, Role.MANAGER, CSC)


@pytest.mark.parametrize(
    "who",
    [
        actor(RAISER),
        actor(NAMED, agency=CSC),
        actor(RESPONDER, agency=CSC),
        actor(PAST_LEAD),
        MANAGER,
        actor(71, Role.SENIOR, GP),
    ],
)
def test_parties_and_managers_of_either_agency_arrange_at_any_stage(who):
    for final in (False, True):
        assert (
            meetings.check_arrange(who, situation(final=final)) == MeetingKind.PROFESSIONALS_MEETING
        )


def test_others_may_not_arrange():
    with pytest.raises(NotFound):
        meetings.check_arrange(actor(99, agency=POLICE), situation())
    with pytest.raises(NotFound):
        meetings.check_arrange(actor(72, Role.MANAGER, POLICE), situation())
    with pytest.raises(NotAllowed):
        meetings.check_arrange(AUDITOR, situation())
    with pytest.raises(NotAllowed):
        meetings.check_arrange(PARTNERSHIP, situation(final=False))


def test_the_partnership_arranges_mediation_at_the_final_stage_only():
    assert meetings.arrangeable_kinds(PARTNERSHIP, situation(final=True)) == list(MeetingKind)
    assert meetings.check_arrange(PARTNERSHIP, situation(final=True), "mediation") == (
        MeetingKind.MEDIATION
    )
    with pytest.raises(NotAllowed):
        meetings.check_arrange(actor(RAISER), situation(final=True), "mediation")
    with pytest.raises(FieldError):
        meetings.check_arrange(PARTNERSHIP, situation(final=True), "picnic")


def test_no_meeting_is_arranged_on_a_closed_difference_but_its_outcome_is_recorded():
    closed = situation(State.WITHDRAWN)
    with pytest.raises(WrongState):
        meetings.check_arrange(actor(RAISER), closed)
    assert not meetings.may_arrange(actor(RAISER), closed)
    for who in (actor(RAISER), MANAGER, PARTNERSHIP, actor(PAST_LEAD)):
        meetings.check_record(who, closed, arranged_by_id=RAISER)
    with pytest.raises(NotAllowed):
        meetings.check_record(AUDITOR, closed, arranged_by_id=RAISER)
    with pytest.raises(NotFound):
        meetings.check_record(actor(99, agency=POLICE), closed, arranged_by_id=RAISER)


def test_the_dates_rules():
    today = date(2026, 11, 20)
    assert meetings.check_meeting_date(today, today=today) == today
    with pytest.raises(FieldError, match="today or in the future"):
        meetings.check_meeting_date(date(2026, 11, 19), today=today)
    with pytest.raises(WrongState):
        meetings.check_outcome_open(date(2026, 11, 24), outcome_recorded=False, today=today)
    meetings.check_outcome_open(today, outcome_recorded=False, today=today)
    with pytest.raises(WrongState, match="already"):
        meetings.check_outcome_open(today, outcome_recorded=True, today=today)
    with pytest.raises(FieldError, match="today or earlier"):
        meetings.check_minutes_date(date(2026, 11, 21), meets_on=today, today=today)
    with pytest.raises(FieldError, match="on or after the meeting"):
        meetings.check_minutes_date(date(2026, 11, 19), meets_on=today, today=today)
    with pytest.raises(WrongState, match="already"):
        meetings.check_minutes_open(today, minutes_recorded=True, today=today)


def test_the_minutes_due_date_skips_bank_holidays_and_closures():
    assert meetings.minutes_due_on(date(2026, 11, 24), 15, NATION) == date(2026, 12, 15)
    assert meetings.minutes_due_on(date(2026, 12, 21), 15, NATION) == date(2027, 1, 14)
    assert meetings.minutes_due_on(date(2026, 12, 21), 15, NATION, {date(2027, 1, 4)}) == date(
        2027, 1, 15
    )
    assert meetings.minutes_overdue(date(2026, 12, 15), None, today=date(2026, 12, 16))
    assert not meetings.minutes_overdue(date(2026, 12, 15), None, today=date(2026, 12, 15))
    assert not meetings.minutes_overdue(
        date(2026, 12, 15), date(2026, 12, 1), today=date(2026, 12, 16)
    )


@pytest.mark.parametrize("value", [0, 61, "15", None, True, 1.5])
def test_the_policy_is_a_whole_number_from_1_to_60(value):
    with pytest.raises(FieldError):
        meetings.check_minutes_working_days(value)


def test_the_policy_accepts_1_to_60():
    assert [meetings.check_minutes_working_days(n) for n in (1, 15, 60)] == [1, 15, 60]


def test_when_the_sweep_reminds():
    nine = time(9, 0)
    # Wednesday 25 November at 9:30: a meeting on Tuesday is due, one on Wednesday is not.
    before = meetings.outcome_reminders_before(
        date(2026, 11, 25), time(9, 30), start_of_day=nine, nation=NATION
    )
    assert before == date(2026, 11, 25)
    # Before work starts on Wednesday: only meetings before Tuesday.
    assert meetings.outcome_reminders_before(
        date(2026, 11, 25), time(8, 0), start_of_day=nine, nation=NATION
    ) == date(2026, 11, 24)
    # Saturday: Friday's meeting waits for Monday morning.
    assert meetings.outcome_reminders_before(
        date(2026, 11, 28), time(12, 0), start_of_day=nine, nation=NATION
    ) == date(2026, 11, 27)
    assert meetings.minutes_reminders_through(
        date(2026, 12, 15), time(9, 30), start_of_day=nine
    ) == date(2026, 12, 15)
    assert meetings.minutes_reminders_through(
        date(2026, 12, 15), time(8, 0), start_of_day=nine
    ) == date(2026, 12, 14)
