"""What no browser sends, and what no command should take: a file where text belongs, a NUL, a
control character, text that is not UTF-8, a name of invisible characters, a number too large.
Each gets a clear message and saves nothing (the fuzzing of tests/test_fuzz.py tries the rest)."""

import inspect
import io
import re

import pytest
import sqlalchemy as sa

from escalate import validation
from escalate.admin import forms as admin_forms
from escalate.auth import forms as auth_forms
from escalate.extensions import db
from escalate.fields import Form
from escalate.models import Agency, Invitation, Role, User
from escalate.oversight import forms as oversight_forms
from escalate.raising import forms as raising_forms
from escalate.records import forms as records_forms
from escalate.respond import forms as respond_forms
from escalate.respond import meeting_forms
from escalate.workflow import FieldError
from tests import factories
from tests.conftest import csrf_token_from, persist, sign_in, submit

PASSWORD = "a long enough password"
FORM_MODULES = (
    admin_forms,
    auth_forms,
    oversight_forms,
    raising_forms,
    records_forms,
    respond_forms,
    meeting_forms,
)


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_every_form_is_built_on_the_checked_base():
    forms = [
        cls
        for module in FORM_MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and hasattr(cls, "validate_on_submit")
    ]
    assert len(forms) >= 20
    assert [cls.__name__ for cls in forms if not issubclass(cls, Form)] == []


# --- Pages ----------------------------------------------------------------------------------


def test_a_text_field_sent_as_a_file_is_refused_on_the_sign_in_page(app, client):
    user = persist(app, lambda: factories.user(Role.PRACTITIONER))
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "email": (io.BytesIO(user.email.encode()), "email.txt"),
            "password": factories.PASSWORD,
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Email address must be typed in as text, not sent as a file" in page
    assert client.get("/account").status_code == 302


def test_a_password_sent_as_a_file_is_refused_on_the_set_password_page(app, client):
    with app.app_context():
        user = factories.user(Role.AUDITOR)
        user.password_hash = None
        from escalate.services.accounts import create_invitation

        token, _ = create_invitation(
            user, None, app.config["CLOCK"](), app.config["SECRET_KEY"]
        )
        db.session.commit()
        user_id = user.id
    page = client.get(f"/set-password/{token}").get_data(as_text=True)
    response = client.post(
        f"/set-password/{token}",
        data={
            "csrf_token": csrf_token_from(page),
            "password": (io.BytesIO(b"a long enough password"), "p.txt"),
            "confirmation": "a long enough password",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "must be typed in as text, not sent as a file" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).password_hash is None
        assert db.session.scalar(sa.select(Invitation.used_at)) is None


@pytest.mark.parametrize(
    "name, message",
    [
        ("Police\x00", "contains a control character (such as NUL)"),
        ("Police\x1b[31m", "contains a control character"),
        ("\u200b\u200b\u200b", "Enter the agency&#39;s name"),
    ],
)
def test_an_agency_name_that_cannot_be_stored_is_refused(app, client, name, message):
    admin = persist(app, lambda: factories.user(Role.ADMIN))
    sign_in(client, admin)
    response = submit(client, "/admin/agencies/new", {"name": name, "kind": "police"})
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _count(app, Agency) == 0


def test_a_json_body_is_not_taken_for_a_form(app, client):
    user = persist(app, lambda: factories.user(Role.PRACTITIONER))
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    for body in ([1, 2], 5, {"email": [user.email], "password": {"x": 1}}, "text"):
        response = client.post("/sign-in", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 200
        assert "Enter your email address" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_a_request_body_larger_than_any_form_is_refused(app, client):
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        "/sign-in", data={"csrf_token": token, "email": "a" * (3 * 1024 * 1024), "password": "x"}
    )
    assert response.status_code == 413


def test_send_a_new_link_to_an_account_stored_with_a_bad_address_shows_the_link(app, client):
    # Stored before today's checks (the command line once let a line break through).
    admin = persist(app, lambda: factories.user(Role.ADMIN))
    odd = persist(
        app, lambda: factories.user(Role.AUDITOR, email="odd@example.org\r\nbcc: x@example.org")
    )
    sign_in(client, admin)
    page = f"/admin/users/{odd.id}"
    response = submit(client, f"{page}/send-link", {}, form_page=page)
    assert response.status_code == 200
    assert re.search(r"/set-password/[A-Za-z0-9_\-]+", response.get_data(as_text=True))


# --- The command line -----------------------------------------------------------------------


def _create(runner, *args, password=PASSWORD):
    return runner.invoke(
        args=["escalate", "create-user", *args], env={"ESCALATE_NEW_USER_PASSWORD": password}
    )


@pytest.mark.parametrize(
    "email, name, message",
    [
        ("a@example.org\r\nBcc: b@example.org", "Ada", "Enter an email address in the correct"),
        ("a@example.org", "\u200b\u2060\u200b", "Enter the person's full name"),
        ("a@example.org", "   ", "Enter the person's full name"),
        ("a@example.org", "Ada\x00", "contains a control character (such as NUL)"),
        ("a@example.org", "Ada\nBcc: x", "must be on one line"),
        ("a@example.org", "A" * 201, "must be 200 characters or fewer"),
        ("a@example.org", "Ada \udcff", "is not text escalate can use: it must be UTF-8"),
        ("a\udce9@example.org", "Ada", "is not text escalate can use: it must be UTF-8"),
        ("a" * 250 + "@example.org", "Ada", "Enter an email address in the correct"),
    ],
)
def test_create_user_checks_what_the_pages_check(app, runner, email, name, message):
    result = _create(runner, "--email", email, "--name", name)
    assert result.exit_code in (1, 2), result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert message in result.output
    assert _count(app, User) == 0


def test_create_user_refuses_a_password_that_is_not_utf8(app, runner):
    result = _create(
        runner, "--email", "a@example.org", "--name", "Ada", password="pass\udcffword-long"
    )
    assert result.exit_code == 1 and "not UTF-8" in result.output
    assert _count(app, User) == 0


def test_an_import_file_with_a_nul_imports_nothing(app, runner, tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_bytes(b"name,kind\nNorthshire Police,police\nRiverside\x00 Practice,health\n")
    result = runner.invoke(args=["escalate", "import-agencies", str(path)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Line 3: The agency's name contains a control character" in result.output
    assert _count(app, Agency) == 0


def test_an_import_file_with_a_nul_in_an_account_row_imports_nothing(app, runner, tmp_path):
    path = tmp_path / "users.csv"
    path.write_bytes(
        b"email,name,job_title,role,agency,line_manager_email\n"
        b"a@example.org,Ada,Chair\x00,partnership,,\n"
    )
    result = runner.invoke(args=["escalate", "import-users", str(path)])
    assert result.exit_code == 1 and "Line 2: The job title contains a control" in result.output
    assert _count(app, User) == 0


@pytest.mark.parametrize("interval", ["99999999999999999999", "86401", "0", "-3"])
def test_the_worker_refuses_an_interval_it_cannot_wait(runner, interval):
    # Without --once: an interval the clock cannot wait must be refused before the first round.
    result = runner.invoke(args=["escalate", "worker", "--interval", interval])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Invalid value for '--interval'" in result.output


def test_deliver_refuses_a_limit_no_database_takes(runner):
    result = runner.invoke(args=["escalate", "deliver", "--limit", "9" * 30])
    assert result.exit_code == 2 and "Invalid value for '--limit'" in result.output


# --- The checks themselves --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, problem",
    [
        ("plain text", None),
        ("two\nlines", "must be on one line"),
        ("tab\tis fine", None),
        (b"bytes", "must be typed in as text, not sent as a file"),
        (None, "must be typed in as text, not sent as a file"),
        ("nul\x00", "contains a control character (such as NUL) that cannot be saved: remove it"),
        ("del\x7f", "contains a control character (such as NUL) that cannot be saved: remove it"),
        ("\ud800", "contains characters that are not UTF-8 text: save or type it as UTF-8"),
        ("x" * 10_001, "must be 10,000 characters or fewer"),
        ("é ü 汉字 🙂 \u200f", None),
    ],
)
def test_text_problem(value, problem):
    assert validation.text_problem(value) == problem


def test_multiline_text_may_have_line_breaks():
    assert validation.text_problem("one\r\ntwo", multiline=True) is None


@pytest.mark.parametrize(
    "password, message",
    [
        (" " * 12, "at least 12 characters"),
        ("\t" * 14, "at least 12 characters"),
        ("short", "at least 12 characters"),
        ("aaaaaaaaaaaa", "repeats the same characters"),
        ("abababababab", "repeats the same characters"),
        ("121212121212", "repeats the same characters"),
        ("abcdabcdabcd", "repeats the same characters"),
        ("horsehorsehorse", "repeats the same characters"),
        ("password1234", "commonly used"),
        ("Password1234", "commonly used"),
        ("qwertyuiop123", "commonly used"),
        ("iloveyou1234", "commonly used"),
        ("1234567890123", "commonly used"),
        ("x" * 201, "200 characters or fewer"),
        ("a long pass\x00phrase", "control character"),
    ],
)
def test_weak_passwords_are_refused(password, message):
    with pytest.raises(FieldError, match=message) as refused:
        validation.check_password(password)
    assert refused.value.field == "password"


@pytest.mark.parametrize(
    "password",
    [PASSWORD, factories.PASSWORD, "northshire-demo", "purple elephant umbrella", "Tr0ub4dor&3xyz"],
)
def test_long_uncommon_passwords_are_accepted(password):
    assert validation.check_password(password) == password
