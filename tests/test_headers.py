"""Security headers: a Content-Security-Policy with no inline script but the nonce'd GOV.UK line,
HSTS outside development, a Permissions-Policy; on pages, error pages and downloads alike."""

import os
import re

import pytest

from escalate import ROOT
from escalate.models import Role
from tests import factories
from tests.conftest import make_app, persist, sign_in

SCRIPT = re.compile(r"<script\b([^>]*)>")
NONCE = re.compile(r"'nonce-([A-Za-z0-9_\-]+)'")


def check_page(response) -> None:
    """The page's inline script carries this response's nonce; nothing else is inline."""
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "style-src 'self';" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy
    html = response.get_data(as_text=True)
    nonce = NONCE.search(policy)
    for attributes in SCRIPT.findall(html):
        assert "src=" in attributes or (nonce and f'nonce="{nonce.group(1)}"' in attributes)
    assert not re.search(r"\sstyle=\"", html), "an inline style attribute"
    assert not re.search(r"\son[a-z]+=\"", html), "an inline event handler"
    assert "<style" not in html


def test_every_page_has_the_policy_and_a_new_nonce_each_time(app, client):
    first, second = client.get("/sign-in"), client.get("/sign-in")
    check_page(first)
    check_page(second)
    nonces = {NONCE.search(r.headers["Content-Security-Policy"]).group(1) for r in (first, second)}
    assert len(nonces) == 2
    assert 'nonce="' in first.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/nowhere", "/admin", "/oversight/report.csv?from=x"])
def test_error_pages_and_redirects_have_the_policy(client, path):
    response = client.get(path)
    assert response.status_code in (302, 400, 404)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Permissions-Policy"].startswith("accelerometer=()")


def test_signed_in_pages_and_downloads_have_the_policy(app, client):
    chair = persist(app, lambda: factories.user(Role.PARTNERSHIP))
    sign_in(client, chair)
    for path in ("/oversight/", "/oversight/report", "/oversight/unresolved", "/changes"):
        response = client.get(path)
        assert response.status_code == 200
        check_page(response)
    download = client.get("/oversight/unresolved.csv")
    assert "default-src 'self'" in download.headers["Content-Security-Policy"]


def test_the_permissions_policy_turns_off_what_escalate_never_uses(client):
    policy = client.get("/sign-in").headers["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in policy


def test_hsts_outside_development_only(database_url, client):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers
    production = make_app(database_url, ESCALATE_ENV="production")
    response = production.test_client().get("/sign-in")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_scripts_and_styles_are_kept_by_the_browser_and_linked_anew_when_they_change(client):
    """A browser keeps escalate's scripts, style sheets, fonts and images for an hour instead of
    asking for each again on every page; each of its own is linked with its version, so one that
    changes is fetched at once. The pages themselves are never kept."""
    page = client.get("/sign-in")
    assert page.headers["Cache-Control"] == "no-store"
    links = dict(re.findall(r'(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]+)"', page.text))
    assert {"/static/app.css", "/static/app.js", "/static/govuk/govuk-frontend.min.css"} <= set(
        links
    )
    for path in [f"{path}?v={version}" for path, version in links.items()] + [
        "/assets/images/favicon.ico"
    ]:
        with client.get(path) as response:
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == "public, max-age=3600", path
    stylesheet = ROOT / "static" / "app.css"
    changed = stylesheet.stat()
    os.utime(stylesheet, (changed.st_atime, changed.st_mtime + 120))
    try:
        again = client.get("/sign-in").text
    finally:
        os.utime(stylesheet, (changed.st_atime, changed.st_mtime))
    newer = re.search(r'href="/static/app.css\?v=([0-9a-f]+)"', again).group(1)
    assert newer != links["/static/app.css"]
