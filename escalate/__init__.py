"""escalate: resolve professional differences between safeguarding agencies."""

import io
import logging
import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, Request, g, render_template, request
from flask_wtf.csrf import CSRFError
from govuk_frontend_wtf.main import WTFormsHelpers
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from escalate import templating, workflow
from escalate.config import load_config, url_settings
from escalate.extensions import csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent
ERROR_PAGES = (400, 403, 404, 405, 409, 429, 500)


class UploadsInMemory(Request):
    """A request whose uploaded files (the importer's CSV, within MAX_CONTENT_LENGTH) are held in
    memory: a request refused while it is being read (a field too large) leaves no temporary
    file open behind it."""

    def _get_file_stream(
        self, total_content_length, content_type, filename=None, content_length=None
    ):
        return io.BytesIO()


class Escalate(Flask):
    request_class = UploadsInMemory
    jinja_environment = templating.Environment  # the GOV.UK components, remembered


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` overrides what the environment says (tests use it)."""
    app = Escalate(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_mapping(load_config(app.instance_path))
    if config:
        app.config.from_mapping(config)
    app.config.from_mapping(url_settings(app.config["ESCALATE_BASE_URL"]))
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies:
        # The client's address (for sign-in limits) and scheme, from the trusted proxies only.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    db.init_app(app)
    from escalate.services import transactions

    transactions.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    from escalate.auth import single_sign_on

    single_sign_on.init_app(app)
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(ROOT / "templates")),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    WTFormsHelpers(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _configure_sqlite)


# Each connection's page cache, in KiB (SQLite's default is 2 MB). The lists read rows spread
# across a large file (a person's open differences, their stages): with 2 MB they are read
# from the operating system again on almost every request.
SQLITE_CACHE_KIB = 16_000


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    cursor.close()


class DatabaseIdConverter(IntegerConverter):
    """<int:…> in URLs, no larger than a database id can be: a bigger number names nothing,
    so it is "not found" rather than a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = DatabaseIdConverter
    from escalate import assets, presentation
    from escalate.about.views import bp as about_bp
    from escalate.admin import policy_views, sign_in  # noqa: F401 (their pages join admin)
    from escalate.admin.views import bp as admin_bp
    from escalate.assets import bp as assets_bp
    from escalate.auth import single_sign_on, two_factor  # noqa: F401 (their pages join auth)
    from escalate.auth.views import bp as auth_bp
    from escalate.inbox.views import bp as inbox_bp
    from escalate.oversight.views import bp as oversight_bp
    from escalate.raising.views import bp as raising_bp
    from escalate.records.views import bp as records_bp
    from escalate.respond import (
        action_views,  # noqa: F401 (its pages join respond)
        meeting_views,  # noqa: F401 (its pages join respond)
    )
    from escalate.respond.views import bp as respond_bp

    for blueprint in (
        assets_bp, auth_bp, raising_bp, respond_bp, inbox_bp, oversight_bp, admin_bp, records_bp,
        about_bp,
    ):
        app.register_blueprint(blueprint)
    assets.init_app(app)
    presentation.init_app(app)

    @app.context_processor
    def nonce():
        # The GOV.UK template's one inline script carries it (cspNonce); nothing else is inline.
        return {"cspNonce": csp_nonce()}

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if app.config["ESCALATE_ENV"] != "development":
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        # Pages about children must not be kept by a shared machine's browser cache.
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


# Scripts, styles, images and fonts from escalate itself only; no inline script but the one
# with this response's nonce; no plugins, no framing, forms post only to escalate.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'{nonce}; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """This response's nonce for inline script, made when a page first asks for it."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy() -> str:
    nonce = g.get("csp_nonce")
    return CONTENT_SECURITY_POLICY.format(nonce=f" 'nonce-{nonce}'" if nonce else "")


def register_errorhandlers(app: Flask) -> None:
    def render_error(error: HTTPException):
        code = error.code if error.code in ERROR_PAGES else 500
        description = getattr(error, "description", None)
        return render_template(f"errors/{code}.html", description=description), code

    for code in ERROR_PAGES:
        app.register_error_handler(code, render_error)

    @app.errorhandler(workflow.NotFound)
    def difference_not_found(error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(workflow.NotAllowed)
    def not_allowed(error):
        return render_template("errors/403.html", description=str(error)), 403

    @app.errorhandler(workflow.WrongState)
    def wrong_state(error):
        return render_template("errors/409.html", description=str(error), state=True), 409

    @app.errorhandler(workflow.StaleDifference)
    def stale(error):
        return render_template("errors/409.html"), 409

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def value_out_of_range(error):
        # A number in a query string bigger than any the database holds: nothing can match it.
        db.session.rollback()
        return render_template("errors/400.html"), 400

    @app.errorhandler(workflow.DomainError)
    def refused(error):
        # Any other refusal a view did not turn into a form error: say why, change nothing.
        db.session.rollback()
        return render_template("errors/400.html", description=str(error)), 400

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template("errors/400.html", csrf=True), 400

    @app.errorhandler(HTTPException)
    def other_http_error(error: HTTPException):
        if error.code in ERROR_PAGES:
            return render_error(error)
        return render_template("errors/generic.html", error=error), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        logging.getLogger("escalate").exception("Unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(InternalServerError())


def register_commands(app: Flask) -> None:
    from escalate.cli import escalate_group

    app.cli.add_command(escalate_group)
