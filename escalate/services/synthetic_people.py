"""The synthetic partnership's agencies and people (``synthetic.seed_bench``): about 30
agencies of every kind, each with its practitioners, managers and head of safeguarding and its
contacts for each stage; the partnership, an administrator and auditors; and the accounts
`make bench` signs in as, the busiest of each kind."""

import random
from dataclasses import dataclass

from werkzeug.security import generate_password_hash

from escalate import policy
from escalate.extensions import db
from escalate.models import Agency, AgencyKind, AgencyStageContact, Role, User

PASSWORD = "bench-partnership-password"  # noqa: S105 (published: development data only)
# The authenticator app of the benchmark's administrators, partnership members and auditors
# (published too: `make bench` signs in with codes made from it).
TOTP_SECRET = "BENCHBENCHBENCHBENCHBENCHBENCH23"  # noqa: S105 (published: development data)
DOMAIN = "bench.example"
# Who `make bench` signs in as: the busiest of each kind, so each list is at its longest.
LOGINS = {
    "practitioner": f"practitioner@{DOMAIN}",
    "manager": f"manager@{DOMAIN}",
    "partnership": f"partnership@{DOMAIN}",
    "auditor": f"auditor@{DOMAIN}",
}
FIRST = (
    "Alex",
    "Sam",
    "Jo",
    "Priya",
    "Tom",
    "Aisha",
    "Ruth",
    "Grace",
    "Ben",
    "Mia",
    "Kate",
    "Omar",
    "Leah",
    "Nadia",
    "Peter",
    "Clare",
    "David",
    "Emma",
    "Helen",
    "Mark",
)
LAST = (
    "Khan",
    "Evans",
    "Shah",
    "Price",
    "Bell",
    "Lee",
    "Ward",
    "Fisher",
    "Young",
    "Murphy",
    "Walsh",
    "Ali",
    "Jones",
    "Foster",
    "Grant",
    "Chen",
    "Clarke",
    "Okafor",
    "Morgan",
    "Hughes",
)
KINDS = (
    [AgencyKind.CHILDRENS_SOCIAL_CARE] * 3
    + [AgencyKind.POLICE] * 2
    + [AgencyKind.HEALTH] * 8
    + [AgencyKind.EDUCATION] * 9
    + [AgencyKind.EARLY_HELP] * 3
    + [AgencyKind.PROBATION, AgencyKind.HOUSING, AgencyKind.VOLUNTARY_SECTOR, AgencyKind.OTHER]
)


@dataclass
class People:
    agencies: list  # (id, name)
    practitioners: dict  # agency id -> [user ids], the busiest first
    managers: dict  # user id -> line manager id
    contacts: dict  # (agency id, level) -> [user ids]
    partnership: list
    names: dict  # user id -> name


def add_people(rng: random.Random, people: int) -> People:
    password_hash = generate_password_hash(PASSWORD)
    agencies = [
        Agency(name=f"{kind.label} {number + 1}", kind=kind) for number, kind in enumerate(KINDS)
    ]
    business_unit = Agency(name="The Partnership", kind=AgencyKind.OTHER)
    db.session.add_all([*agencies, business_unit])
    db.session.flush()
    per_agency = max(6, (people - 8) // len(agencies))
    serial = iter(range(1, 10**7))
    users: list[User] = []

    def person(role, agency, email=None, manager=None, title=""):
        number = next(serial)
        name = f"{FIRST[number % len(FIRST)]} {LAST[(number // len(FIRST)) % len(LAST)]}"
        user = User(
            email=email or f"{role.value}{number}@{DOMAIN}",
            name=f"{name} {number}",
            job_title=title,
            role=role,
            agency=agency,
            line_manager=manager,
            password_hash=password_hash,
            totp_secret=TOTP_SECRET if role in policy.TWO_FACTOR_ROLES else None,
        )
        users.append(user)
        return user

    found = People([], {}, {}, {}, [], {})
    contacts = []
    for index, agency in enumerate(agencies):
        first = index == 0
        senior = person(Role.SENIOR, agency, title="Head of safeguarding")
        managers = [
            person(
                Role.MANAGER,
                agency,
                email=LOGINS["manager"] if first and m == 0 else None,
                manager=senior,
                title="Team manager",
            )
            for m in range(max(1, per_agency // 8))
        ]
        practitioners = [
            person(
                Role.PRACTITIONER,
                agency,
                email=LOGINS["practitioner"] if first and p == 0 else None,
                manager=managers[p % len(managers)],
                title="Practitioner",
            )
            for p in range(per_agency - 1 - len(managers))
        ]
        contacts.append((agency, 1, practitioners[-1]))
        contacts.append((agency, 2, managers[-1]))
        contacts.append((agency, 3, senior))
    partnership = [
        person(Role.PARTNERSHIP, business_unit, email=LOGINS["partnership"], title="Chair"),
        person(Role.PARTNERSHIP, business_unit, title="Business manager"),
    ]
    person(Role.ADMIN, business_unit, email=f"admin@{DOMAIN}", title="Administrator")
    person(Role.AUDITOR, None, email=LOGINS["auditor"], title="Inspector")
    person(Role.AUDITOR, None, title="Inspector")
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(
        AgencyStageContact(agency_id=a.id, stage_level=level, user_id=u.id)
        for a, level, u in contacts
    )
    db.session.flush()
    for user in users:
        found.names[user.id] = user.name
        if user.role == Role.PRACTITIONER:
            found.practitioners.setdefault(user.agency_id, []).append(user.id)
        if user.line_manager is not None:
            found.managers[user.id] = user.line_manager.id
    found.agencies = [(a.id, a.name) for a in agencies]
    found.contacts = {(a.id, level): [u.id] for a, level, u in contacts}
    found.partnership = [u.id for u in partnership]
    return found
