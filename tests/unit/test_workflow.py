"""Tests for escalate.workflow: who may do what, when, and what every outcome must record.

No app and no database: a difference is described as a `workflow.Situation` and a person as a
`workflow.Actor`, exactly as the services describe them. Expectations come from product.md
sections 1-5, written out by hand below rather than derived from the module under test.
"""

from datetime import date

import pytest

from escalate import policy, wording, workflow
from escalate.models import LeadRule, ResponderRule, Role, State
from escalate.policy import DEFAULT_POLICY
from escalate.workflow import (
    SYSTEM,
    Action,
    Actor,
    DomainError,
    FieldError,
    NotAllowed,
    NotFound,
    RationaleRequired,
    Situation,
    WrongState,
)

RESPOND = Action.RESPOND
ACCEPT = Action.ACCEPT
ESCALATE = Action.ESCALATE
DECIDE = Action.DECIDE
WITHDRAW = Action.WITHDRAW
EXTEND = Action.EXTEND
ANSWER_MORE_TIME = Action.ANSWER_EXTENSION
REASSIGN = Action.REASSIGN
CONVERSE = Action.RECORD_CONVERSATION
PROPOSE_ACCEPT = Action.PROPOSE_ACCEPT
PROPOSE_WITHDRAW = Action.PROPOSE_WITHDRAW
ANSWER = Action.ANSWER_PROPOSAL
ADVISE = Action.ADD_ADVICE

RAISING_AGENCY = 100
RECEIVING_AGENCY = 200
OTHER_AGENCY = 300

# --- The cast ------------------------------------------------------------------------------------
# One difference raised by a practitioner of the raising agency against the receiving agency.

RAISER = Actor(1, Role.PRACTITIONER, RAISING_AGENCY)
NAMED = Actor(2, Role.PRACTITIONER, RECEIVING_AGENCY)  # named by the raiser, not responding
LEAD = Actor(3, Role.MANAGER, RAISING_AGENCY)  # leads for the raising side at the open stage
RESPONDER = Actor(4, Role.PRACTITIONER, RECEIVING_AGENCY)  # responds at the open stage
FORMER_RESPONDER = Actor(5, Role.PRACTITIONER, RECEIVING_AGENCY)  # responded earlier, or was moved
FORMER_LEAD = Actor(6, Role.PRACTITIONER, RAISING_AGENCY)  # led at an earlier stage
RECEIVING_MANAGER = Actor(7, Role.MANAGER, RECEIVING_AGENCY)
RECEIVING_SENIOR = Actor(8, Role.SENIOR, RECEIVING_AGENCY)
RAISING_MANAGER = Actor(9, Role.MANAGER, RAISING_AGENCY)
RAISING_SENIOR = Actor(10, Role.SENIOR, RAISING_AGENCY)
RECEIVING_COLLEAGUE = Actor(11, Role.PRACTITIONER, RECEIVING_AGENCY)
RAISING_COLLEAGUE = Actor(12, Role.PRACTITIONER, RAISING_AGENCY)
UNRELATED_PRACTITIONER = Actor(13, Role.PRACTITIONER, OTHER_AGENCY)
UNRELATED_MANAGER = Actor(14, Role.MANAGER, OTHER_AGENCY)
UNRELATED_SENIOR = Actor(15, Role.SENIOR, OTHER_AGENCY)
SUPPORTER = Actor(16, Role.PRACTITIONER, RAISING_AGENCY)  # the raiser's safeguarding lead
CHAIR = Actor(20, Role.PARTNERSHIP, None)  # the partnership's responder at the final stage
PARTNERSHIP = Actor(21, Role.PARTNERSHIP, None)
AUDITOR = Actor(22, Role.AUDITOR, None)
ADMIN = Actor(23, Role.ADMIN, RAISING_AGENCY)  # administrators see nothing, whatever their agency

PEOPLE = {
    "raiser": RAISER,
    "named professional": NAMED,
    "stage lead": LEAD,
    "responder": RESPONDER,
    "former responder": FORMER_RESPONDER,
    "former lead": FORMER_LEAD,
    "receiving manager": RECEIVING_MANAGER,
    "receiving senior": RECEIVING_SENIOR,
    "raising manager": RAISING_MANAGER,
    "raising senior": RAISING_SENIOR,
    "receiving colleague": RECEIVING_COLLEAGUE,
    "raising colleague": RAISING_COLLEAGUE,
    "unrelated practitioner": UNRELATED_PRACTITIONER,
    "unrelated manager": UNRELATED_MANAGER,
    "unrelated senior": UNRELATED_SENIOR,
    "supporter": SUPPORTER,
    "partnership chair": CHAIR,
    "partnership member": PARTNERSHIP,
    "auditor": AUDITOR,
    "admin": ADMIN,
}

# product.md §1: parties, managers and seniors of either agency, partnership and auditors.
CANNOT_SEE = {
    "receiving colleague",
    "raising colleague",
    "unrelated practitioner",
    "unrelated manager",
    "unrelated senior",
    "admin",
}
CAN_SEE = set(PEOPLE) - CANNOT_SEE


def situation(**changes) -> Situation:
    """Stage 1 of 4, awaiting a response before its deadline; a test changes what it is about."""
    values = {
        "state": State.AWAITING_RESPONSE,
        "stage_level": 1,
        "is_final_stage": False,
        "is_overdue": False,
        "raiser_id": RAISER.id,
        "raising_agency_id": RAISING_AGENCY,
        "receiving_agency_id": RECEIVING_AGENCY,
        "named_professional_id": NAMED.id,
        "responder_ids": frozenset({RESPONDER.id}),
        "lead_ids": frozenset({LEAD.id}),
        "involved_ids": frozenset(
            {RAISER.id, LEAD.id, RESPONDER.id, FORMER_RESPONDER.id, FORMER_LEAD.id}
        ),
        "extended_days": 0,
        "max_extension_days": 5,
        "supporter_ids": frozenset({SUPPORTER.id}),
    }
    values.update(changes)
    return Situation(**values)


def final_stage(**changes) -> Situation:
    """The partnership stage: the chair responds, nobody leads, earlier people are past parties."""
    values = {
        "stage_level": 4,
        "is_final_stage": True,
        "responder_ids": frozenset({CHAIR.id}),
        "lead_ids": frozenset(),
        "involved_ids": frozenset(
            {RAISER.id, LEAD.id, RESPONDER.id, FORMER_RESPONDER.id, FORMER_LEAD.id, CHAIR.id}
        ),
        "max_extension_days": 10,
    }
    values.update(changes)
    return situation(**values)


def refusal(actor: Actor, s: Situation, action: Action) -> DomainError:
    """The error `check` raises; fails the test if it lets the actor act."""
    with pytest.raises(DomainError) as caught:
        workflow.check(actor, s, action)
    return caught.value


def check_outcome(actor: Actor, s: Situation, action: Action):
    """None when `check` allows the action, else the class of its refusal."""
    try:
        workflow.check(actor, s, action)
    except DomainError as error:
        return type(error)
    return None


# --- Who may do what, in each situation ----------------------------------------------------------

ONLY_CONVERSE = {
    name: [CONVERSE]
    for name in (
        "named professional",
        "former responder",
        "former lead",
        "raising manager",
        "raising senior",
    )
}

# product.md §4: the raiser keeps their voice. A lead proposes to accept or withdraw; the raiser
# does it, or answers the proposal. The raiser's supporter adds advice and nothing else.
AWAITING_RESPONSE = {
    **ONLY_CONVERSE,
    "raiser": [WITHDRAW, CONVERSE],
    "stage lead": [CONVERSE, PROPOSE_WITHDRAW],
    "supporter": [ADVISE],
    "responder": [RESPOND, ESCALATE, EXTEND, CONVERSE],
    "receiving manager": [REASSIGN, CONVERSE],
    "receiving senior": [REASSIGN, CONVERSE],
    "partnership chair": [REASSIGN, CONVERSE],
    "partnership member": [REASSIGN, CONVERSE],
    "system": [],
}

# Overdue: the raising side may escalate; more time can no longer be asked for.
OVERDUE = {
    **AWAITING_RESPONSE,
    "raiser": [ESCALATE, WITHDRAW, CONVERSE],
    "stage lead": [ESCALATE, CONVERSE, PROPOSE_WITHDRAW],
    "responder": [RESPOND, ESCALATE, CONVERSE],
    "system": [ESCALATE],
}

EXTENSION_USED_UP = {
    **AWAITING_RESPONSE,
    "responder": [RESPOND, ESCALATE, CONVERSE],
}

# The responder has asked for more time: the raising side answers; nobody asks again meanwhile.
MORE_TIME_ASKED = {
    **AWAITING_RESPONSE,
    "raiser": [WITHDRAW, ANSWER_MORE_TIME, CONVERSE],
    "stage lead": [ANSWER_MORE_TIME, CONVERSE, PROPOSE_WITHDRAW],
    "responder": [RESPOND, ESCALATE, CONVERSE],
}

# Urgent: the raising side may escalate at once; nobody extends the deadline.
URGENT = {
    **AWAITING_RESPONSE,
    "raiser": [ESCALATE, WITHDRAW, CONVERSE],
    "stage lead": [ESCALATE, CONVERSE, PROPOSE_WITHDRAW],
    "responder": [RESPOND, ESCALATE, CONVERSE],
}

AWAITING_RAISER = {
    **ONLY_CONVERSE,
    "raiser": [ACCEPT, ESCALATE, WITHDRAW, CONVERSE],
    "stage lead": [ESCALATE, CONVERSE, PROPOSE_ACCEPT, PROPOSE_WITHDRAW],
    "supporter": [ADVISE],
    "responder": [CONVERSE],
    "receiving manager": [CONVERSE],
    "receiving senior": [CONVERSE],
    "partnership chair": [CONVERSE],
    "partnership member": [CONVERSE],
    "system": [],
}

# At the final stage the earlier responder and lead are past parties, the partnership decides,
# and the receiving agency no longer chooses who answers: the responder is the partnership.
FINAL_STAGE = {
    **ONLY_CONVERSE,
    "raiser": [WITHDRAW, CONVERSE],
    "stage lead": [CONVERSE],
    "supporter": [ADVISE],
    "responder": [CONVERSE],
    "receiving manager": [CONVERSE],
    "receiving senior": [CONVERSE],
    "partnership chair": [DECIDE, EXTEND, REASSIGN, CONVERSE],
    "partnership member": [DECIDE, REASSIGN, CONVERSE],
    "system": [],
}

SITUATIONS = {
    "stage 1 awaiting response": (situation(), AWAITING_RESPONSE),
    "stage 2 overdue": (situation(stage_level=2, is_overdue=True), OVERDUE),
    "stage 1 extension used up": (situation(extended_days=5), EXTENSION_USED_UP),
    "stage 1 more time asked": (situation(extension_pending=True), MORE_TIME_ASKED),
    "stage 2 urgent": (situation(stage_level=2, urgent=True), URGENT),
    "stage 1 urgent overdue": (situation(urgent=True, is_overdue=True), OVERDUE),
    "stage 1 awaiting raiser": (situation(state=State.AWAITING_RAISER), AWAITING_RAISER),
    "stage 3 awaiting raiser": (
        situation(stage_level=3, state=State.AWAITING_RAISER),
        AWAITING_RAISER,
    ),
    "final stage": (final_stage(), FINAL_STAGE),
    "final stage overdue": (
        final_stage(is_overdue=True),
        {**FINAL_STAGE, "partnership chair": [DECIDE, REASSIGN, CONVERSE]},
    ),
    # A lead's proposal waits for the raiser: they answer it (or act themselves); nobody proposes
    # another meanwhile.
    "stage 2 proposal to accept waiting": (
        situation(stage_level=2, state=State.AWAITING_RAISER, open_proposal="accept"),
        {
            **AWAITING_RAISER,
            "raiser": [ACCEPT, ESCALATE, WITHDRAW, CONVERSE, ANSWER],
            "stage lead": [ESCALATE, CONVERSE],
        },
    ),
    # At stage 1 the raiser leads: there is nobody to propose anything to them.
    "stage 1 led by the raiser": (
        situation(lead_ids=frozenset({RAISER.id})),
        {**AWAITING_RESPONSE, "stage lead": [CONVERSE]},
    ),
    "resolved at stage 2": (situation(stage_level=2, state=State.RESOLVED), {}),
    "withdrawn at stage 1": (situation(state=State.WITHDRAWN), {}),
    "resolved at final stage": (final_stage(state=State.RESOLVED), {}),
    "withdrawn at final stage": (final_stage(state=State.WITHDRAWN), {}),
}


# Refusals that mean "not yet" or "no longer" to a person who may take the action at another
# moment: the raising side before a response or the deadline, a responder after responding.
NOT_NOW = {
    ("stage 1 awaiting response", "raiser", ESCALATE),
    ("stage 1 awaiting response", "stage lead", ESCALATE),
    ("stage 1 extension used up", "raiser", ESCALATE),
    ("stage 1 extension used up", "stage lead", ESCALATE),
    ("stage 1 more time asked", "raiser", ESCALATE),
    ("stage 1 more time asked", "stage lead", ESCALATE),
    ("stage 1 awaiting raiser", "responder", ESCALATE),
    ("stage 3 awaiting raiser", "responder", ESCALATE),
    ("stage 2 proposal to accept waiting", "responder", ESCALATE),
    ("stage 1 led by the raiser", "raiser", ESCALATE),
}


def expected_refusal(table: dict, name: str, action: Action, situation_name: str = ""):
    """product.md's answer: NotFound for someone who cannot see the difference, nothing when the
    person may act, WrongState ("not now") when nobody could or the timing is wrong for this
    person, NotAllowed ("not you") when someone else could act now."""
    if name in CANNOT_SEE:
        return NotFound
    if action in table.get(name, []):
        return None
    if (situation_name, name, action) in NOT_NOW:
        return WrongState
    if any(action in table.get(other, []) for other in PEOPLE):
        return NotAllowed
    return WrongState


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("situation_name", SITUATIONS)
def test_allowed_actions_lists_exactly_what_the_person_may_do_in_page_order(situation_name, person):
    s, table = SITUATIONS[situation_name]
    assert workflow.allowed_actions(PEOPLE[person], s) == table.get(person, [])


@pytest.mark.parametrize("situation_name", SITUATIONS)
def test_allowed_actions_for_the_system(situation_name):
    s, table = SITUATIONS[situation_name]
    assert workflow.allowed_actions(SYSTEM, s) == table.get("system", [])


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("situation_name", SITUATIONS)
def test_check_allows_or_refuses_with_the_right_kind_of_error(situation_name, person):
    s, table = SITUATIONS[situation_name]
    wrong = []
    for action in Action:
        expected = expected_refusal(table, person, action, situation_name)
        actual = check_outcome(PEOPLE[person], s, action)
        if actual is not expected:
            wrong.append(
                f"{action}: expected {getattr(expected, '__name__', 'allowed')}, "
                f"got {getattr(actual, '__name__', 'allowed')}"
            )
    assert wrong == []


def test_actions_are_offered_in_a_stable_page_order_with_a_label_each():
    assert list(Action) == [
        RESPOND,
        ACCEPT,
        ESCALATE,
        DECIDE,
        WITHDRAW,
        EXTEND,
        ANSWER_MORE_TIME,
        REASSIGN,
        CONVERSE,
        PROPOSE_ACCEPT,
        PROPOSE_WITHDRAW,
        ANSWER,
        ADVISE,
    ]
    labels = [action.label for action in Action]
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels)
    assert ESCALATE.label == "Escalate to the next stage"


def test_rules_never_let_an_admin_or_auditor_respond_even_when_assigned():
    for role in (Role.ADMIN, Role.AUDITOR):
        actor = workflow.Actor(id=7, role=role, agency_id=1)
        situation = workflow.Situation(
            state=workflow.State.AWAITING_RESPONSE,
            stage_level=1,
            is_final_stage=False,
            is_overdue=False,
            raiser_id=1,
            raising_agency_id=2,
            receiving_agency_id=1,
            responder_ids=frozenset({7}),
            lead_ids=frozenset({7}),
            involved_ids=frozenset({7}),
            max_extension_days=5,
        )
        for action in (
            workflow.Action.RESPOND,
            workflow.Action.EXTEND,
            workflow.Action.ESCALATE,
            workflow.Action.WITHDRAW,
        ):
            assert not workflow.may(actor, situation, action), (role, action)


# --- Refusals say why --------------------------------------------------------------------------


@pytest.mark.parametrize("person", sorted(CANNOT_SEE))
@pytest.mark.parametrize("situation_name", SITUATIONS)
def test_someone_who_cannot_see_it_is_told_only_that_it_is_not_found(situation_name, person):
    # Even a resolved difference must not reveal that it exists, or what state it is in.
    s, _ = SITUATIONS[situation_name]
    for action in Action:
        error = refusal(PEOPLE[person], s, action)
        assert type(error) is NotFound
        assert str(error) == "Difference not found."


@pytest.mark.parametrize(
    ("s", "word"),
    [
        (situation(state=State.RESOLVED), "resolved"),
        (situation(state=State.WITHDRAWN), "withdrawn"),
        (final_stage(state=State.RESOLVED), "resolved"),
    ],
)
@pytest.mark.parametrize("actor", [RAISER, LEAD, RESPONDER, RECEIVING_MANAGER, CHAIR, SYSTEM])
def test_nothing_can_be_done_to_a_final_difference(s, word, actor):
    for action in Action:
        error = refusal(actor, s, action)
        assert type(error) is WrongState
        assert str(error) == f"This difference is {word}: it can be read but not changed."


@pytest.mark.parametrize(
    ("actor", "s", "action", "error_type", "message"),
    [
        pytest.param(
            RESPONDER,
            situation(state=State.AWAITING_RAISER),
            RESPOND,
            WrongState,
            "The response at this stage has already been given.",
            id="respond-when-awaiting-raiser",
        ),
        pytest.param(
            CHAIR,
            final_stage(),
            RESPOND,
            WrongState,
            "At the final stage the partnership records a decision instead of a response.",
            id="respond-at-final-stage",
        ),
        pytest.param(
            RECEIVING_MANAGER,
            situation(),
            RESPOND,
            NotAllowed,
            "Only the person this stage is assigned to can respond.",
            id="respond-by-receiving-manager",
        ),
        pytest.param(
            FORMER_RESPONDER,
            situation(),
            RESPOND,
            NotAllowed,
            "Only the person this stage is assigned to can respond.",
            id="respond-by-former-responder",
        ),
        pytest.param(
            NAMED,
            situation(),
            RESPOND,
            NotAllowed,
            "Only the person this stage is assigned to can respond.",
            id="respond-by-named-professional-not-responding",
        ),
        pytest.param(
            PARTNERSHIP,
            situation(stage_level=3),
            DECIDE,
            WrongState,
            "A decision is recorded only at the final, partnership stage.",
            id="decide-before-final-stage",
        ),
        pytest.param(
            RECEIVING_SENIOR,
            final_stage(),
            DECIDE,
            NotAllowed,
            "Only the safeguarding partnership records the final decision.",
            id="decide-by-receiving-senior",
        ),
        pytest.param(
            AUDITOR,
            final_stage(),
            DECIDE,
            NotAllowed,
            "Only the safeguarding partnership records the final decision.",
            id="decide-by-auditor",
        ),
        pytest.param(
            RAISER,
            situation(),
            ACCEPT,
            WrongState,
            "There is no response to accept yet.",
            id="accept-before-response",
        ),
        pytest.param(
            RESPONDER,
            situation(state=State.AWAITING_RAISER),
            ACCEPT,
            NotAllowed,
            "Only the person who raised the difference can accept.",
            id="accept-by-responder",
        ),
        pytest.param(
            RAISING_MANAGER,
            situation(state=State.AWAITING_RAISER),
            ACCEPT,
            NotAllowed,
            "Only the person who raised the difference can accept.",
            id="accept-by-raising-manager-not-lead",
        ),
        pytest.param(
            RAISING_SENIOR,
            situation(state=State.AWAITING_RAISER),
            ESCALATE,
            NotAllowed,
            "Only the raising side or the responder at this stage can escalate.",
            id="escalate-by-raising-senior-not-lead",
        ),
        pytest.param(
            PARTNERSHIP,
            situation(is_overdue=True),
            ESCALATE,
            NotAllowed,
            "Only the raising side or the responder at this stage can escalate.",
            id="escalate-by-partnership",
        ),
        pytest.param(
            FORMER_RESPONDER,
            situation(),
            ESCALATE,
            NotAllowed,
            "Only the raising side or the responder at this stage can escalate.",
            id="escalate-by-former-responder",
        ),
        pytest.param(
            RESPONDER,
            situation(),
            WITHDRAW,
            NotAllowed,
            "Only the person who raised the difference can withdraw it.",
            id="withdraw-by-responder",
        ),
        pytest.param(
            FORMER_LEAD,
            final_stage(),
            WITHDRAW,
            NotAllowed,
            "Only the person who raised the difference can withdraw it.",
            id="withdraw-by-former-lead",
        ),
        pytest.param(
            RESPONDER,
            situation(state=State.AWAITING_RAISER),
            EXTEND,
            WrongState,
            "The deadline can be extended only while a response is awaited.",
            id="extend-when-awaiting-raiser",
        ),
        pytest.param(
            RAISER,
            situation(),
            EXTEND,
            NotAllowed,
            "Only the person this stage is assigned to can extend its deadline.",
            id="extend-by-raiser",
        ),
        pytest.param(
            RESPONDER,
            situation(urgent=True),
            EXTEND,
            WrongState,
            "An urgent difference's deadline cannot be extended: the child may be at immediate "
            "risk.",
            id="extend-urgent",
        ),
        pytest.param(
            RESPONDER,
            situation(is_overdue=True),
            EXTEND,
            WrongState,
            "The deadline has passed: more time can be asked for only before it.",
            id="extend-overdue",
        ),
        pytest.param(
            RESPONDER,
            situation(extension_pending=True),
            EXTEND,
            WrongState,
            "A request for more time is already waiting for the raising side's answer.",
            id="extend-twice",
        ),
        pytest.param(
            RAISER,
            situation(),
            ANSWER_MORE_TIME,
            WrongState,
            "There is no request for more time to answer.",
            id="answer-nothing-asked",
        ),
        pytest.param(
            RESPONDER,
            situation(extension_pending=True),
            ANSWER_MORE_TIME,
            NotAllowed,
            "Only the person who raised the difference, or their lead at this stage, can agree "
            "to more time.",
            id="answer-own-request",
        ),
        pytest.param(
            RESPONDER,
            situation(extended_days=5, max_extension_days=5),
            EXTEND,
            WrongState,
            "This stage's deadline has already been extended as far as the policy allows.",
            id="extend-when-used-up",
        ),
        pytest.param(
            RESPONDER,
            situation(max_extension_days=0),
            EXTEND,
            WrongState,
            "This stage's deadline has already been extended as far as the policy allows.",
            id="extend-when-policy-allows-none",
        ),
        pytest.param(
            RECEIVING_MANAGER,
            situation(state=State.AWAITING_RAISER),
            REASSIGN,
            WrongState,
            "The responder can be changed only while a response is awaited.",
            id="reassign-when-awaiting-raiser",
        ),
        pytest.param(
            RAISING_MANAGER,
            situation(),
            REASSIGN,
            NotAllowed,
            "Only a manager or senior manager of the receiving agency can reassign.",
            id="reassign-by-raising-manager",
        ),
        pytest.param(
            RESPONDER,
            situation(),
            REASSIGN,
            NotAllowed,
            "Only a manager or senior manager of the receiving agency can reassign.",
            id="reassign-by-responding-practitioner",
        ),
        pytest.param(
            AUDITOR,
            situation(),
            CONVERSE,
            NotAllowed,
            "Auditors can read differences but not change them.",
            id="conversation-by-auditor",
        ),
    ],
)
def test_refusals_have_the_right_kind_and_say_why(actor, s, action, error_type, message):
    error = refusal(actor, s, action)
    assert type(error) is error_type
    assert str(error) == message


# --- Escalation --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3])
def test_responder_may_escalate_while_a_response_is_awaited_at_every_stage_but_the_last(level):
    # "Cannot resolve at this level": before or after the deadline.
    for overdue in (False, True):
        workflow.check(RESPONDER, situation(stage_level=level, is_overdue=overdue), ESCALATE)


def test_responder_may_not_escalate_after_responding():
    error = refusal(RESPONDER, situation(state=State.AWAITING_RAISER), ESCALATE)
    assert str(error) == "You have already responded at this stage."


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("actor", [RAISER, LEAD], ids=["raiser", "lead"])
def test_raising_side_may_escalate_after_a_response(actor, level):
    workflow.check(actor, situation(stage_level=level, state=State.AWAITING_RAISER), ESCALATE)


@pytest.mark.parametrize("actor", [RAISER, LEAD], ids=["raiser", "lead"])
def test_raising_side_may_escalate_an_awaited_response_only_once_overdue(actor):
    error = refusal(actor, situation(is_overdue=False), ESCALATE)
    assert str(error) == "Wait for the response, or for the deadline to pass, before escalating."
    workflow.check(actor, situation(is_overdue=True), ESCALATE)


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("actor", [RAISER, LEAD], ids=["raiser", "lead"])
def test_an_urgent_differences_raising_side_may_escalate_without_waiting(actor, level):
    awaited = situation(stage_level=level, urgent=True, is_overdue=False)
    workflow.check(actor, awaited, ESCALATE)
    assert ESCALATE in workflow.allowed_actions(actor, awaited)
    # Still nowhere to go from the final stage, and still only the parties.
    final = final_stage(urgent=True)
    assert str(refusal(RAISER, final, ESCALATE)) == (
        "This is the final stage: there is nowhere further to escalate."
    )
    assert type(refusal(UNRELATED_PRACTITIONER, awaited, ESCALATE)) is NotFound
    assert type(refusal(RECEIVING_MANAGER, awaited, ESCALATE)) is NotAllowed


@pytest.mark.parametrize("level", [1, 2, 3])
def test_system_escalates_a_missed_deadline_without_needing_to_see_it(level):
    workflow.check(SYSTEM, situation(stage_level=level, is_overdue=True), ESCALATE)
    assert workflow.allowed_actions(SYSTEM, situation(stage_level=level, is_overdue=True)) == [
        ESCALATE
    ]


@pytest.mark.parametrize(
    ("state", "overdue"),
    [
        (State.AWAITING_RESPONSE, False),
        (State.AWAITING_RAISER, False),
        (State.AWAITING_RAISER, True),
    ],
)
def test_system_escalates_only_a_missed_response_deadline(state, overdue):
    error = refusal(SYSTEM, situation(state=state, is_overdue=overdue), ESCALATE)
    assert str(error) == "Only a missed deadline escalates a difference automatically."
    assert not workflow.may(SYSTEM, situation(state=state, is_overdue=overdue), ESCALATE)


@pytest.mark.parametrize("overdue", [False, True])
@pytest.mark.parametrize("state", [State.AWAITING_RESPONSE, State.AWAITING_RAISER])
@pytest.mark.parametrize("actor", [RAISER, LEAD, CHAIR, PARTNERSHIP, SYSTEM], ids=str)
def test_nobody_escalates_from_the_final_stage(actor, state, overdue):
    # A final stage that is awaiting the raiser cannot arise today; the rule holds regardless.
    s = final_stage(state=state, is_overdue=overdue, lead_ids=frozenset({LEAD.id}))
    error = refusal(actor, s, ESCALATE)
    assert type(error) is WrongState
    assert str(error) == "This is the final stage: there is nowhere further to escalate."


# --- Who may see a difference (product.md §1) ---------------------------------------------------


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize(
    "s",
    [situation(), situation(state=State.RESOLVED), final_stage()],
    ids=["open", "resolved", "final stage"],
)
def test_can_see_follows_product_md_section_1(s, person):
    assert workflow.can_see(PEOPLE[person], s) is (person in CAN_SEE)


def test_a_party_is_seen_as_one_whatever_their_role_or_agency():
    # A named professional, past responder or past lead sees it even from an unrelated agency
    # and even if they never acted at all (the named professional).
    outsider_named = Actor(50, Role.PRACTITIONER, OTHER_AGENCY)
    outsider_involved = Actor(51, Role.PRACTITIONER, OTHER_AGENCY)
    s = situation(
        named_professional_id=outsider_named.id,
        responder_ids=frozenset(),
        lead_ids=frozenset(),
        involved_ids=frozenset({outsider_involved.id}),
    )
    assert workflow.can_see(outsider_named, s)
    assert workflow.can_see(outsider_involved, s)
    assert not workflow.can_see(UNRELATED_PRACTITIONER, s)


@pytest.mark.parametrize("agency_id", [None, RAISING_AGENCY, RECEIVING_AGENCY, OTHER_AGENCY])
def test_partnership_and_auditors_see_everything_and_admins_nothing(agency_id):
    s = situation()
    assert workflow.can_see(Actor(60, Role.PARTNERSHIP, agency_id), s)
    assert workflow.can_see(Actor(61, Role.AUDITOR, agency_id), s)
    assert not workflow.can_see(Actor(62, Role.ADMIN, agency_id), s)


def test_the_system_is_no_party_even_when_nobody_is_named():
    assert not workflow.can_see(SYSTEM, situation(named_professional_id=None))


# --- Rationale and free text -------------------------------------------------------------------

GOOD_RATIONALE = "The threshold for a section 47 enquiry is met because of the new bruising."


def test_a_meaningful_rationale_is_returned_without_surrounding_whitespace():
    text = f"  \n{GOOD_RATIONALE}\nThe GP was told by phone.  \t"
    assert workflow.require_rationale(text) == f"{GOOD_RATIONALE}\nThe GP was told by phone."


def test_a_rationale_that_mentions_a_placeholder_phrase_in_passing_is_fine():
    text = "As discussed with the team manager on Monday, the threshold for a referral is met."
    assert workflow.require_rationale(text) == text


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_an_empty_rationale_is_refused_asking_for_it(text):
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale(text, field="reasons", what="why you disagree")
    assert caught.value.field == "reasons"
    assert str(caught.value) == "Enter why you disagree"


def test_an_empty_rationale_uses_the_default_field_and_wording():
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale("")
    assert caught.value.field == "rationale"
    assert str(caught.value) == "Enter the rationale"


@pytest.mark.parametrize(
    "text",
    [
        "n/a",
        "N/A",
        " N/A. ",
        "NA",
        "see above",
        "See above.",
        "As discussed.",
        "as per discussion",
        "tbc",
        "TBC!",
        "ok",
        "OK",
        "Okay",
        "Agreed.",
        "see notes",
        "See case notes",
        "not applicable",
        "None",
    ],
)
def test_a_placeholder_is_refused_saying_it_does_not_record_why(text):
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale(text, field="rationale", what="why you are escalating")
    assert caught.value.field == "rationale"
    assert str(caught.value) == (
        f"Explain why you are escalating in your own words: \u201c{text.strip()}\u201d does not "
        "record why, and the record must make sense to someone reading it later"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Threshold not met",
        "Parents are not engaging",
        "Decision-making was poor",
        "Strategydiscussionwasneededurgentlyyesterday",
    ],
)
def test_a_rationale_with_too_few_words_is_refused_asking_for_five(text):
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale(text, field="rationale")
    assert caught.value.field == "rationale"
    assert str(caught.value) == (
        "Explain the rationale in at least 5 words and 25 characters, so that someone reading "
        "the record later understands why"
    )


def test_a_rationale_of_enough_words_but_too_few_characters_is_told_about_characters():
    # Five short words: telling the writer to use "at least 5 words" would not say why.
    text = "I do not agree, no."
    assert len(text.split()) == 5 and len(text) < wording.MIN_RATIONALE_CHARACTERS
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale(text)
    assert caught.value.field == "rationale"
    assert "25 characters" in str(caught.value)


def test_the_shortest_acceptable_rationale_is_five_words_and_25_characters():
    text = "Child was seen at school."
    assert len(text) == 25 and len(text.split()) == 5
    assert workflow.require_rationale(f" {text} ") == text
    with pytest.raises(RationaleRequired):
        workflow.require_rationale(text[:-2] + ".")


def test_a_rationale_of_10000_characters_is_accepted_and_one_more_is_refused():
    text = "x" * 9_990 + " a b c d e"
    assert len(text) == wording.MAX_TEXT_CHARACTERS
    assert workflow.require_rationale(f"  {text}  ") == text
    with pytest.raises(RationaleRequired) as caught:
        workflow.require_rationale(text + "f", field="reasons", what="why you disagree")
    assert caught.value.field == "reasons"
    assert str(caught.value) == "Why you disagree must be 10,000 characters or fewer"


def test_require_text_returns_short_text_stripped():
    assert workflow.require_text("  A medical.\n", field="decision", what="the decision") == (
        "A medical."
    )


@pytest.mark.parametrize("text", [None, "", "  \n "])
def test_require_text_refuses_empty_text(text):
    with pytest.raises(FieldError) as caught:
        workflow.require_text(text, field="child_impact", what="what this means for the child")
    assert caught.value.field == "child_impact"
    assert str(caught.value) == "Enter what this means for the child"


def test_require_text_refuses_more_than_10000_characters():
    assert workflow.require_text("y" * 10_000, field="decision", what="the decision")
    with pytest.raises(FieldError) as caught:
        workflow.require_text("y" * 10_001, field="decision", what="the decision")
    assert caught.value.field == "decision"
    assert str(caught.value) == "Keep the decision to 10,000 characters or fewer"


# --- The child (product.md §2: nothing more identifying than the process needs) ----------------

TODAY = date(2025, 6, 16)


@pytest.mark.parametrize(
    ("reference", "initials", "date_of_birth"),
    [
        ("CSC-123456", "JS", None),
        ("  NHS 943 476 5919  ", " j.s. ", date(2015, 2, 28)),
        ("R" * 60, "A", TODAY),
        ("MASH/2025/0001", "Mary-Jo K", date(2000, 6, 16)),
        ("P1", "ABCDEFGHIJ", date(2024, 12, 31)),
    ],
)
def test_check_child_accepts_a_reference_initials_and_an_optional_date_of_birth(
    reference, initials, date_of_birth
):
    assert workflow.check_child(reference, initials, date_of_birth, TODAY) is None


@pytest.mark.parametrize(
    ("reference", "initials", "date_of_birth", "field", "message"),
    [
        (None, "JS", None, "child_reference", "Enter your agency's case reference for the child"),
        ("   ", "JS", None, "child_reference", "Enter your agency's case reference for the child"),
        (
            "R" * 61,
            "JS",
            None,
            "child_reference",
            "The case reference must be 60 characters or fewer",
        ),
        ("CSC-1", None, None, "child_initials", "Enter the child's initials"),
        ("CSC-1", "  ", None, "child_initials", "Enter the child's initials"),
        *[
            (
                "CSC-1",
                initials,
                None,
                "child_initials",
                "Enter the child's initials using letters only, like JS",
            )
            for initials in ["J5", "1S", ".JS", "J_S", "ABCDEFGHIJK", "Jane Smith Jones"]
        ],
        (
            "CSC-1",
            "JS",
            date(2025, 6, 17),
            "child_date_of_birth",
            "Date of birth must be in the past",
        ),
        (
            "CSC-1",
            "JS",
            date(1999, 12, 31),
            "child_date_of_birth",
            "Date of birth must be within the last 25 years: this process is about children",
        ),
    ],
)
def test_check_child_refuses_what_the_process_cannot_use(
    reference, initials, date_of_birth, field, message
):
    with pytest.raises(FieldError) as caught:
        workflow.check_child(reference, initials, date_of_birth, TODAY)
    assert caught.value.field == field
    assert str(caught.value) == message


@pytest.mark.parametrize("date_of_birth", [date(2000, 6, 15), date(2000, 1, 1)])
def test_check_child_refuses_a_date_of_birth_more_than_25_years_ago_to_the_day(date_of_birth):
    # 25 years before 16 June 2025 is 16 June 2000: a day earlier is not "within 25 years".
    with pytest.raises(FieldError) as caught:
        workflow.check_child("CSC-1", "JS", date_of_birth, TODAY)
    assert caught.value.field == "child_date_of_birth"


# --- Extending a deadline ----------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 2, 5])
def test_check_extension_returns_the_days_within_the_policy(days):
    assert workflow.check_extension(situation(max_extension_days=5), days) == days


@pytest.mark.parametrize("days", [0, -1, True, False, 2.0, "3", None])
def test_check_extension_refuses_anything_but_a_positive_whole_number(days):
    with pytest.raises(FieldError) as caught:
        workflow.check_extension(situation(max_extension_days=5), days)
    assert caught.value.field == "new_deadline"
    assert str(caught.value) == "Enter a new deadline on a working day after the current one"


@pytest.mark.parametrize(
    ("extended", "days", "message"),
    [
        (0, 6, "The deadline can be extended by at most 5 more working days at this stage"),
        (3, 3, "The deadline can be extended by at most 2 more working days at this stage"),
        (4, 2, "The deadline can be extended by at most 1 more working day at this stage"),
    ],
)
def test_check_extension_says_how_many_days_are_left(extended, days, message):
    s = situation(extended_days=extended, max_extension_days=5)
    with pytest.raises(FieldError) as caught:
        workflow.check_extension(s, days)
    assert caught.value.field == "new_deadline"
    assert str(caught.value) == message


def test_check_extension_allows_exactly_what_is_left():
    assert workflow.check_extension(situation(extended_days=3, max_extension_days=5), 2) == 2


# --- Who may raise -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (Actor(1, Role.PRACTITIONER, RAISING_AGENCY), True),
        (Actor(1, Role.MANAGER, RAISING_AGENCY), True),
        (Actor(1, Role.SENIOR, RAISING_AGENCY), True),
        (Actor(1, Role.PRACTITIONER, None), False),
        (Actor(1, Role.MANAGER, None), False),
        (Actor(1, Role.PARTNERSHIP, None), False),
        (Actor(1, Role.PARTNERSHIP, RAISING_AGENCY), False),
        (Actor(1, Role.AUDITOR, RAISING_AGENCY), False),
        (Actor(1, Role.ADMIN, RAISING_AGENCY), False),
        (SYSTEM, False),
    ],
    ids=str,
)
def test_may_raise_only_professionals_of_a_member_agency(actor, expected):
    assert workflow.may_raise(actor) is expected


# --- Who answers and leads at a stage (product.md §3) ------------------------------------------

EVERYONE = {
    "named": "named",
    "named_manager": "named's manager",
    "raiser": "raiser",
    "raiser_manager": "raiser's manager",
    "contacts": ("contact 1", "contact 2"),
    "partnership": ("chair", "vice chair"),
}


def without(*names: str) -> dict:
    return {key: value for key, value in EVERYONE.items() if key not in names}


CONTACTS = ["contact 1", "contact 2"]
PARTNERS = ["chair", "vice chair"]


@pytest.mark.parametrize(
    ("rule", "candidates", "people", "fell_back"),
    [
        (ResponderRule.NAMED_PROFESSIONAL, EVERYONE, ["named"], False),
        (ResponderRule.NAMED_PROFESSIONAL, without("named"), CONTACTS, True),
        (ResponderRule.NAMED_PROFESSIONAL, without("named", "contacts"), PARTNERS, True),
        (ResponderRule.NAMED_PROFESSIONALS_MANAGER, EVERYONE, ["named's manager"], False),
        (ResponderRule.NAMED_PROFESSIONALS_MANAGER, without("named_manager"), CONTACTS, True),
        (
            ResponderRule.NAMED_PROFESSIONALS_MANAGER,
            without("named_manager", "contacts"),
            PARTNERS,
            True,
        ),
        (ResponderRule.AGENCY_CONTACTS, EVERYONE, CONTACTS, False),
        (ResponderRule.AGENCY_CONTACTS, without("contacts"), PARTNERS, True),
        (ResponderRule.PARTNERSHIP, EVERYONE, PARTNERS, False),
        (LeadRule.RAISER, EVERYONE, ["raiser"], False),
        (LeadRule.RAISER, without("raiser"), CONTACTS, True),
        (LeadRule.RAISERS_MANAGER, EVERYONE, ["raiser's manager"], False),
        (LeadRule.RAISERS_MANAGER, without("raiser_manager"), CONTACTS, True),
        # The raising side can always act through the raiser: a lead never goes to the partnership.
        (LeadRule.RAISERS_MANAGER, without("raiser_manager", "contacts"), [], True),
        (LeadRule.AGENCY_CONTACTS, EVERYONE, CONTACTS, False),
        (LeadRule.AGENCY_CONTACTS, without("contacts"), [], True),
        (LeadRule.NONE, EVERYONE, [], False),
        (LeadRule.NONE, {}, [], False),
    ],
)
def test_pick_people_prefers_the_rule_then_contacts_then_the_partnership(
    rule, candidates, people, fell_back
):
    assert workflow.pick_people(rule, **candidates) == (people, fell_back)


def test_pick_people_with_nobody_at_all_leaves_the_responder_empty_and_says_so():
    assert workflow.pick_people(ResponderRule.NAMED_PROFESSIONAL) == ([], True)


# --- The default policy (product.md §3) --------------------------------------------------------


def test_default_policy_has_the_four_stages_of_product_md():
    # product.md writes stage 3 as "Senior manager / designated professional"; the GOV.UK style
    # says "or" rather than a slash, as the senior role's label does.
    assert [
        (stage.level, stage.name, stage.responder_rule, stage.lead_rule) for stage in DEFAULT_POLICY
    ] == [
        (1, "Practitioner to practitioner", ResponderRule.NAMED_PROFESSIONAL, LeadRule.RAISER),
        (
            2,
            "Manager to manager",
            ResponderRule.NAMED_PROFESSIONALS_MANAGER,
            LeadRule.RAISERS_MANAGER,
        ),
        (
            3,
            "Senior manager or designated professional",
            ResponderRule.AGENCY_CONTACTS,
            LeadRule.AGENCY_CONTACTS,
        ),
        (4, "Partnership resolution", ResponderRule.PARTNERSHIP, LeadRule.NONE),
    ]


def test_default_policy_timescales_in_working_days_and_urgent_working_hours():
    assert [stage.working_days for stage in DEFAULT_POLICY] == [5, 5, 5, 10]
    # Four working hours at stages 1 and 2, one working day at 3, two at the final stage.
    assert [stage.urgent_working_hours for stage in DEFAULT_POLICY] == [4, 4, 8, 16]


def test_default_policy_escalates_missed_deadlines_except_at_the_final_stage():
    assert [stage.auto_escalate for stage in DEFAULT_POLICY] == [True, True, True, False]


def test_default_policy_reminds_one_working_day_before_every_deadline():
    assert [stage.reminder_days_before for stage in DEFAULT_POLICY] == [1, 1, 1, 1]


def test_default_policy_lets_every_responder_extend_a_little():
    # "new deadline (bounded by policy)": a bound exists and is positive at every stage.
    assert all(stage.max_extension_days > 0 for stage in DEFAULT_POLICY)


def test_the_act_now_text_points_to_999_and_childrens_social_care():
    text = policy.DEFAULT_ACT_NOW_TEXT
    assert "999" in text
    assert "children's social care" in text
    assert "MASH" in text


def test_a_stale_difference_says_what_happened():
    assert str(workflow.StaleDifference()) == (
        "This difference changed while you were working on it."
    )


def test_a_supporter_sees_the_difference_but_takes_no_part_in_what_follows_an_outcome():
    s = situation(state=State.RESOLVED)
    assert workflow.can_see(SUPPORTER, s) and not workflow.takes_part(SUPPORTER, s)
    for actor in (RAISER, RESPONDER, FORMER_LEAD, RAISING_MANAGER, RECEIVING_SENIOR):
        assert workflow.takes_part(actor, s), actor
    for actor in (RAISING_COLLEAGUE, UNRELATED_MANAGER, PARTNERSHIP, AUDITOR):
        assert not workflow.takes_part(actor, s), actor
