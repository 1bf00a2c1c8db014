"""Guards that every page stays the same size of work as the partnership grows: the SQL
statements a page runs are the same with 10 differences as with 500, at most 25, and no page's
HTML passes 300 KB. Counts, not timings: `make bench` measures the times."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import Base, Difference, Event, Notification, Role, User
from escalate.services import synthetic
from tests.conftest import sign_in, statements_run

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
    measured = {}
    with statements_run(engine) as statements:
        for who, path in PAGES:
            url = path.format(**found)
            statements.clear()
            response = clients[who].get(url)
            body = response.get_data()
            assert response.status_code in (200, 302), (who, url, response.status_code)
            measured[(who, path)] = (len(statements), len(body))
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


INBOX_PARTS = {"ix_notification_inbox_unread", "ix_notification_inbox_read"}


def _notification_ranges(connection, statement, parameters) -> list[tuple[str, str]]:
    """How the database finds ``notification`` rows for this statement, beside reading a row by
    its primary key: each index it searches (or a scan of the table) and the search's condition.
    On PostgreSQL with sequential and bitmap scans off: at a test's size, reading the whole table
    (or a bitmap of it) is the cheapest plan, and what is asked is which index the plan walks
    when it walks one in order, as it does at scale. A filter on ``read_at`` after the index
    fails at once: rows read past."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = plan.scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        found, nodes = [], [plan[0]["Plan"]]
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get("Plans", []))
            if node.get("Relation Name") == "notification":
                assert "read_at" not in node.get("Filter", ""), node
                name = node.get("Index Name") or node["Node Type"]
                found.append((name, node.get("Index Cond", "")))
        return [(name, condition) for name, condition in found if name != "pk_notification"]
    plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    found = [detail for *_, detail in plan if re.match(r"(SEARCH|SCAN) notification\b", detail)]
    return [
        (re.sub(r".* USING (COVERING )?INDEX (\w+).*", r"\2", detail), detail)
        for detail in found
        if "INTEGER PRIMARY KEY" not in detail
    ]


def test_a_page_of_the_inbox_reads_its_unread_and_its_read_messages_each_from_its_own_index(
    app, client, signed_in_as
):
    """A person who reads their messages as they come, but left one old one unread: the first
    page shows that one, then the newest read ones. Each part is a range of an index of its own
    kind, so a page does not walk past the messages of the other kind between them (on
    PostgreSQL it did: 23 ms for a person with 24,000 messages, on every view)."""
    gp = signed_in_as(Role.PRACTITIONER)
    start = NOW - timedelta(days=60)
    with app.app_context():
        db.session.add_all(
            Notification(
                recipient_id=gp.id,
                subject=f"Message {n}",
                body="A message.",
                created_at=start + timedelta(hours=n),
                read_at=None if n == 0 else start + timedelta(hours=n, minutes=5),
            )
            for n in range(40)
        )
        db.session.commit()
        services.inbox.count_every_inbox()
        engine = db.engine
    with statements_run(engine) as sent:
        html = client.get("/inbox").get_data(as_text=True)
    asked = [(sql, given) for sql, given in sent if re.search(r"\bFROM notification\b", sql)]
    subjects = re.findall(r">(Message \d+)</a>", html)
    assert subjects[:3] == ["Message 0", "Message 39", "Message 38"], subjects
    assert "1 unread of 40." in html
    assert len(asked) == 1, asked  # the page's messages: one statement
    with engine.begin() as connection:
        ranges = _notification_ranges(connection, *asked[0])
    # Two ranges, the unread and the read, each holding only messages of its own kind: an index
    # of that kind's messages, or one searched by whether a message was read.
    assert len(ranges) == 2, ranges
    assert all(name in INBOX_PARTS or "read_at" in condition for name, condition in ranges), ranges
