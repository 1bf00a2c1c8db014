"""Single sign-on with the partnership's OpenID Connect provider (Microsoft Entra ID, NHS CIS2,
a council's identity service…), through Authlib's Flask client.

Configured by OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET; the provider's endpoints and
keys come from its discovery document (ISSUER/.well-known/openid-configuration). A person is
matched to their account by their email address, which the provider must say it has verified;
nobody is created. The provider's own multi-factor checks stand in for escalate's codes.
"""

import logging

from authlib.integrations.flask_client import OAuth
from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_login import current_user

from escalate import services
from escalate.auth import sessions
from escalate.auth.views import _safe_next, bp, sign_in_limits, start_session

CLIENT = "escalate_single_sign_on"
NEXT = "single_sign_on_next"
HTTP_TIMEOUT_SECONDS = 10
log = logging.getLogger("escalate")


def init_app(app) -> None:
    """Register the provider's client when single sign-on is configured."""
    if not app.config.get("OIDC_ISSUER"):
        return
    oauth = OAuth(app)
    app.extensions[CLIENT] = oauth.register(
        "provider",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=app.config["OIDC_ISSUER"] + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "default_timeout": HTTP_TIMEOUT_SECONDS},
    )


def _client():
    client = current_app.extensions.get(CLIENT)
    if client is None:
        abort(404)  # single sign-on is not configured
    return client


def _problem(reason: str, status: int, email: str | None = None):
    g.signed_in = False  # counted towards the sign-in limits
    return render_template(
        "auth/single_sign_on_problem.html",
        reason=reason,
        email=email,
        provider_name=current_app.config.get("OIDC_PROVIDER_NAME"),
    ), status


def _metadata(client) -> dict:
    """The provider's discovery document, once it names the issuer configured (OpenID Connect
    Discovery §4.3: anything else is not the provider escalate trusts)."""
    metadata = client.load_server_metadata()
    if metadata.get("issuer", "").rstrip("/") != current_app.config["OIDC_ISSUER"]:
        raise ValueError(f"the discovery document names issuer {metadata.get('issuer')!r}")
    return metadata


@bp.route("/sign-in/single-sign-on")
def single_sign_on():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    client = _client()
    try:
        _metadata(client)
        session[NEXT] = _safe_next(request.args.get("next"))
        return client.authorize_redirect(url_for("auth.single_sign_on_return", _external=True))
    except Exception:
        log.exception("Single sign-on could not start")
        return _problem("unreachable", 502)


@bp.route("/sign-in/single-sign-on/return")
@sign_in_limits()
def single_sign_on_return():
    if current_user.is_authenticated:
        return redirect(url_for("auth.index"))
    client = _client()
    try:
        _metadata(client)
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if "email" not in claims:
            claims.update(client.userinfo(token=token))
    except Exception as error:
        if request.args.get("error") == "access_denied":
            return _problem("cancelled", 403)
        log.warning("Single sign-on did not complete: %s", error)
        return _problem("failed", 400)
    found = services.accounts.single_sign_on_account(
        claims.get("email"), claims.get("email_verified")
    )
    if found.user is None:
        log.info("Single sign-on refused: %s", found.refusal)
        return _problem(found.refusal, 403, found.email)
    return start_session(found.user, sessions.SINGLE_SIGN_ON, session.pop(NEXT, None))

