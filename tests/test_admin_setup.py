"""Done when: a partnership is set up from nothing through the app alone (and through a CSV
import), and a changed policy governs the next difference raised."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import AdminChange, Agency, Difference, User
from tests.conftest import set_up_two_factor, submit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday, GMT
ADMIN_PASSWORD = "the first admin's passphrase"


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def deliver_email(runner, count: int) -> None:
    """The worker's email round, as a deployment runs it."""
    result = runner.invoke(args=["escalate", "deliver"])
    assert result.exit_code == 0, result.output
    assert f"Email: {count} sent, 0 to try again later, 0 failed" in result.output


def bootstrap_admin(app, runner):
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Agency.id))) == 0
    result = runner.invoke(
        args=["escalate", "create-user", "--email", "admin@northshire.example", "--name",
              "Ada Admin"],
        env={"ESCALATE_NEW_USER_PASSWORD": ADMIN_PASSWORD},
    )
    assert result.exit_code == 0, result.output
    browser = app.test_client()
    signed_in = submit(
        browser, "/sign-in", {"email": "admin@northshire.example", "password": ADMIN_PASSWORD}
    )
    assert signed_in.status_code == 302
    # An administrator sets up two-factor sign-in before anything else.
    assert browser.get("/").location.endswith("/account/two-factor")
    set_up_two_factor(browser)
    return browser


def ids(app, model, attribute) -> dict:
    with app.app_context():
        return {getattr(row, attribute): row.id for row in db.session.scalars(sa.select(model))}


def set_password(app, token, password) -> None:
    visitor = app.test_client()
    done = submit(visitor, f"/set-password/{token}", {"password": password,
                                                      "confirmation": password})
    assert done.status_code == 302, done.get_data(as_text=True)


def sign_in(app, email, password):
    browser = app.test_client()
    assert submit(browser, "/sign-in", {"email": email, "password": password}).status_code == 302
    return browser


def make_stage_one_three_days(admin):
    response = submit(
        admin,
        "/admin/policy/stages/1",
        {
            "name": "Professional to professional",
            "responder_rule": "named_professional",
            "lead_rule": "raiser",
            "working_days": "3",
            "urgent_working_hours": "4",
            "reminder_days_before": "1",
            "auto_escalate": "yes",
            "raiser_reply_days": "5",
            "proposal_reply_days": "2",
            "max_extension_days": "5",
        },
    )
    assert response.status_code == 302


def raise_difference_through_pages(browser, receiving_agency_id) -> str:
    details = {
        "receiving_agency": str(receiving_agency_id),
        "named_professional": "0",
        "child_reference": "CSC-5521",
        "child_initials": "AB",
        "category": "threshold",
        "decision": "The referral was closed with no further action after the initial contact.",
        "reasons": "The child told her teacher she is hit at home and has bruises on both arms.",
        "desired_outcome": "A strategy discussion and a section 47 enquiry.",
        "discussed_informally": "no",
    }
    sent = submit(browser, "/differences/new/details?urgent=no", details,
                  form_page="/differences/new")
    assert sent.status_code == 302, sent.get_data(as_text=True)
    confirmed = submit(browser, "/differences/new/check", {})
    assert confirmed.status_code == 302
    return browser.get(confirmed.headers["Location"]).get_data(as_text=True)


def test_a_partnership_is_set_up_from_nothing_through_the_app(app, runner, sent_mail):
    admin = bootstrap_admin(app, runner)
    assert admin.get("/").headers["Location"].endswith("/admin")

    for name, kind in (
        ("Riverside Medical Practice", "health"),
        ("Children's Social Care", "childrens_social_care"),
        ("Northshire Safeguarding Partnership", "other"),
    ):
        assert submit(admin, "/admin/agencies/new", {"name": name, "kind": kind}).status_code == 302
    agencies = ids(app, Agency, "name")

    def invite(email, name, role, agency, manager=None):
        data = {"email": email, "name": name, "job_title": "", "role": role,
                "agency": str(agencies[agency]) if agency else "0",
                "line_manager": str(ids(app, User, "email")[manager]) if manager else "0"}
        response = submit(admin, "/admin/users/invite", data)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert f"A link to set a password will be emailed to {email}" in response.get_data(
            as_text=True
        )

    invite("tm@csc.example", "Jo Evans", "manager", "Children's Social Care")
    invite("sw@csc.example", "Sam Okafor", "practitioner", "Children's Social Care",
           "tm@csc.example")
    invite("gp@gp.example", "Dr Emma Clarke", "practitioner", "Riverside Medical Practice")
    invite("chair@partnership.example", "Ruth Adeyemi", "partnership",
           "Northshire Safeguarding Partnership")
    deliver_email(runner, 4)
    assert len(sent_mail.messages) == 4
    for email in ("tm@csc.example", "sw@csc.example", "gp@gp.example",
                  "chair@partnership.example"):
        set_password(app, sent_mail.token_for(email), f"{email} passphrase")

    people = ids(app, User, "email")
    csc = "/admin/agencies/{}".format(agencies["Children's Social Care"])
    for level, email in ((1, "sw@csc.example"), (2, "tm@csc.example"), (3, "tm@csc.example")):
        added = submit(admin, csc, {"level": str(level), "user": str(people[email])})
        assert added.status_code == 302
    make_stage_one_three_days(admin)

    gp = sign_in(app, "gp@gp.example", "gp@gp.example passphrase")
    done = raise_difference_through_pages(gp, agencies["Children's Social Care"])
    # The new policy: three working days from Friday 20 November 2026 is Wednesday 25 November.
    assert "5:00pm on Wednesday 25 November 2026" in done
    sw = sign_in(app, "sw@csc.example", "sw@csc.example passphrase")
    waiting = sw.get("/waiting").get_data(as_text=True)
    assert "RPD-2026-00001" in waiting
    with app.app_context():
        difference = db.session.scalar(sa.select(Difference))
        assert difference.open_stage.name == "Professional to professional"
        assert difference.open_stage.working_days == 3
        recorded = db.session.scalars(sa.select(AdminChange.action)).all()
    assert recorded.count("created") == 3 + 3  # agencies and stage contacts
    assert recorded.count("invited") == 4 and recorded.count("password set") == 4
    assert recorded.count("changed") == 1


def test_a_partnership_is_set_up_from_a_csv_import(app, runner, sent_mail, tmp_path):
    admin = bootstrap_admin(app, runner)
    agencies_csv = tmp_path / "agencies.csv"
    agencies_csv.write_text(
        "name,kind\nRiverside Medical Practice,Health\nChildren's Social Care,"
        "Children's social care\nNorthshire Safeguarding Partnership,other\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["escalate", "import-agencies", str(agencies_csv)])
    assert result.exit_code == 0, result.output
    users_csv = tmp_path / "users.csv"
    users_csv.write_text(
        "email,name,job_title,role,agency,line_manager_email\n"
        "sw@csc.example,Sam Okafor,Social Worker,practitioner,Children's Social Care,"
        "tm@csc.example\n"
        "tm@csc.example,Jo Evans,Team Manager,manager,children's social care,\n"
        "gp@gp.example,Dr Emma Clarke,GP,practitioner,Riverside Medical Practice,\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["escalate", "import-users", str(users_csv),
                                 "--send-invitations"])
    assert result.exit_code == 0, result.output
    assert "Imported 3 accounts." in result.output
    assert "3 links to set a password will be emailed by the worker" in result.output
    deliver_email(runner, 3)
    for email in ("sw@csc.example", "tm@csc.example", "gp@gp.example"):
        set_password(app, sent_mail.token_for(email), f"{email} passphrase")

    agencies, people = ids(app, Agency, "name"), ids(app, User, "email")
    csc = "/admin/agencies/{}".format(agencies["Children's Social Care"])
    assert submit(admin, csc, {"level": "1", "user": str(people["sw@csc.example"])}
                  ).status_code == 302
    make_stage_one_three_days(admin)

    gp = sign_in(app, "gp@gp.example", "gp@gp.example passphrase")
    done = raise_difference_through_pages(gp, agencies["Children's Social Care"])
    assert "5:00pm on Wednesday 25 November 2026" in done
    with app.app_context():
        sam = db.session.scalar(sa.select(User).where(User.email == "sw@csc.example"))
        assert sam.line_manager.email == "tm@csc.example"
        changes = db.session.scalars(sa.select(AdminChange).where(AdminChange.actor_id.is_(None)))
        imported = [c.summary for c in changes]
    assert len(imported) == 6 and all("imported from" in s for s in imported)
    assert "Command line" in admin.get("/changes").get_data(as_text=True)
