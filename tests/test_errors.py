"""Every error reaches the user as a GOV.UK page, never a stack trace."""

import pytest
from flask import abort

from escalate.models import Role


@pytest.fixture
def app(own_app):
    """These tests add routes, which an application shared with other tests cannot take."""
    return own_app


@pytest.fixture
def app_with_failures(app):
    @app.route("/test-abort/<int:code>")
    def failing(code):
        abort(code)

    @app.route("/test-crash")
    def crash():
        raise RuntimeError("secret internals")

    return app


@pytest.mark.parametrize(
    "code, heading",
    [
        (400, "Sorry, there is a problem with the request"),
        (403, "You cannot do that"),
        (404, "Page not found"),
        (405, "Sorry, that cannot be done here"),
        (409, "This difference changed while you were working on it"),
        (429, "Too many attempts"),
        (500, "Sorry, there is a problem with the service"),
    ],
)
def test_error_pages_are_govuk_pages(app_with_failures, code, heading):
    response = app_with_failures.test_client().get(f"/test-abort/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == code
    assert heading in page
    assert "govuk-service-navigation" in page


def test_an_unexpected_error_shows_the_500_page_without_details(app_with_failures, caplog):
    response = app_with_failures.test_client().get("/test-crash")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in page
    assert "secret internals" not in page
    assert "Traceback" not in page
    assert "secret internals" in caplog.text  # logged for the operators


def test_unknown_page_is_not_found(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_error_pages_know_who_is_signed_in(signed_in_as, client):
    signed_in_as(Role.MANAGER, name="Maria Manager")
    page = client.get("/no/such/page").get_data(as_text=True)
    assert "Maria Manager" in page


def test_a_refusal_no_view_handled_is_explained_not_a_crash(app):
    from escalate.workflow import InvalidRequest

    @app.route("/test-refusal")
    def refusal():
        raise InvalidRequest("There is no agency called 'Nowhere'.")

    response = app.test_client().get("/test-refusal")
    assert response.status_code == 400
    assert "There is no agency called &#39;Nowhere&#39;." in response.get_data(as_text=True)
