"""Signing in and out, and the page that tells you who you are signed in as."""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload

from escalate import presentation, services, validation
from escalate.auth import sessions
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
    if user is None or not user.active:
        return None
    now = presentation.now()
    config = current_app.config
    if sessions.ended(
        session,
        version=user.session_version,
        now=now,
        idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        lifetime=timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
    ):
        session.clear()
        return None
    if sessions.seen(session, now):
        session[sessions.SEEN_AT] = int(now.timestamp())
    return user


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


def _submitted_account() -> str:
    """The account a sign-in is for, as the per-account limit counts it (whatever the address it
    comes from). Hashed: the limiter's store need not hold email addresses."""
    email = validation.normalise_email(request.form.get("email"))
    return hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()


def _failed(_response) -> bool:
    """Only failed sign-ins count towards the limits: signing in many times is no attack."""
    return not g.get("signed_in", False)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="sign-in-address",
)
@limiter.limit(
    lambda: current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"],
    key_func=_submitted_account,
    methods=["POST"],
    deduct_when=_failed,
    scope="sign-in-account",
)
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    form = SignInForm()
    failed = False
    if form.validate_on_submit():
        user = services.accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            # A new session: nothing carried over from before signing in (a CSRF token, or a
            # session someone planted), and the account's version to compare with from now on.
            session.clear()
            login_user(user)
            session.update(sessions.started(presentation.now(), user.session_version))
            g.signed_in = True
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.index"))
        failed = True
    return render_template("auth/sign_in.html", form=form, failed=failed), 200


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    if current_user.is_authenticated:
        services.accounts.sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have signed out. Close the browser if this is a shared computer.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account")
@login_required
def account():
    return render_template("auth/account.html", user=current_user)
