"""Delivering the outbox by email.

Every notification is in the inbox from the moment its action commits; these functions email
it. A worker claims one notification at a time (status "sending", claimed_by, claimed_until)
and commits the claim before it talks to the mail server, so no other worker takes it. The
claim lapses at claimed_until: if the worker died mid-send, another sends the message again,
with the same Message-ID. For a notification that is not emailed, last_error says why.

An email with a set-password link is written only while its link still works: one used,
expired or replaced by a newer link before the worker came to it is not emailed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from escalate import notify, validation, wording
from escalate.extensions import db
from escalate.models import (
    EmailStatus,
    Notification,
    Role,
    User,
)
from escalate.services._records import add_to_outbox, partnership_contacts

NOT_EMAILED_INACTIVE = "The recipient's account is deactivated, so no email was sent."


NOT_EMAILED_PARTNERSHIP_NOTICE = "A notice to the partnership, shown in the app only."


NOT_EMAILED_ADMINISTRATORS_NOTICE = "A notice to the administrators, shown in the app only."


NOBODY_FINISHED = "The worker sending it stopped before it finished"


NOT_EMAILED_LINK = {
    "used": "The link was used before it could be emailed, so no email was sent.",
    "expired": "The link had expired, or a newer one had replaced it, before it could be "
    "emailed, so no email was sent.",
    "inactive": NOT_EMAILED_INACTIVE,
}


@dataclass
class DeliveryCounts:
    """What one call of deliver_due did, notification by notification."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    not_emailed: int = 0

    def add(self, status: EmailStatus) -> None:
        name = {
            EmailStatus.SENT: "sent",
            EmailStatus.RETRYING: "retrying",
            EmailStatus.NOT_EMAILED: "not_emailed",
        }.get(status, "failed")
        setattr(self, name, getattr(self, name) + 1)

    def __bool__(self) -> bool:
        return any((self.sent, self.retrying, self.failed, self.not_emailed))

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to try again later, {self.failed} failed, "
            f"{self.not_emailed} not emailed"
        )


def deliver_due(
    mailer: notify.Mailer,
    clock: Callable[[], datetime],
    *,
    worker_id: str,
    limit: int | None = None,
    stopping: Callable[[], bool] | None = None,
) -> DeliveryCounts:
    """Email the notifications that are due, one at a time, and count what happened.

    ``clock()`` gives the current instant; it is read for each message, since a round can take
    a while. ``stopping()``, if given, is asked before each message: once it answers True the
    round ends (the message in hand is finished first). A message that fails is tried again
    after 1, 2, 4, 8… minutes; after ``mailer.max_attempts`` tries, or when the mail server
    refuses it for good, it is marked failed and the partnership is told in the app. Nobody
    whose account is deactivated is emailed.
    """
    counts = DeliveryCounts(not_emailed=_skip_inactive_recipients())
    claimed = 0
    while limit is None or claimed < limit:
        if stopping is not None and stopping():
            break
        notification_id = _claim_email(clock(), worker_id, mailer.claim_seconds)
        if notification_id is None:
            break
        claimed += 1
        counts.add(_deliver_claimed(notification_id, mailer, clock, worker_id))
    return counts


def _email_due(now: datetime):
    """Due: waiting with its time come, or claimed by a worker whose claim has lapsed."""
    waiting = sa.and_(
        Notification.email_status.in_((EmailStatus.QUEUED, EmailStatus.RETRYING)),
        sa.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )
    return sa.and_(
        sa.or_(waiting, Notification.email_status == EmailStatus.SENDING),
        sa.or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
    )


def _claim_email(now: datetime, worker_id: str, claim_seconds: int) -> int | None:
    """Claim the next due notification for ``worker_id`` and commit; None if nothing is due.

    One statement both picks and claims. On PostgreSQL the pick skips rows another worker has
    locked (FOR UPDATE SKIP LOCKED); SQLite has no row locks (SQLAlchemy leaves the clause out)
    but runs one writer at a time, and the repeated WHERE finds a row another worker has just
    claimed no longer due.
    """
    candidate = (
        sa.select(Notification.id)
        .where(_email_due(now))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == candidate, _email_due(now))
        .values(
            email_status=EmailStatus.SENDING,
            claimed_by=worker_id,
            claimed_until=now + timedelta(seconds=claim_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.commit()
    return claimed


def _deliver_claimed(notification_id: int, mailer: notify.Mailer, clock, worker_id: str):
    """Send one claimed notification and record what happened; return its new status."""
    notification = db.session.get(Notification, notification_id)
    unusable = _link_problem(notification, clock())
    if unusable is not None:
        _end_claim(
            notification_id,
            worker_id,
            email_status=EmailStatus.NOT_EMAILED,
            last_error=NOT_EMAILED_LINK[unusable],
            next_attempt_at=None,
        )
        db.session.commit()
        return EmailStatus.NOT_EMAILED
    try:
        if notification.attempts > mailer.max_attempts:
            # Every try was cut short (a worker that died mid-send each time): stop trying.
            raise notify.DeliveryError(notification.last_error or NOBODY_FINISHED, permanent=True)
        message = notify.compose(notification, mailer)
        form = notify.email_form(notification, mailer)
        db.session.commit()  # no transaction stays open while the mail server is talked to
        mailer.sender.send(message)
    except notify.DeliveryError as error:
        db.session.rollback()
        return _record_failure(notification_id, worker_id, clock(), mailer, error)
    _end_claim(
        notification_id, worker_id, email_status=EmailStatus.SENT, sent_at=clock(), email_form=form
    )
    db.session.commit()
    return EmailStatus.SENT


def _link_problem(notification: Notification, now: datetime) -> str | None:
    """Why the set-password link a notification carries no longer works, if it does carry one."""
    invitation = notification.invitation
    if invitation is None:
        return None
    return validation.invitation_problem(
        used_at=invitation.used_at,
        expires_at=invitation.expires_at,
        user_active=invitation.user.active,
        now=now,
    )


def _end_claim(notification_id: int, worker_id: str, **values) -> bool:
    """Record a result, if ``worker_id`` still holds the claim (it may have lapsed and been
    taken over; the other worker's result then stands)."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.claimed_by == worker_id)
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _record_failure(notification_id, worker_id, now, mailer, error) -> EmailStatus:
    notification = db.session.get(Notification, notification_id)
    reason = str(error).rstrip(". ")[:1000]
    if error.permanent or notification.attempts >= mailer.max_attempts:
        status, next_attempt_at = EmailStatus.FAILED, None
    else:
        status = EmailStatus.RETRYING
        next_attempt_at = now + notify.retry_delay(notification.attempts)
    held = _end_claim(
        notification_id,
        worker_id,
        email_status=status,
        last_error=reason,
        next_attempt_at=next_attempt_at,
    )
    if held and status == EmailStatus.FAILED:
        if notification.invitation_id is not None:
            _tell_administrators_link_failed(notification, reason, now)
        else:
            _tell_partnership_email_failed(notification, reason, now)
    db.session.commit()
    return status


def _tries(notification: Notification) -> str:
    return wording.plural(notification.attempts, "try", "tries")


def _tell_administrators_link_failed(notification: Notification, reason: str, now) -> None:
    """An in-app notice to every administrator: somebody did not get their set-password link."""
    recipient = notification.recipient
    body = "\n\n".join(
        [
            f"escalate could not email {recipient.name} ({recipient.email}) their link to set a "
            f"password, after {_tries(notification)}.",
            f"The reason: {reason}.",
            "Check their email address on their page under Administration > People, then send "
            "them a new link. The page shows the new link once, for you to pass on by a secure "
            "route if the email fails again.",
        ]
    )
    subject = f"The link to set a password could not be emailed to {recipient.name}"
    administrators = db.session.scalars(
        sa.select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.name)
    )
    for administrator in administrators:
        add_to_outbox(
            administrator.id,
            subject,
            body,
            now,
            email_status=EmailStatus.NOT_EMAILED,
            last_error=NOT_EMAILED_ADMINISTRATORS_NOTICE,
        )


def _tell_partnership_email_failed(notification: Notification, reason: str, now) -> None:
    """An in-app notice to every partnership member: somebody was not told by email."""
    recipient = notification.recipient
    # A notice with no difference (the weekly digest) is named by its subject.
    reference = (
        notification.difference.reference if notification.difference else "the weekly digest"
    )
    about = f"difference {reference}" if notification.difference else reference
    tries = _tries(notification)
    body = "\n\n".join(
        [
            f"escalate could not email {recipient.name} ({recipient.email}) about {about}, "
            f"after {tries}.",
            f"The reason: {reason}.",
            f"The message was: {notification.subject}",
            "It is still in their inbox in escalate, but they may not know it is there. Please "
            "make sure they are told another way, and check their email address.",
        ]
    ).rstrip()
    for member in partnership_contacts():
        add_to_outbox(
            member.id,
            f"{reference}: an email to {recipient.name} could not be delivered",
            body,
            now,
            difference_id=notification.difference_id,
            email_status=EmailStatus.NOT_EMAILED,
            last_error=NOT_EMAILED_PARTNERSHIP_NOTICE,
        )


def _skip_inactive_recipients() -> int:
    """Mark waiting emails to deactivated accounts not emailed, and say how many."""
    result = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.email_status.in_((EmailStatus.QUEUED, EmailStatus.RETRYING)),
            Notification.recipient_id.in_(sa.select(User.id).where(User.active.is_(False))),
        )
        .values(
            email_status=EmailStatus.NOT_EMAILED,
            last_error=NOT_EMAILED_INACTIVE,
            next_attempt_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
