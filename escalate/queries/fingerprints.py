"""The partnership's record exactly as stored: each row as one text the database builds (the
same in every session), a difference's row's digest, and the fingerprint of every event up to a
position that a checkpoint keeps. Never commits."""

import functools
import hashlib

import sqlalchemy as sa

from escalate import history
from escalate.extensions import db
from escalate.models import Difference, Event, UTCDateTime

DIFFERENCE_COLUMNS = tuple(getattr(Difference, name) for name in history.DIFFERENCE_FIELDS)
FINGERPRINTED = tuple(c for c in Event.__table__.columns if c.name != "texts")

BLOCK = 4096  # positions fingerprinted together; a checkpoint keeps where its last whole one ends


def _text(column):
    """A column as text, the same in every session (no time zone or date style in it)."""
    if isinstance(column.type, UTCDateTime):
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    if isinstance(column.type, sa.Date):
        return sa.func.to_char(column, "YYYY-MM-DD")
    return sa.cast(column, sa.Text)


def as_stored(columns, dialect: str):
    """Columns as one text, each as stored, quoted as an SQL literal (so that no two rows read
    the same): the database builds it, and verifying reads one text a row."""
    if dialect == "sqlite":
        quoted = [sa.func.quote(column) for column in columns]
    else:
        quoted = [sa.func.quote_nullable(_text(column)) for column in columns]
    text = quoted[0]
    for part in quoted[1:]:
        text = text.concat(",").concat(part)
    return text


@functools.cache
def difference_text(dialect: str):
    """A difference's row as stored, as one text: what its latest event's digest covers (built
    once for each kind of database)."""
    return as_stored(DIFFERENCE_COLUMNS, dialect)


def row_digest(difference_id: int, connection=None) -> str | None:
    """The digest of a difference's row as the database holds it now (in this transaction)."""
    connection = connection if connection is not None else db.session.connection()
    text = connection.execute(
        sa.select(difference_text(connection.dialect.name)).where(Difference.id == difference_id)
    ).scalar()
    return None if text is None else history.digest(text)


def fingerprint_of(
    up_to: int, *, start: tuple[int, str] | None = None, connection=None, columns=FINGERPRINTED
) -> tuple[str, tuple[int, str]]:
    """A digest of every event row up to position ``up_to``, each column as stored: whatever
    changes in them, is removed or moves among them changes it.

    The rows are taken BLOCK positions at a time, each block's text (built by the database)
    chained onto the digest of the blocks before. Returns the fingerprint and, so that a later
    one can carry on from it, the digest at the end of the last whole block (``start``: such a
    point to carry on from, instead of the first event).
    """
    connection = connection if connection is not None else db.session.connection()
    text = as_stored(columns, connection.dialect.name)
    through, digest = start or (0, history.GENESIS)
    digest = bytes.fromhex(digest)
    whole = (through, digest.hex())
    while through < up_to:
        end = min(through + BLOCK, up_to)
        rows = connection.execute(
            sa.select(text)
            .where(Event.position > through, Event.position <= end)
            .order_by(Event.position)
        ).scalars().all()
        block = hashlib.sha256(digest + "\n".join(rows).encode()).digest()
        if end < through + BLOCK:
            return block.hex(), whole
        through, digest = end, block
        whole = (through, digest.hex())
    return digest.hex(), whole
