"""The dashboard, the unresolved list and its CSV, learning notes, and who may see them.

The figures are checked against the hand-counted story in tests/oversight_fixture.py.
"""

import csv
import io
import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from escalate import services
from escalate.extensions import db
from escalate.models import (
    AccessEntry,
    Base,
    Difference,
    Event,
    EventKind,
    LearningNote,
    Notification,
    Stage,
    User,
)
from escalate.oversight import views as oversight_views
from tests import factories
from tests import oversight_fixture as story_module
from tests.conftest import (
    ACCESS_LOG,
    kept,
    set_up_two_factor,
    sign_in,
    statements_run,
    submit,
)
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


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no element {element_id}"
    return " ".join(match.group(1).split())


def page(browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.get_data(as_text=True)


# --- The dashboard ------------------------------------------------------------------------------

SECTIONS = ["/oversight/"] + [
    f"/oversight/dashboard/{section}"
    for section in ("outcomes", "themes", "agencies", "trend", "notifications")
]


def dashboard(browser) -> str:
    """Every section of the dashboard, one after the other."""
    return "\n".join(page(browser, url) for url in SECTIONS)


@pytest.mark.read_only
def test_the_dashboard_shows_the_hand_counted_figures(people, client_for, story):
    html = dashboard(client_for(people.chair))
    assert text_of(html, "figure-open") == "5"
    assert text_of(html, "figure-overdue") == "3"  # B at stage 2, D (urgent) and G at stage 1
    assert text_of(html, "figure-urgent") == "1"
    assert text_of(html, "figure-awaiting-raiser") == "1"
    assert text_of(html, "figure-failures") == "2"
    found = tables(html)
    assert found["Open differences by stage"][1:] == [
        ["1. Practitioner to practitioner", "4", "3", "2", "1", "1"],
        ["2. Manager to manager", "1", "1", "1", "0", "0"],
        ["3. Senior manager or designated professional", "0", "0", "0", "0", "0"],
        ["4. Partnership resolution", "0", "0", "0", "0", "0"],
        ["All stages", "5", "4", "3", "1", "1"],
    ]
    assert found["Closed differences by outcome"][1:] == [
        ["Agreed – the decision changes", "1"],
        ["Partly agreed – a different plan", "0"],
        ["Upheld – the decision stands", "1"],
        ["Withdrawn", "1"],
        ["Closed: no reply from the raising side", "0"],
    ]
    assert found["Closed differences by the stage they reached"][1:] == [
        ["1. Practitioner to practitioner", "1", "1"],
        ["2. Manager to manager", "0", "0"],
        ["3. Senior manager or designated professional", "0", "0"],
        ["4. Partnership resolution", "1", "0"],
    ]
    # A took 3 working days (2 to 5 November), C 10 (2 to 16 November); H was withdrawn.
    after = html.split('id="resolution-time"')[1].split(">", 1)[1]
    resolution = " ".join(re.sub(r"<[^>]+>", " ", after).split())
    assert resolution.startswith(
        "Differences resolved 2 Average 6.5 working days Median 6.5 working days "
        "Shortest 3 working days Longest 10 working days"
    )
    assert found["Differences raised by theme"][1:] == [
        ["Threshold for referral or service", "3"],
        ["Medical examination or health assessment", "2"],
        ["Drift or delay in an agreed plan", "1"],
        ["Information sharing and communication", "1"],
        ["Roles, responsibilities or lead agency", "1"],
    ]
    assert found["Differences by raising and receiving agency"][1:] == [
        ["Riverside Medical Practice", "Children's Social Care", "4"],
        ["Children's Social Care", "Riverside Medical Practice", "2"],
        ["Northshire Police", "Children's Social Care", "2"],
    ]
    assert found["Differences raised and received by each agency, fewest raised first"][1:] == [
        ["Northshire Academy", "0", "0"],
        ["Children's Social Care", "2", "6"],
        ["Northshire Police", "2", "0"],
        ["Riverside Medical Practice", "4", "2"],
    ]
    assert text_of(html, "agencies-raising-none") == "Raised none: Northshire Academy."
    trend = found["Differences raised and closed by quarter"]
    assert trend[-2:] == [["Jul to Sep 2026", "1", "0"], ["Oct to Dec 2026", "7", "3"]]
    assert all(row[1:] == ["0", "0"] for row in trend[1:-2]) and len(trend) == 9
    assert len(found["The latest notifications not delivered by email"]) == 3


@pytest.mark.read_only
def test_the_recurring_themes_carry_their_learning_notes(people, client_for, story):
    html = dashboard(client_for(people.auditor))
    recurring = html.split('id="recurring"')[1].split('id="pairs"')[0]
    assert "Threshold for referral or service: 3 differences" in recurring
    assert "Medical examination or health assessment: 2 differences" in recurring
    assert recurring.index(NOTE_A) < recurring.index("Medical examination")
    assert recurring.index("Medical examination") < recurring.index(NOTE_C)
    assert "Drift or delay" not in recurring  # raised once: it does not recur


@pytest.mark.read_only
def test_each_chart_draws_the_figures_of_the_table_after_it(people, client_for, story):
    html = dashboard(client_for(people.chair))
    assert "govuk/chart.umd.min.js" in html and "oversight-charts.js" in html
    # No inline script of the service's own: the figures travel in data attributes.
    inline = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert all("js-enabled" in script for script in inline)  # GOV.UK's template sets that one
    specs = {
        name: json.loads(spec)
        for name, spec in re.findall(r'id="chart-(\w+)" data-app-chart=\'([^\']*)\'', html)
    }
    assert set(specs) == {"open_by_stage", "outcomes", "closed_by_stage", "themes", "trend"}
    assert specs["outcomes"]["datasets"][0]["data"] == [1, 0, 1, 1, 0]
    assert specs["themes"]["labels"][0] == "Threshold for referral or service"
    assert specs["themes"]["datasets"][0]["data"] == [3, 2, 1, 1, 1]
    by_stage = {d["label"]: d["data"] for d in specs["open_by_stage"]["datasets"]}
    assert by_stage == {
        "Waiting for a response, not overdue": [1, 0, 0, 0],
        "Overdue": [2, 1, 0, 0],
        "Waiting for the raising side": [1, 0, 0, 0],
    }
    assert specs["trend"]["datasets"][0]["data"][-2:] == [1, 7]


@pytest.mark.read_only
def test_the_dashboard_is_in_sections_each_one_page_under_its_sub_navigation(
    people, client_for, story
):
    browser = client_for(people.auditor)
    seen_charts = []
    for url in SECTIONS:
        html = page(browser, url)
        nav = html.split('aria-label="Dashboard sections"')[1].split("</nav>")[0]
        links = re.findall(r'<a class="moj-sub-navigation__link" ([^>]*)>([^<]+)</a>', nav)
        assert [text for _, text in links] == [
            "Open now", "Outcomes", "Themes and learning", "Agencies", "Trend", "Notifications"
        ]
        current = [attrs for attrs, _ in links if 'aria-current="page"' in attrs]
        assert current == [f'aria-current="page" href="{url}"']
        assert html.count("<h1") == 1
        seen_charts += re.findall(r'id="chart-(\w+)"', html)
    # Each chart is on one section only, and the overview is short: five figures and one chart.
    assert sorted(seen_charts) == sorted(
        ["open_by_stage", "outcomes", "closed_by_stage", "themes", "trend"]
    )
    overview = page(browser, "/oversight/")
    assert overview.count('class="app-chart"') == 1 and 'id="figure-failures"' in overview
    assert 'href="/oversight/dashboard/notifications"><span class="app-figure__number" ' in overview
    assert browser.get("/oversight/dashboard/nothing-here").status_code == 404
    assert browser.get("/oversight/dashboard/open").status_code == 404  # it is /oversight/


def test_an_empty_partnership_has_a_dashboard_too(people, client_for):
    html = dashboard(client_for(people.auditor))
    assert text_of(html, "figure-open") == "0"
    assert "No difference was resolved." in html


def test_each_reader_sees_the_dashboard_counted_again_once_a_difference_is_raised(
    app, people, client_for
):
    # Each section is rendered once from the figures and kept with them: another reader gets
    # the same sections, and the next difference raised counts in every section at once.
    def sections(html: str) -> str:
        return "".join(
            part.split("</main>")[0] for part in html.split('aria-label="Dashboard sections"')[1:]
        )

    chair, auditor = client_for(people.chair), client_for(people.auditor)
    before = dashboard(chair)
    assert sections(dashboard(auditor)) == sections(before)
    assert text_of(before, "figure-open") == "0"
    with app.app_context():
        gp, sw = db.session.get(User, people.gp.id), db.session.get(User, people.sw.id)
        services.differences.raise_difference(gp, factories.new_difference(sw.agency), NOW)
        db.session.remove()
    after = dashboard(auditor)
    assert text_of(after, "figure-open") == "1"
    assert sections(dashboard(chair)) == sections(after) != sections(before)


# --- The unresolved list ------------------------------------------------------------------------


def listed(html: str) -> list[str]:
    if 'id="unresolved-table"' not in html:
        return []
    table = html.split('id="unresolved-table"')[1].split("</table>")[0]
    return re.findall(r'href="/differences/(RPD-[\d-]+)"', table)


@pytest.mark.read_only
@pytest.mark.parametrize(
    "query, letters",
    [
        ("", "GBDEF"),  # soonest response due first; waiting for the raiser last
        ("?sort=oldest", "GBFDE"),
        ("?sort=newest", "EDFBG"),
        ("?sort=reference", "BDEFG"),
        ("?sort=stage", "BGDEF"),
        ("?stage=2", "B"),
        ("?theme=threshold", "BF"),
        ("?only=urgent", "D"),
        ("?only=overdue", "GBD"),
        ("?only=overdue&only=urgent", "D"),
        ("?waiting=raiser", "F"),
        ("?waiting=response&sort=reference", "BDEG"),
        ("?min_age=10", "GB"),
        ("?min_age=11", "GB"),  # B was raised on 9 November: 11 days before 20 November
        ("?min_age=12", "G"),
        ("?min_age=2", "GBDF"),  # D was raised on 18 November; E, on the 19th, is too young
        ("?min_age=30", "G"),
    ],
)
def test_the_unresolved_list_filters_and_sorts(people, client_for, story, query, letters):
    html = page(client_for(people.chair), f"/oversight/unresolved{query}")
    assert listed(html) == [story[letter] for letter in letters]
    count = len(letters)
    assert text_of(html, "result-count").startswith(
        f"{count} unresolved difference{'' if count == 1 else 's'}"
    )


@pytest.mark.read_only
def test_each_open_difference_of_the_story_has_one_open_stage_its_current_one(app, story):
    # Raised, responded to, escalated, decided, agreed, withdrawn and accepted through the
    # services: the unresolved list counts open differences without reading their stages.
    with app.app_context():
        assert factories.stages_out_of_step() == []
        open_stages = db.session.scalar(
            sa.select(sa.func.count()).select_from(Stage).where(Stage.closed_at.is_(None))
        )
        db.session.remove()
    assert open_stages == 5  # B, D, E, F and G: the list's five


@pytest.mark.read_only
def test_the_list_filters_by_agency_and_the_side_it_is_on(people, client_for, story):
    browser = client_for(people.auditor)
    police, gp = people.police.id, people.gp_practice.id
    assert listed(page(browser, f"/oversight/unresolved?agency={police}")) == [story["F"]]
    assert listed(page(browser, f"/oversight/unresolved?agency={police}&side=receiving")) == []
    either = page(browser, f"/oversight/unresolved?agency={gp}")
    assert listed(either) == [story[x] for x in "GBDEF" if x != "F"]
    assert listed(page(browser, f"/oversight/unresolved?agency={gp}&side=receiving")) == [
        story["E"]
    ]
    assert "Agency: raised with Riverside Medical Practice" in page(
        browser, f"/oversight/unresolved?agency={gp}&side=receiving"
    )


@pytest.mark.read_only
@pytest.mark.parametrize(
    "query, message",
    [
        ("?stage=abc", "Select a stage from the list"),
        ("?stage=9", "Select a stage from the list"),
        ("?agency=99999", "Select an agency from the list"),
        ("?agency=1%27%20OR%201=1", "Select an agency from the list"),
        ("?theme=gossip", "Select a theme from the list"),
        ("?min_age=-4", "Enter the age as a whole number of days, like 20"),
        ("?min_age=99999999999999", "Enter the age as a whole number of days, like 20"),
        ("?sort=drop", "Select how to sort the list"),
        ("?waiting=everyone", "Select who it is waiting for"),
        ("?side=both", "Select whether the agency raised or received it"),
    ],
)
def test_a_filter_that_makes_no_sense_is_ignored_with_a_message(
    people, client_for, story, query, message
):
    html = page(client_for(people.chair), f"/oversight/unresolved{query}")
    assert "Some filters were not used" in html and message in html
    assert len(listed(html)) == 5  # the list shows everything the other filters allow


@pytest.mark.read_only
def test_the_list_is_paginated(people, client_for, story, monkeypatch):
    monkeypatch.setattr(oversight_views, "PER_PAGE", 2)
    browser = client_for(people.chair)
    first = page(browser, "/oversight/unresolved")
    assert listed(first) == [story["G"], story["B"]]
    assert "5 unresolved differences, showing 1 to 2" in first
    assert 'class="govuk-pagination' in first and 'href="/oversight/unresolved?page=2"' in first
    second = page(browser, "/oversight/unresolved?page=2")
    assert listed(second) == [story["D"], story["E"]]
    assert 'aria-current="page"' in second
    assert listed(page(browser, "/oversight/unresolved?page=3")) == [story["F"]]
    # A page that does not exist shows the nearest one that does.
    assert listed(page(browser, "/oversight/unresolved?page=-3")) == [story["G"], story["B"]]
    assert listed(page(browser, "/oversight/unresolved?page=99")) == [story["F"]]
    assert listed(page(browser, "/oversight/unresolved?page=x")) == [story["G"], story["B"]]
    # The filters and sort survive from page to page.
    filtered = page(browser, "/oversight/unresolved?sort=oldest&only=overdue")
    assert "/oversight/unresolved?sort=oldest&amp;only=overdue&amp;page=2" in filtered


def page_links(html: str) -> dict[str, str]:
    """The GOV.UK pagination's links, by what they say: "1", "2", "Previous", "Next"."""
    nav = html.split('class="govuk-pagination', 1)[1].split("</nav>", 1)[0]
    links = {}
    for href, label in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', nav, re.S):
        words = re.sub(r"<[^>]+>", " ", label).split()
        links[words[0]] = href.replace("&amp;", "&")
    return links


@pytest.mark.parametrize("sort", ["deadline", "oldest", "newest", "reference", "stage"])
def test_paging_through_the_list_shows_each_row_once_in_the_sorted_order(
    people, client_for, story, monkeypatch, sort
):
    browser = client_for(people.chair)
    whole = listed(page(browser, f"/oversight/unresolved?sort={sort}"))
    monkeypatch.setattr(oversight_views, "PER_PAGE", 2)
    seen, url = [], f"/oversight/unresolved?sort={sort}"
    while url:
        html = page(browser, url)
        seen += listed(html)
        url = page_links(html).get("Next") if len(seen) < 10 else None
    assert seen == whole and len(whole) == 5


@pytest.mark.read_only
@pytest.mark.parametrize("sort", ["deadline", "reference"])
def test_a_page_of_the_list_reads_no_more_differences_than_it_shows(
    app, people, client_for, story, monkeypatch, sort
):
    """The open differences are counted in the database, and only the page's ids come back from
    it: what a page reads does not grow with how many are open (3,000 at 100,000)."""
    monkeypatch.setattr(oversight_views, "PER_PAGE", 2)
    browser = client_for(people.chair)
    with app.app_context():
        engine = db.engine
    with statements_run(engine) as sent:
        html = page(browser, f"/oversight/unresolved?sort={sort}&page=2")
    reads = [(sql, given) for sql, given in sent if re.search(r"\b(FROM|JOIN) difference\b", sql)]
    order = {"deadline": "GBDEF", "reference": "BDEFG"}[sort]
    assert listed(html) == [story[letter] for letter in order[2:4]]
    assert "5 unresolved differences, showing 3 to 4" in html
    with engine.connect() as connection:
        rows = [len(connection.exec_driver_sql(sql, given).fetchall()) for sql, given in reads]
    assert len(rows) >= 2 and max(rows) <= 2, rows  # the count (1 row), the page's 2 (twice)


def test_the_pagination_skips_far_pages_with_an_ellipsis(people, client_for, story, monkeypatch):
    monkeypatch.setattr(oversight_views, "PER_PAGE", 1)
    browser = client_for(people.chair)
    first = page(browser, "/oversight/unresolved?theme=threshold&sort=reference")
    assert list(page_links(first)) == ["1", "2", "Next"]  # B and F: two pages
    html = page(browser, "/oversight/unresolved?sort=reference")
    assert list(page_links(html)) == ["1", "2", "5", "Next"]
    assert html.count("govuk-pagination__item--ellipsis") == 1
    assert page_links(html)["5"] == "/oversight/unresolved?sort=reference&page=5"
    middle = page(browser, "/oversight/unresolved?sort=reference&page=3")
    assert list(page_links(middle)) == ["Previous", "1", "2", "3", "4", "5", "Next"]
    assert "govuk-pagination__item--ellipsis" not in middle
    assert listed(middle) == [story["E"]]  # B D E F G by reference


@pytest.mark.parametrize("number", ["0", "-1", "1.5", "two", "²", "99999999999999999999", "%00"])
def test_a_page_number_that_makes_no_sense_shows_the_first_page(
    people, client_for, story, monkeypatch, number
):
    monkeypatch.setattr(oversight_views, "PER_PAGE", 2)
    html = page(client_for(people.chair), f"/oversight/unresolved?page={number}")
    assert listed(html) == [story["G"], story["B"]]


def csv_rows(browser, url):
    response = browser.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.read_only
@pytest.mark.parametrize(
    "query",
    ["", "?sort=oldest", "?only=overdue", "?theme=threshold&sort=reference", "?stage=abc"],
)
def test_the_csv_export_is_exactly_the_filtered_sorted_list(people, client_for, story, query):
    browser = client_for(people.auditor)
    html = page(browser, f"/oversight/unresolved{query}")
    link = re.search(r'href="([^"]+)" download>Download this list', html).group(1)
    rows = csv_rows(browser, link.replace("&amp;", "&"))
    assert rows[0][:3] == ["Reference", "Raised on", "Days since raised"]
    assert [row[0] for row in rows[1:]] == listed(html)


@pytest.mark.read_only
def test_the_csv_export_says_what_the_list_says(people, client_for, story):
    rows = csv_rows(client_for(people.chair), "/oversight/unresolved.csv?only=urgent")
    assert rows[1:] == [
        [
            story["D"],
            "2026-11-18",
            "2",
            "Riverside Medical Practice",
            "Children's Social Care",
            "Medical examination or health assessment",
            "1",
            "Practitioner to practitioner",
            "Waiting for a response",
            "Yes",
            "Yes",
            "2026-11-18 13:00",
        ]
    ]
    # No child's details leave the service in an export.
    body = client_for(people.chair).get("/oversight/unresolved.csv").get_data(as_text=True)
    assert "QZ" not in body and "CSC-884512" not in body


# --- Learning notes -----------------------------------------------------------------------------


def structured(people) -> dict:
    """A learning note's recommendation, owner and due date, as the form takes them."""
    return {
        "recommendation": "Write the agreed roles into the strategy discussion's record.",
        "owner_agency": str(people.csc.id),
        "owner": "0",
        "due_on": ["1", "3", "2027"],
    }


def test_the_partnership_adds_a_learning_note_to_a_closed_difference(
    app, people, client_for, story
):
    browser = client_for(people.chair)
    h = story["H"]  # withdrawn
    assert "Add a learning note</a>" in page(browser, f"/differences/{h}")
    text = "Roles at a strategy discussion should be agreed and written down before it ends."
    fields = {"text": text, **structured(people)}
    response = submit(browser, f"/oversight/differences/{h}/learning-note", fields)
    assert response.status_code == 302
    shown = page(browser, f"/differences/{h}")
    assert "The learning note has been added." in shown
    assert text in shown.split('id="learning"')[1].split('id="history"')[0]
    assert "Learning note" in shown.split('id="history"')[1]  # on the history as well
    assert "History verified" in shown
    with app.app_context():
        notes = db.session.scalars(sa.select(LearningNote.text)).all()
        assert text in notes
        last = db.session.scalars(sa.select(Event).order_by(Event.id.desc()).limit(1)).one()
        assert last.kind == EventKind.LEARNING_NOTE and last.details["text"] == text
        assert last.details["owner_agency"] == "Children's Social Care"
        assert last.actor_id == people.chair.id


@pytest.mark.read_only
@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Enter what the partnership learned"),
        ("n/a", "Explain what the partnership learned in your own words"),
        ("Too short to learn.", "Explain what the partnership learned in at least 5 words"),
    ],
)
def test_a_learning_note_must_say_something(app, people, client_for, story, text, message):
    def counts():
        with app.app_context():
            return (
                db.session.scalar(sa.select(sa.func.count(LearningNote.id))),
                db.session.scalar(sa.select(sa.func.count(Event.id))),
            )

    before = counts()
    url = f"/oversight/differences/{story['A']}/learning-note"
    response = submit(client_for(people.chair), url, {"text": text, **structured(people)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is a problem" in html and message in html
    assert counts() == before


@pytest.mark.read_only
def test_learning_notes_are_for_the_partnership_on_closed_differences(people, client_for, story):
    note = "/oversight/differences/{}/learning-note"
    chair = client_for(people.chair)
    assert chair.get(note.format(story["D"])).status_code == 409  # still open
    assert "Add a learning note" not in page(chair, f"/differences/{story['D']}")
    assert chair.get(note.format("RPD-2026-99999")).status_code == 404
    auditor = client_for(people.auditor)
    assert auditor.get(note.format(story["A"])).status_code == 403
    assert "Add a learning note" not in page(auditor, f"/differences/{story['A']}")
    assert NOTE_A in page(auditor, f"/differences/{story['A']}")  # but reads the learning
    assert client_for(people.gp).get(note.format(story["A"])).status_code == 403  # its raiser
    # Someone who may not see the difference is told it is not there.
    assert client_for(people.police_manager).get(note.format(story["A"])).status_code == 404


# --- Who may see what ---------------------------------------------------------------------------

OVERSIGHT_PAGES = [
    "/oversight/",
    "/oversight/unresolved",
    "/oversight/unresolved.csv",
    "/oversight/report",
    "/oversight/report.csv?from=2026-10-01&to=2026-12-31",
]


@pytest.mark.read_only
@pytest.mark.parametrize("who", ["gp", "tm", "hos", "admin"])
def test_other_roles_may_not_see_the_oversight_pages(people, client_for, story, who):
    browser = client_for(getattr(people, who))
    for url in OVERSIGHT_PAGES:
        response = browser.get(url)
        assert response.status_code == 403, url
        assert "figure-open" not in response.get_data(as_text=True)
    assert 'href="/oversight/' not in page(browser, "/account")


@pytest.mark.read_only
@pytest.mark.parametrize("who", ["chair", "auditor"])
def test_the_partnership_and_auditors_see_every_oversight_page(people, client_for, story, who):
    browser = client_for(getattr(people, who))
    for url in OVERSIGHT_PAGES:
        assert browser.get(url).status_code == 200, url
    navigation = page(browser, "/account").split("</header>")[0]
    for href in ("/oversight/", "/oversight/unresolved", "/oversight/report"):
        assert f'href="{href}"' in navigation


@pytest.mark.read_only
def test_a_visitor_is_asked_to_sign_in(client, story):
    for url in OVERSIGHT_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_an_auditor_starts_at_the_dashboard(people, client_for):
    response = client_for(people.auditor).get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/oversight/")


# --- Auditors change nothing --------------------------------------------------------------------


def snapshot(app) -> dict:
    """Every row of every table but the access log (reading adds to it), so any other change at
    all shows."""
    with app.app_context():
        rows = {}
        for table in Base.metadata.sorted_tables:
            if table.name in ACCESS_LOG:
                continue
            rows[table.name] = [
                tuple(row)
                for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
        db.session.remove()
    return rows


def counts_and_max_ids(app) -> dict:
    with app.app_context():
        found = {}
        for table in Base.metadata.sorted_tables:
            if table.name in ACCESS_LOG:
                continue
            key = next(iter(table.primary_key.columns))
            found[table.name] = db.session.execute(
                sa.select(sa.func.count(), sa.func.max(key)).select_from(table)
            ).one()
        db.session.remove()
    return found


# Not read_only: signing out at its end ends the auditor's sessions, a change to their account.
def test_an_auditor_reads_every_route_and_changes_nothing(app, people, client_for, story):
    from escalate.respond.views import ACTION_PAGES

    auditor = client_for(people.auditor)
    with app.app_context():
        notification_id = db.session.scalar(sa.select(sa.func.min(Notification.id)))
        version = db.session.scalar(
            sa.select(Difference.version).where(Difference.reference == story["D"])
        )
        db.session.remove()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page(auditor, "/account")).group(1)
    # What a hopeful form might send: everything any form of the service asks for.
    form = {
        "csrf_token": token,
        "version": str(version),
        "outcome": "upheld",
        "rationale": story_module.GOOD,
        "child_impact": "Family support continues as before for the child.",
        "decision": "The decision stands after review by the partnership.",
        "action_1_what": "A strategy discussion will be held this week.",
        "comment": "Accepted on behalf of the raising side.",
        "days": "1",
        "new_responder": str(people.chair.id),
        "participants": "The auditor and the chair of the partnership.",
        "agreed": story_module.GOOD,
        "held_on": ["19", "11", "2026"],
        "text": "An auditor trying to write a learning note onto the record.",
        "immediate_risk": "no",
        "name": "Renamed by an auditor",
        "email": "someone.new@example.org",
        "kind": "police",
        "role": "admin",
        "day": "2026-12-24",
        "description": "A closure day added by an auditor",
    }

    def url_for_rule(rule, reference, slug):
        values = {}
        for argument in rule.arguments:
            converter = rule._converters[argument]
            if argument == "reference":
                values[argument] = reference
            elif argument == "slug":
                values[argument] = slug
            elif argument == "notification_id":
                values[argument] = notification_id
            elif argument == "filename":
                values[argument] = "app.css"
            elif isinstance(converter, IntegerConverter):
                values[argument] = 1
            else:
                values[argument] = "x"
        return rule.build(values, append_unknown=False)[1]

    urls = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "auth.sign_out":
            continue  # walked last: it ends the auditor's session
        for reference in (story["A"], story["D"]) if "reference" in rule.arguments else (None,):
            for slug in ACTION_PAGES if "slug" in rule.arguments else (None,):
                urls.add(url_for_rule(rule, reference, slug))
    assert len(urls) > 30

    before, before_counts = snapshot(app), counts_and_max_ids(app)
    refused = {}
    for url in sorted(urls):
        response = auditor.get(url)
        response.get_data()  # a streamed download runs to its end, as a browser would
        response.close()
        assert response.status_code < 500, f"GET {url}: {response.status_code}"
        response = auditor.post(url, data=form)
        response.close()
        refused[url] = response.status_code
        assert response.status_code < 500, f"POST {url}: {response.status_code}"
        assert counts_and_max_ids(app) == before_counts, f"POST {url} changed a table"
    assert snapshot(app) == before
    # Signing out is the auditor's own change: it ends their sessions everywhere.
    assert auditor.post("/sign-out", data=form).status_code == 302
    assert counts_and_max_ids(app) == before_counts
    # The forms were real (a valid CSRF token): the rules, not the token, refused them.
    assert refused[f"/differences/{story['D']}/conversation"] == 403
    assert refused[f"/differences/{story['D']}/respond"] == 403
    assert refused[f"/oversight/differences/{story['A']}/learning-note"] == 403
    assert refused["/oversight/"] == 405
    # What the auditor read is in the access log, every difference page they opened included.
    with app.app_context():
        opened = db.session.scalars(
            sa.select(AccessEntry.what).where(AccessEntry.user_id == people.auditor.id)
        ).all()
        db.session.remove()
    assert f"Difference {story['A']}" in opened and f"Difference {story['D']}" in opened
    assert "The dashboard" in opened


# --- The demo partnership, counted by hand ------------------------------------------------------

DEMO_MOMENT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday


def test_the_dashboard_shows_the_demo_partnership_as_counted_by_hand(app, runner):
    """escalate/demo.py's 13 scenarios: open at stage 1 (the school's, overdue; the police's,
    urgent; early help's, waiting for the raiser; the GP practice's, not yet answered;
    the academy's, reassigned), stage 2 (the health visitor's, overdue), stage 3 (the GP's), stage 4
    (early help's, overdue); resolved by acceptance agreed twice (the social worker's, the MASH's),
    upheld once (the police's), by the partnership agreed once; withdrawn once."""
    from escalate import demo

    with app.app_context():
        services.demo.seed_demo(demo.DEMO_PASSWORD, DEMO_MOMENT)
        db.session.remove()
    app.config["CLOCK"] = lambda: DEMO_MOMENT
    chair = app.test_client()
    sign_in(
        chair,
        SimpleNamespace(email="ruth.adeyemi@partnership.northshire.example"),
        demo.DEMO_PASSWORD,
    )
    set_up_two_factor(chair)  # the partnership signs in with two factors
    page = dashboard(chair)
    figures = dict(re.findall(r'id="figure-([a-z-]+)">(\d+)<', page))
    assert figures == {
        "open": "8",
        "overdue": "3",
        "urgent": "1",
        "awaiting-raiser": "1",
        "failures": "0",
    }
    found = tables(page)
    outcomes = next(rows for caption, rows in found.items() if "outcome" in caption.lower())
    assert [row for row in outcomes if row and row[0] != "Outcome"] == [
        ["Agreed – the decision changes", "3"],
        ["Partly agreed – a different plan", "0"],
        ["Upheld – the decision stands", "1"],
        ["Withdrawn", "1"],
        ["Closed: no reply from the raising side", "0"],
    ]
    listed = chair.get("/oversight/unresolved").get_data(as_text=True)
    assert len(set(re.findall(r"RPD-2026-\d{5}", listed))) == 8
