"""Guards that every page stays the same size of work as the partnership grows: the SQL
statements a page runs are the same with 10 differences as with 500, at most 25, and no page's
HTML passes 300 KB. Counts, not timings: `make bench` measures the times."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Base, Difference, Event, User
from escalate.services import synthetic
from tests.conftest import sign_in

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
MAX_STATEMENTS = 25
MAX_HTML = 300 * 1024


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def _reseed(app, differences: int) -> dict:
    """An empty database, then the synthetic partnership; the references the pages open."""
    with app.app_context():
        for table in reversed(Base.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        services.setup.install_defaults()
        services.synthetic.seed_bench(differences, NOW, people=150)
        practitioner = db.session.scalar(
            sa.select(User.id).where(User.email == synthetic.LOGINS["practitioner"])
        )
        # The practitioner's difference with the longest history: open, at stage 2.
        reference = db.session.scalar(
            sa.select(Difference.reference)
            .join(Event, Event.difference_id == Difference.id)
            .where(Difference.raiser_id == practitioner, Difference.stage_level == 2)
            .group_by(Difference.id, Difference.reference)
            .order_by(sa.func.count(Event.id).desc(), Difference.id)
            .limit(1)
        )
        db.session.remove()
    return {"reference": reference}


class _Login:
    def __init__(self, email):
        self.email = email


PAGES = [
    # (who, path); {reference} is filled in
    (None, "/sign-in"),
    ("practitioner", "/"),
    ("practitioner", "/waiting"),
    ("practitioner", "/differences/yours"),
    ("practitioner", "/differences/{reference}"),
    ("practitioner", "/inbox"),
    ("manager", "/"),
    ("manager", "/waiting"),
    ("manager", "/differences/yours"),
    ("manager", "/differences/{reference}"),
    ("manager", "/inbox"),
    ("partnership", "/waiting"),
    ("partnership", "/differences/yours"),
    ("partnership", "/differences/{reference}"),
    ("partnership", "/inbox"),
    ("partnership", "/oversight/"),
    ("auditor", "/"),
    ("auditor", "/oversight/"),
    ("auditor", "/oversight/dashboard/themes"),
    ("auditor", "/oversight/dashboard/agencies"),
    ("auditor", "/differences/{reference}"),
    ("auditor", "/inbox"),
    ("auditor", "/oversight/unresolved"),
    ("auditor", "/oversight/unresolved?only=overdue&sort=oldest"),
    ("auditor", "/oversight/unresolved.csv"),
    ("auditor", "/oversight/report"),
    ("partnership", "/oversight/report"),
    ("auditor", "/oversight/learning"),
    ("auditor", "/oversight/learning?only=overdue&status=open"),
    ("auditor", "/oversight/learning.csv"),
    ("auditor", "/access-log"),
    ("auditor", "/access-log?person=practitioner&start=1&start=1&start=2020"),
    ("auditor", "/access-log.csv"),
    ("admin", "/admin/users"),
    ("admin", "/admin/agencies"),
    ("admin", "/changes"),
]


def _measure(app, differences: int) -> dict:
    found = _reseed(app, differences)
    logins = {**synthetic.LOGINS, "admin": f"admin@{synthetic.DOMAIN}"}
    clients = {None: app.test_client()}
    for who, email in logins.items():
        clients[who] = app.test_client()
        sign_in(clients[who], _Login(email), synthetic.PASSWORD)
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*_):
        statements.append(1)

    measured = {}
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for who, path in PAGES:
            url = path.format(**found)
            statements.clear()
            response = clients[who].get(url)
            body = response.get_data()
            assert response.status_code in (200, 302), (who, url, response.status_code)
            measured[(who, path)] = (len(statements), len(body))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return measured


def test_every_page_runs_the_same_statements_at_10_and_500_differences(app):
    small = _measure(app, 10)
    large = _measure(app, 500)
    table = "\n".join(
        f"{who or 'visitor':>12} {path:<50} {small[key][0]:>4} {large[key][0]:>4}"
        f" {large[key][1] // 1024:>5} KB"
        for key in small
        for who, path in [key]
    )
    grew = [key for key in small if small[key][0] != large[key][0]]
    assert not grew, f"statements grew with the data (10 → 500):\n{table}"
    many = [key for key in large if large[key][0] > MAX_STATEMENTS]
    assert not many, f"pages over {MAX_STATEMENTS} statements:\n{table}"
    heavy = [key for key in large if large[key][1] > MAX_HTML]
    assert not heavy, f"pages over {MAX_HTML // 1024} KB with 500 differences:\n{table}"
