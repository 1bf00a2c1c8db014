"""The fictional Northshire partnership loaded by `flask escalate seed-demo`.

Every name, address, organisation, child and case here is invented. All demo accounts share
DEMO_PASSWORD, which is why seed-demo refuses to run in production.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

from escalate.models import AgencyKind, Category, Role
from escalate.workflow import Action

DEMO_PASSWORD = "northshire-demo"  # noqa: S105 (published on purpose; see the README)

CSC = "Northshire Children's Social Care"
POLICE = "Northshire Police"
TRUST = "Northshire NHS Foundation Trust"
GP = "Riverside Medical Practice"
ICB = "Northshire ICB Designated Safeguarding Professionals"
SCHOOL = "Northshire Academy"
EARLY_HELP = "Northshire Early Help"
PARTNERSHIP = "Northshire Safeguarding Children Partnership"

# The partnership's telephone numbers: fictional, from Ofcom's range for drama (01632 960xxx).
NUMBERS = {
    "mash_phone": "01632 960100",
    "out_of_hours_phone": "01632 960200",
    "police_phone": "101",
}

AGENCIES = [
    (CSC, AgencyKind.CHILDRENS_SOCIAL_CARE),
    (POLICE, AgencyKind.POLICE),
    (TRUST, AgencyKind.HEALTH),
    (GP, AgencyKind.HEALTH),
    (ICB, AgencyKind.HEALTH),
    (SCHOOL, AgencyKind.EDUCATION),
    (EARLY_HELP, AgencyKind.EARLY_HELP),
    (PARTNERSHIP, AgencyKind.OTHER),
]


class Person(NamedTuple):
    email: str
    name: str
    job_title: str
    role: Role
    agency: str | None
    line_manager: str | None = None


# Managers come before the people they manage so line managers can be linked as users are made.
USERS = [
    # Children's social care
    Person(
        "priya.shah@csc.northshire.example",
        "Priya Shah",
        "Head of Service, Safeguarding",
        Role.SENIOR,
        CSC,
    ),
    Person(
        "jo.evans@csc.northshire.example",
        "Jo Evans",
        "Team Manager, Assessment",
        Role.MANAGER,
        CSC,
        "priya.shah@csc.northshire.example",
    ),
    Person(
        "sam.okafor@csc.northshire.example",
        "Sam Okafor",
        "Social Worker",
        Role.PRACTITIONER,
        CSC,
        "jo.evans@csc.northshire.example",
    ),
    Person(
        "leah.morgan@csc.northshire.example",
        "Leah Morgan",
        "MASH Social Worker",
        Role.PRACTITIONER,
        CSC,
        "jo.evans@csc.northshire.example",
    ),
    # Police
    Person(
        "mark.hughes@police.northshire.example",
        "DI Mark Hughes",
        "Detective Inspector, Public Protection",
        Role.SENIOR,
        POLICE,
    ),
    Person(
        "aisha.khan@police.northshire.example",
        "DS Aisha Khan",
        "Detective Sergeant, Child Abuse Investigation",
        Role.MANAGER,
        POLICE,
        "mark.hughes@police.northshire.example",
    ),
    Person(
        "tom.price@police.northshire.example",
        "DC Tom Price",
        "Detective Constable",
        Role.PRACTITIONER,
        POLICE,
        "aisha.khan@police.northshire.example",
    ),
    # NHS trust
    Person(
        "helen.ward@nhs.northshire.example",
        "Helen Ward",
        "Head of Safeguarding",
        Role.SENIOR,
        TRUST,
    ),
    Person(
        "grace.lee@nhs.northshire.example",
        "Grace Lee",
        "Named Nurse, Safeguarding Children",
        Role.MANAGER,
        TRUST,
        "helen.ward@nhs.northshire.example",
    ),
    Person(
        "ruth.bell@nhs.northshire.example",
        "Ruth Bell",
        "Health Visitor",
        Role.PRACTITIONER,
        TRUST,
        "grace.lee@nhs.northshire.example",
    ),
    # ICB designated professionals (they act at stage 3 for the GP practice too)
    Person(
        "anna.fisher@icb.northshire.example",
        "Dr Anna Fisher",
        "Designated Doctor, Safeguarding Children",
        Role.SENIOR,
        ICB,
    ),
    Person(
        "clare.young@icb.northshire.example",
        "Clare Young",
        "Designated Nurse, Safeguarding Children",
        Role.SENIOR,
        ICB,
    ),
    # GP practice
    Person(
        "david.chen@riverside.northshire.example",
        "Dr David Chen",
        "GP Safeguarding Lead",
        Role.MANAGER,
        GP,
    ),
    Person(
        "emma.clarke@riverside.northshire.example",
        "Dr Emma Clarke",
        "GP",
        Role.PRACTITIONER,
        GP,
        "david.chen@riverside.northshire.example",
    ),
    # School
    Person("nadia.ali@academy.northshire.example", "Nadia Ali", "Headteacher", Role.SENIOR, SCHOOL),
    Person(
        "peter.walsh@academy.northshire.example",
        "Peter Walsh",
        "Deputy Headteacher",
        Role.MANAGER,
        SCHOOL,
        "nadia.ali@academy.northshire.example",
    ),
    Person(
        "kate.murphy@academy.northshire.example",
        "Kate Murphy",
        "Designated Safeguarding Lead",
        Role.PRACTITIONER,
        SCHOOL,
        "peter.walsh@academy.northshire.example",
    ),
    # Early help
    Person(
        "olivia.grant@earlyhelp.northshire.example",
        "Olivia Grant",
        "Head of Early Help",
        Role.SENIOR,
        EARLY_HELP,
    ),
    Person(
        "ben.foster@earlyhelp.northshire.example",
        "Ben Foster",
        "Early Help Team Manager",
        Role.MANAGER,
        EARLY_HELP,
        "olivia.grant@earlyhelp.northshire.example",
    ),
    Person(
        "mia.jones@earlyhelp.northshire.example",
        "Mia Jones",
        "Family Support Worker",
        Role.PRACTITIONER,
        EARLY_HELP,
        "ben.foster@earlyhelp.northshire.example",
    ),
    # The partnership
    Person(
        "ruth.adeyemi@partnership.northshire.example",
        "Ruth Adeyemi",
        "Independent Chair",
        Role.PARTNERSHIP,
        PARTNERSHIP,
    ),
    Person(
        "james.cole@partnership.northshire.example",
        "James Cole",
        "Partnership Business Manager",
        Role.PARTNERSHIP,
        PARTNERSHIP,
    ),
    Person(
        "admin@partnership.northshire.example",
        "Sanjay Patel",
        "Systems Administrator",
        Role.ADMIN,
        PARTNERSHIP,
    ),
    # Independent scrutiny
    Person(
        "inspector@scrutiny.example", "Frances Doyle", "Independent Scrutineer", Role.AUDITOR, None
    ),
]

# (agency, stage level, contact): who receives an agency's differences when nobody is named.
STAGE_CONTACTS = [
    (CSC, 1, "leah.morgan@csc.northshire.example"),
    (CSC, 2, "jo.evans@csc.northshire.example"),
    (CSC, 3, "priya.shah@csc.northshire.example"),
    (POLICE, 1, "tom.price@police.northshire.example"),
    (POLICE, 2, "aisha.khan@police.northshire.example"),
    (POLICE, 3, "mark.hughes@police.northshire.example"),
    (TRUST, 1, "ruth.bell@nhs.northshire.example"),
    (TRUST, 2, "grace.lee@nhs.northshire.example"),
    (TRUST, 3, "helen.ward@nhs.northshire.example"),
    (GP, 1, "emma.clarke@riverside.northshire.example"),
    (GP, 2, "david.chen@riverside.northshire.example"),
    (GP, 3, "anna.fisher@icb.northshire.example"),
    (ICB, 2, "clare.young@icb.northshire.example"),
    (ICB, 3, "anna.fisher@icb.northshire.example"),
    (SCHOOL, 1, "kate.murphy@academy.northshire.example"),
    (SCHOOL, 2, "peter.walsh@academy.northshire.example"),
    (SCHOOL, 3, "nadia.ali@academy.northshire.example"),
    (EARLY_HELP, 1, "mia.jones@earlyhelp.northshire.example"),
    (EARLY_HELP, 2, "ben.foster@earlyhelp.northshire.example"),
    (EARLY_HELP, 3, "olivia.grant@earlyhelp.northshire.example"),
]


# (agency, person): each agency's designated safeguarding lead, who supports its raisers who have
# no line manager (a practice's named GP for safeguarding, a school's DSL).
SAFEGUARDING_LEADS = [
    (GP, "david.chen@riverside.northshire.example"),
    (SCHOOL, "kate.murphy@academy.northshire.example"),
    (TRUST, "helen.ward@nhs.northshire.example"),
]


# --- Demo differences --------------------------------------------------------------------------
#
# Each scenario is raised and then acted on through the ordinary services, so its history, stages,
# deadlines and notifications are exactly what the application would have recorded. Times are
# counted back from the moment seed-demo runs, in working days on the partnership's calendar:
# "raised 8 working days ago" is overdue at stage 1 whenever the demo is loaded. Children are
# identified only by an invented case reference and initials.

SAM = "sam.okafor@csc.northshire.example"
LEAH = "leah.morgan@csc.northshire.example"
JO = "jo.evans@csc.northshire.example"
PRIYA = "priya.shah@csc.northshire.example"
TOM = "tom.price@police.northshire.example"
AISHA = "aisha.khan@police.northshire.example"
MARK = "mark.hughes@police.northshire.example"
RUTH_BELL = "ruth.bell@nhs.northshire.example"
GRACE = "grace.lee@nhs.northshire.example"
HELEN = "helen.ward@nhs.northshire.example"
ANNA = "anna.fisher@icb.northshire.example"
DAVID = "david.chen@riverside.northshire.example"
EMMA = "emma.clarke@riverside.northshire.example"
KATE = "kate.murphy@academy.northshire.example"
PETER = "peter.walsh@academy.northshire.example"
BEN = "ben.foster@earlyhelp.northshire.example"
MIA = "mia.jones@earlyhelp.northshire.example"
CHAIR = "ruth.adeyemi@partnership.northshire.example"


@dataclass(frozen=True)
class Step:
    """One action after a difference is raised.

    ``days_ago`` counts working days before the seed's moment (0: earlier the same day); ``by``
    is the email of the person acting; ``fields`` are the action's keyword arguments, except
    that a reassignment names the new responder by email (``new_responder``) and a conversation
    is held on the day it is recorded.
    """

    days_ago: int
    by: str
    action: Action
    fields: dict = field(default_factory=dict)


def step(days_ago: int, by: str, action: Action, **fields) -> Step:
    return Step(days_ago, by, action, fields)


@dataclass(frozen=True)
class Scenario:
    """A difference as its raiser records it, and what happens to it afterwards."""

    raiser: str  # email
    receiving: str  # agency name
    named: str | None  # email of the named professional, if the raiser knows who
    child_reference: str  # the raiser's case reference: with the raiser, it identifies the demo
    child_initials: str
    child_age_months: int | None  # age when raised; None: date of birth not given
    category: Category
    decision: str
    reasons: str
    desired_outcome: str
    raised_days_ago: int
    informal_discussion: str = ""  # empty: not discussed informally
    protective_action: str = ""  # not empty: the child is at immediate risk (urgent)
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Learning:
    """The partnership's learning on a closed demo difference (by its raiser's case reference):
    a recommendation, its owner, due so many days after the seed, and the status it reached."""

    child_reference: str
    text: str
    recommendation: str
    owner_agency: str
    owner: str | None  # email
    due_in_days: int
    status: str  # "open", "in_progress" or "done"


LEARNING = [
    Learning(
        "CSC-20431",
        "Attendance figures agreed at a plan meeting need a named sender and a deputy, or they "
        "stop when one person leaves.",
        "Schools name a sender and a deputy for every figure a child's plan relies on.",
        SCHOOL,
        PETER,
        40,
        "in_progress",
    ),
    Learning(
        "CSC-20622",
        "The police and social care disagreed on who calls a strategy discussion out of hours.",
        "Write the out-of-hours strategy discussion rota into the partnership's procedures.",
        PARTNERSHIP,
        CHAIR,
        60,
        "open",
    ),
    Learning(
        "CSC-20705",
        "Health visitors were not told when a child moved between trusts' areas.",
        "Add a transfer-in check to the trust's health visiting handover.",
        TRUST,
        None,
        20,
        "done",
    ),
]
