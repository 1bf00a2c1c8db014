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

from escalate import policy, presentation, queries, services, validation
from escalate.auth import sessions
from escalate.auth.forms import SignInForm
from escalate.extensions import limiter, login_manager
from escalate.models import User

bp = Blueprint("auth", __name__)

# Reached whatever a session lacks: signing out, and the style sheets and scripts.
ALWAYS_OPEN = frozenset({"auth.sign_out", "static", "assets.static"})


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        # With the agency every page names beside the person, the partnership's settings every
        # page reads, and the unread count the navigation shows: one query.
        found = queries.setup.signed_in_person(int(user_id))
    except (TypeError, ValueError):
        return None
    if found is None:
        return None
    user, inbox = found
    # A deactivated account loses its session at the next request.
    if not user.active:
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
    if sessions.method(session) == sessions.PASSWORD and not policy.passwords_allowed(user.agency):
        # The agency now signs in through single sign-on only: a password session ends.
        session.clear()
        return None
    if sessions.seen(session, now):
        session[sessions.SEEN_AT] = int(now.timestamp())
    presentation.hold_inbox_counts(user.id, inbox)
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


def account_key(email: str | None) -> str:
    """The account a sign-in is for, as the per-account limit counts it (whatever the address it
    comes from). Hashed: the limiter's store need not hold email addresses."""
    email = validation.normalise_email(email)
    return hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()


def _submitted_account() -> str:
    return account_key(request.form.get("email"))


def _failed(_response) -> bool:
    """Only failed sign-ins count towards the limits: signing in many times is no attack."""
    return not g.get("signed_in", False)


def sign_in_limits(account=None):
    """The limits on failed sign-ins, shared by every step of signing in (password, code, single
    sign-on): per address, and per account when ``account`` says which account a request is
    for."""

    def decorate(view):
        if account is not None:
            view = limiter.shared_limit(
                lambda: current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"],
                key_func=account,
                methods=["POST"],
                deduct_when=_failed,
                scope="sign-in-account",
            )(view)
        return limiter.shared_limit(
            lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"],
            methods=["GET", "POST"] if account is None else ["POST"],
            deduct_when=_failed,
            scope="sign-in-address",
        )(view)

    return decorate


def start_session(user: User, method: str, next_page: str | None = None):
    """Sign ``user`` in, in a new session: nothing carried over from before signing in (a CSRF
    token, or a session someone planted), and the account's version to compare with from now
    on. Then where they go."""
    session.clear()
    login_user(user)
    session.update(sessions.started(presentation.now(), user.session_version, method))
    g.signed_in = True
    return redirect(_safe_next(next_page) or url_for("auth.index"))


def sign_in_options() -> dict:
    """What the sign-in page offers besides a password."""
    return {
        "single_sign_on": current_app.config.get("OIDC_ISSUER") is not None,
        "provider_name": current_app.config.get("OIDC_PROVIDER_NAME"),
    }


@bp.route("/sign-in", methods=["GET", "POST"])
@sign_in_limits(account=_submitted_account)
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    form = SignInForm()
    failed = sso_only = False
    if form.validate_on_submit():
        user = services.accounts.authenticate(form.email.data, form.password.data)
        if user is not None and not policy.passwords_allowed(user.agency):
            sso_only = True  # the right password, but the agency signs in another way
        elif user is not None:
            next_page = request.args.get("next")
            if not user.has_two_factor:
                return start_session(user, sessions.PASSWORD, next_page)
            # The password was right (not a failed attempt); the code comes next.
            g.signed_in = True
            session.clear()
            session.update(
                sessions.second_step(
                    presentation.now(), user.id, account_key(user.email), _safe_next(next_page)
                )
            )
            return redirect(url_for("auth.sign_in_code"))
        else:
            failed = True
    return render_template(
        "auth/sign_in.html", form=form, failed=failed, sso_only=sso_only, **sign_in_options()
    ), 200


@bp.before_app_request
def two_factor_first():
    """Someone who must use two-factor sign-in and signed in with a password alone sets it up
    before anything else. Someone who has set it up since this session began (on another
    machine) signs in again with a code."""
    if request.endpoint in ALWAYS_OPEN or not current_user.is_authenticated:
        return None
    if sessions.method(session) != sessions.PASSWORD:
        return None
    user = current_user._get_current_object()
    setting_up = request.endpoint == "auth.set_up_two_factor"
    if user.has_two_factor:
        if not setting_up and not _two_factor_required(user):
            return None
        logout_user()
        session.clear()
        flash("Sign in again with your password and a code from your authenticator app.", "info")
        return redirect(url_for("auth.sign_in"))
    if setting_up or not _two_factor_required(user):
        return None
    flash("Set up two-factor sign-in before you continue.", "info")
    return redirect(url_for("auth.set_up_two_factor"))


def _two_factor_required(user: User) -> bool:
    for_everyone = (
        user.role not in policy.TWO_FACTOR_ROLES
        and queries.setup.partnership_settings().two_factor_for_everyone
    )
    return policy.two_factor_required(user.role, for_everyone=for_everyone)


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
    user = current_user._get_current_object()
    return render_template(
        "auth/account.html",
        user=user,
        method=sessions.method(session),
        recovery_codes_left=queries.setup.recovery_codes_left(user.id),
        passwords_allowed=policy.passwords_allowed(user.agency),
    )
