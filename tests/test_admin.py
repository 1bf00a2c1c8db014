"""The administration pages: who may use them, every guard, and the record of every change."""

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape as html_unescape
from pathlib import Path

import pytest
import sqlalchemy as sa

from escalate import policy, services
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Agency,
    AgencyStageContact,
    Base,
    ClosureDay,
    Difference,
    Event,
    EventKind,
    Invitation,
    Nation,
    Notification,
    PartnershipSettings,
    PolicyStage,
    Role,
    Stage,
    User,
)
from escalate.workflow import FieldError, InvalidRequest, NotAllowed
from tests import factories
from tests.conftest import SET_PASSWORD_LINK, persist, submit
from tests.oversight_fixture import tables

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def admin(people, client_for):
    return client_for(people.admin)


def changes(app, entity=None) -> list[AdminChange]:
    with app.app_context():
        query = sa.select(AdminChange).order_by(AdminChange.id)
        if entity:
            query = query.where(AdminChange.entity == entity)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def one(app, model, *where):
    with app.app_context():
        row = db.session.scalar(sa.select(model).where(*where))
        if row is not None:
            db.session.expunge(row)
        return row


def text(response) -> str:
    return response.get_data(as_text=True)


# --- Who may use the pages ---------------------------------------------------------------------


ADMIN_PAGES = [
    "/admin",
    "/admin/agencies",
    "/admin/agencies/new",
    "/admin/users",
    "/admin/users/invite",
    "/admin/policy",
    "/admin/policy/stages/1",
    "/admin/policy/stages/new",
    "/admin/policy/stages/remove-last",
    "/admin/policy/recompute",
    "/admin/calendar",
    "/admin/act-now",
    "/admin/sign-in",
]


def admin_posts(people):
    return [
        "/admin/agencies/new",
        f"/admin/agencies/{people.csc.id}",
        f"/admin/agencies/{people.csc.id}/change",
        f"/admin/agencies/{people.csc.id}/contacts/1/remove",
        "/admin/users/invite",
        f"/admin/users/{people.gp.id}/change",
        f"/admin/users/{people.gp.id}/deactivate",
        f"/admin/users/{people.gp.id}/reactivate",
        f"/admin/users/{people.gp.id}/send-link",
        "/admin/policy/stages/1",
        "/admin/policy/stages/new",
        "/admin/policy/stages/remove-last",
        "/admin/policy/recompute",
        "/admin/policy/urgent-start",
        "/admin/policy/meeting-minutes",
        "/admin/calendar",
        "/admin/calendar/closure-days",
        "/admin/calendar/closure-days/1/remove",
        "/admin/act-now",
        "/admin/sign-in",
        f"/admin/users/{people.chair.id}/reset-two-factor",
        f"/admin/agencies/{people.csc.id}/safeguarding-leads",
        f"/admin/agencies/{people.csc.id}/safeguarding-leads/1/remove",
    ]


def test_every_admin_route_is_for_administrators_only(app, people, client_for):
    adapter = app.url_map.bind("escalate.test")
    covered = {adapter.match(p)[0] for p in [*ADMIN_PAGES, f"/admin/users/{people.gp.id}"]}
    covered |= {adapter.match(p, method="POST")[0] for p in admin_posts(people)}
    every = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert every - covered == {"admin.changes", "admin.set_password"}
    for person in (people.gp, people.tm, people.hos, people.chair, people.auditor):
        browser = client_for(person)
        for page in ADMIN_PAGES:
            assert browser.get(page).status_code == 403, (person.name, page)
        assert browser.get(f"/admin/users/{people.gp.id}").status_code == 403
        assert browser.get(f"/admin/agencies/{people.csc.id}").status_code == 403
        for url in admin_posts(people):
            # A valid CSRF token (from their own account page) and still refused.
            response = submit(browser, url, {"name": "X"}, form_page="/account")
            assert response.status_code == 403, (person.name, url)
    assert one(app, User, User.id == people.gp.id).active
    assert changes(app) == []


def test_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert client.get("/changes").status_code == 302


NAV = 'class="govuk-service-navigation__link" href="{}"'


def test_navigation_and_home_for_admins_partnership_and_auditors(people, client_for, admin):
    home = admin.get("/")
    assert home.headers["Location"].endswith("/admin")
    page = text(admin.get("/admin"))
    assert NAV.format("/admin") in page and NAV.format("/changes") in page
    for person in (people.chair, people.auditor):
        page = text(client_for(person).get("/inbox"))
        assert NAV.format("/changes") in page and NAV.format("/admin") not in page
    assert NAV.format("/changes") not in text(client_for(people.gp).get("/inbox"))


def test_the_record_of_changes_is_read_only_for_partnership_and_auditors(
    app, people, client_for, admin
):
    submit(admin, "/admin/agencies/new", {"name": "Northshire Fire", "kind": "other"})
    for person in (people.chair, people.auditor):
        page = text(client_for(person).get("/changes"))
        assert "Agency Northshire Fire added" in page and "Sanjay Patel" in page
        assert "<form" not in page.split("<main", 1)[1].replace('action="/sign-out"', "")
    assert client_for(people.gp).get("/changes").status_code == 403
    assert client_for(people.tm).get("/changes").status_code == 403


# --- Agencies ----------------------------------------------------------------------------------


def test_an_agency_is_added_and_renamed_and_both_recorded(app, admin, people):
    response = submit(admin, "/admin/agencies/new", {"name": " Northshire  Fire ", "kind": "other"})
    assert response.status_code == 302
    agency = one(app, Agency, Agency.name == "Northshire Fire")
    assert agency.kind.value == "other"
    response = submit(
        admin,
        f"/admin/agencies/{agency.id}/change",
        {"name": "Northshire Fire and Rescue", "kind": "other"},
    )
    assert response.status_code == 302
    assert "The agency saved" in text(admin.get(response.headers["Location"]))
    created, renamed = changes(app, "agency")
    assert created.action == "created" and created.actor_id == people.admin.id
    assert created.before is None
    assert created.after == {"name": "Northshire Fire", "kind": "other", "passwords": "allowed"}
    assert (renamed.before, renamed.after) == (
        {"name": "Northshire Fire"},
        {"name": "Northshire Fire and Rescue"},
    )
    assert renamed.at == NOW


def test_agency_names_are_unique_whatever_their_case(app, admin, people):
    response = submit(admin, "/admin/agencies/new", {"name": "NORTHSHIRE police", "kind": "police"})
    assert response.status_code == 200
    assert "There is already an agency called Northshire Police" in text(response)
    response = submit(
        admin,
        f"/admin/agencies/{people.csc.id}/change",
        {"name": "northshire police", "kind": "police"},
    )
    assert "There is already an agency called Northshire Police" in text(response)
    assert one(app, Agency, Agency.id == people.csc.id).name == "Children's Social Care"
    assert changes(app, "agency") == []


def test_saving_an_unchanged_agency_records_nothing(app, admin, people):
    response = submit(
        admin,
        f"/admin/agencies/{people.police.id}/change",
        {"name": "Northshire Police", "kind": "police"},
    )
    assert "Nothing was changed" in text(admin.get(response.headers["Location"]))
    assert changes(app) == []


def test_an_unknown_agency_is_not_found(admin):
    assert admin.get("/admin/agencies/9999").status_code == 404
    assert admin.get("/admin/users/9999").status_code == 404


# --- Stage contacts ----------------------------------------------------------------------------


def test_stage_contacts_are_added_and_removed_and_recorded(app, admin, people):
    page = f"/admin/agencies/{people.police.id}"
    response = submit(admin, page, {"level": "1", "user": str(people.police_manager.id)})
    assert response.status_code == 302
    assert "DS Khan" in text(admin.get(page))
    with app.app_context():
        contact = db.session.scalar(
            sa.select(AgencyStageContact).where(AgencyStageContact.agency_id == people.police.id)
        )
        contact_id = contact.id
    again = submit(admin, page, {"level": "1", "user": str(people.police_manager.id)})
    assert "DS Khan is already a stage 1 contact" in text(again)
    submit(admin, f"{page}/contacts/{contact_id}/remove", {}, form_page=page)
    assert one(app, AgencyStageContact, AgencyStageContact.id == contact_id) is None
    added, removed = changes(app, "stage contact")
    assert added.after == {"agency": "Northshire Police", "stage": 1, "user": "ds@police.example"}
    assert removed.before == added.after and removed.after is None


def test_a_stage_contact_must_work_for_the_agency(app, people, ctx):
    admin = db.session.get(User, people.admin.id)
    with pytest.raises(FieldError, match="senior manager of Northshire Police"):
        services.setup.add_stage_contact(
            admin, people.police.id, level=1, user_id=people.sw.id, now=NOW
        )
    with pytest.raises(FieldError, match="stage of the policy"):
        services.setup.add_stage_contact(
            admin, people.police.id, level=9, user_id=people.police_manager.id, now=NOW
        )


# --- Accounts ----------------------------------------------------------------------------------


def invite_data(people, **overrides):
    data = {
        "email": "New.Worker@Police.Example",
        "name": "DC New Worker",
        "job_title": "Detective Constable",
        "role": "practitioner",
        "agency": str(people.police.id),
        "line_manager": str(people.police_manager.id),
    }
    return data | overrides


def readable_in_the_database(app, secret: str) -> bool:
    """Whether ``secret`` can be read from the database: in any column of any table, or (on
    SQLite) anywhere in its files, including pages rows were deleted from."""
    with app.app_context():
        stored = [
            str(value)
            for table in Base.metadata.sorted_tables
            for row in db.session.execute(sa.select(table))
            for value in row
        ]
        db.session.remove()
    if any(secret in value for value in stored):
        return True
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        files = [Path(url.removeprefix("sqlite:///") + suffix) for suffix in ("", "-wal")]
        return any(secret.encode() in f.read_bytes() for f in files if f.exists())
    return False


def link_status(admin, user) -> str:
    """What the person's page says about the email with their latest set-password link."""
    page = text(admin.get(f"/admin/users/{user.id}"))
    match = re.search(r'<p class="govuk-body[^"]*" id="link-email">(.*?)</p>', page, re.S)
    assert match, "the page says nothing about a link's email"
    return html_unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip())


def test_an_invited_person_sets_a_password_with_the_link_and_signs_in(
    app, admin, people, sent_mail
):
    response = submit(admin, "/admin/users/invite", invite_data(people))
    page = text(response)
    assert response.status_code == 200
    assert "A link to set a password will be emailed to new.worker@police.example" in page
    shown = SET_PASSWORD_LINK.search(page).group(0)
    user = one(app, User, User.email == "new.worker@police.example")
    assert user.password_hash is None and user.line_manager_id == people.police_manager.id
    assert link_status(admin, user).endswith("Queued Waiting to be sent")

    assert sent_mail.deliver().sent == 1  # the worker's round
    (message,) = sent_mail.messages
    assert sent_mail.address(message) == "new.worker@police.example"
    assert message["To"].addresses[0].display_name == "DC New Worker"
    assert message["Subject"] == "Resolve a professional difference: set your password"
    assert "An account has been set up for you" in sent_mail.text(message)
    assert sent_mail.text(message).count("http://127.0.0.1:5000/set-password/") == 1
    link = sent_mail.link_to(user.email)
    assert link == shown, "the administrator is shown the link that is emailed"
    token = link.rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.scalar(sa.select(Invitation))
        assert stored.token_hash != token and token not in stored.token_hash
        assert stored.expires_at == NOW + timedelta(days=7)
    assert not readable_in_the_database(app, token)
    assert "Sent Sent at 10:00am on Friday 20 November 2026" in link_status(admin, user)

    visitor = app.test_client()
    form = visitor.get(link)
    assert form.status_code == 200 and "new.worker@police.example" in text(form)
    # Looking at the link signs nobody in.
    assert visitor.get("/inbox").status_code == 302

    done = submit(
        visitor,
        link,
        {"password": "a long new passphrase", "confirmation": "a long new passphrase"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/sign-in")
    assert visitor.get("/inbox").status_code == 302, "setting a password does not sign in"
    signed_in = submit(
        visitor, "/sign-in", {"email": user.email, "password": "a long new passphrase"}
    )
    assert signed_in.status_code == 302
    # The email was for their mailbox only: their inbox in escalate starts empty.
    assert "You have no messages" in text(visitor.get("/inbox"))

    used = app.test_client().get(link)
    assert used.status_code == 410 and "already been used" in text(used)
    invited, password_set = changes(app, "user")
    assert invited.action == "invited" and invited.after["role"] == "practitioner"
    assert invited.after["line_manager"] == "ds@police.example"
    assert password_set.action == "password set" and password_set.actor_id == user.id
    assert not readable_in_the_database(app, token)


def test_the_link_shown_to_the_administrator_works_before_any_email_is_sent(
    app, admin, people, sent_mail
):
    page = text(submit(admin, "/admin/users/invite", invite_data(people)))
    link = SET_PASSWORD_LINK.search(page).group(0)
    assert "If the email does not arrive" in page and "shown only once" in page
    assert not readable_in_the_database(app, link.rsplit("/", 1)[1])
    done = submit(
        app.test_client(),
        link,
        {"password": "a long new passphrase", "confirmation": "a long new passphrase"},
    )
    assert done.status_code == 302
    # The worker then finds the link used: it does not email a link that no longer works.
    assert sent_mail.deliver().not_emailed == 1 and sent_mail.messages == []
    user = one(app, User, User.email == "new.worker@police.example")
    assert "Not emailed The link was used before it could be emailed" in link_status(admin, user)


def test_expired_and_unknown_links_get_a_clear_page(app, admin, people, sent_mail):
    submit(admin, "/admin/users/invite", invite_data(people))
    sent_mail.deliver()
    token = sent_mail.token_for("new.worker@police.example")
    app.config["CLOCK"] = lambda: NOW + timedelta(days=7)
    expired = app.test_client().get(f"/set-password/{token}")
    assert expired.status_code == 410 and "This link has expired" in text(expired)
    unknown = app.test_client().get("/set-password/not-a-real-token")
    assert unknown.status_code == 404 and "This link is not valid" in text(unknown)
    assert one(app, User, User.email == "new.worker@police.example").password_hash is None


def test_a_new_link_replaces_the_old_one(app, admin, people, sent_mail):
    submit(admin, "/admin/users/invite", invite_data(people))
    sent_mail.deliver()
    user = one(app, User, User.email == "new.worker@police.example")
    first = sent_mail.token_for(user.email)
    page = f"/admin/users/{user.id}"
    created = text(submit(admin, f"{page}/send-link", {}, form_page=page))
    assert "New link created for DC New Worker" in created
    assert "A link to set a password will be emailed to new.worker@police.example" in created
    sent_mail.deliver()
    second = sent_mail.token_for(user.email)
    assert first != second and len(sent_mail.to(user.email)) == 2
    assert second in created
    replaced = app.test_client().get(f"/set-password/{first}")
    assert "stops working when a newer one is sent" in text(replaced)
    assert app.test_client().get(f"/set-password/{second}").status_code == 200


def test_a_link_replaced_before_the_worker_came_to_it_is_not_emailed(
    app, admin, people, sent_mail
):
    submit(admin, "/admin/users/invite", invite_data(people))
    user = one(app, User, User.email == "new.worker@police.example")
    page = f"/admin/users/{user.id}"
    submit(admin, f"{page}/send-link", {}, form_page=page)

    counts = sent_mail.deliver()

    assert (counts.sent, counts.not_emailed) == (1, 1)
    (message,) = sent_mail.to(user.email)
    assert app.test_client().get(sent_mail.link_to(user.email)).status_code == 200
    assert "Sent Sent at 10:00am on Friday 20 November 2026" in link_status(admin, user)


def test_a_forgotten_password_gets_a_new_link_that_replaces_it(app, admin, people, sent_mail):
    page = f"/admin/users/{people.gp.id}"
    submit(admin, f"{page}/send-link", {}, form_page=page)
    sent_mail.deliver()
    email = sent_mail.text(sent_mail.to("gp@gp.example")[-1])
    assert "sent you a new link to set your password" in email
    assert "replaces your current one" in email
    set_it = submit(
        app.test_client(),
        sent_mail.link_to("gp@gp.example"),
        {"password": "a brand new passphrase", "confirmation": "a brand new passphrase"},
    )
    assert set_it.status_code == 302
    visitor = app.test_client()
    assert submit(
        visitor, "/sign-in", {"email": "gp@gp.example", "password": "a brand new passphrase"}
    ).status_code == 302


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(
    app, admin, people, sent_mail
):
    submit(admin, "/admin/users/invite", invite_data(people))
    sent_mail.deliver()
    token = sent_mail.token_for("new.worker@police.example")
    visitor = app.test_client()
    short = submit(
        visitor, f"/set-password/{token}", {"password": "short", "confirmation": "short"}
    )
    assert "at least 12 characters" in text(short)
    mismatch = submit(
        visitor,
        f"/set-password/{token}",
        {"password": "a long new passphrase", "confirmation": "a long new passphrasf"},
    )
    assert "The passwords do not match" in text(mismatch)
    assert one(app, User, User.email == "new.worker@police.example").password_hash is None
    assert visitor.get(f"/set-password/{token}").status_code == 200


def test_when_the_email_cannot_be_sent_the_admin_is_told_and_can_pass_a_link_on(
    app, admin, people, sent_mail
):
    sent_mail.refused.add("new.worker@police.example")
    submit(admin, "/admin/users/invite", invite_data(people))
    user = one(app, User, User.email == "new.worker@police.example")

    assert sent_mail.deliver().failed == 1

    assert sent_mail.messages == []
    status = link_status(admin, user)
    assert "Failed After 1 try: The mail server refused the address: 550 5.1.1" in status
    assert status.endswith("The administrators have been told.")
    inbox = text(admin.get("/inbox"))
    assert "The link to set a password could not be emailed to DC New Worker" in inbox
    assert "Inbox (1 unread)" in inbox
    # The administrator makes a new link and passes it on by hand: it works.
    page = f"/admin/users/{user.id}"
    created = text(submit(admin, f"{page}/send-link", {}, form_page=page))
    link = SET_PASSWORD_LINK.search(created).group(0)
    assert app.test_client().get(link).status_code == 200
    # No email about a failed link goes to anyone: the notice is in the app only.
    assert sent_mail.deliver().sent == 0


def test_duplicate_emails_are_refused_whatever_their_case(app, admin, people, sent_mail):
    response = submit(admin, "/admin/users/invite", invite_data(people, email="SW@csc.EXAMPLE"))
    assert "There is already an account for sw@csc.example" in text(response)
    response = submit(
        admin,
        f"/admin/users/{people.gp.id}/change",
        invite_data(
            people, email="Lead@GP.example", agency=str(people.gp_practice.id), line_manager="0"
        ),
    )
    assert "There is already an account for lead@gp.example" in text(response)
    assert sent_mail.deliver().sent == 0 and sent_mail.messages == []
    assert changes(app, "user") == []


def test_an_agency_role_needs_an_agency(app, admin, people, sent_mail):
    response = submit(admin, "/admin/users/invite", invite_data(people, agency="0"))
    assert "a practitioner acts for an agency" in text(response)
    response = submit(
        admin,
        "/admin/users/invite",
        invite_data(people, agency="0", role="auditor", line_manager="0"),
    )
    assert response.status_code == 200 and "Account created for DC New Worker" in text(response)


def test_role_agency_and_line_manager_change_and_are_recorded(app, admin, people):
    response = submit(
        admin,
        f"/admin/users/{people.sw2.id}/change",
        {
            "email": "sw2@csc.example",
            "name": "Leah Morgan",
            "job_title": "Senior Social Worker",
            "role": "manager",
            "agency": str(people.csc.id),
            "line_manager": str(people.hos.id),
        },
    )
    # Leah is a stage 1 contact of children's social care: she stays there, so this is allowed.
    assert response.status_code == 302
    (change,) = changes(app, "user")
    assert change.before == {
        "job_title": "",
        "role": "practitioner",
        "line_manager": "tm@csc.example",
    }
    assert change.after == {
        "job_title": "Senior Social Worker",
        "role": "manager",
        "line_manager": "hos@csc.example",
    }


def test_line_manager_cycles_are_refused(app, admin, people):
    # Jo Evans manages Sam Okafor: Sam cannot become Jo's manager.
    response = submit(
        admin,
        f"/admin/users/{people.tm.id}/change",
        {
            "email": "tm@csc.example",
            "name": "Jo Evans",
            "role": "manager",
            "agency": str(people.csc.id),
            "line_manager": str(people.sw.id),
        },
    )
    assert "reports to this one" in text(response)
    assert one(app, User, User.id == people.tm.id).line_manager_id == people.hos.id
    assert changes(app) == []


def test_a_line_manager_must_be_active(app, people, ctx):
    admin = db.session.get(User, people.admin.id)
    db.session.get(User, people.tm.id).active = False
    db.session.commit()
    with pytest.raises(FieldError, match="active practitioner, manager or senior manager"):
        services.accounts.change_user(
            admin,
            people.sw.id,
            email="sw@csc.example",
            name="Sam Okafor",
            role="practitioner",
            agency_id=people.csc.id,
            line_manager_id=people.tm.id,
            now=NOW,
        )


def test_a_stage_contact_cannot_be_moved_to_another_agency(app, admin, people):
    response = submit(
        admin,
        f"/admin/users/{people.sw2.id}/change",
        {
            "email": "sw2@csc.example",
            "name": "Leah Morgan",
            "role": "practitioner",
            "agency": str(people.police.id),
            "line_manager": "0",
        },
    )
    assert "is a stage 1 contact for Children&#39;s Social Care" in text(response)
    assert one(app, User, User.id == people.sw2.id).agency_id == people.csc.id


def test_a_user_in_history_is_deactivated_never_deleted_and_can_be_reactivated(
    app, admin, people, client_for
):
    with app.app_context():
        services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(
                db.session.get(Agency, people.csc.id), named_professional_id=people.sw.id
            ),
            NOW,
        )
    page = f"/admin/users/{people.sw.id}/deactivate"
    confirm = text(admin.get(page))
    assert "Sam Okafor is the responder on open differences" in confirm
    assert "1 open difference" not in confirm, "administrators see no count of differences"
    response = submit(admin, page, {})
    assert response.status_code == 302
    sam = one(app, User, User.id == people.sw.id)
    assert sam is not None and sam.active is False
    with pytest.raises(AssertionError, match="sign-in did not succeed"):
        client_for(people.sw)
    submit(
        admin,
        f"/admin/users/{people.sw.id}/reactivate",
        {},
        form_page=f"/admin/users/{people.sw.id}",
    )
    assert one(app, User, User.id == people.sw.id).active
    client_for(people.sw)
    actions = [c.action for c in changes(app, "user")]
    assert actions == ["deactivated", "reactivated"]
    assert "delete" not in text(admin.get(f"/admin/users/{people.sw.id}")).lower()


def test_an_admin_cannot_deactivate_themselves(app, admin, people):
    page = f"/admin/users/{people.admin.id}"
    assert "You cannot deactivate your own account" in text(admin.get(page))
    confirm = text(admin.get(f"{page}/deactivate"))
    assert "You cannot deactivate your own account" in confirm
    assert "Deactivate account" not in confirm
    response = submit(admin, f"{page}/deactivate", {})
    assert "You cannot deactivate your own account" in text(admin.get(response.headers["Location"]))
    assert one(app, User, User.id == people.admin.id).active
    assert changes(app) == []


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, admin, people, ctx):
    response = submit(
        admin,
        f"/admin/users/{people.admin.id}/change",
        {
            "email": "admin@partnership.example",
            "name": "Sanjay Patel",
            "role": "partnership",
            "agency": "0",
            "line_manager": "0",
        },
    )
    assert "only active administrator" in text(response)
    assert db.session.get(User, people.admin.id).role == Role.ADMIN
    # From the command line (no actor) the guard holds too.
    with pytest.raises(InvalidRequest, match="only active administrator"):
        services.accounts.deactivate_user(None, people.admin.id, NOW)
    db.session.rollback()
    assert db.session.get(User, people.admin.id).active
    assert changes(app) == []


def test_with_a_second_admin_one_may_step_down(app, admin, people, client_for):
    second = persist(app, lambda: factories.user(Role.ADMIN, email="second@admin.example"))
    response = submit(
        admin,
        f"/admin/users/{people.admin.id}/change",
        {
            "email": "admin@partnership.example",
            "name": "Sanjay Patel",
            "role": "partnership",
            "agency": "0",
            "line_manager": "0",
        },
    )
    assert response.status_code == 302
    assert admin.get("/admin").status_code == 403
    # The remaining admin is now the last one: they cannot be deactivated by the CLI either.
    with app.app_context(), pytest.raises(InvalidRequest):
        services.accounts.deactivate_user(None, second.id, NOW)


def test_only_admins_call_the_admin_services(app, people, ctx):
    chair = db.session.get(User, people.chair.id)
    with pytest.raises(NotAllowed):
        services.setup.add_agency(chair, name="Fire", kind="other", now=NOW)
    with pytest.raises(NotAllowed):
        services.setup.recompute_deadlines(chair, NOW)


def test_the_people_list_filters_by_agency_role_and_status(app, admin, people):
    page = text(admin.get(f"/admin/users?agency={people.csc.id}&role=practitioner"))
    assert "Sam Okafor" in page and "Leah Morgan" in page
    assert "Jo Evans" not in page and "Dr Emma Clarke" not in page
    with app.app_context():
        db.session.get(User, people.sw.id).active = False
        db.session.commit()
    assert "Sam Okafor" not in text(admin.get("/admin/users"))
    assert "Sam Okafor" in text(admin.get("/admin/users?status=deactivated"))
    assert admin.get("/admin/users?agency=abc&role=chief&status=x").status_code == 200


def listed_people(html: str) -> list[str]:
    return re.findall(r'<a class="govuk-link" href="/admin/users/\d+">([^<]+)</a>', html)


def next_link(html: str) -> str:
    return re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")


def test_the_people_list_pages_by_fifty_and_keeps_its_filters(app, admin, people):
    with app.app_context():
        csc = db.session.get(Agency, people.csc.id)
        for number in range(60):
            factories.user(
                Role.PRACTITIONER, agency=csc, name=f"Practitioner {number:02d}", active=number < 59
            )
        factories.user(Role.MANAGER, agency=csc, name="Practitioner Manager")
        db.session.commit()
    filters = f"agency={people.csc.id}&role=practitioner&status=all"
    first = text(admin.get(f"/admin/users?{filters}"))
    names = [f"Practitioner {number:02d}" for number in range(60)]
    assert listed_people(first) == ["Leah Morgan", *names[:49]]
    assert "62 accounts, showing 1 to 50" in first
    # The next page keeps the agency, the role and "all" (Practitioner 59 is deactivated).
    assert next_link(first) == f"/admin/users?{filters}&page=2"
    second = text(admin.get(next_link(first)))
    assert listed_people(second) == [*names[49:], "Sam Okafor"]
    assert "62 accounts, showing 51 to 62" in second
    # A page past the end shows the last one; one that makes no sense, the first.
    past_the_end = text(admin.get(f"/admin/users?{filters}&page=9"))
    assert listed_people(past_the_end) == listed_people(second)
    assert listed_people(text(admin.get(f"/admin/users?{filters}&page=x"))) == listed_people(first)
    # Active accounts are the default, and the links leave it out.
    active = text(admin.get(f"/admin/users?agency={people.csc.id}&role=practitioner"))
    assert next_link(active) == f"/admin/users?agency={people.csc.id}&role=practitioner&page=2"


def test_the_agencies_list_pages_by_fifty_with_each_agencys_active_accounts(app, admin, people):
    with app.app_context():
        for number in range(55):
            factories.agency(f"Agency {number:02d}")
        db.session.commit()
    first = tables(text(admin.get("/admin/agencies")))["Member agencies"][1:]
    assert [row[0] for row in first] == [f"Agency {number:02d}" for number in range(50)]
    second = text(admin.get("/admin/agencies?page=2"))
    assert tables(second)["Member agencies"][1:] == [
        *([f"Agency {number:02d}", "Children's social care", "0"] for number in range(50, 55)),
        ["Children's Social Care", "Children's social care", "4"],
        ["Northshire Police", "Police", "1"],
        ["Riverside Medical Practice", "Health", "4"],
        ["The Partnership", "Other", "2"],
    ]
    assert 'href="/admin/agencies?page=1"' in second and 'rel="next"' not in second
    past_the_end = text(admin.get("/admin/agencies?page=3"))
    assert tables(past_the_end)["Member agencies"] == tables(second)["Member agencies"]


# --- The stage policy --------------------------------------------------------------------------


def stage_data(**overrides):
    data = {
        "name": "Practitioner to practitioner",
        "responder_rule": "named_professional",
        "lead_rule": "raiser",
        "working_days": "3",
        "urgent_working_hours": "4",
        "reminder_days_before": "1",
        "auto_escalate": "yes",
        "raiser_reply_days": "5",
        "proposal_reply_days": "2",
        "max_extension_days": "5",
    }
    return data | overrides


def test_a_stage_change_is_saved_recorded_and_governs_the_next_difference(app, admin, people):
    response = submit(admin, "/admin/policy/stages/1", stage_data())
    assert response.status_code == 302
    (change,) = changes(app, "stage policy")
    assert (change.before, change.after) == ({"working_days": 5}, {"working_days": 3})
    with app.app_context():
        difference = services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(db.session.get(Agency, people.csc.id)),
            NOW,
        )
        # Three working days from Friday 20 November 2026: Wednesday 25 November, 5pm.
        assert difference.open_stage.deadline == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"working_days": "0"}, "must be at least 1"),
        ({"working_days": "five"}, "Enter a whole number, like 5"),
        ({"urgent_working_hours": "25"}, "cannot have longer than the usual 3 working days"),
        ({"urgent_working_hours": "0"}, "between 1 and 80"),
        ({"reminder_days_before": "3"}, "The reminder must come before the deadline"),
        ({"raiser_reply_days": "0"}, "must be at least 1"),
        ({"name": ""}, "Enter the stage&#39;s name"),
    ],
)
def test_bad_timescales_are_explained_and_change_nothing(app, admin, overrides, message):
    response = submit(admin, "/admin/policy/stages/1", stage_data(**overrides))
    assert response.status_code == 200 and message in text(response)
    assert one(app, PolicyStage, PolicyStage.level == 1).working_days == 5
    assert changes(app) == []


def test_the_final_stage_asks_only_for_timescales(app, admin):
    page = text(admin.get("/admin/policy/stages/4"))
    assert "This is the final stage" in page and 'name="responder_rule"' not in page
    response = submit(
        admin,
        "/admin/policy/stages/4",
        {
            "name": "Independent chair",
            "working_days": "8",
            "urgent_working_hours": "16",
            "reminder_days_before": "2",
            "raiser_reply_days": "5",
            "proposal_reply_days": "2",
            "max_extension_days": "0",
            # A crafted request cannot change who acts at the final stage.
            "responder_rule": "agency_contacts",
            "auto_escalate": "yes",
        },
    )
    assert response.status_code == 302
    final = one(app, PolicyStage, PolicyStage.level == 4)
    assert (final.name, final.working_days, final.responder_rule.value, final.auto_escalate) == (
        "Independent chair",
        8,
        "partnership",
        False,
    )


def test_the_final_stage_guard_holds_in_the_service(app, people, ctx):
    admin = db.session.get(User, people.admin.id)
    with pytest.raises(FieldError, match="its responder must be the partnership"):
        services.setup.change_stage(
            admin, 4, {**_values(4), "responder_rule": "agency_contacts"}, NOW
        )


def _values(level):
    stage = db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
    return {
        key: getattr(stage, key)
        for key in (
            "name",
            "responder_rule",
            "lead_rule",
            "working_days",
            "urgent_working_hours",
            "reminder_days_before",
            "auto_escalate",
            "raiser_reply_days",
            "max_extension_days",
        )
    }


def test_a_stage_is_added_at_the_end_as_the_final_stage(app, admin):
    response = submit(
        admin,
        "/admin/policy/stages/new",
        {
            "name": "Independent scrutiny",
            "working_days": "10",
            "urgent_working_hours": "16",
            "reminder_days_before": "1",
            "raiser_reply_days": "5",
            "proposal_reply_days": "2",
            "max_extension_days": "5",
        },
    )
    assert response.status_code == 302
    assert "Stage 5 added as the final stage" in text(admin.get(response.headers["Location"]))
    new = one(app, PolicyStage, PolicyStage.level == 5)
    assert (new.responder_rule.value, new.lead_rule.value, new.auto_escalate) == (
        "partnership",
        "none",
        False,
    )
    (change,) = changes(app, "stage policy")
    assert change.action == "created" and change.after["name"] == "Independent scrutiny"


def test_the_last_stage_is_removed_only_when_safe(app, admin, people):
    # Stage 3 uses agency contacts, so it cannot become the final stage yet.
    page = text(admin.get("/admin/policy/stages/remove-last"))
    assert "Stage 3 would become the final stage" in page
    submit(
        admin,
        "/admin/policy/stages/3",
        stage_data(
            name="Senior managers",
            responder_rule="partnership",
            lead_rule="none",
            auto_escalate="no",
            working_days="5",
        ),
    )
    with app.app_context():
        services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(db.session.get(Agency, people.csc.id)),
            NOW,
        )
        difference = db.session.scalar(sa.select(Difference))
        difference.stage_level = 3  # as if escalated twice: it could still reach stage 4
        db.session.commit()
    response = submit(admin, "/admin/policy/stages/remove-last", {}, form_page="/admin/policy")
    assert "Some open differences are at stage 3 or 4" in text(
        admin.get(response.headers["Location"])
    )
    assert one(app, PolicyStage, PolicyStage.level == 4) is not None

    with app.app_context():
        db.session.scalar(sa.select(Difference)).state = "withdrawn"
        db.session.commit()
    response = submit(admin, "/admin/policy/stages/remove-last", {})
    assert "Stage 4 (Partnership resolution) removed" in text(
        admin.get(response.headers["Location"])
    )
    assert one(app, PolicyStage, PolicyStage.level == 4) is None
    assert changes(app, "stage policy")[-1].action == "removed"


def test_the_policy_always_keeps_one_stage(app, people, ctx):
    admin = db.session.get(User, people.admin.id)
    for level in (4, 3, 2):
        db.session.delete(
            db.session.scalar(sa.select(PolicyStage).where(PolicyStage.level == level))
        )
    first = db.session.scalar(sa.select(PolicyStage))
    first.responder_rule, first.lead_rule, first.auto_escalate = "partnership", "none", False
    db.session.commit()
    with pytest.raises(InvalidRequest, match="at least one stage"):
        services.setup.remove_last_stage(admin, NOW)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(PolicyStage.id))) == 1


# --- Recomputing open deadlines ----------------------------------------------------------------


def test_recomputing_moves_open_deadlines_records_events_and_tells_people(
    app, admin, people, client_for
):
    with app.app_context():
        raised = services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(
                db.session.get(Agency, people.csc.id), named_professional_id=people.sw.id
            ),
            NOW,
        )
        reference = raised.reference
        # A second, already answered difference: not waiting for a response, so it keeps its date.
        other = services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(
                db.session.get(Agency, people.csc.id), child_reference="CSC-2"
            ),
            NOW,
        )
        services.differences.respond(
            db.session.get(User, people.sw2.id),
            other.id,
            other.version,
            outcome="upheld",
            rationale="The threshold for a section 47 enquiry is not met on this information.",
            child_impact="Early help continues for the family.",
            now=NOW,
        )
        other_id = other.id
    submit(admin, "/admin/policy/stages/1", stage_data(working_days="8"))
    with app.app_context():
        assert db.session.scalar(sa.select(Stage).where(Stage.level == 1)).deadline == datetime(
            2026, 11, 27, 17, 0, tzinfo=UTC
        ), "a policy change alone leaves open deadlines as they were"

    confirm = text(admin.get("/admin/policy/recompute"))
    assert "Some open differences would get a new deadline" in confirm
    # Administrators see no difference: neither its reference nor its deadlines, nor a count.
    assert reference not in confirm and "1 open difference" not in confirm
    assert "5:00pm on Wednesday 2 December 2026" not in confirm
    response = submit(admin, "/admin/policy/recompute", {})
    assert "Open deadlines recomputed" in text(admin.get(response.headers["Location"]))

    with app.app_context():
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        assert difference.open_stage.deadline == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
        event = difference.events[-1]
        assert event.kind == EventKind.DEADLINE_RECOMPUTED and event.actor_id == people.admin.id
        assert event.deadline == difference.open_stage.deadline
        assert event.data["previous_deadline"] == "2026-11-27T17:00:00+00:00"
        told = db.session.scalars(
            sa.select(Notification.recipient_id).where(Notification.event_id == event.id)
        ).all()
        assert sorted(told) == sorted([people.gp.id, people.sw.id])
        body = db.session.scalar(
            sa.select(Notification.body).where(Notification.event_id == event.id)
        )
        assert "now due by 5pm on Wednesday 2 December 2026" in body
        others = db.session.scalars(sa.select(Event.kind).where(Event.difference_id == other_id))
        assert EventKind.DEADLINE_RECOMPUTED not in list(others)

    history = text(client_for(people.gp).get(f"/differences/{reference}"))
    assert "Deadline recomputed" in history
    (change,) = [c for c in changes(app) if c.action == "deadlines recomputed"]
    assert change.after == {"moved": {reference: "2026-12-02T17:00:00+00:00"}}
    # Run again: nothing moves.
    assert "No open deadline would move" in text(admin.get("/admin/policy/recompute"))


def test_recomputing_keeps_extensions_and_uses_new_closure_days(app, admin, people):
    with app.app_context():
        difference = services.differences.raise_difference(
            db.session.get(User, people.gp.id),
            factories.new_difference(
                db.session.get(Agency, people.csc.id), named_professional_id=people.sw.id
            ),
            NOW,
        )
        services.extension_requests.request_extension(
            db.session.get(User, people.sw.id),
            difference.id,
            difference.version,
            new_deadline=date(2026, 12, 1),
            rationale="The family are away and the visit cannot happen before next week.",
            now=NOW,
        )
        services.extension_requests.answer_extension(
            db.session.get(User, people.gp.id), difference.id, None, agree="yes", now=NOW
        )
        reference = difference.reference
    # Friday 27 November 2026 + 2 working days = Tuesday 1 December. Close Monday 23 November.
    submit(
        admin,
        "/admin/calendar/closure-days",
        {"day": ["23", "11", "2026"], "description": "Council closure day"},
        form_page="/admin/calendar",
    )
    submit(admin, "/admin/policy/recompute", {})
    with app.app_context():
        stage = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        ).open_stage
        assert stage.deadline == datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


# --- The calendar and the "act now" text -------------------------------------------------------


def test_the_calendar_changes_and_is_recorded(app, admin):
    response = submit(
        admin,
        "/admin/calendar",
        {"nation": "scotland", "start_of_working_day": "09:00", "end_of_working_day": "16:30"},
    )
    assert response.status_code == 302
    settings = one(app, PartnershipSettings, PartnershipSettings.id == 1)
    assert (settings.nation, settings.end_of_working_day) == (Nation.SCOTLAND, time(16, 30))
    (change,) = changes(app, "calendar")
    assert change.before == {"nation": "england-and-wales", "end_of_working_day": "17:00"}
    assert change.after == {"nation": "scotland", "end_of_working_day": "16:30"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nation": "wales", "end_of_working_day": "17:00"}, "Not a valid choice"),
        ({"nation": "scotland", "end_of_working_day": "teatime"}, "Enter a time like 17:00"),
        ({"nation": "scotland", "end_of_working_day": "03:00"}, "between 12:00 and 23:59"),
        ({"nation": "scotland", "end_of_working_day": "17:00", "start_of_working_day": ""},
         "Enter the start of the working day"),
        ({"nation": "scotland", "end_of_working_day": "17:00", "start_of_working_day": "05:00"},
         "from 06:00"),
        ({"nation": "scotland", "end_of_working_day": "13:00", "start_of_working_day": "12:00"},
         "at least 2 hours before it ends"),
    ],
)
def test_a_bad_calendar_is_refused(app, admin, data, message):
    response = submit(admin, "/admin/calendar", {"start_of_working_day": "09:00"} | data)
    assert response.status_code == 200 and message in text(response)
    assert one(app, PartnershipSettings, PartnershipSettings.id == 1).nation == (
        Nation.ENGLAND_AND_WALES
    )
    assert changes(app) == []


def test_closure_days_are_added_and_removed(app, admin):
    data = {"day": ["24", "12", "2026"], "description": "Council closure day"}
    response = submit(admin, "/admin/calendar/closure-days", data, form_page="/admin/calendar")
    assert response.status_code == 302
    assert "24 December 2026" in text(admin.get("/admin/calendar"))
    again = submit(admin, "/admin/calendar/closure-days", data, form_page="/admin/calendar")
    assert again.status_code == 400 and "already a closure day" in text(again)
    bad = submit(
        admin,
        "/admin/calendar/closure-days",
        {"day": ["31", "2", "2026"], "description": "x"},
        form_page="/admin/calendar",
    )
    assert "must be a real date" in text(bad)
    closure = one(app, ClosureDay, ClosureDay.description == "Council closure day")
    submit(
        admin, f"/admin/calendar/closure-days/{closure.id}/remove", {}, form_page="/admin/calendar"
    )
    assert one(app, ClosureDay, ClosureDay.id == closure.id) is None
    added, removed = changes(app, "closure day")
    assert added.after == {"day": "2026-12-24", "description": "Council closure day"}
    assert removed.before == added.after


def test_the_act_now_text_is_what_a_raiser_at_immediate_risk_sees(app, admin, people, client_for):
    text_ = "Call 999. Northshire MASH: 01234 567890 (out of hours 01234 000111)."
    response = submit(admin, "/admin/act-now", {"text": text_})
    assert response.status_code == 302
    page = text(
        submit(
            client_for(people.gp),
            "/differences/new",
            {"immediate_risk": "yes"},
            follow_redirects=True,
        )
    )
    assert "Northshire MASH: 01234 567890" in page
    (change,) = changes(app, "act now text")
    assert change.after == {"act_now_text": text_}
    empty = submit(admin, "/admin/act-now", {"text": "   "})
    assert "Enter what people must do" in text(empty)


def test_the_partnerships_numbers_are_set_with_the_act_now_text(app, admin):
    page = text(admin.get("/admin/act-now"))
    assert 'name="mash_phone"' in page and 'value="101"' in page
    data = {
        "text": policy.DEFAULT_ACT_NOW_TEXT,
        "mash_phone": "01632  960100",
        "out_of_hours_phone": "01632 960200",
        "police_phone": "101",
    }
    assert submit(admin, "/admin/act-now", data).status_code == 302
    settings = one(app, PartnershipSettings, PartnershipSettings.id == 1)
    assert (settings.mash_phone, settings.out_of_hours_phone, settings.police_phone) == (
        "01632 960100",
        "01632 960200",
        "101",
    )
    (change,) = changes(app, "act now text")
    assert change.after == {"mash_phone": "01632 960100", "out_of_hours_phone": "01632 960200"}
    refused = submit(admin, "/admin/act-now", data | {"mash_phone": "ring the MASH"})
    assert refused.status_code == 200 and "Enter the MASH&#39;s number as digits" in text(refused)
    assert one(app, PartnershipSettings, PartnershipSettings.id == 1).mash_phone == "01632 960100"


def test_the_highest_urgent_start_is_part_of_the_policy(app, admin):
    page = text(admin.get("/admin/policy"))
    assert "Urgent differences" in page and "4 working hours" in page
    radios = re.findall(r'<input[^>]*name="highest_urgent_start"[^>]*>', page)
    # Stages 1 to 3 may be chosen, never the final stage; 3 is the default.
    assert [re.search(r'value="(\d)"', r).group(1) for r in radios] == ["1", "2", "3"]
    assert ["checked" in r for r in radios] == [False, False, True]
    response = submit(admin, "/admin/policy/urgent-start", {"highest_urgent_start": "2"},
                      form_page="/admin/policy")
    assert response.status_code == 302
    assert one(app, PartnershipSettings, PartnershipSettings.id == 1).highest_urgent_start == 2
    (change,) = changes(app, "stage policy")
    assert (change.before, change.after) == (
        {"highest_urgent_start": 3},
        {"highest_urgent_start": 2},
    )
    for bad in ("4", "0", "two"):
        refused = submit(admin, "/admin/policy/urgent-start", {"highest_urgent_start": bad},
                         form_page="/admin/policy")
        assert refused.status_code == 400 and "Not a valid choice" in text(refused)
    assert one(app, PartnershipSettings, PartnershipSettings.id == 1).highest_urgent_start == 2


# --- The record of changes ---------------------------------------------------------------------


def test_changes_are_listed_newest_first_fifty_to_a_page(app, admin, people):
    with app.app_context():
        actor = db.session.get(User, people.admin.id)
        for number in range(51):
            services.setup.add_agency(
                actor,
                name=f"Agency {number:02d}",
                kind="other",
                now=NOW + timedelta(minutes=number),
            )
    first = text(admin.get("/changes"))
    assert "Agency Agency 50 added" in first and "Agency Agency 00 added" not in first
    assert first.index("Agency 50") < first.index("Agency 49")
    assert "page=2" in first
    second = text(admin.get("/changes?page=2"))
    assert "Agency Agency 00 added" in second
    assert admin.get("/changes?page=3").status_code == 404
    assert admin.get("/changes?page=abc").status_code == 200
    assert admin.get("/changes?page=99999999999999999999").status_code == 200  # the first page
    assert 'href="/changes?page=1"' in second and "(page 2 of 2)" in second


def test_a_form_without_its_csrf_token_changes_nothing(app, admin, people):
    response = admin.post("/admin/agencies/new", data={"name": "Fire", "kind": "other"})
    assert response.status_code == 400
    assert one(app, Agency, Agency.name == "Fire") is None


def test_the_set_password_page_is_rate_limited(database_url, app):
    from tests.conftest import make_app

    limited = make_app(database_url, RATELIMIT_ENABLED=True, CLOCK=lambda: NOW)
    visitor = limited.test_client()
    statuses = [visitor.get(f"/set-password/guess-{n}").status_code for n in range(11)]
    assert statuses[:10] == [404] * 10 and statuses[10] == 429
    with limited.app_context():
        db.engine.dispose()


def test_someone_signed_in_cannot_use_a_link(app, admin, people, sent_mail):
    submit(admin, "/admin/users/invite", invite_data(people))
    sent_mail.deliver()
    token = sent_mail.token_for("new.worker@police.example")
    response = admin.get(f"/set-password/{token}")
    assert response.status_code == 409 and "Sign out to use this link" in text(response)


def test_every_admin_page_opens_for_an_administrator(app, admin, people):
    with app.app_context():
        factories.stage_contact(
            db.session.get(Agency, people.police.id),
            1,
            db.session.get(User, people.police_manager.id),
        )
        db.session.add(ClosureDay(day=NOW.date(), description="Council closure day"))
        db.session.commit()
    submit(admin, "/admin/agencies/new", {"name": "Fire", "kind": "other"})
    for page in [
        *ADMIN_PAGES,
        "/changes",
        f"/admin/users/{people.gp.id}",
        f"/admin/users/{people.gp.id}/change",
        f"/admin/users/{people.gp.id}/deactivate",
        f"/admin/agencies/{people.police.id}",
        f"/admin/agencies/{people.csc.id}/change",
    ]:
        response = admin.get(page)
        assert response.status_code == 200, page
        assert "govuk-error-summary" not in text(response), page
