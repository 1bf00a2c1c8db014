"""Who may reach what: every route of app.url_map, for every role and for someone signed out,
with a difference the person may see and one they may not. A route with no entry here fails the
test, so a new page must say who it is for. Every refusal changes nothing; administrators see no
difference reference on any page; every page they get carries the security headers."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from escalate import queries, services
from escalate.extensions import db
from escalate.models import (
    AdminChange,
    AgencySafeguardingLead,
    AgencyStageContact,
    AgreedAction,
    Base,
    ClosureDay,
    Notification,
    PolicyStage,
    Role,
    User,
)
from escalate.respond.views import ACTION_PAGES
from escalate.services._records import add_to_outbox
from tests import factories, partnership
from tests.conftest import csrf_token_from, hidden_fields, sign_in
from tests.test_headers import check_page

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
ROLES = [None, *Role]  # None: signed out
AGENCY = {Role.PRACTITIONER, Role.MANAGER, Role.SENIOR}
OVERSIGHT = {Role.PARTNERSHIP, Role.AUDITOR}
REFERENCE = re.compile(r"RPD-\d{4}-\d{5}")

SEES, DOES_NOT_SEE = "sees", "does not see"


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


# --- What each route answers ---------------------------------------------------------------------
# A rule: (role, case) -> the statuses allowed. ``case`` is SEES or DOES_NOT_SEE for a route about
# one difference (or one notification), else None.


def everyone(*statuses):
    return lambda role, case: set(statuses)


def signed_in(*statuses):
    return lambda role, case: {302} if role is None else set(statuses)


def only(roles, *allowed, refused=403):
    def rule(role, case):
        if role is None:
            return {302}
        return set(allowed) if role in roles else {refused}

    return rule


def about_a_difference(*allowed):
    """A page about one difference: shown to those who may see it, "not found" for the rest."""

    def rule(role, case):
        if role is None:
            return {302}
        return set(allowed) if case == SEES else {404}

    return rule


def agreed_action(*allowed):
    """An agreed action's page: found only under its own difference's reference (the
    partnership and auditors, who see both differences, find it under one of them)."""

    def rule(role, case):
        if role is None:
            return {302}
        if role in OVERSIGHT:
            return {*allowed, 404}
        return set(allowed) if case == SEES else {404}

    return rule


def learning_note(role, case):
    if role is None:
        return {302}
    if case == DOES_NOT_SEE:
        return {404}
    # The difference is open: the partnership adds what it learned once it is closed (409).
    return {409} if role == Role.PARTNERSHIP else {403}


def correction(role, case):
    if role is None:
        return {302}
    if case == DOES_NOT_SEE:
        return {404}
    # The partnership corrects a mistaken entry (an empty form: errors); nobody else may.
    return {200} if role == Role.PARTNERSHIP else {403}


def arranging_a_meeting(role, case):
    if role is None:
        return {302}
    if case == DOES_NOT_SEE or role == Role.ADMIN:
        return {404}
    # The raiser, and managers and seniors of either agency (an empty form: errors); the
    # partnership only at the final stage, auditors never.
    return {200} if role in AGENCY else {403}


def a_meeting(role, case):
    """A meeting on the difference, meeting today: its outcome and minutes are recorded by the
    people involved, managers of either agency and the partnership (an empty form: errors)."""
    if role is None:
        return {302}
    if case == DOES_NOT_SEE or role == Role.ADMIN:
        return {404}
    # Oversight sees both differences: the meeting is not one of the police's difference's.
    if role in OVERSIGHT:
        return {404, 403 if role == Role.AUDITOR else 200}
    return {200}


def public_link(role, case):
    # An unknown link is "not found"; someone signed in is told to sign out first.
    return {404} if role is None else {409}


ADMIN = {Role.ADMIN}
ADMIN_FORM = only(ADMIN, 200, 302, 400)  # a POST with an empty form: errors, or done
ADMIN_POST = only(ADMIN, 302, 400, 404)


@dataclass(frozen=True)
class Entry:
    get: object = None
    post: object = None


MATRIX = {
    "static": Entry(get=everyone(200)),
    "assets.static": Entry(get=everyone(200)),
    "auth.index": Entry(get=everyone(302)),
    "about.accessibility": Entry(get=everyone(200)),
    "auth.sign_in": Entry(
        get=lambda role, case: {200} if role is None else {302},
        post=lambda role, case: {200} if role is None else {302},
    ),
    "auth.sign_out": Entry(post=everyone(302)),
    "auth.account": Entry(get=signed_in(200)),
    # With no sign-in waiting for its code, back to the sign-in page; signed in, home.
    "auth.sign_in_code": Entry(get=everyone(302), post=everyone(302)),
    "auth.set_up_two_factor": Entry(get=signed_in(200), post=signed_in(200)),
    # Single sign-on is not configured here: "not found" (tests/test_single_sign_on.py has it).
    "auth.single_sign_on": Entry(get=lambda role, case: {404} if role is None else {302}),
    "auth.single_sign_on_return": Entry(get=lambda role, case: {404} if role is None else {302}),
    "inbox.index": Entry(get=signed_in(200)),
    "inbox.show": Entry(get=about_a_difference(200)),
    "inbox.read_all": Entry(post=signed_in(302)),
    "raising.start": Entry(get=only(AGENCY, 200), post=only(AGENCY, 200)),
    "raising.act_now": Entry(get=only(AGENCY, 200)),
    "raising.details": Entry(get=only(AGENCY, 200), post=only(AGENCY, 200)),
    # With no answers kept: back to the first question (GET), or to their differences (POST).
    "raising.check": Entry(get=only(AGENCY, 302), post=only(AGENCY, 302)),
    "raising.mine": Entry(get=signed_in(200)),
    "raising.raised": Entry(get=about_a_difference(200)),
    "respond.waiting": Entry(get=signed_in(200)),
    "respond.show": Entry(get=about_a_difference(200)),
    "respond.act": Entry(get="action", post="action"),
    # Social care's action on the GP's difference: nobody in the matrix is of social care, so
    # those who see it are refused (the raiser's follow-up: it is not missed yet, 409).
    "respond.mark_action_done": Entry(get=agreed_action(403), post=agreed_action(403)),
    "respond.raise_follow_up": Entry(post=agreed_action(403, 409)),
    # No outcome here has an entry of that number: "not found" to all (tests/test_chronology.py
    # has who may confirm one).
    "respond.record": Entry(get=about_a_difference(404), post=about_a_difference(404)),
    "oversight.dashboard": Entry(get=only(OVERSIGHT, 200)),
    "oversight.dashboard_section": Entry(get=only(OVERSIGHT, 200)),
    "oversight.unresolved": Entry(get=only(OVERSIGHT, 200)),
    "oversight.unresolved_csv": Entry(get=only(OVERSIGHT, 200)),
    "oversight.report": Entry(get=only(OVERSIGHT, 200)),
    "oversight.report_csv": Entry(get=only(OVERSIGHT, 200)),
    "oversight.learning_note": Entry(get=learning_note, post=learning_note),
    "oversight.learning": Entry(get=only(OVERSIGHT, 200)),
    "oversight.learning_csv": Entry(get=only(OVERSIGHT, 200)),
    # No learning note has this id: the partnership is told so; nobody else may update one.
    "oversight.learning_update": Entry(
        get=only({Role.PARTNERSHIP}, 404), post=only({Role.PARTNERSHIP}, 404)
    ),
    # Without the report's dates (from, to): a bad request; only the partnership writes it.
    "oversight.report_impact": Entry(post=only({Role.PARTNERSHIP}, 400)),
    "records.correct": Entry(get=correction, post=correction),
    "respond.arrange_meeting": Entry(get=arranging_a_meeting, post=arranging_a_meeting),
    "respond.meeting_outcome": Entry(get=a_meeting, post=a_meeting),
    "respond.meeting_minutes": Entry(get=a_meeting, post=a_meeting),
    "records.access_log": Entry(get=only(OVERSIGHT, 200)),
    "records.access_log_csv": Entry(get=only(OVERSIGHT, 200)),
    "admin.changes": Entry(get=only(OVERSIGHT | ADMIN, 200)),
    "admin.set_password": Entry(get=public_link, post=public_link),
    "admin.index": Entry(get=only(ADMIN, 200)),
    "admin.agencies": Entry(get=only(ADMIN, 200)),
    "admin.add_agency": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.agency": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.change_agency": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.remove_contact": Entry(post=ADMIN_POST),
    "admin.add_safeguarding_lead": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.remove_safeguarding_lead": Entry(post=ADMIN_POST),
    "admin.users": Entry(get=only(ADMIN, 200)),
    "admin.invite": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.user": Entry(get=only(ADMIN, 200)),
    "admin.change_user": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.deactivate": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.reactivate": Entry(post=ADMIN_POST),
    "admin.send_link": Entry(post=only(ADMIN, 200, 302)),
    "admin.policy": Entry(get=only(ADMIN, 200)),
    "admin.change_stage": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.add_stage": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.remove_stage": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.recompute": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.urgent_start": Entry(post=ADMIN_POST),
    "admin.meeting_minutes_days": Entry(post=ADMIN_POST),
    "admin.calendar": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.add_closure": Entry(post=ADMIN_POST),
    "admin.remove_closure": Entry(post=ADMIN_POST),
    "admin.act_now": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.sign_in_settings": Entry(get=only(ADMIN, 200), post=ADMIN_FORM),
    "admin.reset_two_factor": Entry(post=ADMIN_POST),
}


# --- The partnership the matrix runs against ------------------------------------------------------


@pytest.fixture
def world(app):
    """The test partnership; a difference the agency people may see (raised by the GP) and one
    they may not (raised by the police); a notification for each; a recomputed deadline in the
    record of changes; a closure day and a spare account to act on."""
    with app.app_context():
        people = partnership.build()
        spare = factories.user(Role.PRACTITIONER, agency=people.police, name="Spare Account")
        db.session.add(ClosureDay(day=datetime(2027, 1, 4).date(), description="Closed"))
        lead = AgencySafeguardingLead(agency_id=people.csc.id, user_id=people.sw2.id)
        db.session.add(lead)
        db.session.commit()
        seen = services.differences.raise_difference(
            people.gp, factories.new_difference(people.csc, named_professional_id=people.sw.id), NOW
        )
        unseen = services.differences.raise_difference(
            people.police_manager, factories.new_difference(people.csc), NOW
        )
        # An action agreed on it (social care's, due long after the clock).
        action = AgreedAction(
            difference_id=seen.id, stage_id=seen.stages[0].id, event_id=seen.events[0].id,
            number=1, what="A strategy discussion.", agency_id=people.csc.id,
            owner_id=people.sw.id, due_on=date(2030, 1, 7),
            ask_at=datetime(2030, 1, 7, 9, tzinfo=UTC),
        )  # fmt: skip
        db.session.add(action)
        db.session.commit()
        # A deadline moved by a recompute: the record of changes names the difference.
        db.session.execute(
            sa.update(PolicyStage).where(PolicyStage.level == 1).values(working_days=7)
        )
        db.session.commit()
        assert services.setup.recompute_deadlines(people.admin, NOW) == 2
        # And another policy change, so the recompute page has deadlines that would move.
        db.session.execute(
            sa.update(PolicyStage).where(PolicyStage.level == 1).values(working_days=8)
        )
        db.session.commit()
        users = {
            None: None,
            Role.PRACTITIONER: people.gp,
            Role.MANAGER: people.gp_lead,
            Role.SENIOR: people.designated,
            Role.PARTNERSHIP: people.chair,
            Role.AUDITOR: people.auditor,
            Role.ADMIN: people.admin,
        }
        own = {}
        for role, user in users.items():
            if user is None or role == Role.ADMIN:
                continue  # an administrator is never told about a difference
            note = add_to_outbox(user.id, "About it", "Text", NOW, difference_id=seen.id)
            db.session.flush()
            own[role] = note.id
        someone_else = db.session.scalar(
            sa.select(Notification.id).where(Notification.recipient_id == people.sw.id)
        )
        db.session.commit()
        meeting = services.meetings.arrange_meeting(
            people.gp,
            seen.id,
            None,
            meets_on=NOW.date(),
            invited="Both agencies' leads",
            chair="Jo Evans",
            now=NOW,
        )
        built = SimpleNamespace(
            users={role: (u.id, u.email) if u else None for role, u in users.items()},
            seen=seen.reference,
            unseen=unseen.reference,
            own=own,
            someone_else=someone_else,
            agency_id=people.csc.id,
            user_id=spare.id,
            contact_id=db.session.scalar(sa.select(AgencyStageContact.id)),
            lead_id=lead.id,
            action_id=action.id,
            closure_id=db.session.scalar(sa.select(ClosureDay.id)),
            meeting_id=meeting.id,
            note_id=999_999,
            entry_id=999_999,
        )
        db.session.remove()
    return built


def person(world, role) -> SimpleNamespace:
    user_id, email = world.users[role]
    return SimpleNamespace(id=user_id, email=email)


def snapshot(app) -> dict:
    """Every row of every table, so any change at all shows."""
    with app.app_context():
        rows = {
            table.name: [
                tuple(row)
                for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }
        db.session.remove()
    return rows


def requests_for(rule, world, role):
    """(url, case) for each request the rule needs: one per difference or notification case."""
    cases = [None]
    if "reference" in rule.arguments or "notification_id" in rule.arguments:
        cases = [SEES, DOES_NOT_SEE]
    slugs = list(ACTION_PAGES) if "slug" in rule.arguments else [None]
    for case in cases:
        for slug in slugs:
            values = {}
            for argument in rule.arguments:
                if argument == "reference":
                    values[argument] = world.seen if case == SEES else world.unseen
                elif argument == "notification_id":
                    values[argument] = (
                        world.own.get(role, world.someone_else)
                        if case == SEES
                        else world.someone_else
                    )
                elif argument == "slug":
                    values[argument] = slug
                elif argument == "filename":
                    values[argument] = (
                        "app.css" if rule.endpoint == "static" else "images/favicon.ico"
                    )
                elif argument == "token":
                    values[argument] = "not-a-real-link"
                elif argument == "level":
                    values[argument] = 1
                elif argument == "section":
                    values[argument] = "themes"
                elif isinstance(rule._converters[argument], IntegerConverter):
                    values[argument] = getattr(world, argument)
                else:
                    raise AssertionError(f"{rule.endpoint}: no value for <{argument}>")
            url = rule.build(values, append_unknown=False)[1]
            if rule.endpoint == "raising.details":
                url += "?urgent=no"
            elif rule.endpoint == "oversight.report_csv":
                url += "?from=2026-10-01&to=2026-12-31"
            if rule.endpoint == "inbox.show" and case == SEES and role not in world.own:
                case = DOES_NOT_SEE  # nobody's notification is "theirs" but their own
            if "reference" in rule.arguments and role in OVERSIGHT:
                case = SEES  # the partnership and auditors see every difference
            elif "reference" in rule.arguments and role == Role.ADMIN:
                case = DOES_NOT_SEE  # administrators see none
            yield url, case, slug


def action_rule(app, world, role, reference, slug, method):
    """The action pages answer as the rules say: the form for who may act, else 403 or 409."""

    def rule(role_, case):
        if role is None:
            return {302}
        if case == DOES_NOT_SEE:
            return {404}
        with app.app_context():
            user = db.session.get(User, world.users[role][0])
            difference = queries.differences.find_difference(user, reference)
            actions = queries.differences.facts(user, difference, NOW).actions
            allowed = ACTION_PAGES[slug].action in actions
            db.session.remove()
        return {200} if allowed else {403, 409}

    return rule


def test_every_route_for_every_role(app, world):
    rules = [r for r in app.url_map.iter_rules()]
    endpoints = {r.endpoint for r in rules}
    assert endpoints - MATRIX.keys() == set(), "routes with no entry in the access matrix"
    assert MATRIX.keys() - endpoints == set(), "entries for routes that no longer exist"

    checked = 0
    refusals = 0
    for role in ROLES:
        browser = app.test_client()
        if role is not None:
            sign_in(browser, person(world, role))
        form_page = "/sign-in" if role is None else "/account"
        token = csrf_token_from(browser.get(form_page).get_data(as_text=True))
        last = []
        for method in ("GET", "POST"):
            for rule in sorted(rules, key=lambda r: r.endpoint):
                if method not in rule.methods:
                    continue
                entry = MATRIX[rule.endpoint]
                expected_for = entry.get if method == "GET" else entry.post
                assert expected_for is not None, f"{method} {rule.endpoint} has no entry"
                for url, case, slug in requests_for(rule, world, role):
                    if rule.endpoint == "auth.sign_out":
                        last.append((url, case, expected_for))
                        continue
                    if expected_for == "action":
                        expected = action_rule(app, world, role, url.split("/")[2], slug, method)(
                            role, case
                        )
                    else:
                        expected = expected_for(role, case)
                    before = snapshot(app) if not expected & {200, 302} or role is None else None
                    if method == "GET":
                        response = browser.get(url)
                    else:
                        data = {"csrf_token": token}
                        if expected_for == "action" and case == SEES:
                            page = browser.get(url)
                            if page.status_code == 200:
                                data = hidden_fields(page.get_data(as_text=True))
                        response = browser.post(url, data=data)
                    body = response.get_data().decode("utf-8", "replace")
                    response.close()
                    checked += 1
                    where = f"{method} {url} as {role or 'signed out'} ({case or '-'})"
                    assert response.status_code in expected, (
                        f"{where}: {response.status_code}, expected {sorted(expected)}"
                    )
                    assert "Content-Security-Policy" in response.headers, where
                    if before is not None and response.status_code not in (200,):
                        refusals += 1
                        assert snapshot(app) == before, f"{where} was refused and changed data"
                    if response.mimetype == "text/html" and response.status_code == 200:
                        check_page(response)
                    if role == Role.ADMIN:
                        assert not REFERENCE.search(body), f"{where} shows a difference reference"
        for url, case, expected_for in last:
            response = browser.post(url, data={"csrf_token": token})
            checked += 1
            assert response.status_code in expected_for(role, case)
    # The figures the report quotes: every request made, every refusal shown to change nothing.
    print(f"\naccess matrix: {len(endpoints)} endpoints, {len(ROLES)} roles, {checked} requests, "
          f"{refusals} refusals checked to change nothing")
    assert checked > 500


# --- Two findings in detail ----------------------------------------------------------------------


def test_the_change_log_names_differences_to_the_partnership_but_not_administrators(
    app, world, client_for
):
    with app.app_context():
        db.session.add(
            AdminChange(
                actor_id=None, at=NOW, entity="stage policy", entity_id=None,
                action="deadlines recomputed",
                summary="Open deadlines recomputed: 3 differences moved",  # as once written
                after={"moved": {world.seen: NOW.isoformat()}},
            )
        )
        db.session.commit()
    chair, admin = person(world, Role.PARTNERSHIP), person(world, Role.ADMIN)
    for_partnership = client_for(chair).get("/changes").get_data(as_text=True)
    assert world.seen in for_partnership and world.unseen in for_partnership
    for_admin = client_for(admin).get("/changes").get_data(as_text=True)
    assert "Open deadlines recomputed" in for_admin
    assert not REFERENCE.search(for_admin)
    assert "differences moved" not in for_admin and "Moved" not in for_admin


def test_a_refused_action_sent_with_a_mistaken_form_is_refused_not_shown(app, world, client_for):
    browser = client_for(person(world, Role.PRACTITIONER))
    token = csrf_token_from(browser.get("/account").get_data(as_text=True))
    before = snapshot(app)
    # The raiser may not respond to their own difference, nor the partnership decide at stage 1.
    for slug in ("respond", "decide", "extend", "reassign", "accept", "escalate"):
        response = browser.post(
            f"/differences/{world.seen}/{slug}", data={"csrf_token": token, "version": "1"}
        )
        assert response.status_code in (403, 409), slug
    assert snapshot(app) == before
