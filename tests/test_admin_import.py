"""`flask escalate import-agencies` and `import-users`: all rows or none, rejected rows reported."""

import pytest
import sqlalchemy as sa

from escalate.extensions import db
from escalate.models import (
    AdminChange,
    Agency,
    AgencyKind,
    EmailStatus,
    Invitation,
    Notification,
    Role,
    User,
)
from tests import factories

AGENCIES_HEADER = "name,kind\n"
USERS_HEADER = "email,name,job_title,role,agency,line_manager_email\n"


@pytest.fixture
def write(tmp_path):
    def _write(text: str, name="file.csv", encoding="utf-8"):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    return _write


@pytest.fixture
def existing(app):
    with app.app_context():
        police = factories.agency("Northshire Police", AgencyKind.POLICE)
        factories.user(Role.MANAGER, agency=police, email="ds@police.example")
        factories.user(Role.MANAGER, agency=police, email="gone@police.example", active=False)
        db.session.commit()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def run(runner, *args):
    return runner.invoke(args=["escalate", *args])


def test_agencies_are_imported_and_recorded_as_the_command_line(app, runner, write):
    path = write(AGENCIES_HEADER + "Northshire Police,Police\n\n\"Fire, and Rescue\",other\n")
    result = run(runner, "import-agencies", path)
    assert result.exit_code == 0, result.output
    assert "Imported 2 agencies." in result.output
    with app.app_context():
        assert db.session.scalar(
            sa.select(Agency.kind).where(Agency.name == "Fire, and Rescue")
        ) == AgencyKind.OTHER
        change = db.session.scalar(sa.select(AdminChange).order_by(AdminChange.id))
        assert change.actor_id is None and change.entity == "agency"
        assert change.after == {
            "name": "Northshire Police", "kind": "police", "passwords": "allowed"
        }
        assert change.summary == "Agency Northshire Police imported from file.csv"


def test_any_rejected_agency_row_stops_the_whole_import(app, runner, write, existing):
    path = write(
        AGENCIES_HEADER
        + "Riverside Medical Practice,Health\n"  # line 2: fine
        + "NORTHSHIRE POLICE,Police\n"  # line 3: exists already
        + "Fire Service,Fire\n"  # line 4: unknown kind
        + ",Health\n"  # line 5: no name
        + "riverside medical practice,health\n"  # line 6: twice in the file
        + "Too,many,values\n"  # line 7
    )
    result = run(runner, "import-agencies", path)
    assert result.exit_code == 1
    assert "Line 3: There is already an agency called NORTHSHIRE POLICE." in result.output
    assert "Line 4: Choose the kind of agency" in result.output
    assert "Line 5: Enter the agency's name." in result.output
    assert "Line 6: riverside medical practice is already on line 2." in result.output
    assert "Line 7: The row has more values than there are columns" in result.output
    assert "Line 2" not in result.output
    assert "Nothing was imported: 5 rows were rejected." in result.output
    assert "Traceback" not in result.output
    assert count(app, Agency) == 1 and count(app, AdminChange) == 0


def users_file(*rows):
    return USERS_HEADER + "".join(row + "\n" for row in rows)


def test_users_are_imported_with_managers_from_the_file_or_the_database(
    app, runner, write, existing
):
    path = write(users_file(
        "DC.Price@Police.example,DC Tom Price,Detective Constable,practitioner,northshire police,"
        "ds2@police.example",
        "ds2@police.example,DS Two,Detective Sergeant,manager,Northshire Police,ds@police.example",
        "auditor@example.org,Frances Doyle,,auditor,,",
    ))
    result = run(runner, "import-users", path)
    assert result.exit_code == 0, result.output
    assert "Imported 3 accounts." in result.output
    assert "3 accounts need a password" in result.output
    with app.app_context():
        tom = db.session.scalar(sa.select(User).where(User.email == "dc.price@police.example"))
        assert tom.password_hash is None and tom.line_manager.email == "ds2@police.example"
        assert tom.line_manager.line_manager.email == "ds@police.example"
        assert tom.agency.name == "Northshire Police"
        assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0
        change = db.session.scalar(
            sa.select(AdminChange).where(AdminChange.entity_id == tom.id)
        )
        assert change.actor_id is None and change.after["line_manager"] == "ds2@police.example"


def test_any_rejected_user_row_stops_the_whole_import(app, runner, write, existing):
    path = write(users_file(
        "ok@police.example,Fine Person,,practitioner,Northshire Police,",  # 2: fine
        "DS@police.example,Duplicate,,manager,Northshire Police,",  # 3: account exists
        "not-an-email,Someone,,practitioner,Northshire Police,",  # 4
        "x@police.example,,,practitioner,Northshire Police,",  # 5: no name
        "y@police.example,Y,,chief,Northshire Police,",  # 6: unknown role
        "z@police.example,Z,,practitioner,,",  # 7: needs an agency
        "w@police.example,W,,practitioner,Fire Service,",  # 8: unknown agency
        "v@police.example,V,,practitioner,Northshire Police,nobody@police.example",  # 9
        "u@police.example,U,,practitioner,Northshire Police,gone@police.example",  # 10
        "t@police.example,T,,practitioner,Northshire Police,t@police.example",  # 11: self
        "OK@police.example,Again,,practitioner,Northshire Police,",  # 12: twice in the file
        "a@police.example,A,,manager,Northshire Police,b@police.example",  # 13: loop
        "b@police.example,B,,manager,Northshire Police,a@police.example",  # 14: loop
    ))
    result = run(runner, "import-users", path)
    assert result.exit_code == 1
    expected = {
        3: "There is already an account for ds@police.example.",
        4: "Enter an email address in the correct format",
        5: "Enter the person's full name.",
        6: "Choose a role: one of practitioner, manager, senior, partnership, auditor, admin",
        7: "Select an agency: a practitioner acts for an agency.",
        8: "There is no agency called 'Fire Service'.",
        9: "The line manager nobody@police.example has no account and is not in the file.",
        10: "The line manager gone@police.example is deactivated.",
        11: "A person cannot be their own line manager.",
        12: "ok@police.example is already on line 2.",
        13: "The line managers in the file go round in a circle through this row.",
        14: "The line managers in the file go round in a circle through this row.",
    }
    for line, words in expected.items():
        assert f"Line {line}: {words}" in result.output, (line, result.output)
    assert "Line 2:" not in result.output
    assert "Nothing was imported: 12 rows were rejected." in result.output
    assert count(app, User) == 2 and count(app, AdminChange) == 0


def test_invitations_are_emailed_on_request(app, runner, write, existing, sent_mail):
    sent_mail.refused.add("down@police.example")
    path = write(users_file(
        "up@police.example,Up,,practitioner,Northshire Police,",
        "down@police.example,Down,,practitioner,Northshire Police,",
    ))
    result = run(runner, "import-users", path, "--send-invitations")
    assert result.exit_code == 0, result.output
    assert "Imported 2 accounts." in result.output
    assert "2 links to set a password will be emailed by the worker" in result.output
    assert "/set-password/" not in result.output  # links are for their owners' mailboxes
    assert count(app, Invitation) == 2 and count(app, User) == 4
    assert sent_mail.messages == []  # the worker sends them

    delivered = run(runner, "deliver")
    assert "Email: 1 sent, 0 to try again later, 1 failed, 0 not emailed." in delivered.output
    assert [sent_mail.address(m) for m in sent_mail.messages] == ["up@police.example"]
    link = sent_mail.link_to("up@police.example")
    assert app.test_client().get(link).status_code == 200
    with app.app_context():
        down = db.session.scalar(
            sa.select(Notification)
            .join(User, User.id == Notification.recipient_id)
            .where(User.email == "down@police.example")
        )
        assert down.email_status == EmailStatus.FAILED
        assert "550 5.1.1 No such user here" in down.last_error
        assert link.rsplit("/", 1)[1] not in down.body


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        ("", "utf-8", "The file is empty"),
        ("email,name\n", "utf-8", "missing job_title, role, agency, line_manager_email"),
        (USERS_HEADER, "utf-8", "has its column names but no rows to import"),
        (USERS_HEADER + "é@x.org,Zoë,,auditor,,\n", "latin-1", "is not UTF-8 text"),
        ('email,name,job_title,role,agency,line_manager_email\n"a@b.org,x\n', "utf-8",
         "not a CSV file escalate can read"),
    ],
)
def test_a_bad_file_gets_a_clear_message_and_changes_nothing(
    app, runner, write, content, encoding, message
):
    result = run(runner, "import-users", write(content, encoding=encoding))
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert count(app, User) == 0


def test_a_utf8_file_from_a_spreadsheet_with_a_byte_order_mark_is_read(app, runner, write):
    path = write("\ufeff" + AGENCIES_HEADER + "Zoë's Nursery,Education\n")
    result = run(runner, "import-agencies", path)
    assert result.exit_code == 0, result.output
    assert count(app, Agency) == 1


def test_a_missing_file_or_a_folder_is_named(runner, tmp_path):
    missing = run(runner, "import-agencies", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "There is no file" in missing.output
    folder = run(runner, "import-agencies", str(tmp_path))
    assert folder.exit_code == 1 and "is a folder" in folder.output
    assert "Traceback" not in missing.output + folder.output
