"""The database model of what escalate sends, notes and logs: notifications, learning notes, the
record of changes, invitations, drafts being raised and the access log. Part of
``escalate.models``, which re-exports it."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from escalate.models import (  # noqa: F401 (names the annotations below resolve)
    Agency,
    Base,
    Difference,
    Event,
    Stage,
    User,
    UTCDateTime,
    _enum,
    partial_index,
    utcnow,
)


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    NOT_EMAILED = "not_emailed"  # in-app only


class Notification(Base):
    """The outbox: written with the action that causes it, delivered later (in-app and email).

    Most are about a difference. One with an invitation carries a link to set a password: it is
    emailed only, never shown in the inbox, and the link itself is not stored (see
    ``Invitation``).
    """

    __tablename__ = "notification"
    __table_args__ = (
        # A person's unread messages (marking them all as read).
        sa.Index("ix_notification_recipient_unread", "recipient_id", "read_at", "created_at"),
        # A page of the inbox: its part of the person's unread messages, then of their read,
        # each newest first. Each part is a range of an index of its own, so a page reads only
        # its own rows, however many of the other kind lie between them.
        partial_index(
            "ix_notification_inbox_unread",
            "recipient_id",
            "created_at",
            "id",
            where="invitation_id IS NULL AND read_at IS NULL",
        ),
        partial_index(
            "ix_notification_inbox_read",
            "recipient_id",
            "created_at",
            "id",
            where="invitation_id IS NULL AND read_at IS NOT NULL",
        ),
        # What the deliverer asks for: due emails, oldest first.
        sa.Index("ix_notification_email_due", "email_status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    difference_id: Mapped[int | None] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("event.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invitation.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_status: Mapped[EmailStatus] = mapped_column(
        _enum(EmailStatus, "email_status"), default=EmailStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # What the email carried when it was sent: "full" or "link_only" (notify.email_form).
    email_form: Mapped[str | None] = mapped_column(sa.String(10))

    recipient: Mapped[User] = relationship()
    difference: Mapped[Difference | None] = relationship()
    event: Mapped[Event | None] = relationship()
    invitation: Mapped["Invitation | None"] = relationship()



class InboxTally(Base):
    """How many messages a person's inbox holds, and how many of them are unread: kept by the
    services with each message written or read (applied when the transaction commits, people in
    the order of their ids), so the inbox and every page's navigation read two numbers, not a
    count of everything the person was ever sent. No row: no message yet."""

    __tablename__ = "inbox_tally"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    messages: Mapped[int] = mapped_column(default=0, server_default="0")
    unread: Mapped[int] = mapped_column(default=0, server_default="0")

class LearningStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"

    @property
    def label(self) -> str:
        return {
            LearningStatus.OPEN: "Open",
            LearningStatus.IN_PROGRESS: "In progress",
            LearningStatus.DONE: "Done",
        }[self]


class LearningNote(Base):
    """What the partnership learned from a closed difference, and what the board does about it:
    a recommendation, its owner (an agency, and a person there if named), a due date and a
    status."""

    __tablename__ = "learning_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(sa.Text)  # the learning
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recommendation: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    owner_agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    due_on: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[LearningStatus] = mapped_column(
        _enum(LearningStatus, "learning_status"),
        default=LearningStatus.OPEN,
        server_default=LearningStatus.OPEN.value,
        index=True,
    )
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    difference: Mapped[Difference] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    owner_agency: Mapped[Agency | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class AdminChange(Base):
    """One administrative change: who, when, what, and the record before and after."""

    __tablename__ = "admin_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    entity: Mapped[str] = mapped_column(sa.String(40))  # agency, user, stage policy, calendar…
    entity_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(40))  # created, changed, deactivated…
    summary: Mapped[str] = mapped_column(sa.String(300))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)

    actor: Mapped[User | None] = relationship()


class Invitation(Base):
    """A one-time link to set a password. Only a hash of the token is kept.

    The token is made from ``nonce`` and the application's SECRET_KEY, so the worker can make
    the link again to email it while the database alone holds nothing that opens the account.
    Invitations from before nonces were kept have none: their links were never emailed from
    the outbox.
    """

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    nonce: Mapped[str | None] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class RaiseDraft(Base):
    """A difference being raised, between its questions and "Check your answers": what the raiser
    typed, kept so that going back, forward or changing an answer loses nothing, and raised once.
    One a person; removed when the difference is raised, and by the sweep once stale
    (services.drafts.DRAFT_KEPT_DAYS)."""

    __tablename__ = "raise_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), unique=True)
    urgent: Mapped[bool]
    answers: Mapped[list] = mapped_column(sa.JSON)  # [[field name, value], …] as sent
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AccessKind(enum.StrEnum):
    VIEWED_DIFFERENCE = "viewed_difference"
    VIEWED_REPORT = "viewed_report"  # the dashboard, the unresolved list, the report, this log
    DOWNLOADED_CSV = "downloaded_csv"

    @property
    def label(self) -> str:
        return ACCESS_KIND_LABELS[self]


ACCESS_KIND_LABELS = {
    AccessKind.VIEWED_DIFFERENCE: "Viewed the difference",
    AccessKind.VIEWED_REPORT: "Viewed a report",
    AccessKind.DOWNLOADED_CSV: "Downloaded a spreadsheet",
}


class AccessEntry(Base):
    """The access log: who viewed a difference, a report or downloaded a spreadsheet, and when.

    Append-only and sealed like the history (escalate.history, "the access log"): each entry's
    seal covers the seal of the entry before it, ``position`` numbers them 1, 2, 3…
    """

    __tablename__ = "access_entry"
    __table_args__ = (
        # A difference's views, newest first (its page); the log's search by date and person.
        sa.Index("ix_access_entry_difference_position", "difference_id", "position"),
        sa.Index("ix_access_entry_user_position", "user_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    kind: Mapped[AccessKind] = mapped_column(_enum(AccessKind, "access_kind"))
    difference_id: Mapped[int | None] = mapped_column(sa.ForeignKey("difference.id"))
    what: Mapped[str] = mapped_column(sa.String(300))  # the page or file, and its filters
    key_id: Mapped[str] = mapped_column(sa.String(16))
    previous_seal: Mapped[str] = mapped_column(sa.String(64))
    seal: Mapped[str] = mapped_column(sa.String(64))

    user: Mapped[User] = relationship()
    difference: Mapped[Difference | None] = relationship()


class AccessHead(Base):
    """The access log's last position and seal: one row, locked by each new entry so that
    entries take their places one at a time."""

    __tablename__ = "access_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int]
    seal: Mapped[str] = mapped_column(sa.String(64))


@sa.event.listens_for(AccessEntry, "before_update")
@sa.event.listens_for(AccessEntry, "before_delete")
def _access_log_is_append_only(mapper, connection, target) -> None:
    raise ValueError("the access log is append-only: entries are never changed or removed")
