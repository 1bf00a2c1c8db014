"""The rules of the partnership's learning: owner, due date, unchanged updates, timeliness."""

from datetime import date

import pytest

from escalate import learning
from escalate.errors import FieldError, NotAllowed
from escalate.models import LearningStatus, Role

TODAY = date(2026, 11, 20)
OPEN, WORKING, DONE = LearningStatus.OPEN, LearningStatus.IN_PROGRESS, LearningStatus.DONE


def test_only_the_partnership_writes_learning():
    learning.check_may_write(Role.PARTNERSHIP)
    for role in (Role.AUDITOR, Role.MANAGER, Role.ADMIN):
        with pytest.raises(NotAllowed):
            learning.check_may_write(role)


@pytest.mark.parametrize(
    "due, message",
    [
        (None, "Enter the date the recommendation is due"),
        (date(2026, 11, 19), "today or in the future"),
        (date(2032, 1, 1), "within 5 years"),
    ],
)
def test_a_due_date_is_today_or_later(due, message):
    with pytest.raises(FieldError, match=message):
        learning.check_due_date(due, TODAY)


def test_today_is_a_due_date():
    learning.check_due_date(TODAY, TODAY)


def test_the_owner_is_an_agency_and_perhaps_someone_who_works_there():
    learning.check_owner(3, None, agency_exists=True)
    learning.check_owner(3, 3, agency_exists=True)
    with pytest.raises(FieldError, match="Select the agency"):
        learning.check_owner(0, None, agency_exists=False)
    with pytest.raises(FieldError, match="works for the owning agency") as refused:
        learning.check_owner(3, 4, agency_exists=True)
    assert refused.value.field == "owner"


def test_an_update_must_change_something():
    before = learning.Standing(OPEN, 3, None, date(2026, 12, 1))
    with pytest.raises(FieldError, match="Nothing has changed"):
        learning.changes(before, before, TODAY)
    after = learning.Standing(WORKING, 3, 7, date(2026, 12, 1))
    assert learning.changes(before, after, TODAY) == {
        "status": (OPEN, WORKING),
        "owner_id": (None, 7),
    }


def test_a_past_due_date_stays_but_cannot_be_newly_set():
    before = learning.Standing(OPEN, 3, None, date(2026, 11, 1))  # overdue already
    learning.changes(before, learning.Standing(DONE, 3, None, date(2026, 11, 1)), TODAY)
    with pytest.raises(FieldError, match="today or in the future"):
        learning.changes(before, learning.Standing(OPEN, 3, None, date(2026, 11, 2)), TODAY)


@pytest.mark.parametrize(
    "status, due, done, expected",
    [
        (DONE, date(2026, 11, 30), date(2026, 11, 30), "Done on time"),
        (DONE, date(2026, 11, 30), date(2026, 12, 1), "Done late"),
        (DONE, None, date(2026, 12, 1), "Done"),
        (OPEN, date(2026, 11, 19), None, "Overdue"),
        (WORKING, date(2026, 11, 20), None, "Not yet due"),
        (OPEN, None, None, "No due date"),
    ],
)
def test_timeliness(status, due, done, expected):
    assert learning.timeliness(status, due, done, TODAY) == expected
    assert learning.is_overdue(status, due, TODAY) == (expected == "Overdue")
