"""Each person's inbox tally (``InboxTally``: messages, unread), kept with the messages.

A change is noted as the message is written or read, in the caller's transaction, and the tallies
are written when it commits, one statement a person, in the order of their ids: two transactions
that tell the same people never wait on each other in opposite orders. A transaction rolled back
leaves them as they were. Notes belong to the outermost transaction (escalate takes no
savepoints): they are written when it commits, never when a savepoint is released.

`flask escalate count-inboxes` counts every tally again from the messages (after a database was
restored, or rows were changed by hand).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from escalate.extensions import db
from escalate.models import InboxTally, Notification
from escalate.queries.inbox import IN_THE_INBOX

PENDING = "escalate_inbox_tally"
TALLIED = "escalate_inbox_tallied"  # whose tallies the last commit changed, until it ends


def note(recipient_id: int, *, messages: int = 0, unread: int = 0) -> None:
    """A change to ``recipient_id``'s inbox, written when the transaction commits."""
    pending = db.session.info.setdefault(PENDING, {})
    had_messages, had_unread = pending.get(recipient_id, (0, 0))
    pending[recipient_id] = (had_messages + messages, had_unread + unread)


def count_again() -> None:
    """Every tally counted from the messages themselves, in the caller's transaction: for
    messages written in bulk, not one by one (the synthetic partnership), and to mend tallies
    after rows were changed behind escalate's back."""
    db.session.execute(sa.delete(InboxTally))
    db.session.execute(
        sa.insert(InboxTally).from_select(
            ["user_id", "messages", "unread"],
            sa.select(
                Notification.recipient_id,
                sa.func.count(),
                sa.func.sum(sa.case((Notification.read_at.is_(None), 1), else_=0)),
            )
            .where(IN_THE_INBOX)
            .group_by(Notification.recipient_id),
        )
    )


def _write(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outermost transaction writes them
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    session.info[TALLIED] = frozenset(pending)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for user_id in sorted(pending):
        messages, unread = pending[user_id]
        if messages or unread:
            session.execute(
                dialect.insert(InboxTally)
                .values(user_id=user_id, messages=messages, unread=unread)
                .on_conflict_do_update(
                    index_elements=[InboxTally.user_id],
                    set_={
                        "messages": InboxTally.messages + messages,
                        "unread": InboxTally.unread + unread,
                    },
                )
            )


def changed(session: Session) -> frozenset:
    """Whose tallies the commit now ending changed (read after it commits)."""
    return session.info.get(TALLIED, frozenset())


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(TALLIED, None)


for _event, _listener in (("before_commit", _write), ("after_transaction_end", _forget)):
    if not sa.event.contains(Session, _event, _listener):
        sa.event.listen(Session, _event, _listener)
