"""Two-factor sign-in pages: the code that completes a password sign-in, and setting up an
authenticator app (a QR code and the key as text, then ten recovery codes shown once)."""

from datetime import timedelta

import segno
from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from escalate import presentation, queries, services, two_factor, wording
from escalate.auth import sessions
from escalate.auth.forms import SecondStepForm, SetUpTwoFactorForm
from escalate.auth.views import bp, sign_in_limits, start_session
from escalate.extensions import db
from escalate.models import User
from escalate.workflow import FieldError, InvalidRequest

SETTING_UP = "two_factor_key"  # the key being set up, kept in the session until confirmed
SECOND_STEP_TIME = timedelta(minutes=wording.SECOND_STEP_MINUTES)


def _waiting(now) -> dict | None:
    return sessions.awaiting_code(session, now, SECOND_STEP_TIME)


def _waiting_account() -> str:
    """The per-account limit counts wrong codes against the account the password opened."""
    waiting = _waiting(presentation.now())
    return waiting["account"] if waiting and waiting["account"] else "no account"


@bp.route("/sign-in/code", methods=["GET", "POST"])
@sign_in_limits(account=_waiting_account)
def sign_in_code():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    now = presentation.now()
    waiting = _waiting(now)
    if waiting is None:
        session.pop(sessions.PENDING, None)
        flash("Sign in with your email address and password.", "info")
        return redirect(url_for("auth.sign_in"))
    form = SecondStepForm()
    if form.validate_on_submit():
        accepted = services.two_factor.check_code(waiting["user"], form.code.data, now)
        if accepted is not None:
            user = db.session.get(User, waiting["user"])
            response = start_session(user, sessions.TWO_FACTOR, waiting["next"])
            if accepted.recovery:
                flash(
                    f"You signed in with a recovery code: {accepted.recovery_codes_left} of "
                    f"{wording.RECOVERY_CODE_COUNT} left. If you have lost your phone, set up "
                    "two-factor sign-in again from Your account.",
                    "info",
                )
            return response
        form.code.errors = [
            "The code is not right: enter the code your app shows now, or an unused recovery "
            "code (a code works once)"
        ]
    return render_template("auth/sign_in_code.html", form=form), 200


def qr_code(address: str) -> Markup:
    """The setup address as an inline SVG QR code (no image request, no inline style)."""
    svg = segno.make(address, error="m").svg_inline(
        scale=4, border=4, light="#fff", title="QR code for your authenticator app"
    )
    return Markup(svg)  # noqa: S704 (segno's own SVG of a URL it encoded, no input markup)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def set_up_two_factor():
    user = current_user._get_current_object()
    key = session.get(SETTING_UP)
    if not isinstance(key, str) or not key:
        key = session[SETTING_UP] = two_factor.new_secret()
    form = SetUpTwoFactorForm()
    if form.validate_on_submit():
        try:
            codes = services.two_factor.set_up(user.id, key, form.code.data, presentation.now())
        except FieldError as error:
            presentation.attach_error(form, error)
        except InvalidRequest:
            session.pop(SETTING_UP, None)
            return redirect(url_for("auth.set_up_two_factor"))
        else:
            session.pop(SETTING_UP, None)
            # This session has now shown a code: it is a two-factor session.
            session[sessions.METHOD] = sessions.TWO_FACTOR
            return render_template("auth/recovery_codes.html", codes=codes)
    return render_template(
        "auth/set_up_two_factor.html",
        form=form,
        qr=qr_code(two_factor.setup_address(key, user.email)),
        key=two_factor.grouped(key),
        replacing=user.has_two_factor,
        recovery_codes_left=queries.setup.recovery_codes_left(user.id),
    ), 200
