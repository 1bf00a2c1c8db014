"""How a request's database transaction ends on PostgreSQL.

psycopg prepares a statement on the server (parsed and planned once for the connection) after
it has run a few times, and forgets every statement it has prepared at each ROLLBACK. The
session ends each request's transaction with one when it closes, so every statement of every
page would be parsed and planned again on every request: on a difference's page, half of its
time in the database. A transaction that has only read ends with a COMMIT instead, which
changes nothing in the database and keeps the connection's prepared statements. One that wrote
anything, failed, or still holds changes not written ends with a ROLLBACK, as before: what a
request changes is committed by the use case that changes it, never here.
"""

import logging

import psycopg
import sqlalchemy as sa
from flask import Flask

from escalate.extensions import db

logger = logging.getLogger(__name__)
WROTE = "escalate_wrote"  # on a connection's info: its transaction ran something but a read


def init_app(app: Flask) -> None:
    """After ``db.init_app``: the teardown registered here runs before the session is removed."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.driver != "psycopg":
        return
    for name, listener in (
        ("before_cursor_execute", _note_a_write),
        ("begin", _forget_writes),
        ("commit", _forget_writes),
        ("rollback", _forget_writes),
    ):
        if not sa.event.contains(engine, name, listener):
            sa.event.listen(engine, name, listener)
    app.teardown_appcontext(end_reads_with_commit)


def _note_a_write(connection, _cursor, statement, *_) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        connection.info[WROTE] = True


def _forget_writes(connection, *_) -> None:
    connection.info.pop(WROTE, None)


def end_reads_with_commit(error: BaseException | None) -> None:
    """End the request's transaction with a COMMIT if all it did was read. Never raises: the
    session is removed next (and anything left rolled back) whatever happens here."""
    session = db.session()
    if error is not None or not session.in_transaction():
        return
    # Changes not yet written, or something the services write as the transaction commits
    # (each inbox's tally, kept in the session's info until then): not a read.
    if session.new or session.dirty or session.deleted or session.info:
        return
    try:
        connection = session.connection()
        if connection.info.get(WROTE):
            return
        status = connection.connection.driver_connection.info.transaction_status
        if status != psycopg.pq.TransactionStatus.INTRANS:
            return
        # What the request loaded stays as it was read, as when the session only closed: it is
        # used after the request (in the tests, say).
        commit_keeping_what_was_read()
    except Exception:  # a failed flush not rolled back, a connection lost: rolled back next
        logger.warning("A read's transaction could not be committed", exc_info=True)


def commit_keeping_what_was_read() -> None:
    """Commit the session without expiring what it has loaded (a commit would, and it would be
    read again from the database the next time it is used)."""
    session = db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring
