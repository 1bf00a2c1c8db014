"""Guards against people being put in a difference's path who must never act on one, and
against input that once produced a server error."""

from datetime import UTC, datetime

import pytest

from escalate import queries, services, workflow
from escalate.extensions import db
from escalate.models import Agency, Role, User
from tests import factories
from tests.conftest import csrf_token_from

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def test_an_admin_in_an_agency_is_never_picked_as_its_stage_contact(ctx):
    agency = factories.agency("Receiving")
    admin = factories.user(Role.ADMIN, agency=agency)
    factories.stage_contact(agency, 1, admin)
    db.session.commit()
    assert queries.choices.stage_contacts_for(agency, 1) == []


def test_an_admin_cannot_be_made_a_stage_contact_or_a_line_manager(ctx):
    agency = factories.agency("Receiving")
    admin = factories.user(Role.ADMIN, agency=agency)
    factories.user(Role.PRACTITIONER, agency=agency)
    db.session.commit()
    with pytest.raises(workflow.FieldError, match="practitioner, manager or senior"):
        services.setup.add_stage_contact(admin, agency.id, level=1, user_id=admin.id, now=NOW)
    assert admin not in queries.choices.possible_line_managers()


def test_the_partnership_unit_is_not_an_agency_to_disagree_with(ctx):
    raiser = factories.user(Role.PRACTITIONER)
    unit = factories.agency("The partnership")
    factories.user(Role.PARTNERSHIP, agency=unit)
    other = factories.agency("Police")
    factories.user(Role.MANAGER, agency=other)
    db.session.commit()
    assert [a.name for a in queries.choices.other_agencies(raiser)] == ["Police"]
    new = factories.new_difference(unit)
    with pytest.raises(workflow.FieldError, match="Select the agency you disagree with"):
        services.differences.raise_difference(raiser, new, NOW)


def test_a_mangled_version_is_treated_as_a_changed_difference(app, people, client_for):
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        csc = db.session.get(Agency, people.csc.id)
        reference = services.differences.raise_difference(
            gp, factories.new_difference(csc), NOW
        ).reference
        db.session.remove()
    gp_client = client_for(people.gp)
    page = gp_client.get(f"/differences/{reference}/withdraw").get_data(as_text=True)
    response = gp_client.post(
        f"/differences/{reference}/withdraw",
        data={
            "csrf_token": csrf_token_from(page),
            "version": "abc",
            "rationale": "The family moved away to another authority last week.",
        },
    )
    assert response.status_code == 409
    assert "This difference changed while you were working on it" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/inbox/99999999999999999999999", "/oversight/unresolved?page=%C2%B2&stage=%C2%B2"]
)
def test_odd_numbers_in_urls_are_not_server_errors(people, client_for, path):
    response = client_for(people.chair).get(path)
    assert response.status_code in (200, 404)
    assert "Sorry, there is a problem with the service" not in response.get_data(as_text=True)


def test_a_huge_number_in_a_query_string_is_a_bad_request_not_a_crash(people, client_for):
    response = client_for(people.admin).get("/admin/users?agency=99999999999999999999999")
    assert response.status_code in (200, 400)
    assert "Sorry, there is a problem with the service" not in response.get_data(as_text=True)
