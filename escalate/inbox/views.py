"""The in-app inbox: every notification sent to you, with its full text."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from escalate import presentation, queries, services, wording

bp = Blueprint("inbox", __name__)

INBOX_PER_PAGE = 25


@bp.route("/inbox")
@login_required
def index():
    counts = presentation.inbox_counts()
    pages = queries.inbox.inbox_page(
        current_user, presentation.page_number(), INBOX_PER_PAGE, counts
    )
    return render_template(
        "inbox/index.html", pages=pages, notifications=pages.items, unread=counts.unread
    )


@bp.route("/inbox/<int:notification_id>")
@login_required
def show(notification_id):
    notification = services.inbox.open_notification(
        current_user, notification_id, presentation.now()
    )
    return render_template("inbox/show.html", notification=notification)


@bp.route("/inbox/read-all", methods=["POST"])
@login_required
def read_all():
    count = services.inbox.mark_all_read(current_user, presentation.now())
    flash(f"{wording.plural(count, 'message')} marked as read.", "success")
    return redirect(url_for("inbox.index"))
