"""Figures kept between views: the dashboard's, the report's and what goes with them are
computed once and kept while nothing they count has changed, for at most the worker's interval.
Never commits."""

import functools
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from escalate.extensions import db
from escalate.models import AdminChange, Difference, EmailStatus, Event, LearningNote, Notification


@functools.cache
def _fingerprint_statement():
    """What changes whenever a figure could, in one look at the newest row of each table the
    figures come from: every action on a difference writes an event, every message and failed
    email a notification (and is counted), every change to the set-up a record of changes.
    Built once: it is asked on every view of a page of figures."""
    newest = [
        sa.select(sa.func.max(model.id)).scalar_subquery()
        for model in (Difference, Event, Notification, AdminChange, LearningNote)
    ]
    failed = (
        sa.select(sa.func.count())
        .where(Notification.email_status == EmailStatus.FAILED)
        .scalar_subquery()
    )
    return sa.select(*newest, failed)


def _fingerprint() -> tuple:
    return tuple(db.session.execute(_fingerprint_statement()).one())


def cached(name: str, compute, now: datetime, *key):
    """``compute()``, kept by the application while nothing it counts has changed and for at
    most the worker's interval (figures that depend on the clock, like overdue, are never
    staler than that). A busy dashboard then costs one small query instead of every scan."""
    store = current_app.extensions.setdefault("escalate_figures", {})
    interval = current_app.config.get("WORKER_INTERVAL", 15)
    fingerprint = (name, *key, _fingerprint(), int(now.timestamp() // interval))
    if store.get(name, (None,))[0] != fingerprint:
        store[name] = (fingerprint, compute())
    return store[name][1]
