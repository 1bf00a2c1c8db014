"""The pure rules of agreed actions: when one is asked about and missed, who may mark it done,
who may raise a follow-up from it, and what a response must list."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from escalate import agreed_actions as rules
from escalate.errors import FieldError, FieldErrors, NotAllowed, WrongState
from escalate.queries.setup import WorkingCalendar

CAL = WorkingCalendar("england-and-wales", time(17, 0), frozenset())
RAISER, RESPONDER, COLLEAGUE = 1, 2, 3
HEALTH, CSC = 10, 20
ACTION = rules.ActionFacts(
    agency_id=CSC,
    owner_id=RESPONDER,
    due_on=date(2026, 4, 2),  # Thursday before Good Friday
    done=False,
    has_follow_up=False,
    raiser_id=RAISER,
    raising_agency_id=HEALTH,
)


def test_an_action_due_on_a_bank_holiday_is_asked_about_on_the_next_working_day():
    # Good Friday 3 April 2026: asked at 9am on Tuesday 7 April (BST), after Easter Monday.
    assert rules.ask_at(date(2026, 4, 3), CAL) == datetime(2026, 4, 7, 8, 0, tzinfo=UTC)
    assert rules.missed_after(date(2026, 4, 3), CAL) == datetime(2026, 4, 7, 16, 0, tzinfo=UTC)
    assert rules.ask_at(date(2026, 4, 2), CAL) == datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def test_missed_only_after_the_end_of_its_working_due_day():
    due = date(2026, 4, 2)
    assert not rules.is_missed(due, False, datetime(2026, 4, 2, 16, 0, tzinfo=UTC), CAL)
    assert rules.is_missed(due, False, datetime(2026, 4, 2, 16, 1, tzinfo=UTC), CAL)
    assert not rules.is_missed(due, True, datetime(2026, 4, 9, tzinfo=UTC), CAL)


def test_the_lists_cutoff_agrees_with_is_missed_at_every_hour_of_a_fortnight():
    start = datetime(2026, 3, 28, tzinfo=UTC)  # across the clocks going forward and Easter
    dues = [date(2026, 3, 25) + timedelta(days=n) for n in range(20)]
    for hour in range(0, 24 * 16):
        now = start + timedelta(hours=hour, minutes=30)
        cutoff = rules.missed_cutoff(now, CAL)
        for due in dues:
            assert (due <= cutoff) == rules.is_missed(due, False, now, CAL), (now, due)


def test_the_owner_or_anyone_of_its_agency_may_mark_it_done():
    assert rules.may_mark_done(RESPONDER, CSC, ACTION, takes_part=True)
    assert rules.may_mark_done(COLLEAGUE, CSC, ACTION, takes_part=True)
    assert rules.may_mark_done(RAISER, HEALTH, replace(ACTION, owner_id=RAISER), takes_part=True)
    assert not rules.may_mark_done(RAISER, HEALTH, ACTION, takes_part=True)
    with pytest.raises(NotAllowed):
        rules.check_mark_done(RAISER, HEALTH, ACTION, takes_part=True)
    with pytest.raises(WrongState, match="already been marked as done"):
        rules.check_mark_done(RESPONDER, CSC, replace(ACTION, done=True), takes_part=True)


def test_a_supporter_of_the_agency_who_takes_no_part_may_not_mark_it_done():
    # The raiser's supporter (a designated safeguarding lead) sees the difference, takes no action.
    assert not rules.may_mark_done(COLLEAGUE, CSC, ACTION, takes_part=False)
    assert rules.may_mark_done(RESPONDER, CSC, ACTION, takes_part=False)  # its owner always may


def test_only_the_raiser_follows_up_a_missed_action_of_the_other_agency_once():
    assert rules.may_raise_follow_up(RAISER, ACTION, missed=True)
    assert not rules.may_raise_follow_up(RESPONDER, ACTION, missed=True)
    assert not rules.may_raise_follow_up(RAISER, ACTION, missed=False)
    assert not rules.may_raise_follow_up(RAISER, replace(ACTION, done=True), missed=True)
    assert not rules.may_raise_follow_up(RAISER, replace(ACTION, has_follow_up=True), missed=True)
    own = replace(ACTION, agency_id=HEALTH, owner_id=RAISER)
    assert not rules.may_raise_follow_up(RAISER, own, missed=True)
    with pytest.raises(NotAllowed):
        rules.check_follow_up(RAISER, own, True)
    with pytest.raises(WrongState):
        rules.check_follow_up(RAISER, ACTION, False)


def test_a_response_lists_at_least_one_complete_action_each_row_checked():
    today = date(2026, 4, 2)
    ok = rules.NewAction("Book a medical.", CSC, today)
    assert rules.check_actions(
        [ok, None, rules.NewAction("", None, None)], (HEALTH, CSC), today
    ) == [ok]
    with pytest.raises(FieldErrors) as none:
        rules.check_actions([None] * rules.MAX_ACTIONS, (HEALTH, CSC), today)
    assert [e.field for e in none.value.errors] == ["action_1_what"]
    with pytest.raises(FieldErrors) as half:
        rules.check_actions(
            [ok, rules.NewAction("n/a", 99, today - timedelta(days=1))], (HEALTH, CSC), today
        )
    assert [e.field for e in half.value.errors] == [
        "action_2_what",
        "action_2_agency",
        "action_2_due",
    ]
    with pytest.raises(FieldError, match=f"List up to {rules.MAX_ACTIONS} actions"):
        rules.check_actions([ok] * (rules.MAX_ACTIONS + 1), (HEALTH, CSC), today)


def test_the_history_lists_each_action_on_a_line():
    actions = [rules.NewAction("Book a medical.", CSC, date(2026, 4, 2))]
    assert rules.as_text(actions, {CSC: "Children's Social Care"}) == (
        "Book a medical. — Children's Social Care — by 2 April 2026"
    )
