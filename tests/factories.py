"""Test data builders. They add to the session and flush; the test decides when to commit."""

import itertools
from datetime import date
from functools import cache

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from escalate import policy
from escalate import two_factor as codes
from escalate.agreed_actions import NewAction
from escalate.extensions import db
from escalate.models import AGENCY_ROLES, Agency, AgencyKind, AgencyStageContact, Role, User

PASSWORD = "correct horse battery staple"
# The authenticator app of every test account that must use two-factor sign-in (see
# `next_code`): administrators, partnership members and auditors have it set up already.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_sequence = itertools.count(1)


@cache
def _hash(password: str) -> str:
    # Real accounts use the slow default (scrypt). Test accounts use a cheap method so that the
    # hundreds of sign-ins in the suite stay fast; checking works the same for either.
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def agency(name: str | None = None, kind: AgencyKind = AgencyKind.CHILDRENS_SOCIAL_CARE) -> Agency:
    made = Agency(name=name or f"Agency {next(_sequence)}", kind=kind)
    db.session.add(made)
    db.session.flush()
    return made


def user(
    role: Role | str = Role.PRACTITIONER,
    *,
    agency: Agency | None = None,
    email: str | None = None,
    name: str | None = None,
    line_manager: User | None = None,
    password: str = PASSWORD,
    active: bool = True,
    job_title: str = "",
    two_factor: bool | None = None,
) -> User:
    role = Role(role)
    number = next(_sequence)
    if agency is None and role in AGENCY_ROLES:
        agency = globals()["agency"]()
    made = User(
        email=(email or f"{role.value}{number}@example.org").lower(),
        name=name or f"{role.value.title()} {number}",
        job_title=job_title,
        role=role,
        agency=agency,
        line_manager=line_manager,
        active=active,
        password_hash=_hash(password),
    )
    if two_factor is None:
        two_factor = role in policy.TWO_FACTOR_ROLES
    if two_factor:
        made.totp_secret = TOTP_SECRET
    db.session.add(made)
    db.session.flush()
    return made


def next_code(app, email: str) -> str:
    """The code the test account's authenticator app shows now (by the application's clock).

    A code is accepted once: when the account's last accepted code is this one (or a later
    one), the account is moved back as if the code had been used half a minute earlier, the
    way the real app would simply show the next code by then. Only the tests' helpers do this.
    """
    now = app.config["CLOCK"]()
    step = codes.step_at(now)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email.lower()))
        assert user is not None and user.totp_secret, f"{email} has no two-factor sign-in"
        if user.totp_last_step is not None and user.totp_last_step >= step:
            user.totp_last_step = step - 1
            db.session.commit()
        code = codes.code_at(user.totp_secret, step)
        db.session.remove()
    return code


def stage_contact(agency: Agency, level: int, contact: User) -> AgencyStageContact:
    made = AgencyStageContact(agency=agency, stage_level=level, user=contact)
    db.session.add(made)
    db.session.flush()
    return made


def new_difference(receiving: Agency, **overrides):
    """What a raiser records (product.md §2), filled in plausibly; any field can be overridden.

    The child's initials (QZ), date of birth (14 May 2019) and case reference (CSC-884512) are
    distinctive so that tests can check they never leak into a notification.
    """
    from datetime import date

    from escalate.models import Category
    from escalate.services.differences import NewDifference

    fields = {
        "receiving_agency_id": receiving.id,
        "child_reference": "CSC-884512",
        "child_initials": "QZ",
        "child_date_of_birth": date(2019, 5, 14),
        "category": Category.THRESHOLD,
        "decision": "The referral was closed with no further action after the initial contact.",
        "reasons": "The child told her teacher that she is hit at home and has unexplained "
        "bruising on both arms; the threshold for a section 47 enquiry is met.",
        "desired_outcome": "A strategy discussion and a section 47 enquiry.",
        "discussed_informally": True,
        "informal_discussion": "I telephoned the duty social worker on 27 February; they said "
        "the threshold was not met.",
        "immediate_risk": False,
        "protective_action": "",
    }
    fields.update(overrides)
    return NewDifference(**fields)


# A due date later than any test's clock: a response's actions must be due today or later.
ACTION_DUE_ON = date(2030, 1, 7)


def agreed_actions(agency_id: int, what: str = "A strategy discussion will be held.", due_on=None):
    """The actions a test's "agreed" response lists: one, for ``agency_id``."""
    return [NewAction(what, agency_id, due_on or ACTION_DUE_ON)]


def action_row(number: int, what: str, agency_id: int | None, due_on=None) -> dict:
    """One row of the response form's agreed actions, as a browser sends it."""
    due_on = due_on or ACTION_DUE_ON
    row = {
        f"action_{number}_what": what,
        f"action_{number}_due": [str(due_on.day), str(due_on.month), str(due_on.year)],
    }
    if agency_id is not None:
        row[f"action_{number}_agency"] = str(agency_id)
    return row


def stages_out_of_step() -> list[str]:
    """The differences whose open stages are not what their state says: one open stage, the
    current one, while the difference is open; none once it is closed. (The unresolved list
    counts open differences without reading their stages, on the strength of it.)"""
    from escalate.models import Difference, Stage
    from escalate.queries.conditions import OPEN_STATES, open_stage_on

    open_stages = (
        sa.select(sa.func.count())
        .where(Stage.difference_id == Difference.id, Stage.closed_at.is_(None))
        .scalar_subquery()
    )
    current_open = sa.select(Stage.id).where(open_stage_on()).exists()
    rows = db.session.execute(
        sa.select(Difference.reference, Difference.state, open_stages, current_open)
    ).all()
    return [
        f"{reference} ({state}: {count} open, current {'open' if current else 'not open'})"
        for reference, state, count, current in rows
        if (count, bool(current)) != ((1, True) if state in OPEN_STATES else (0, False))
    ]
