"""How each request's transaction ends: a request that only read keeps PostgreSQL's prepared
statements (its transaction ends with a COMMIT that changes nothing); whatever a request changed
without a service committing it is still rolled back, on both databases."""

import pytest
import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import Agency, AgencyKind, Role
from tests import factories


@pytest.fixture
def app(own_app):
    """These tests add routes, which an application shared with other tests cannot take."""

    @own_app.route("/test-changes/<how>")
    def change_without_a_service(how):
        if how == "flushed":
            factories.agency(name="Flushed, never committed")
        elif how == "pending-then-read":
            with db.session.no_autoflush:
                db.session.add(Agency(name="Added, never flushed", kind=AgencyKind.POLICE))
                db.session.scalar(sa.select(sa.func.count(Agency.id)))
        elif how == "written-then-read":
            db.session.execute(
                sa.insert(Agency).values(name="Written, never committed", kind=AgencyKind.POLICE)
            )
            db.session.scalar(sa.select(sa.func.count(Agency.id)))
        return "changed"

    return own_app


def agency_names(app) -> set[str]:
    with app.app_context():
        names = set(db.session.scalars(sa.select(Agency.name)))
        db.session.remove()
    return names


@pytest.mark.parametrize("how", ["flushed", "pending-then-read", "written-then-read"])
def test_what_a_request_changed_without_a_service_committing_it_is_rolled_back(app, how):
    response = app.test_client().get(f"/test-changes/{how}")

    assert response.status_code == 200
    assert not {name for name in agency_names(app) if "never" in name}


def during(app, request) -> tuple[int, list]:
    """How many transactions committed while ``request()`` ran, and the driver's connections it
    ran its statements on."""
    with app.app_context():
        engine = db.engine
    commits, connections = [], []

    def commit(*_):
        commits.append(1)

    def statement(connection, *_):
        connections.append(connection.connection.driver_connection)

    sa.event.listen(engine, "commit", commit)
    sa.event.listen(engine, "before_cursor_execute", statement)
    try:
        request()
    finally:
        sa.event.remove(engine, "commit", commit)
        sa.event.remove(engine, "before_cursor_execute", statement)
    return len(commits), connections


def prepared_statements(connection) -> list[str]:
    """What the server keeps prepared for this connection, asked without a transaction of its
    own being rolled back (which would make psycopg forget them)."""
    statements = [
        row[0]
        for row in connection.execute(
            "SELECT statement FROM pg_prepared_statements", prepare=False
        ).fetchall()
    ]
    connection.commit()
    return statements


def test_a_page_that_only_reads_keeps_postgresql_statements_prepared(app, signed_in_as, client):
    signed_in_as(Role.PRACTITIONER)
    for _ in range(6):  # psycopg prepares a statement the fifth time it runs it, and keeps it
        assert client.get("/inbox").status_code == 200

    commits, connections = during(app, lambda: client.get("/inbox"))

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert commits == 0  # SQLite prepares nothing to keep: its reads end as they always did
        return
    assert commits == 1  # the read's own transaction, ended without changing anything
    inbox = [s for s in prepared_statements(connections[-1]) if "FROM notification" in s]
    assert inbox, "the inbox's statement was not kept prepared across requests"
