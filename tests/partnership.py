"""A small partnership for page tests: a GP practice and children's social care, with managers,
stage contacts, the partnership, an auditor and an administrator."""

from types import SimpleNamespace

from escalate.extensions import db
from escalate.models import AgencyKind, Role
from tests import factories


def build() -> SimpleNamespace:
    """Create the people (inside an app context); the caller commits."""
    gp_practice = factories.agency("Riverside Medical Practice", AgencyKind.HEALTH)
    csc = factories.agency("Children's Social Care", AgencyKind.CHILDRENS_SOCIAL_CARE)
    police = factories.agency("Northshire Police", AgencyKind.POLICE)
    partnership = factories.agency("The Partnership", AgencyKind.OTHER)
    u = SimpleNamespace(gp_practice=gp_practice, csc=csc, police=police)
    u.gp_lead = factories.user(
        Role.MANAGER, agency=gp_practice, name="Dr David Chen", email="lead@gp.example"
    )
    u.gp = factories.user(
        Role.PRACTITIONER,
        agency=gp_practice,
        name="Dr Emma Clarke",
        email="gp@gp.example",
        line_manager=u.gp_lead,
        job_title="GP",
    )
    u.gp_colleague = factories.user(
        Role.PRACTITIONER, agency=gp_practice, name="Dr Colleague", email="colleague@gp.example"
    )
    u.designated = factories.user(
        Role.SENIOR, agency=gp_practice, name="Dr Anna Fisher", email="designated@gp.example"
    )
    u.hos = factories.user(Role.SENIOR, agency=csc, name="Priya Shah", email="hos@csc.example")
    u.tm = factories.user(
        Role.MANAGER, agency=csc, name="Jo Evans", email="tm@csc.example", line_manager=u.hos
    )
    u.sw = factories.user(
        Role.PRACTITIONER,
        agency=csc,
        name="Sam Okafor",
        email="sw@csc.example",
        line_manager=u.tm,
        job_title="Social Worker",
    )
    u.sw2 = factories.user(
        Role.PRACTITIONER,
        agency=csc,
        name="Leah Morgan",
        email="sw2@csc.example",
        line_manager=u.tm,
    )
    u.police_manager = factories.user(
        Role.MANAGER, agency=police, name="DS Khan", email="ds@police.example"
    )
    u.chair = factories.user(
        Role.PARTNERSHIP, agency=partnership, name="Ruth Adeyemi", email="chair@partnership.example"
    )
    u.auditor = factories.user(Role.AUDITOR, name="Frances Doyle", email="auditor@example.org")
    u.admin = factories.user(
        Role.ADMIN, agency=partnership, name="Sanjay Patel", email="admin@partnership.example"
    )
    factories.stage_contact(csc, 1, u.sw2)
    factories.stage_contact(csc, 2, u.tm)
    factories.stage_contact(csc, 3, u.hos)
    factories.stage_contact(gp_practice, 2, u.gp_lead)
    factories.stage_contact(gp_practice, 3, u.designated)
    db.session.flush()
    return u


def ids(people: SimpleNamespace) -> SimpleNamespace:
    """Plain values (id, email, name) that outlive the session that made the users."""
    out = SimpleNamespace()
    for key, value in vars(people).items():
        out.__dict__[key] = SimpleNamespace(
            id=value.id, email=getattr(value, "email", None), name=value.name
        )
    return out
