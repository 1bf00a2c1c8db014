"""The fictional Northshire partnership loaded by `flask escalate seed-demo`.

Every name, address and organisation here is invented. All demo accounts share DEMO_PASSWORD,
which is why seed-demo refuses to run in production.
"""

from typing import NamedTuple

from escalate.models import AgencyKind, Role

DEMO_PASSWORD = "northshire-demo"  # noqa: S105 (published on purpose; see the README)

CSC = "Northshire Children's Social Care"
POLICE = "Northshire Police"
TRUST = "Northshire NHS Foundation Trust"
GP = "Riverside Medical Practice"
ICB = "Northshire ICB Designated Safeguarding Professionals"
SCHOOL = "Northshire Academy"
EARLY_HELP = "Northshire Early Help"
PARTNERSHIP = "Northshire Safeguarding Children Partnership"

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
    Person("priya.shah@csc.northshire.example", "Priya Shah", "Head of Service, Safeguarding",
           Role.SENIOR, CSC),
    Person("jo.evans@csc.northshire.example", "Jo Evans", "Team Manager, Assessment",
           Role.MANAGER, CSC, "priya.shah@csc.northshire.example"),
    Person("sam.okafor@csc.northshire.example", "Sam Okafor", "Social Worker",
           Role.PRACTITIONER, CSC, "jo.evans@csc.northshire.example"),
    Person("leah.morgan@csc.northshire.example", "Leah Morgan", "MASH Social Worker",
           Role.PRACTITIONER, CSC, "jo.evans@csc.northshire.example"),
    # Police
    Person("mark.hughes@police.northshire.example", "DI Mark Hughes",
           "Detective Inspector, Public Protection", Role.SENIOR, POLICE),
    Person("aisha.khan@police.northshire.example", "DS Aisha Khan",
           "Detective Sergeant, Child Abuse Investigation", Role.MANAGER, POLICE,
           "mark.hughes@police.northshire.example"),
    Person("tom.price@police.northshire.example", "DC Tom Price", "Detective Constable",
           Role.PRACTITIONER, POLICE, "aisha.khan@police.northshire.example"),
    # NHS trust
    Person("helen.ward@nhs.northshire.example", "Helen Ward", "Head of Safeguarding",
           Role.SENIOR, TRUST),
    Person("grace.lee@nhs.northshire.example", "Grace Lee", "Named Nurse, Safeguarding Children",
           Role.MANAGER, TRUST, "helen.ward@nhs.northshire.example"),
    Person("ruth.bell@nhs.northshire.example", "Ruth Bell", "Health Visitor",
           Role.PRACTITIONER, TRUST, "grace.lee@nhs.northshire.example"),
    # ICB designated professionals (they act at stage 3 for the GP practice too)
    Person("anna.fisher@icb.northshire.example", "Dr Anna Fisher",
           "Designated Doctor, Safeguarding Children", Role.SENIOR, ICB),
    Person("clare.young@icb.northshire.example", "Clare Young",
           "Designated Nurse, Safeguarding Children", Role.SENIOR, ICB),
    # GP practice
    Person("david.chen@riverside.northshire.example", "Dr David Chen",
           "GP Safeguarding Lead", Role.MANAGER, GP),
    Person("emma.clarke@riverside.northshire.example", "Dr Emma Clarke", "GP",
           Role.PRACTITIONER, GP, "david.chen@riverside.northshire.example"),
    # School
    Person("nadia.ali@academy.northshire.example", "Nadia Ali", "Headteacher",
           Role.SENIOR, SCHOOL),
    Person("peter.walsh@academy.northshire.example", "Peter Walsh", "Deputy Headteacher",
           Role.MANAGER, SCHOOL, "nadia.ali@academy.northshire.example"),
    Person("kate.murphy@academy.northshire.example", "Kate Murphy",
           "Designated Safeguarding Lead", Role.PRACTITIONER, SCHOOL,
           "peter.walsh@academy.northshire.example"),
    # Early help
    Person("olivia.grant@earlyhelp.northshire.example", "Olivia Grant", "Head of Early Help",
           Role.SENIOR, EARLY_HELP),
    Person("ben.foster@earlyhelp.northshire.example", "Ben Foster", "Early Help Team Manager",
           Role.MANAGER, EARLY_HELP, "olivia.grant@earlyhelp.northshire.example"),
    Person("mia.jones@earlyhelp.northshire.example", "Mia Jones", "Family Support Worker",
           Role.PRACTITIONER, EARLY_HELP, "ben.foster@earlyhelp.northshire.example"),
    # The partnership
    Person("ruth.adeyemi@partnership.northshire.example", "Ruth Adeyemi", "Independent Chair",
           Role.PARTNERSHIP, PARTNERSHIP),
    Person("james.cole@partnership.northshire.example", "James Cole",
           "Partnership Business Manager", Role.PARTNERSHIP, PARTNERSHIP),
    Person("admin@partnership.northshire.example", "Sanjay Patel", "Systems Administrator",
           Role.ADMIN, PARTNERSHIP),
    # Independent scrutiny
    Person("inspector@scrutiny.example", "Frances Doyle", "Independent Scrutineer",
           Role.AUDITOR, None),
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
