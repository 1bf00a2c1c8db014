"""The access log: every view of a difference, every report and every spreadsheet downloaded is
logged (who, when, what); the partnership and auditors see a difference's views on its page and
search the log; `flask escalate verify-audit` checks its seals."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from escalate import services
from escalate.extensions import db
from escalate.models import AccessEntry, AccessKind, User
from tests import factories

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app_config(clock):
    return {"CLOCK": clock}


def raise_one(app, people) -> str:
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        sw = db.session.get(User, people.sw.id)
        reference = services.differences.raise_difference(
            gp, factories.new_difference(sw.agency), NOW
        ).reference
        db.session.remove()
    return reference


def log(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AccessEntry.position, User.email, AccessEntry.kind, AccessEntry.what)
            .join(User, User.id == AccessEntry.user_id)
            .order_by(AccessEntry.position)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_every_view_of_a_difference_is_logged_and_the_auditor_sees_who(
    app, people, client_for, clock
):
    reference = raise_one(app, people)
    client_for(people.gp).get(f"/differences/{reference}")
    clock.now = NOW + timedelta(hours=1)
    client_for(people.chair).get(f"/differences/{reference}")
    assert client_for(people.police_manager).get(f"/differences/{reference}").status_code == 404

    clock.now = NOW + timedelta(hours=2)
    page = client_for(people.auditor).get(f"/differences/{reference}")

    assert log(app) == [
        (1, "gp@gp.example", AccessKind.VIEWED_DIFFERENCE, f"Difference {reference}"),
        (2, "chair@partnership.example", AccessKind.VIEWED_DIFFERENCE, f"Difference {reference}"),
        (3, "auditor@example.org", AccessKind.VIEWED_DIFFERENCE, f"Difference {reference}"),
    ]
    views = text(page).split("Who has viewed this difference")[1]
    assert "(3 views)" in views
    assert views.index("Frances Doyle") < views.index("Ruth Adeyemi") < views.index(
        "Dr Emma Clarke"
    )
    assert "11:00am on Friday 20 November 2026 Ruth Adeyemi" in views
    # People who are not overseeing the partnership do not see who looked.
    assert "Who has viewed this difference" not in text(
        client_for(people.gp).get(f"/differences/{reference}")
    )


def test_a_differences_views_are_shown_a_page_at_a_time(app, people, client_for, clock):
    reference = raise_one(app, people)
    gp = client_for(people.gp)
    for minute in range(24):
        clock.now = NOW + timedelta(minutes=minute)
        gp.get(f"/differences/{reference}")
    auditor = client_for(people.auditor)

    first = text(auditor.get(f"/differences/{reference}"))
    second = text(auditor.get(f"/differences/{reference}?views_page=2"))

    assert "(25 views)" in first and "(26 views)" in second
    first_views = first.split("Who has viewed this difference")[1]
    # 20 a page, newest first: the auditor's own view, then the GP's latest 19.
    assert first_views.count("Dr Emma Clarke") == 19 and first_views.count("Frances Doyle") == 1
    # The auditor's second view is now the newest: the GP's first six are on page 2.
    second_views = second.split("Who has viewed this difference")[1]
    assert second_views.count("Dr Emma Clarke") == 6 and "Frances Doyle" not in second_views
    assert "10:00am on Friday" in second_views and "10:06am" not in second_views


def test_reports_and_spreadsheets_are_logged(app, people, client_for):
    raise_one(app, people)
    chair = client_for(people.chair)
    for url in (
        "/oversight/",
        "/oversight/unresolved?theme=threshold",
        "/oversight/unresolved.csv?theme=threshold",
        "/oversight/report?start=1&start=7&start=2026&end=30&end=9&end=2026",
        "/oversight/report.csv?from=2026-07-01&to=2026-09-30",
        "/access-log?person=gp",
        "/access-log.csv?person=gp",
    ):
        assert chair.get(url).status_code == 200, url

    assert [(kind, what) for _, _, kind, what in log(app)] == [
        (AccessKind.VIEWED_REPORT, "The dashboard"),
        (AccessKind.VIEWED_REPORT, "The unresolved list (theme=threshold)"),
        (AccessKind.DOWNLOADED_CSV, "The unresolved list as CSV (theme=threshold)"),
        (AccessKind.VIEWED_REPORT, "The report for 1 July 2026 to 30 September 2026"),
        (AccessKind.DOWNLOADED_CSV, "The report for 1 July 2026 to 30 September 2026 as CSV"),
        (AccessKind.VIEWED_REPORT, "The access log (person=gp)"),
        (AccessKind.DOWNLOADED_CSV, "The access log as CSV (person=gp)"),
    ]


def test_the_log_is_searched_by_person_difference_and_dates(app, people, client_for, clock):
    first = raise_one(app, people)
    second = raise_one(app, people)
    client_for(people.gp).get(f"/differences/{first}")
    clock.now = NOW + timedelta(days=3)
    client_for(people.sw2).get(f"/differences/{first}")  # children's social care's contact
    client_for(people.gp).get(f"/differences/{second}")
    auditor = client_for(people.auditor)

    def found(query: str) -> str:
        page = text(auditor.get(f"/access-log?{query}"))
        return page.split("newest first.")[1].split("Pages of")[0]

    by_person = found("person=LEAH+morgan")
    assert "Leah Morgan" in by_person and "Dr Emma Clarke" not in by_person
    by_difference = found(f"reference={first.lower()}")
    assert by_difference.count("Viewed the difference") == 2 and second not in by_difference
    on_the_first_day = found("start=20&start=11&start=2026&end=20&end=11&end=2026")
    assert first in on_the_first_day and "Leah Morgan" not in on_the_first_day
    assert "1 entry matches the search" in text(
        auditor.get("/access-log?person=leah&start=23&start=11&start=2026")
    )


def test_the_logs_csv_holds_every_matching_entry(app, people, client_for, clock):
    reference = raise_one(app, people)
    gp = client_for(people.gp)
    for minute in range(3):
        clock.now = NOW + timedelta(minutes=minute)
        gp.get(f"/differences/{reference}")
    client_for(people.sw2).get(f"/differences/{reference}")

    response = client_for(people.chair).get("/access-log.csv?person=gp%40gp.example")

    assert response.mimetype == "text/csv" and response.is_streamed
    assert 'filename="access-log-2026-11-20.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["When (UK time)", "Who", "Email", "What", "Difference", "Details"]
    assert rows[1:] == [
        ["2026-11-20 10:02", "Dr Emma Clarke", "gp@gp.example", "Viewed the difference",
         reference, f"Difference {reference}"],
        ["2026-11-20 10:01", "Dr Emma Clarke", "gp@gp.example", "Viewed the difference",
         reference, f"Difference {reference}"],
        ["2026-11-20 10:00", "Dr Emma Clarke", "gp@gp.example", "Viewed the difference",
         reference, f"Difference {reference}"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=31&start=2&start=2026", "The start date must be a real date"),
        ("start=1&start=2026", "The start date must include a day, month and year"),
        ("start=2&start=1&start=2026&end=1&end=1&end=2026",
         "The end date must be the same as or after the start date"),
        ("person=" + "x" * 300, "The person must be 254 characters or fewer"),
    ],
)  # fmt: skip
def test_a_filter_that_makes_no_sense_says_why_and_the_log_still_shows(
    app, people, client_for, query, message
):
    reference = raise_one(app, people)
    client_for(people.gp).get(f"/differences/{reference}")

    page = client_for(people.auditor).get(f"/access-log?{query}")

    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert reference in text(page)


def test_only_the_partnership_and_auditors_read_the_log(app, people, client_for):
    for person in (people.gp, people.tm, people.admin):
        browser = client_for(person)
        assert browser.get("/access-log").status_code == 403
        assert browser.get("/access-log.csv").status_code == 403
    assert "Access log" in text(client_for(people.auditor).get("/access-log"))


def test_verify_audit_checks_the_access_log(app, people, client_for, runner):
    reference = raise_one(app, people)
    for person in (people.gp, people.chair, people.auditor):
        client_for(person).get(f"/differences/{reference}")

    verified = runner.invoke(args=["escalate", "verify-audit"])
    assert verified.exit_code == 0, verified.output
    assert "Verified the access log (3 entries): nothing was altered." in verified.stdout

    with app.app_context():
        db.session.execute(
            sa.update(AccessEntry.__table__)
            .where(AccessEntry.__table__.c.position == 2)
            .values(user_id=people.gp.id)
        )
        db.session.commit()
        db.session.remove()
    found = runner.invoke(args=["escalate", "verify-audit"])
    assert found.exit_code == 1
    assert (
        "The access log: position 2: an entry of the access log was altered after it was "
        "written" in found.stderr
    )
