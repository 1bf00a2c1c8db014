"""Retention and erasure: the sweep anonymises a difference the retention policy no longer keeps
(its figures and dates stay for reports), a partnership member corrects a mistaken entry, and in
both cases the text is gone from the database while the history still verifies."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from escalate import history, queries, services
from escalate.extensions import db
from escalate.models import Base, Difference, Event, User
from tests import factories
from tests.conftest import submit

NOW = datetime(2033, 11, 21, 10, 0, tzinfo=UTC)  # a Monday
SEVEN_YEARS_AGO = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FIVE_YEARS_AGO = datetime(2028, 11, 20, 10, 0, tzinfo=UTC)
REMOVED = "[removed under the retention policy]"
# What people typed, distinctive enough to search every table for.
WITHDRAWAL = "Withdrawn because the mother Jane Example stopped her medication on Tuesday."
RESPONSE = "The explanation the stepfather Mark Example gave matches the bruising seen."


@pytest.fixture
def app_config():
    return {"CLOCK": lambda: NOW}


def raise_and_close(app, people, at, *, respond=False, withdrawal=WITHDRAWAL, **fields) -> str:
    """The GP raises a difference with children's social care at ``at``; the social worker
    responds (if ``respond``) and the GP withdraws it the same day."""
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        sw = db.session.get(User, people.sw.id)
        new = factories.new_difference(sw.agency, named_professional_id=sw.id, **fields)
        difference = services.differences.raise_difference(gp, new, at)
        reference = difference.reference
        if respond:
            services.differences.respond(
                sw,
                difference.id,
                difference.version,
                outcome="upheld",
                rationale=RESPONSE,
                child_impact="Nothing changes for the child yet.",
                now=at,
            )
        difference = db.session.scalar(
            sa.select(Difference).where(Difference.reference == reference)
        )
        services.differences.withdraw(
            gp, difference.id, difference.version, rationale=withdrawal, now=at
        )
        db.session.remove()
    return reference


def everything_stored(app) -> str:
    """Every row of every table, as one text."""
    with app.app_context(), db.engine.connect() as connection:
        return "\n".join(
            repr(row)
            for table in Base.metadata.sorted_tables
            for row in connection.execute(sa.select(table))
        )


def difference_row(app, reference):
    with app.app_context():
        found = db.session.scalar(sa.select(Difference).where(Difference.reference == reference))
        db.session.expunge(found)
        db.session.remove()
    return found


def page(client_for, person, reference) -> str:
    return client_for(person).get(f"/differences/{reference}").get_data(as_text=True)


def test_a_difference_closed_seven_years_ago_is_anonymised_by_the_sweep_and_still_verifies(
    app, people, runner, client_for
):
    old = raise_and_close(app, people, SEVEN_YEARS_AGO, respond=True)
    recent = raise_and_close(
        app,
        people,
        FIVE_YEARS_AGO,
        withdrawal="Withdrawn once the family had moved out of the area last month.",
        child_reference="CSC-000001",
        reasons="The threshold for an assessment was met and none was started in time.",
        informal_discussion="",
        discussed_informally=False,
    )
    before = difference_row(app, old)
    assert RESPONSE in everything_stored(app)

    result = runner.invoke(args=["escalate", "sweep"])

    assert result.exit_code == 0, result.output
    assert "1 anonymised" in result.stdout
    after = difference_row(app, old)
    for name in ("child_reference", "child_initials", "decision", "reasons", "desired_outcome",
                 "informal_discussion"):  # fmt: skip
        assert getattr(after, name) == REMOVED, name
    assert after.child_date_of_birth is None and after.protective_action == ""
    # The figures and dates the reports use are kept.
    kept = ("category", "state", "outcome", "raised_at", "closed_at", "stage_level",
            "raising_agency_id", "receiving_agency_id", "urgent",
            "resolution_working_days")  # fmt: skip
    for name in kept:
        assert getattr(after, name) == getattr(before, name), name
    assert after.anonymised_at == NOW
    stored = everything_stored(app)
    for typed in (WITHDRAWAL, RESPONSE, "CSC-884512", "unexplained bruising", "duty social"):
        assert typed not in stored, typed
    assert "CSC-000001" in stored and "moved out of the area" in stored  # closed five years ago
    assert difference_row(app, recent).anonymised_at is None

    html = page(client_for, people.auditor, old)
    assert "History verified" in html
    assert "Anonymised under the retention policy" in html
    assert "Reasons: removed under the retention policy" in html
    assert "Why the raiser disagrees: removed under the retention policy" in html
    assert "Date of birth: removed under the retention policy" in html
    for args in (["verify-audit"], ["verify-audit", "--full"], ["checkpoint"], ["verify-audit"]):
        checked = runner.invoke(args=["escalate", *args])
        assert checked.exit_code == 0, (args, checked.output)


def test_the_sweep_anonymises_once_and_a_dry_run_changes_nothing(app, people, runner):
    old = raise_and_close(app, people, SEVEN_YEARS_AGO)

    dry = runner.invoke(args=["escalate", "sweep", "--dry-run"])
    assert f"{old}: anonymise under the retention policy" in dry.stdout
    assert difference_row(app, old).anonymised_at is None
    first = runner.invoke(args=["escalate", "sweep"])
    second = runner.invoke(args=["escalate", "sweep"])

    assert "1 anonymised" in first.stdout and "anonymised" not in second.stdout
    with app.app_context():
        kinds = db.session.scalars(
            sa.select(Event.kind)
            .join(Difference)
            .where(Difference.reference == old)
            .order_by(Event.sequence)
        ).all()
        db.session.remove()
    assert [str(k) for k in kinds] == ["raised", "withdrawn", "anonymised"]


def test_the_retention_period_is_a_setting(app, people, runner):
    recent = raise_and_close(app, people, FIVE_YEARS_AGO)
    assert "anonymised" not in runner.invoke(args=["escalate", "sweep"]).stdout

    app.config["RETENTION_YEARS"] = 4
    assert "1 anonymised" in runner.invoke(args=["escalate", "sweep"]).stdout
    assert difference_row(app, recent).reasons == REMOVED


def test_an_open_difference_is_never_anonymised(app, people, runner):
    with app.app_context():
        gp = db.session.get(User, people.gp.id)
        sw = db.session.get(User, people.sw.id)
        reference = services.differences.raise_difference(
            gp, factories.new_difference(sw.agency), SEVEN_YEARS_AGO
        ).reference
        db.session.remove()
    runner.invoke(args=["escalate", "sweep"])
    assert difference_row(app, reference).anonymised_at is None


# --- Correcting a mistaken entry -------------------------------------------------------------


def correction_page(reference) -> str:
    return f"/differences/{reference}/correct"


def test_the_partnership_corrects_a_mistaken_entry_and_the_history_still_verifies(
    app, people, runner, client_for
):
    reference = raise_and_close(app, people, NOW, respond=True)
    chair = client_for(people.chair)
    form = chair.get(correction_page(reference)).get_data(as_text=True)
    assert "Event 2, Reasons: \u201cThe explanation the stepfather" in form

    done = submit(
        chair,
        correction_page(reference),
        {
            "entry": "2:rationale",
            "corrected_text": "The explanation the family gave matches the bruising seen.",
            "rationale": "The stepfather's full name was typed into the reasons by mistake.",
        },
    )

    assert done.status_code == 302, done.get_data(as_text=True)
    assert RESPONSE not in everything_stored(app)
    html = page(client_for, people.auditor, reference)
    assert "History verified" in html
    assert "Mistaken entry corrected" in html
    assert "The explanation the family gave matches the bruising seen." in html
    assert "Reasons: entered by mistake and removed (see the correction)" in html
    assert "[removed: entered by mistake, see the correction]" in html
    for args in (["verify-audit"], ["verify-audit", "--full"]):
        assert runner.invoke(args=["escalate", *args]).exit_code == 0
    # The entry is no longer offered; the correction's own texts are.
    again = chair.get(correction_page(reference)).get_data(as_text=True)
    assert 'value="2:rationale"' not in again and 'value="4:corrected_text"' in again


def test_a_detail_of_the_difference_is_corrected_in_place(app, people, runner, client_for):
    reference = raise_and_close(app, people, NOW)
    chair = client_for(people.chair)

    done = submit(
        chair,
        correction_page(reference),
        {
            "entry": "row:child_initials",
            "corrected_text": "QX",
            "rationale": "The initials were those of the child's older sister, not the child.",
        },
    )

    assert done.status_code == 302
    assert difference_row(app, reference).child_initials == "QX"
    html = page(client_for, people.auditor, reference)
    assert "History verified" in html
    assert "Child&#39;s initials: entered by mistake and removed (see the correction)" in html
    assert runner.invoke(args=["escalate", "verify-audit", "--full"]).exit_code == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"entry": "", "rationale": "The name of a parent was typed in by mistake here."},
         "Choose the entry to correct"),
        ({"entry": "2:rationale", "rationale": "n/a"}, "does not record why"),
        ({"entry": "9:rationale", "rationale": "The name of a parent was typed in by mistake."},
         "That entry has nothing left to correct"),
        ({"entry": "row:nonsense", "rationale": "The name of a parent was typed in by mistake."},
         "Choose the entry to correct"),
        ({"entry": "row:child_initials", "corrected_text": "ABCDEFGHIJKL",
          "rationale": "The initials were those of the child's older sister."},
         "The corrected text must be 10 characters or fewer"),
    ],
)  # fmt: skip
def test_a_correction_that_cannot_be_made_says_why_and_changes_nothing(
    app, people, client_for, fields, message
):
    reference = raise_and_close(app, people, NOW, respond=True)
    chair = client_for(people.chair)  # signing in notes the two-factor code used
    before = everything_stored(app)

    refused = submit(chair, correction_page(reference), fields)

    assert refused.status_code == 200
    assert message in refused.get_data(as_text=True)
    assert everything_stored(app) == before


def test_only_the_partnership_corrects_entries(app, people, client_for):
    reference = raise_and_close(app, people, NOW)
    for person in (people.gp, people.auditor, people.tm):
        assert client_for(person).get(correction_page(reference)).status_code == 403
    assert client_for(people.police_manager).get(correction_page(reference)).status_code == 404
    assert "Correct a mistaken entry" in page(client_for, people.chair, reference)
    assert "Correct a mistaken entry" not in page(client_for, people.auditor, reference)


def test_an_anonymised_difference_has_nothing_left_to_correct(app, people, runner, client_for):
    reference = raise_and_close(app, people, SEVEN_YEARS_AGO)
    runner.invoke(args=["escalate", "sweep"])
    assert client_for(people.chair).get(correction_page(reference)).status_code == 409


def test_a_correction_then_the_retention_policy_both_leave_a_verified_history(
    app, people, runner, client_for
):
    reference = raise_and_close(app, people, SEVEN_YEARS_AGO, respond=True)
    submit(
        client_for(people.chair),
        correction_page(reference),
        {"entry": "3:rationale", "rationale": "A parent's full name was typed in by mistake."},
    )
    runner.invoke(args=["escalate", "sweep"])

    with app.app_context():
        row = db.session.scalar(sa.select(Difference).where(Difference.reference == reference))
        texts = {e.sequence: e.texts for e in row.events}
        erased = history.erased_in(row.erasures)
        assert queries.histories.verify_difference(row).ok
        db.session.remove()
    assert texts[3]["rationale"] == history.REMOVED[history.CORRECTION]
    assert erased[3]["rationale"] == history.CORRECTION
    assert texts[4]["rationale"] == REMOVED and erased[4]["rationale"] == history.RETENTION
    assert runner.invoke(args=["escalate", "verify-audit", "--full"]).exit_code == 0


def test_seed_bench_seals_its_histories_through_commitments_to_their_texts(app, runner):
    with app.app_context():
        services.synthetic.seed_bench(40, NOW, people=60)
        texts = db.session.execute(
            sa.select(Event.id, Event.texts, Event.text_seals, Event.data).where(
                Event.texts != sa.null()
            )
        ).all()
        with_texts = [row for row in texts if row.texts]
        db.session.remove()
    assert with_texts and all(set(r.texts) == set(r.text_seals) for r in with_texts)
    assert not any(set(r.data) & history.EVENT_TEXTS for r in texts)
    for args in (["verify-audit", "--full"], ["checkpoint"], ["verify-audit"]):
        assert runner.invoke(args=["escalate", *args]).exit_code == 0, args

    changed = with_texts[0]
    name = next(iter(changed.texts))
    with app.app_context():
        db.session.execute(
            sa.update(Event.__table__)
            .where(Event.__table__.c.id == changed.id)
            .values(texts={**changed.texts, name: "Rewritten with SQL."})
        )
        db.session.commit()
        db.session.remove()
    for args in (["verify-audit"], ["verify-audit", "--full"]):
        found = runner.invoke(args=["escalate", *args])
        assert found.exit_code == 1 and history.ALTERED in found.stderr, args
