"""The outcome on the child's own record: at every outcome each agency has a ready entry for its
own system, confirms the date it recorded it, finds what it still has to record in "Waiting for
you", is reminded once by the sweep; the dashboard and the report show the share confirmed."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from escalate import queries, services
from escalate.extensions import db
from escalate.models import (
    ChronologyEntry,
    Difference,
    Event,
    EventKind,
    Notification,
    State,
    User,
)
from tests import factories
from tests.conftest import submit

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # Friday 20 November 2026, GMT
RESPONDED_AT = NOW + timedelta(hours=1)
# Two working days after a response on Friday: the end of Tuesday 24 November.
REMIND_AT = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # Thursday 3 December: the page's "now"
GOOD = "The explanation given by the parent is consistent with the injury seen on the arm."
IMPACT = "Family support continues through early help, with a review in a month."


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: LATER}


def get(person) -> User:
    return db.session.get(User, person.id)


def fresh(difference_id) -> Difference:
    db.session.expire_all()
    return db.session.get(Difference, difference_id)


def raise_one(people, at=NOW, reference="CSC-884512") -> int:
    return services.differences.raise_difference(
        get(people.gp),
        services.differences.NewDifference(
            receiving_agency_id=people.csc.id,
            named_professional_id=people.sw.id,
            child_reference=reference,
            child_initials="QZ",
            category="medical",
            decision="No child protection medical.",
            reasons="The bruising is not consistent with the explanation given by the family.",
            desired_outcome="A child protection medical.",
            discussed_informally=False,
            immediate_risk=False,
        ),
        at,
    ).id


def respond(person, difference_id, at=RESPONDED_AT, outcome="upheld"):
    d = fresh(difference_id)
    services.differences.respond(
        get(person),
        d.id,
        d.version,
        outcome=outcome,
        rationale=GOOD,
        child_impact=IMPACT,
        actions=(
            factories.agreed_actions(d.receiving_agency_id, "A medical on Monday.")
            if outcome != "upheld"
            else ()
        ),
        now=at,
    )


def answered_and_accepted(people) -> int:
    """A difference raised by the GP, answered by social care and the answer accepted: two
    outcomes, four entries."""
    difference_id = raise_one(people)
    respond(people.sw, difference_id)
    d = fresh(difference_id)
    services.differences.accept(get(people.gp), d.id, d.version, now=RESPONDED_AT)
    return difference_id


def escalate(person, difference_id, at):
    d = fresh(difference_id)
    services.differences.escalate(
        get(person), d.id, d.version, rationale="We still disagree about the medical.", now=at
    )


def entries(difference_id) -> list[tuple[EventKind, int, int | None]]:
    """(outcome, agency id, owner id) of each entry, in order."""
    return [
        (kind, agency_id, owner_id)
        for kind, agency_id, owner_id in db.session.execute(
            sa.select(Event.kind, ChronologyEntry.agency_id, ChronologyEntry.owner_id)
            .join(Event, Event.id == ChronologyEntry.event_id)
            .where(ChronologyEntry.difference_id == difference_id)
            .order_by(ChronologyEntry.event_id, ChronologyEntry.id)
        )
    ]


@pytest.fixture
def responded(app, people):
    """The GP raised a difference with children's social care; the social worker upheld the
    decision. Returns its reference."""
    with app.app_context():
        difference_id = raise_one(people)
        respond(people.sw, difference_id)
        reference = fresh(difference_id).reference
        db.session.remove()
    return reference


def entry_id(app, reference, agency_id) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(ChronologyEntry.id)
            .join(Difference, Difference.id == ChronologyEntry.difference_id)
            .where(Difference.reference == reference, ChronologyEntry.agency_id == agency_id)
            .order_by(ChronologyEntry.id.desc())
        )


def confirm_on_page(browser, reference, entry, day, month, year):
    name = f"entry-{entry}-recorded_on"
    return submit(
        browser,
        f"/differences/{reference}/records/{entry}",
        {name: [str(day), str(month), str(year)]},
        form_page=f"/differences/{reference}",
    )


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# --- Entries at every outcome ------------------------------------------------------------------


def test_every_outcome_leaves_an_entry_for_each_agency_with_the_right_owner(app, people):
    gp, csc = people.gp_practice.id, people.csc.id
    with app.app_context():
        # A response, then its acceptance by the raiser.
        accepted = answered_and_accepted(people)
        assert entries(accepted) == [
            (EventKind.RESPONDED, gp, people.gp.id),
            (EventKind.RESPONDED, csc, people.sw.id),
            # The raiser accepted: the receiving agency's entry is its responder's.
            (EventKind.ACCEPTED, gp, people.gp.id),
            (EventKind.ACCEPTED, csc, people.sw.id),
        ]

        # A withdrawal.
        withdrawn = raise_one(people)
        d = fresh(withdrawn)
        services.differences.withdraw(
            get(people.gp), d.id, d.version, rationale=GOOD, now=RESPONDED_AT
        )
        assert entries(withdrawn) == [
            (EventKind.WITHDRAWN, gp, people.gp.id),
            (EventKind.WITHDRAWN, csc, people.sw.id),
        ]

        # The partnership's decision at the final stage: no responder of the receiving agency
        # there, so its entry is the named professional's.
        decided = raise_one(people)
        escalate(people.sw, decided, NOW + timedelta(hours=1))
        escalate(people.tm, decided, NOW + timedelta(hours=2))
        escalate(people.hos, decided, NOW + timedelta(hours=3))
        d = fresh(decided)
        assert d.stage_level == 4
        services.differences.decide(
            get(people.chair),
            d.id,
            d.version,
            outcome="agreed",
            decision="A child protection medical is arranged.",
            rationale=GOOD,
            child_impact=IMPACT,
            now=NOW + timedelta(hours=4),
        )
        assert entries(decided) == [
            (EventKind.DECIDED, gp, people.gp.id),
            (EventKind.DECIDED, csc, people.sw.id),
        ]

        # A lead's proposal to accept, applied by the sweep when the raiser did not reply.
        applied = raise_one(people)
        escalate(people.sw, applied, NOW + timedelta(hours=1))
        respond(people.tm, applied, at=NOW + timedelta(hours=2))
        d = fresh(applied)
        services.proposals.propose(
            get(people.gp_lead),
            d.id,
            d.version,
            kind="accept",
            rationale="The medical was arranged by phone this morning, so this is settled.",
            now=NOW + timedelta(hours=3),
        )
        services.sweep.sweep(NOW + timedelta(days=10))
        d = fresh(applied)
        assert d.state == State.RESOLVED
        assert entries(applied)[-2:] == [
            (EventKind.ACCEPTED, gp, people.gp.id),
            (EventKind.ACCEPTED, csc, people.tm.id),  # the stage's responder
        ]

        # The raising side never answered: closed for no reply by the sweep.
        silent = raise_one(people)
        respond(people.sw, silent)
        for days in (10, 20, 30, 40):
            services.sweep.sweep(NOW + timedelta(days=days))
        assert fresh(silent).state == State.CLOSED_NO_REPLY
        assert entries(silent)[-2:] == [
            (EventKind.CLOSED_NO_REPLY, gp, people.gp.id),
            (EventKind.CLOSED_NO_REPLY, csc, people.sw.id),
        ]


# --- The difference page ------------------------------------------------------------------------


def test_each_agency_sees_its_own_entry_and_the_partnership_sees_both_statuses(
    app, people, client_for, responded
):
    sw_page = text_of(client_for(people.sw).get(f"/differences/{responded}").get_data(as_text=True))
    assert "For your agency's records" in sw_page
    assert "Entry for Children's Social Care's record of the child" in sw_page
    assert "Riverside Medical Practice's record" not in sw_page
    words = sw_page
    assert "Date: 20 November 2026" in words
    assert f"Professional difference: {responded} (recorded in escalate)" in words
    assert "Child: case reference CSC-884512, initials QZ" in words
    assert "Outcome: Response at stage 1: upheld – the decision stands" in words
    assert "Recorded by: Sam Okafor (Social Worker, Children's Social Care)" in words
    assert f"Rationale: {GOOD}" in words
    assert f"What this means for the child: {IMPACT}" in words
    assert "Not yet recorded in your system" in words
    assert "When was it recorded in your system?" in words
    assert "Confirm it is recorded" in words

    gp_page = text_of(client_for(people.gp).get(f"/differences/{responded}").get_data(as_text=True))
    assert "Entry for Riverside Medical Practice's record of the child" in gp_page
    assert "Children's Social Care's record of the child" not in gp_page

    chair_page = text_of(
        client_for(people.chair).get(f"/differences/{responded}").get_data(as_text=True)
    )
    assert "Not yet recorded in Riverside Medical Practice's system" in chair_page
    assert "Not yet recorded in Children's Social Care's system" in chair_page
    assert "Confirm it is recorded" not in chair_page
    assert "Rationale: " not in chair_page

    # Someone who may not see the difference: not found, here and on the confirmation page.
    outsider = client_for(people.police_manager)
    assert outsider.get(f"/differences/{responded}").status_code == 404
    entry = entry_id(app, responded, people.csc.id)
    assert outsider.get(f"/differences/{responded}/records/{entry}").status_code == 404


def test_an_agency_confirms_it_recorded_the_outcome_through_the_page(
    app, people, client_for, responded
):
    sw = client_for(people.sw)
    entry = entry_id(app, responded, people.csc.id)
    done = confirm_on_page(sw, responded, entry, 3, 12, 2026)
    assert done.status_code == 302 and done.location.endswith(f"/differences/{responded}#records")
    page = text_of(sw.get(f"/differences/{responded}").get_data(as_text=True))
    assert "confirmed that the outcome is recorded in Children's Social Care's system" in page
    assert (
        "Recorded in Children's Social Care's system on 3 December 2026, confirmed by Sam Okafor"
        in page
    )
    assert "Outcome recorded on an agency's own record" in page  # the history
    # The partnership sees it; the other agency's entry is still to record.
    chair_page = text_of(
        client_for(people.chair).get(f"/differences/{responded}").get_data(as_text=True)
    )
    assert "Recorded in Children's Social Care's system on 3 December 2026" in chair_page
    assert "Not yet recorded in Riverside Medical Practice's system" in chair_page
    with app.app_context():
        d = db.session.scalar(sa.select(Difference).where(Difference.reference == responded))
        [event] = [e for e in d.events if e.kind == EventKind.CHRONOLOGY_RECORDED]
        assert event.details["agency"] == "Children's Social Care"
        assert event.details["recorded_on"] == "2026-12-03"
        assert event.details["outcome"] == "responded"
        assert queries.histories.verify_difference(d).ok


@pytest.mark.parametrize(
    "day, month, year, problem",
    [
        (4, 12, 2026, "The date it was recorded must be today or in the past"),
        (
            19,
            11,
            2026,
            "The date it was recorded must be on or after the outcome, 20 November 2026",
        ),
        (31, 2, 2026, "The date it was recorded must be a real date"),
        ("", "", "", "Enter the date it was recorded in your system"),
    ],
)
def test_a_wrong_date_is_refused_with_a_message(
    app, people, client_for, responded, day, month, year, problem
):
    entry = entry_id(app, responded, people.csc.id)
    refused = confirm_on_page(client_for(people.sw), responded, entry, day, month, year)
    assert refused.status_code == 200
    page = refused.get_data(as_text=True)
    assert "govuk-error-summary" in page and problem in text_of(page)
    with app.app_context():
        assert db.session.get(ChronologyEntry, entry).confirmed_at is None


def test_only_the_agency_confirms_its_entry_once(app, people, client_for, responded):
    entry = entry_id(app, responded, people.csc.id)
    # The GP's manager may see the difference, but the entry is children's social care's.
    assert (
        confirm_on_page(client_for(people.gp_lead), responded, entry, 3, 12, 2026).status_code
        == 403
    )
    # The partnership sees the status only.
    chair = client_for(people.chair)
    assert chair.get(f"/differences/{responded}/records/{entry}").status_code == 403
    sw = client_for(people.sw)
    assert confirm_on_page(sw, responded, entry, 3, 12, 2026).status_code == 302
    # The team manager of the same agency tries again (their page has no form any more).
    tm = client_for(people.tm)
    again = submit(
        tm,
        f"/differences/{responded}/records/{entry}",
        {f"entry-{entry}-recorded_on": ["2", "12", "2026"]},
    )
    assert again.status_code == 200
    assert (
        "This outcome is already confirmed as recorded in Children's Social Care's "
        "system on 3 December 2026, by Sam Okafor" in text_of(again.get_data(as_text=True))
    )
    with app.app_context():
        row = db.session.get(ChronologyEntry, entry)
        assert (row.recorded_on.isoformat(), row.confirmed_by_id) == ("2026-12-03", people.sw.id)


# --- Waiting for you ---------------------------------------------------------------------------


def test_waiting_for_you_lists_the_outcomes_to_record_until_confirmed(
    app, people, client_for, responded
):
    sw = client_for(people.sw)
    entry = entry_id(app, responded, people.csc.id)
    waiting = text_of(sw.get("/waiting").get_data(as_text=True))
    assert "Outcomes to record on your agency's system (1)" in waiting
    assert f"{responded} Response at stage 1: upheld – the decision stands 20 November 2026" in (
        waiting
    )
    assert f"#record-{entry}" in sw.get("/waiting").get_data(as_text=True)
    # Not the GP's colleague's, nor the social worker's colleague's.
    assert "Outcomes to record on your agency's system (0)" in text_of(
        client_for(people.sw2).get("/waiting").get_data(as_text=True)
    )
    confirm_on_page(sw, responded, entry, 3, 12, 2026)
    waiting = text_of(sw.get("/waiting").get_data(as_text=True))
    assert "Outcomes to record on your agency's system (0)" in waiting
    assert responded not in waiting
    # The GP's entry still waits for the GP.
    assert "Outcomes to record on your agency's system (1)" in text_of(
        client_for(people.gp).get("/waiting").get_data(as_text=True)
    )


# --- The sweep's reminder ----------------------------------------------------------------------


def test_the_sweep_reminds_each_owner_once(app, people, responded):
    with app.app_context():
        entry = entry_id(app, responded, people.csc.id)
        assert db.session.get(ChronologyEntry, entry).remind_at == REMIND_AT
        # Before it is due: nothing.
        assert services.sweep.sweep(REMIND_AT - timedelta(minutes=1)).record_reminders == 0
        first = services.sweep.sweep(REMIND_AT + timedelta(minutes=1))
        second = services.sweep.sweep(REMIND_AT + timedelta(minutes=2))
        assert (first.record_reminders, second.record_reminders) == (2, 0)
        assert "2 record reminders" in str(first)
        reminders = db.session.scalars(
            sa.select(Notification).where(
                Notification.subject.contains("record the outcome on your agency's record")
            )
        ).all()
        assert sorted(n.recipient_id for n in reminders) == sorted([people.gp.id, people.sw.id])
        to_sw = next(n for n in reminders if n.recipient_id == people.sw.id)
        assert "not yet confirmed as recorded in Children's Social Care's own system" in to_sw.body
        assert "For your agency's records" in to_sw.body
        assert "QZ" not in to_sw.body and "CSC-884512" not in to_sw.body


def test_a_confirmed_entry_is_not_reminded(app, people, client_for, responded):
    confirm_on_page(
        client_for(people.sw), responded, entry_id(app, responded, people.csc.id), 3, 12, 2026
    )
    with app.app_context():
        assert services.sweep.sweep(REMIND_AT + timedelta(minutes=1)).record_reminders == 1


# --- The dashboard and the report --------------------------------------------------------------


def test_the_dashboard_and_report_show_the_share_confirmed_per_agency(app, people, client_for):
    with app.app_context():
        # Two outcomes in November (a response and its acceptance) and one in December.
        answered_and_accepted(people)
        december = raise_one(people, at=datetime(2026, 12, 1, 10, tzinfo=UTC))
        d = fresh(december)
        services.differences.withdraw(
            get(people.gp),
            d.id,
            d.version,
            rationale=GOOD,
            now=datetime(2026, 12, 1, 11, tzinfo=UTC),
        )
        ids = {
            (kind, agency): entry
            for entry, kind, agency in db.session.execute(
                sa.select(ChronologyEntry.id, Event.kind, ChronologyEntry.agency_id).join(
                    Event, Event.id == ChronologyEntry.event_id
                )
            )
        }
        # By hand: the GP practice confirms both November outcomes, social care one of them;
        # social care confirms December's withdrawal.
        for kind, person in (
            (EventKind.RESPONDED, people.gp),
            (EventKind.ACCEPTED, people.gp),
            (EventKind.ACCEPTED, people.sw),
            (EventKind.WITHDRAWN, people.sw),
        ):
            user = get(person)
            services.chronology.confirm_recorded(
                user, ids[(kind, user.agency_id)], datetime(2026, 12, 2).date(), LATER
            )
        for reference in db.session.scalars(sa.select(Difference)):
            assert queries.histories.verify_difference(reference).ok
        db.session.remove()
    chair = client_for(people.chair)
    dashboard = text_of(chair.get("/oversight/dashboard/agencies").get_data(as_text=True))
    assert "Outcomes recorded on agencies' own systems" in dashboard
    # All time: 3 entries each; the GP practice confirmed 2, social care 2.
    assert "Children's Social Care 3 2 67%" in dashboard
    assert "Riverside Medical Practice 3 2 67%" in dashboard

    report = text_of(
        chair.get("/oversight/report?start=1&start=11&start=2026&end=30&end=11&end=2026").get_data(
            as_text=True
        )
    )
    # November only: 2 entries each; the GP practice confirmed both, social care one.
    assert "Children's Social Care 2 1 50%" in report
    assert "Riverside Medical Practice 2 2 100%" in report
    csv = chair.get("/oversight/report.csv?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    section = "Outcomes recorded on agencies' own systems"
    assert f"{section},Children's Social Care,50%,1 of 2 confirmed" in csv
    assert f"{section},Riverside Medical Practice,100%,2 of 2 confirmed" in csv


# --- Retention ---------------------------------------------------------------------------------


def test_after_anonymisation_the_entry_shows_the_removed_words(app, people, client_for):
    with app.app_context():
        difference_id = answered_and_accepted(people)
        assert services.retention.anonymise(difference_id, LATER, 6)
        db.session.commit()
        reference = fresh(difference_id).reference
        db.session.remove()
    page = text_of(client_for(people.sw).get(f"/differences/{reference}").get_data(as_text=True))
    assert "Rationale: [removed under the retention policy]" in page
    assert "What this means for the child: [removed under the retention policy]" in page
    assert "CSC-884512" not in page and GOOD not in page and IMPACT not in page


def test_an_anonymised_difference_leaves_nothing_to_record(app, people, client_for):
    with app.app_context():
        difference_id = answered_and_accepted(people)
        reference = fresh(difference_id).reference
        db.session.remove()
    sw = client_for(people.sw)
    assert reference in text_of(sw.get("/waiting").get_data(as_text=True))
    entry = entry_id(app, reference, people.csc.id)
    with app.app_context():
        assert services.retention.anonymise(difference_id, LATER, 6)
        db.session.commit()
        db.session.remove()

    waiting = text_of(sw.get("/waiting").get_data(as_text=True))
    assert reference not in waiting and "Outcomes to record on your agency's system (0)" in waiting
    page = sw.get(f"/differences/{reference}").get_data(as_text=True)
    assert "Confirm it is recorded" not in page
    refused = submit(
        sw,
        f"/differences/{reference}/records/{entry}",
        {f"entry-{entry}-recorded_on": ["3", "12", "2026"]},
        form_page="/account",
    )
    assert refused.status_code == 409
    assert "anonymised under the retention policy" in unescape(refused.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(ChronologyEntry, entry).confirmed_at is None

