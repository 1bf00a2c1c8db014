"""A hand-counted set of differences for the oversight tests, played through the services with
an injected clock. The figures the tests expect are worked out here, from the story, by hand.

The clock stands at NOW, Friday 20 November 2026 10:00 (GMT). Quarter: October to December 2026.

  ref  raised            by → with               theme                  where it stands at NOW
  A 1  Mon 2 Nov         GP → CSC                threshold              resolved at stage 1, agreed,
                                                                         accepted Thu 5 Nov (3 wd)
  B 2  Mon 9 Nov         GP → CSC                threshold              stage 2 since Tue 10 Nov,
                                                                         due Tue 17 Nov: overdue
  C 3  Mon 2 Nov         Police → CSC            medical                stage 4, partnership upheld
                                                                         it Mon 16 Nov (10 wd)
  D 4  Wed 18 Nov        GP → CSC (urgent)       medical                stage 1, due 1pm Wed 18 Nov
                                                                         (4 working hours): overdue
  E 5  Thu 19 Nov        CSC → GP                information sharing    stage 1, due Thu 26 Nov
  F 6  Mon 16 Nov        Police → CSC            threshold              stage 1, agreed Tue 17 Nov:
                                                                         waiting for the raiser
  G 7  Mon 7 Sep (BST)   GP → CSC                drift                  stage 1, due Mon 14 Sep:
                                                                         overdue (previous quarter)
  H 8  Tue 3 Nov         CSC → GP                roles                  withdrawn at stage 1,
                                                                         Fri 6 Nov (3 wd)

Northshire Academy has a practitioner but raises nothing. Two notifications failed by email.
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import (
    AgencyKind,
    Category,
    Difference,
    EmailStatus,
    Notification,
    Role,
    User,
)
from tests import factories

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."
NOTE_A = "Threshold decisions need the evidence of the referrer read back before closing."
RECOMMENDATION = "Agree a written protocol for this between the agencies and train staff in it."
NOTE_C = "Health and police should agree who requests a child protection medical, and when."


def at(day: int, hour: int = 9, month: int = 11) -> datetime:
    """A moment in autumn 2026, given in UK time."""
    offset = 1 if month < 10 or (month == 10 and day < 25) else 0  # BST until 25 October
    return datetime(2026, month, day, hour - offset, 0, tzinfo=UTC)


def _user(person) -> User:
    return db.session.get(User, person.id)


def _raise(raiser, receiving_id, category, when, named=None, urgent=False) -> Difference:
    return services.differences.raise_difference(
        _user(raiser),
        factories.new_difference(
            _agency(receiving_id),
            named_professional_id=named.id if named else None,
            category=category,
            immediate_risk=urgent,
            protective_action="She is staying with her grandmother tonight." if urgent else "",
        ),
        when,
    )


def _agency(agency_id):
    from escalate.models import Agency

    return db.session.get(Agency, agency_id)


def _do(action, person, difference, when, **fields) -> Difference:
    db.session.refresh(difference)
    return action(_user(person), difference.id, difference.version, now=when, **fields)


def build(people) -> dict[str, str]:
    """Play the story; return each letter's reference. Run inside an application context."""
    p = people
    response = {"rationale": GOOD, "child_impact": "Family support continues through early help."}
    agreed = {
        **response,
        "outcome": "agreed",
        "actions": factories.agreed_actions(p.csc.id, "A strategy discussion."),
    }
    upheld = {**response, "outcome": "upheld"}
    why = {"rationale": "The response does not deal with the bruising the school reported."}

    a = _raise(p.gp, p.csc.id, Category.THRESHOLD, at(2), named=p.sw)
    b = _raise(p.gp, p.csc.id, Category.THRESHOLD, at(9), named=p.sw)
    c = _raise(p.police_manager, p.csc.id, Category.MEDICAL, at(2, 10))
    d = _raise(p.gp, p.csc.id, Category.MEDICAL, at(18), named=p.sw, urgent=True)
    e = _raise(p.sw, p.gp_practice.id, Category.INFORMATION_SHARING, at(19), named=p.gp)
    f = _raise(p.police_manager, p.csc.id, Category.THRESHOLD, at(16))
    g = _raise(p.gp, p.csc.id, Category.DRIFT, at(7, month=9), named=p.sw)
    h = _raise(p.sw, p.gp_practice.id, Category.ROLES, at(3), named=p.gp)

    _do(services.differences.respond, p.sw, a, at(4), **agreed)
    _do(services.differences.accept, p.gp, a, at(5))

    _do(services.differences.respond, p.sw, b, at(10), **upheld)
    _do(services.differences.escalate, p.gp, b, at(10, 11), **why)

    _do(services.differences.respond, p.sw2, c, at(3), **upheld)
    _do(services.differences.escalate, p.police_manager, c, at(3, 11), **why)
    _do(services.differences.respond, p.tm, c, at(4), **upheld)
    _do(services.differences.escalate, p.police_manager, c, at(4, 11), **why)
    _do(services.differences.respond, p.hos, c, at(5), **upheld)
    _do(services.differences.escalate, p.police_manager, c, at(5, 11), **why)
    _do(
        services.differences.decide,
        p.chair,
        c,
        at(16),
        outcome="upheld",
        decision="No child protection medical is needed.",
        **response,
    )

    _do(services.differences.respond, p.sw2, f, at(17), **agreed)

    _do(services.differences.withdraw, p.sw, h, at(6), **why)

    academy = factories.agency("Northshire Academy", AgencyKind.EDUCATION)
    factories.user(Role.PRACTITIONER, agency=academy, email="dsl@academy.example")

    failed = db.session.scalars(sa.select(Notification).order_by(Notification.id).limit(2)).all()
    for notification in failed:
        notification.email_status = EmailStatus.FAILED
    db.session.commit()
    refs = dict(zip("ABCDEFGH", (x.reference for x in (a, b, c, d, e, f, g, h)), strict=True))
    assert refs["A"] == "RPD-2026-00001" and refs["H"] == "RPD-2026-00008"
    return refs


def add_notes(people, refs) -> None:
    """The partnership's learning on A and C (run inside an application context)."""
    chair = _user(people.chair)
    for letter, note, agency in (("A", NOTE_A, people.csc), ("C", NOTE_C, people.police)):
        services.learning.add_learning_note(
            chair,
            refs[letter],
            note,
            NOW,
            recommendation=RECOMMENDATION,
            owner=services.learning.Owner(agency.id, None, date(2027, 1, 29)),
        )


def tables(html: str) -> dict[str, list[list[str]]]:
    """Every table on a page, by caption, as rows of cell texts (header row included)."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.caption, self.rows, self.cell = {}, None, None, None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.caption, self.rows = "", []
            elif tag == "caption":
                self.cell = []
            elif tag == "tr" and self.rows is not None:
                self.rows.append([])
            elif tag in ("td", "th") and self.rows is not None:
                self.cell = []

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

        def handle_endtag(self, tag):
            text = " ".join("".join(self.cell or []).split())
            if tag == "caption":
                self.caption, self.cell = text, None
            elif tag in ("td", "th") and self.rows is not None:
                self.rows[-1].append(text)
                self.cell = None
            elif tag == "table" and self.rows is not None:
                self.found[self.caption] = self.rows
                self.rows = None

    parser = Tables()
    parser.feed(html)
    return parser.found
