"""The periodic report: the page (any period, the current quarter by default), its CSV, and
`flask escalate report`. Figures from the hand-counted story in tests/oversight_fixture.py."""

import csv
import io
import re

import pytest

from escalate.extensions import db
from tests import oversight_fixture as story_module
from tests.conftest import kept
from tests.oversight_fixture import NOTE_A, NOTE_C, NOW, tables


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


@pytest.fixture
def story(request, app, people):
    def build():
        with app.app_context():
            refs = story_module.build(people)
            story_module.add_notes(people, refs)
            db.session.remove()
        return refs

    return kept(request, "story", build)


def html_of(browser, url):
    response = browser.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def dates(start, end):
    (d1, m1, y1), (d2, m2, y2) = start, end
    return f"?start={d1}&start={m1}&start={y1}&end={d2}&end={m2}&end={y2}"


@pytest.mark.read_only
def test_the_report_covers_the_current_quarter_by_default(people, client_for, story):
    html = html_of(client_for(people.chair), "/oversight/report")
    assert "1 October 2026 to 31 December 2026" in html
    assert 'value="01"' in html and 'value="31"' in html  # the form shows the quarter's dates
    found = tables(html)
    assert found["Differences in the period"][1:] == [
        ["Raised", "7"],  # G was raised in September
        ["Raised as urgent", "1"],
        ["Raised in the period and still open now", "4"],
        ["Closed", "3"],
        ["Resolved", "2"],
        ["Withdrawn", "1"],
        ["Closed: no reply from the raising side", "0"],
    ]
    assert found["Differences raised by theme"][1:] == [
        ["Threshold for referral or service", "3"],
        ["Medical examination or health assessment", "2"],
        ["Information sharing and communication", "1"],
        ["Roles, responsibilities or lead agency", "1"],
    ]
    assert found["Differences by raising and receiving agency"][1:] == [
        ["Riverside Medical Practice", "Children's Social Care", "3"],
        ["Children's Social Care", "Riverside Medical Practice", "2"],
        ["Northshire Police", "Children's Social Care", "2"],
    ]
    assert found["Closed differences by the stage they reached"][1][1:] == ["1", "1"]
    assert found["Closed differences by the stage they reached"][4][1:] == ["1", "0"]
    resolution = html.split('id="resolution-time"')[1].split(">", 1)[1].split("</dl>")[0]
    assert " ".join(re.sub(r"<[^>]+>", " ", resolution).split()) == (
        "Differences resolved 2 Average 6.5 working days Median 6.5 working days "
        "Shortest 3 working days Longest 10 working days"
    )
    notes = html.split('id="learning-notes"')[1]
    assert notes.index(NOTE_A) < notes.index(NOTE_C)
    assert story["A"] in notes and story["C"] in notes


@pytest.mark.read_only
def test_any_period_can_be_reported(people, client_for, story):
    url = "/oversight/report" + dates((1, 7, 2026), (30, 9, 2026))
    html = html_of(client_for(people.auditor), url)
    assert "1 July 2026 to 30 September 2026" in html
    found = tables(html)
    assert found["Differences in the period"][1:3] == [["Raised", "1"], ["Raised as urgent", "0"]]
    assert found["Differences raised by theme"][1:] == [["Drift or delay in an agreed plan", "1"]]
    assert "No difference was resolved." in html
    assert "No learning notes were written in the period." in html


@pytest.mark.read_only
@pytest.mark.parametrize(
    "query, messages",
    [
        (dates((31, 2, 2026), (1, 3, 2026)), ["The start date must be a real date"]),
        (dates((1, 10, 2026), (30, 9, 2026)), ["The end date must be the same as or after"]),
        ("?start=1&start=10&start=2026", ["Enter the end date"]),
        ("?end=1&end=10", ["Enter the start date", "The end date must include a day, month"]),
        (dates((1, "x", 2026), (1, 1, 2027)), ["The start date must be a real date"]),
        (dates((1, 1, 1066), (1, 1, 2027)), ["Enter dates between the years 2000 and 2999"]),
        # Boxes holding only spaces are empty boxes, not a date.
        ("?start=+&start=&start=&end=1&end=10&end=2026", ["Enter the start date"]),
    ],
)
def test_bad_dates_get_a_clear_message(people, client_for, story, query, messages):
    response = client_for(people.chair).get("/oversight/report" + query)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in html
    for message in messages:
        assert message in html
    assert "Differences in the period" not in html


@pytest.mark.read_only
def test_the_report_prints_without_the_menus_and_the_form(people, client_for, story):
    browser = client_for(people.chair)
    html = html_of(browser, "/oversight/report")
    assert "/static/oversight.css" in html
    assert '<form method="get" action="/oversight/report" class="app-no-print"' in html
    response = browser.get("/static/oversight.css")
    css = response.get_data(as_text=True)
    response.close()
    assert "@media print" in css and ".app-no-print" in css


def report_lines(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.read_only
def test_the_report_csv_from_the_page_and_from_the_command_agree(people, client_for, runner, story):
    browser = client_for(people.chair)
    html = html_of(browser, "/oversight/report")
    assert 'href="/oversight/report.csv?from=2026-10-01&amp;to=2026-12-31"' in html
    response = browser.get("/oversight/report.csv?from=2026-10-01&to=2026-12-31")
    assert response.mimetype == "text/csv"
    assert (
        "partnership-report-2026-10-01-to-2026-12-31.csv"
        in (response.headers["Content-Disposition"])
    )
    from_page = response.get_data(as_text=True)
    period = ["--from", "2026-10-01", "--to", "2026-12-31"]
    result = runner.invoke(args=["escalate", "report", *period])
    assert result.exit_code == 0, result.output
    assert result.stdout == from_page.replace("\r\n", "\n")  # the runner reads "\n" endings
    rows = report_lines(from_page)
    assert rows[0] == ["Section", "Item", "Value", "Detail"]
    assert ["Figures", "Differences raised", "7", ""] in rows
    assert ["Figures", "Withdrawn", "1", ""] in rows
    assert ["Time to resolution (working days)", "Average", "6.5", ""] in rows
    assert ["Time to resolution (working days)", "Median", "6.5", ""] in rows
    assert ["Outcomes", "Agreed – the decision changes", "1", ""] in rows
    assert ["Themes", "Threshold for referral or service", "3", ""] in rows
    assert [
        "Agency pairs",
        "Riverside Medical Practice raised with Children's Social Care",
        "3",
        "",
    ] in rows
    assert ["Agencies", "Northshire Academy", "0", "raised; 0 received"] in rows
    assert ["Themes that recur", "Threshold for referral or service", "3", ""] in rows
    notes = [row for row in rows if row[0] == "Learning notes"]
    assert [row[2] for row in notes] == [NOTE_A, NOTE_C]
    assert notes[0][1] == f"{story['A']} (Threshold for referral or service)"
    assert notes[0][3] == "Ruth Adeyemi, 2026-11-20"


@pytest.mark.read_only
def test_the_command_reports_the_current_quarter_without_dates(runner, story):
    result = runner.invoke(args=["escalate", "report"])
    assert result.exit_code == 0, result.output
    rows = report_lines(result.stdout)
    assert rows[1:3] == [["Period", "From", "2026-10-01", ""], ["Period", "To", "2026-12-31", ""]]


@pytest.mark.read_only
@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "'2026-13-01' is not a date"),
        (["--from", "yesterday", "--to", "2026-12-31"], "use the form YYYY-MM-DD"),
        (["--from", "2026-12-31", "--to", "2026-10-01"], "The end date must be the same as or"),
    ],
)
def test_the_command_refuses_bad_dates_with_exit_code_2(runner, story, args, message):
    result = runner.invoke(args=["escalate", "report", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""


@pytest.mark.read_only
@pytest.mark.parametrize(
    "query",
    ["", "?from=2026-10-01", "?from=2026-10-01&to=soon", "?from=2026-12-31&to=2026-10-01"],
)
def test_a_report_csv_link_with_bad_dates_is_refused_plainly(people, client_for, story, query):
    response = client_for(people.auditor).get(f"/oversight/report.csv{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
