"""Signing in and out, and the page that tells you who you are signed in as."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload

from escalate import presentation, services
from escalate.auth.forms import SignInForm
from escalate.extensions import db, limiter, login_manager
from escalate.models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        # With the agency every page names beside the person: one query.
        user = db.session.get(User, int(user_id), options=[joinedload(User.agency)])
    except (TypeError, ValueError):
        return None
    # A deactivated account loses its session at the next request.
    return user if user is not None and user.active else None


def _safe_next(target: str | None) -> str | None:
    """Only follow a `next` that stays on this site (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return redirect(presentation.home_for(current_user))


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    form = SignInForm()
    failed = False
    if form.validate_on_submit():
        user = services.accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.index"))
        failed = True
    return render_template("auth/sign_in.html", form=form, failed=failed), 200


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    logout_user()
    flash("You have signed out. Close the browser if this is a shared computer.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account")
@login_required
def account():
    return render_template("auth/account.html", user=current_user)
