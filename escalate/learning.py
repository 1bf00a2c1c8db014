"""Rules of the partnership's learning (product.md §7): a learning note's owner, due date and
status, whether it is overdue, and how timely it was. Pure: no Flask, no session, no clock."""

from dataclasses import dataclass
from datetime import date

from escalate.errors import FieldError, NotAllowed
from escalate.models import AGENCY_ROLES, LearningStatus, Role
from escalate.wording import LATEST_DUE_YEARS

# Who may own a recommendation: an agency's professionals, or a partnership member.
OWNER_ROLES = AGENCY_ROLES | {Role.PARTNERSHIP}


def may_write(role: Role | None) -> bool:
    """Only the partnership writes learning (notes, their updates, the report's impact);
    auditors read it."""
    return role == Role.PARTNERSHIP


def check_may_write(role: Role | None) -> None:
    if not may_write(role):
        raise NotAllowed("Only the safeguarding partnership can change the partnership's learning.")


def check_due_date(due_on, today: date) -> None:
    """A new or changed due date is a real date, today or later, within a few years."""
    if not isinstance(due_on, date):
        raise FieldError("due_on", "Enter the date the recommendation is due")
    if due_on < today:
        raise FieldError("due_on", "The due date must be today or in the future")
    if due_on.year > today.year + LATEST_DUE_YEARS:
        raise FieldError("due_on", f"The due date must be within {LATEST_DUE_YEARS} years of today")


def check_owner(owner_agency_id, owner_person_agency_id, *, agency_exists: bool) -> None:
    """The owner is an agency, and a person there if one is named.

    ``owner_person_agency_id``: the agency the named person works for (None if nobody named);
    ``agency_exists``: whether the agency chosen is one of the partnership's agencies."""
    if not owner_agency_id or not agency_exists:
        raise FieldError("owner_agency", "Select the agency that owns the recommendation")
    if owner_person_agency_id is not None and owner_person_agency_id != owner_agency_id:
        raise FieldError("owner", "Select someone who works for the owning agency, or nobody")


def check_status(status) -> LearningStatus:
    try:
        return LearningStatus(status)
    except ValueError:
        raise FieldError("status", "Select the status of the recommendation") from None


@dataclass(frozen=True)
class Standing:
    """What an update can change about a learning note."""

    status: LearningStatus
    owner_agency_id: int | None
    owner_id: int | None
    due_on: date | None


def changes(before: Standing, after: Standing, today: date) -> dict[str, tuple]:
    """What an update changes, as {name: (from, to)}; refuses an update that changes nothing,
    and a new due date in the past (an unchanged one may have passed: that is "overdue")."""
    changed = {
        name: (getattr(before, name), getattr(after, name))
        for name in ("status", "owner_agency_id", "owner_id", "due_on")
        if getattr(before, name) != getattr(after, name)
    }
    if not changed:
        raise FieldError(
            "status", "Nothing has changed: change the status, the owner or the due date"
        )
    if "due_on" in changed:
        check_due_date(after.due_on, today)
    return changed


def is_overdue(status, due_on: date | None, today: date) -> bool:
    """Past its due date and not done."""
    return status != LearningStatus.DONE and due_on is not None and due_on < today


ON_TIME, LATE, OVERDUE, NOT_YET_DUE, DONE, NO_DUE_DATE = (
    "Done on time",
    "Done late",
    "Overdue",
    "Not yet due",
    "Done",
    "No due date",
)


def timeliness(status, due_on: date | None, done_on: date | None, today: date) -> str:
    """How timely a recommendation is: done on time or late, overdue, or not yet due.
    ``done_on``: the (local) day it was marked done."""
    if status == LearningStatus.DONE:
        if due_on is None or done_on is None:
            return DONE
        return ON_TIME if done_on <= due_on else LATE
    if due_on is None:
        return NO_DUE_DATE
    return OVERDUE if due_on < today else NOT_YET_DUE
