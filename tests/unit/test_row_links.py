"""A list's links made from one ``url_for`` (presentation.row_link): for every value, exactly
the URL ``url_for`` itself gives, wherever the service is mounted."""

import pytest
from flask import Flask, url_for
from werkzeug.routing import BuildError

from escalate.presentation import row_link

REFERENCES = ["RPD-2026-00002", "RPD-2024-100001", "a", "A.b_c~d-1"]
# Values a URL quotes: row_link hands each to url_for itself.
QUOTED = ["RPD 2026/1", "x?y=1&z", "café", "50%", "#top", "", "1987654321/2"]
NUMBERS = [0, 1, 7, 25, 1_000, 2**31 - 1, -3]
# Values whose place in a URL is not their own text: url_for's, whatever it makes of them.
OTHERS = [True, False, 3.0, "007", "1_000", "12"]


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["SERVER_NAME"] = "escalate.example"

    @app.route("/differences/<reference>")
    def difference(reference):
        return reference

    @app.route("/inbox/<int:notification_id>")
    def message(notification_id):
        return str(notification_id)

    @app.route("/unresolved")
    def unresolved():
        return ""

    return app


@pytest.mark.parametrize("root", ["", "/escalate"])
def test_each_row_gets_the_url_url_for_gives(app, root):
    with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
        difference = row_link("difference", "reference")
        for value in REFERENCES + QUOTED:
            assert difference(value) == url_for("difference", reference=value)
        assert difference("RPD-2026-00002") == f"{root}/differences/RPD-2026-00002"

        for value in NUMBERS + OTHERS:
            assert difference(value) == url_for("difference", reference=value)

        message = row_link("message", "notification_id")
        for value in NUMBERS + OTHERS:
            assert message(value) == url_for("message", notification_id=value)
        assert message(25) == f"{root}/inbox/25"
        assert message("007") == f"{root}/inbox/7"


def test_page_links_keep_the_filters_and_the_anchor(app):
    filters = {"agency": 3, "only": ["urgent", "overdue"], "sort": "oldest", "q": "a b&c"}
    with app.test_request_context("/"):
        page = row_link("unresolved", "page", _anchor="views", **filters)
        for number in NUMBERS + OTHERS:
            assert page(number) == url_for("unresolved", _anchor="views", **filters, page=number)
        assert page(2) == (
            "/unresolved?agency=3&only=urgent&only=overdue&sort=oldest&q=a+b%26c&page=2#views"
        )


def test_a_filter_that_holds_the_placeholder_still_links_right(app):
    # The placeholder cannot be told from a filter's value: every link is made by url_for.
    with app.test_request_context("/"):
        page = row_link("unresolved", "page", q="1987654321")
        assert page(3) == url_for("unresolved", q="1987654321", page=3) == (
            "/unresolved?q=1987654321&page=3"
        )


def test_a_value_the_route_refuses_is_refused_as_url_for_refuses_it(app):
    with app.test_request_context("/"):
        message = row_link("message", "notification_id")
        for refused in ("abc", "not a number"):
            with pytest.raises(ValueError):
                url_for("message", notification_id=refused)
            with pytest.raises(ValueError):
                message(refused)


def test_no_value_is_no_link_as_with_url_for(app):
    with app.test_request_context("/"):
        # url_for leaves a missing page number out, and cannot make a path without its part.
        assert row_link("unresolved", "page", sort="oldest")(None) == "/unresolved?sort=oldest"
        with pytest.raises(BuildError):
            url_for("difference", reference=None)
        with pytest.raises(BuildError):
            row_link("difference", "reference")(None)
