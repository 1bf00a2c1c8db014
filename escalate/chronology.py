"""The outcome on the child's own record: which events are outcomes, the words of the entry each
agency pastes into its own system (Liquidlogic, Mosaic, EMIS, SystmOne…), who is asked to write
it, who may confirm it is written, and which dates they may give.

Pure: no Flask, no database session, no clock. The words are made from the outcome's event each
time they are shown, never stored, so erasing the event's texts (the retention policy, a
correction) erases them from the entry too.
"""

from dataclasses import dataclass
from datetime import date, datetime

from escalate.calendar import to_local
from escalate.errors import FieldError, NotAllowed
from escalate.models import AGENCY_ROLES, EventKind, Role
from escalate.wording import long_date, outcome_label

# Every way a difference reaches an outcome ends in one of these events: a response at a stage,
# its acceptance (by the raising side, or a lead's proposal confirmed or applied), the
# partnership's decision, a withdrawal (by the raiser, or a lead's proposal), and the close when
# the raising side never answered.
OUTCOME_KINDS = frozenset(
    {
        EventKind.RESPONDED,
        EventKind.ACCEPTED,
        EventKind.DECIDED,
        EventKind.WITHDRAWN,
        EventKind.CLOSED_NO_REPLY,
    }
)

RAISING, RECEIVING = "raising", "receiving"


def is_outcome(kind) -> bool:
    return kind in OUTCOME_KINDS


def outcome_words(kind, details: dict, stage_level: int) -> str:
    """What the outcome was, as a heading: "Response at stage 1: agreed – the decision
    changes"."""
    kind = EventKind(kind)
    label = outcome_label(details.get("outcome") or details.get("response_outcome"))
    said = f"{label[:1].lower()}{label[1:]}" if label else ""
    if kind == EventKind.RESPONDED:
        return f"Response at stage {stage_level}: {said}"
    if kind == EventKind.ACCEPTED:
        return f"Response accepted by the raising agency: {said}" if said else "Response accepted"
    if kind == EventKind.DECIDED:
        return f"Decision of the safeguarding partnership: {said}"
    if kind == EventKind.WITHDRAWN:
        return "Withdrawn by the raising agency"
    return outcome_label("no_reply")


@dataclass(frozen=True)
class EntryFacts:
    """What an entry's words are made from: the outcome's event and the difference it is on."""

    kind: str
    at: datetime
    stage_level: int
    details: dict  # the event's data and texts, as they now stand
    reference: str
    child_reference: str
    child_initials: str
    raising_agency: str
    receiving_agency: str
    recorded_by: str = ""  # the person's name; "" when escalate recorded it by itself
    recorded_by_role: str = ""  # their job title, or their role
    recorded_by_agency: str = ""
    # An acceptance: the response it accepted (its reasons, what it means for the child).
    response: dict | None = None


def entry_lines(facts: EntryFacts) -> list[tuple[str, str]]:
    """The entry as labelled lines, in the order an agency's chronology reads them."""
    d = facts.details
    response = facts.response or {}
    if facts.recorded_by:
        role = ", ".join(p for p in (facts.recorded_by_role, facts.recorded_by_agency) if p)
        by = f"{facts.recorded_by} ({role})" if role else facts.recorded_by
    else:
        by = "escalate, automatically"
    rationale = d.get("rationale") or d.get("reason") or ""
    if EventKind(facts.kind) == EventKind.ACCEPTED:
        rationale = response.get("rationale", "")
    lines = [
        ("Date", long_date(facts.at)),
        ("Professional difference", f"{facts.reference} (recorded in escalate)"),
        ("Child", f"case reference {facts.child_reference}, initials {facts.child_initials}"),
        (
            "Agencies",
            f"{facts.raising_agency} (raised the difference) and {facts.receiving_agency} "
            "(received it)",
        ),
        ("Outcome", outcome_words(facts.kind, d, facts.stage_level)),
        ("Recorded by", by),
    ]
    if d.get("proposed_by"):
        how = (
            "applied when the raiser did not reply"
            if d.get("applied_after_no_reply")
            else ("confirmed by the raiser")
        )
        lines.append(("Proposed by", f"{d['proposed_by']}, {how}"))
        rationale = rationale or d.get("proposal_rationale", "")
    lines += [
        ("Decision", d.get("decision", "")),
        ("Rationale", rationale),
        ("What this means for the child", d.get("child_impact") or response.get("child_impact")),
        ("Actions agreed", d.get("agreed_actions") or response.get("agreed_actions")),
        ("Comment", d.get("comment", "")),
    ]
    return [(label, value) for label, value in lines if value]


def entry_text(facts: EntryFacts) -> str:
    """The entry as plain text, ready to paste into the agency's own system."""
    return "\n".join(f"{label}: {value}" for label, value in entry_lines(facts))


# --- Who writes it, and who may confirm it is written ------------------------------------------


def owner_id(
    side: str,
    *,
    raiser_id: int,
    agency_id: int,
    actor_id: int | None,
    actor_agency_id: int | None,
    responder_ids_of_agency: list[int],
    named_professional_id: int | None,
) -> int | None:
    """Who is asked to write the outcome on their agency's record. The raising agency: the
    raiser. The receiving agency: whoever recorded the outcome, when they are of that agency;
    else the stage's active responder of that agency; else the named professional; else
    nobody (any of the agency's people who may see the difference can still confirm)."""
    if side == RAISING:
        return raiser_id
    if actor_id is not None and actor_agency_id == agency_id:
        return actor_id
    if responder_ids_of_agency:
        return responder_ids_of_agency[0]
    return named_professional_id


def may_confirm(
    role: Role | None, user_agency_id: int | None, agency_id: int, *, takes_part: bool
) -> bool:
    """A person of that agency who takes part in the difference (a party to it, or a manager or
    senior; a supporter takes no action). The partnership and auditors see whether it is done,
    no more."""
    return takes_part and role in AGENCY_ROLES and user_agency_id == agency_id


def check_confirm(
    role: Role | None, user_agency_id, agency_id: int, agency_name: str, *, takes_part: bool
) -> None:
    if not may_confirm(role, user_agency_id, agency_id, takes_part=takes_part):
        raise not_allowed_to_confirm(agency_name)


def not_allowed_to_confirm(agency_name: str) -> NotAllowed:
    return NotAllowed(
        f"Only {agency_name}'s people who are part of this difference, or its managers, can "
        "confirm that it is recorded in its system."
    )


def check_recorded_on(recorded_on, *, outcome_at: datetime, now: datetime) -> None:
    """The day the agency wrote it: on or after the outcome's day, and not in the future."""
    if not isinstance(recorded_on, date):
        raise FieldError("recorded_on", "Enter the date it was recorded in your system")
    if recorded_on > to_local(now).date():
        raise FieldError("recorded_on", "The date it was recorded must be today or in the past")
    outcome_day = to_local(outcome_at).date()
    if recorded_on < outcome_day:
        raise FieldError(
            "recorded_on",
            f"The date it was recorded must be on or after the outcome, {long_date(outcome_day)}",
        )


def already_confirmed(agency_name: str, recorded_on: date, by: str) -> FieldError:
    return FieldError(
        "recorded_on",
        f"This outcome is already confirmed as recorded in {agency_name}'s system on "
        f"{long_date(recorded_on)}" + (f", by {by}" if by else ""),
    )
