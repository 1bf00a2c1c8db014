"""The rules of escalate: states, actions, who may take each, and what each must record.

Pure: no Flask, no database session, no clock. Services describe a difference as a
:class:`Situation` and a user as an :class:`Actor`, ask these functions, and act on the answer.
Refusals are domain errors (escalate.errors) whose messages are written for the person who
asked; what an outcome's text must be is in escalate.rationale. Both are named here too, so
``workflow.FieldError`` and ``workflow.require_rationale`` read as the rules they are.
"""

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta

from escalate.errors import (  # noqa: F401  (named here for the rules' callers)
    DomainError,
    FieldError,
    FieldErrors,
    FieldProblems,
    InvalidRequest,
    NotAllowed,
    NotFound,
    RationaleRequired,
    StaleDifference,
    WrongState,
)
from escalate.models import AGENCY_ROLES, LeadRule, ResponderRule, Role, State, SupportBasis
from escalate.rationale import (  # noqa: F401  (named here for the rules' callers)
    PLACEHOLDERS,
    check_child,
    check_child_date_of_birth,
    check_child_initials,
    check_child_reference,
    is_placeholder,
    require_rationale,
    require_text,
)
from escalate.wording import plural


class Action(enum.StrEnum):
    RESPOND = "respond"
    ACCEPT = "accept"
    ESCALATE = "escalate"
    DECIDE = "decide"
    WITHDRAW = "withdraw"
    EXTEND = "extend"  # ask the raising side for more time
    ANSWER_EXTENSION = "answer_extension"
    REASSIGN = "reassign"
    RECORD_CONVERSATION = "record_conversation"
    PROPOSE_ACCEPT = "propose_accept"
    PROPOSE_WITHDRAW = "propose_withdraw"
    ANSWER_PROPOSAL = "answer_proposal"
    ADD_ADVICE = "add_advice"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.RESPOND: "Respond",
    Action.ACCEPT: "Accept the response",
    Action.ESCALATE: "Escalate to the next stage",
    Action.DECIDE: "Record the partnership's decision",
    Action.WITHDRAW: "Withdraw the difference",
    Action.EXTEND: "Ask for more time",
    Action.ANSWER_EXTENSION: "Agree or refuse more time",
    Action.REASSIGN: "Reassign the responder",
    Action.RECORD_CONVERSATION: "Record a conversation",
    Action.PROPOSE_ACCEPT: "Propose accepting the response",
    Action.PROPOSE_WITHDRAW: "Propose withdrawing the difference",
    Action.ANSWER_PROPOSAL: "Confirm or object to the proposal",
    Action.ADD_ADVICE: "Add advice to the record",
}


@dataclass(frozen=True)
class Actor:
    """The person (or, with id None, the system) asking to act."""

    id: int | None
    role: Role | None
    agency_id: int | None

    @property
    def is_system(self) -> bool:
        return self.id is None


SYSTEM = Actor(id=None, role=None, agency_id=None)


@dataclass(frozen=True)
class Situation:
    """What the rules need to know about a difference at one instant."""

    state: State
    stage_level: int
    is_final_stage: bool
    is_overdue: bool
    raiser_id: int
    raising_agency_id: int
    receiving_agency_id: int
    named_professional_id: int | None = None
    responder_ids: frozenset[int] = field(default_factory=frozenset)  # current stage, active
    lead_ids: frozenset[int] = field(default_factory=frozenset)  # current stage, active
    involved_ids: frozenset[int] = field(default_factory=frozenset)  # any stage, ever
    extended_days: int = 0
    max_extension_days: int = 0
    urgent: bool = False
    extension_pending: bool = False  # a request for more time waits for the raising side
    supporter_ids: frozenset[int] = field(default_factory=frozenset)
    open_proposal: str | None = None  # "accept" or "withdraw": a lead's, awaiting the raiser


MANAGING_ROLES = frozenset({Role.MANAGER, Role.SENIOR})
OVERSIGHT_ROLES = frozenset({Role.PARTNERSHIP, Role.AUDITOR})
# Who reads the record of changes to how the partnership is set up.
CHANGE_LOG_READERS = OVERSIGHT_ROLES | {Role.ADMIN}


def is_party(actor: Actor, situation: Situation) -> bool:
    """Raiser, named professional, or a past or present responder or lead."""
    return actor.id is not None and (
        actor.id in (situation.raiser_id, situation.named_professional_id)
        or actor.id in situation.involved_ids
    )


def manages_either_agency(actor: Actor, situation: Situation) -> bool:
    return actor.role in MANAGING_ROLES and actor.agency_id in (
        situation.raising_agency_id,
        situation.receiving_agency_id,
    )


def can_see(actor: Actor, situation: Situation) -> bool:
    """product.md §1: parties, managers and seniors of either agency, partnership and auditors.

    `escalate.queries.conditions.visible_to` is the same rule as SQL; tests hold the two together.
    """
    return (
        actor.role in OVERSIGHT_ROLES
        or is_party(actor, situation)
        or manages_either_agency(actor, situation)
        or is_supporter(actor, situation)
    )


def takes_part(actor: Actor, situation: Situation) -> bool:
    """Who may act on what follows an outcome (confirm it is on their agency's record, mark an
    agreed action done): a party, or a manager or senior of either agency; not a supporter
    only, who sees the difference and takes no action on it."""
    return is_party(actor, situation) or manages_either_agency(actor, situation)


def is_supporter(actor: Actor, situation: Situation) -> bool:
    """The raiser's supporter (line manager or designated safeguarding lead): sees the
    difference and may add advice to its record, but takes no action on it."""
    return actor.id is not None and actor.id in situation.supporter_ids


def may_raise(actor: Actor) -> bool:
    """Any professional of a member agency may raise a difference (not oversight or admin roles)."""
    return actor.role in AGENCY_ROLES and actor.agency_id is not None


# --- Raising, naming and reassigning: who may be put where --------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone who might be named in a difference, made a stage contact or given its response."""

    id: int
    role: Role
    agency_id: int | None
    active: bool = True


def is_professional(person: Person | None) -> bool:
    """An active practitioner, manager or senior manager: someone who can act for an agency,
    be a line manager or a stage contact. SQL twin: ``queries.conditions.professional``."""
    return person is not None and person.active and person.role in AGENCY_ROLES


def is_professional_of(person: Person | None, agency_id: int | None) -> bool:
    """A professional of that agency. SQL twin: ``queries.conditions.professional_of``."""
    return is_professional(person) and person.agency_id == agency_id


def may_receive(raiser_agency_id: int | None, agency_id: int, *, has_professionals: bool) -> bool:
    """A difference is raised with another agency that has professionals to answer it.
    SQL twin: ``queries.conditions.may_receive``."""
    return agency_id != raiser_agency_id and has_professionals


def check_receiving_agency(
    raiser_agency_id: int | None, agency_id: int | None, *, has_professionals: bool
) -> None:
    """Refuse a receiving agency that does not exist, has nobody to answer, or is the raiser's."""
    if agency_id is None or not has_professionals:
        raise FieldError("receiving_agency", "Select the agency you disagree with")
    if not may_receive(raiser_agency_id, agency_id, has_professionals=has_professionals):
        raise FieldError(
            "receiving_agency",
            "A professional difference is between agencies: select another agency, or raise it "
            "through your own agency's management line",
        )


def check_named_professional(
    person: Person | None, receiving_agency_id: int, receiving_name: str
) -> None:
    """The professional named as having made the decision works for the receiving agency."""
    if not is_professional_of(person, receiving_agency_id):
        raise FieldError(
            "named_professional", f"Select a professional who works for {receiving_name}"
        )


def may_take_over(person: Person | None, *, is_final_stage: bool, receiving_agency_id: int) -> bool:
    """Who an open stage's response may be reassigned to: at the final stage an active member of
    the partnership; before it, a professional of the receiving agency.
    SQL twin: ``queries.conditions.may_take_over``."""
    if is_final_stage:
        return person is not None and person.active and person.role == Role.PARTNERSHIP
    return is_professional_of(person, receiving_agency_id)


def pick_supporters(
    raiser_id: int, line_manager: Person | None, safeguarding_leads: list[Person]
) -> tuple[list[Person], SupportBasis | None]:
    """Who supports a raiser from the first step (product.md §4): their line manager; if they
    have none who can act, their agency's designated safeguarding leads; never the raiser."""
    if is_professional(line_manager) and line_manager.id != raiser_id:
        return [line_manager], SupportBasis.LINE_MANAGER
    leads = [p for p in safeguarding_leads if is_professional(p) and p.id != raiser_id]
    return leads, (SupportBasis.SAFEGUARDING_LEAD if leads else None)


CONVERSATION_LOOKBACK_DAYS = 365


def check_conversation_date(held_on, *, today, raised_on) -> None:
    """A recorded conversation happened today or earlier, and within a year before the
    difference was raised."""
    if not isinstance(held_on, date) or held_on > today:
        raise FieldError("held_on", "Enter the date of the conversation: today or earlier")
    if held_on < raised_on - timedelta(days=CONVERSATION_LOOKBACK_DAYS):
        raise FieldError("held_on", "The date must be within a year before it was raised")


# Who can take part in a difference at all: administrators and auditors never act on one, even
# if a misconfiguration (a stage contact, a line manager) puts them in its path.
PARTICIPATING_ROLES = AGENCY_ROLES | {Role.PARTNERSHIP}


def _is_raising_side(actor: Actor, situation: Situation) -> bool:
    return (
        actor.id is not None
        and actor.role in PARTICIPATING_ROLES
        and (actor.id == situation.raiser_id or actor.id in situation.lead_ids)
    )


def _is_raiser(actor: Actor, situation: Situation) -> bool:
    return (
        actor.id is not None
        and actor.role in PARTICIPATING_ROLES
        and actor.id == situation.raiser_id
    )


def _is_raising_lead(actor: Actor, situation: Situation) -> bool:
    """A lead for the raising side at this stage who is not the raiser: they propose to accept
    or withdraw, and the raiser decides (product.md §4, the raiser keeps their voice)."""
    return _is_raising_side(actor, situation) and not _is_raiser(actor, situation)


def _is_responder(actor: Actor, situation: Situation) -> bool:
    return (
        actor.id is not None
        and actor.role in PARTICIPATING_ROLES
        and actor.id in situation.responder_ids
    )


def _refusal(actor: Actor, s: Situation, action: Action) -> DomainError | None:
    """The error explaining why ``actor`` may not take ``action`` now (None when they may).

    WrongState: "not now" (the difference's state or timing rules it out for this person);
    NotAllowed: "not you" (the action is for someone else).
    """
    if s.state.is_final:
        return WrongState(
            f"This difference is {s.state.label.lower()}: it can be read but not changed."
        )
    awaiting_response = s.state == State.AWAITING_RESPONSE
    awaiting_raiser = s.state == State.AWAITING_RAISER

    if action == Action.RESPOND:
        if s.is_final_stage:
            return WrongState(
                "At the final stage the partnership records a decision instead of a response."
            )
        if not awaiting_response:
            return WrongState("The response at this stage has already been given.")
        if not _is_responder(actor, s):
            return NotAllowed("Only the person this stage is assigned to can respond.")
    elif action == Action.DECIDE:
        if not s.is_final_stage:
            return WrongState("A decision is recorded only at the final, partnership stage.")
        if actor.role != Role.PARTNERSHIP:
            return NotAllowed("Only the safeguarding partnership records the final decision.")
    elif action == Action.ACCEPT:
        if not awaiting_raiser:
            return WrongState("There is no response to accept yet.")
        if _is_raising_lead(actor, s):
            return NotAllowed(
                "Only the person who raised the difference accepts a response: as their lead, "
                "propose accepting it, and they will confirm or object."
            )
        if not _is_raiser(actor, s):
            return NotAllowed("Only the person who raised the difference can accept.")
    elif action == Action.ESCALATE:
        if s.is_final_stage:
            return WrongState("This is the final stage: there is nowhere further to escalate.")
        if actor.is_system:
            if not (awaiting_response and s.is_overdue):
                return WrongState("Only a missed deadline escalates a difference automatically.")
        elif _is_raising_side(actor, s):
            # An urgent difference's raising side need not wait: the child may be at risk now.
            if awaiting_response and not s.is_overdue and not s.urgent:
                return WrongState(
                    "Wait for the response, or for the deadline to pass, before escalating."
                )
        elif _is_responder(actor, s):
            if not awaiting_response:
                return WrongState("You have already responded at this stage.")
        else:
            return NotAllowed("Only the raising side or the responder at this stage can escalate.")
    elif action == Action.WITHDRAW:
        if _is_raising_lead(actor, s):
            return NotAllowed(
                "Only the person who raised the difference withdraws it: as their lead, propose "
                "withdrawing it, and they will confirm or object."
            )
        if not _is_raiser(actor, s):
            return NotAllowed("Only the person who raised the difference can withdraw it.")
    elif action in (Action.PROPOSE_ACCEPT, Action.PROPOSE_WITHDRAW):
        if action == Action.PROPOSE_ACCEPT and not awaiting_raiser:
            return WrongState("There is no response to accept yet.")
        if not (s.lead_ids - {s.raiser_id}):
            return WrongState(
                "Nobody but the person who raised the difference leads for the raising side at "
                "this stage: they decide it themselves."
            )
        if s.open_proposal is not None:
            return WrongState(
                "A proposal is already waiting for the answer of the person who raised it."
            )
        if not _is_raising_lead(actor, s):
            return NotAllowed(
                "Only a lead for the raising side proposes this; the person who raised the "
                "difference decides it themselves."
            )
    elif action == Action.ANSWER_PROPOSAL:
        if s.open_proposal is None:
            return WrongState("There is no proposal waiting for an answer.")
        if not _is_raiser(actor, s):
            return NotAllowed("Only the person who raised the difference answers a proposal.")
    elif action == Action.ADD_ADVICE:
        if not is_supporter(actor, s) or actor.role == Role.AUDITOR:
            return NotAllowed("Only the raiser's supporter adds advice to the record.")
    elif action == Action.EXTEND:
        if not awaiting_response:
            return WrongState("The deadline can be extended only while a response is awaited.")
        if s.urgent:
            return WrongState(
                "An urgent difference's deadline cannot be extended: the child may be at "
                "immediate risk."
            )
        if s.extended_days >= s.max_extension_days:
            return WrongState(
                "This stage's deadline has already been extended as far as the policy allows."
            )
        if s.is_overdue:
            return WrongState("The deadline has passed: more time can be asked for only before it.")
        if s.extension_pending:
            return WrongState(
                "A request for more time is already waiting for the raising side's answer."
            )
        if not _is_responder(actor, s):
            return NotAllowed("Only the person this stage is assigned to can extend its deadline.")
    elif action == Action.ANSWER_EXTENSION:
        if not (awaiting_response and s.extension_pending):
            return WrongState("There is no request for more time to answer.")
        if not _is_raising_side(actor, s):
            return NotAllowed(
                "Only the person who raised the difference, or their lead at this stage, can "
                "agree to more time."
            )
    elif action == Action.REASSIGN:
        if not awaiting_response:
            return WrongState("The responder can be changed only while a response is awaited.")
        # Administrators see no differences (product.md §1), so they reassign nothing here.
        if actor.role == Role.PARTNERSHIP:
            return None
        if s.is_final_stage:
            return NotAllowed("Only the safeguarding partnership can reassign at the final stage.")
        if not (actor.role in MANAGING_ROLES and actor.agency_id == s.receiving_agency_id):
            return NotAllowed(
                "Only a manager or senior manager of the receiving agency can reassign."
            )
    elif action == Action.RECORD_CONVERSATION:
        if actor.role == Role.AUDITOR:
            return NotAllowed("Auditors can read differences but not change them.")
        if not (
            is_party(actor, s) or manages_either_agency(actor, s) or actor.role == Role.PARTNERSHIP
        ):
            return NotAllowed(
                "Only the people involved in this difference can record a conversation."
            )
    return None


def may(actor: Actor, situation: Situation, action: Action) -> bool:
    return _refusal(actor, situation, action) is None


def allowed_actions(actor: Actor, situation: Situation) -> list[Action]:
    """The actions ``actor`` may take now, in the order a page offers them."""
    if not actor.is_system and not can_see(actor, situation):
        return []
    return [action for action in Action if may(actor, situation, action)]


def check(actor: Actor, situation: Situation, action: Action) -> None:
    """Raise the domain error that explains why ``actor`` may not take ``action`` now."""
    if not actor.is_system and not can_see(actor, situation):
        raise NotFound("Difference not found.")
    refusal = _refusal(actor, situation, action)
    if refusal is not None:
        raise refusal


def check_extension(situation: Situation, days: int) -> int:
    """The number of working days a deadline may move by, within the stage's policy."""
    remaining = situation.max_extension_days - situation.extended_days
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise FieldError(
            "new_deadline", "Enter a new deadline on a working day after the current one"
        )
    if days > remaining:
        raise FieldError(
            "new_deadline",
            f"The deadline can be extended by at most {plural(remaining, 'more working day')} "
            "at this stage",
        )
    return days


# --- Who answers at each stage ---------------------------------------------------------------


def pick_people(
    rule: ResponderRule | LeadRule,
    *,
    named=None,
    named_manager=None,
    raiser=None,
    raiser_manager=None,
    contacts=(),
    partnership=(),
):
    """Choose who answers (or leads) at a stage, and whether the rule had to fall back.

    Each rule names a person if it can; otherwise the agency's stage contacts for that level;
    if the agency has none, the partnership, so that no difference is ever left with nobody.
    Candidates must already be active users. Returns (people, fell_back).
    """
    preferred = {
        ResponderRule.NAMED_PROFESSIONAL: named,
        ResponderRule.NAMED_PROFESSIONALS_MANAGER: named_manager,
        LeadRule.RAISER: raiser,
        LeadRule.RAISERS_MANAGER: raiser_manager,
    }.get(rule)
    if rule == LeadRule.NONE:
        return [], False
    if rule == ResponderRule.PARTNERSHIP:
        return list(partnership), False
    if preferred is not None:
        return [preferred], False
    if contacts:
        return list(
            contacts
        ), rule != ResponderRule.AGENCY_CONTACTS and rule != LeadRule.AGENCY_CONTACTS
    if isinstance(rule, LeadRule):
        # The raising side can always act through the raiser, so an empty lead is no dead end.
        return [], True
    return list(partnership), True


# --- Oversight and learning --------------------------------------------------------------------


def may_add_learning_note(actor: Actor, situation: Situation) -> bool:
    """product.md §4: on a final difference the partnership may still add what it learned."""
    return actor.role == Role.PARTNERSHIP and situation.state.is_final


def check_learning_note(actor: Actor, situation: Situation) -> None:
    """Raise the domain error explaining why ``actor`` may not add a learning note now."""
    if not actor.is_system and not can_see(actor, situation):
        raise NotFound("Difference not found.")
    if actor.role != Role.PARTNERSHIP:
        raise NotAllowed("Only the safeguarding partnership can add a learning note.")
    if not situation.state.is_final:
        raise WrongState("A learning note is added once the difference is resolved or withdrawn.")


def may_correct(actor: Actor, *, anonymised: bool) -> bool:
    """A partnership member may erase a mistaken entry, at any stage, until the retention
    policy has erased every text."""
    return actor.role == Role.PARTNERSHIP and not anonymised


def check_correction(actor: Actor, situation: Situation, *, anonymised: bool) -> None:
    """Raise the domain error explaining why ``actor`` may not correct an entry now."""
    if not actor.is_system and not can_see(actor, situation):
        raise NotFound("Difference not found.")
    if actor.role != Role.PARTNERSHIP:
        raise NotAllowed("Only the safeguarding partnership can correct a mistaken entry.")
    if anonymised:
        raise WrongState(
            "This difference was anonymised under the retention policy: no text is left to correct."
        )


def check_not_anonymised(anonymised: bool) -> None:
    """Nothing more is recorded on a difference the retention policy anonymised (what follows
    an outcome included)."""
    if anonymised:
        raise WrongState(
            "This difference was anonymised under the retention policy: nothing more is "
            "recorded on it."
        )
