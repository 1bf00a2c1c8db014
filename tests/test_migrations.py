"""The migrations build exactly the schema the models describe, on every database."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from escalate.extensions import db
from escalate.models import Base


def _differences(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_from_empty_match_the_models_and_downgrade_cleanly(bare_app):
    with bare_app.app_context():
        upgrade()
        assert _differences(db.engine) == []
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _differences(db.engine) == []
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_every_enum_constraint_allows_every_value_after_migrating(bare_app):
    # Alembic does not compare CHECK constraints, so a new enum value without a migration would
    # pass the comparison above and then fail on the first insert.
    with bare_app.app_context():
        upgrade()
        inspector = sa.inspect(db.engine)
        checked = 0
        for table in Base.metadata.sorted_tables:
            constraints = {
                c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)
            }
            for column in table.columns:
                if isinstance(column.type, sa.Enum):
                    name = f"ck_{table.name}_{column.type.name}"
                    assert name in constraints, f"{name} missing"
                    for value in column.type.enums:
                        assert f"'{value}'" in constraints[name], f"{name} lacks {value}"
                    checked += 1
        assert checked >= 10
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_migrations_install_the_default_policy_and_settings(bare_app):
    from escalate import policy, queries
    from escalate.models import PolicyStage

    with bare_app.app_context():
        upgrade()
        stages = db.session.scalars(sa.select(PolicyStage).order_by(PolicyStage.level)).all()
        assert [
            policy.StagePolicy(
                **{f: getattr(s, f) for f in policy.StagePolicy.__dataclass_fields__}
            )
            for s in stages
        ] == list(policy.DEFAULT_POLICY)
        settings = queries.setup.partnership_settings()
        assert (str(settings.nation), settings.act_now_text) == (
            "england-and-wales",
            policy.DEFAULT_ACT_NOW_TEXT,
        )
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def _migration(revision: str):
    """A migration module, to use its own reading of the schema it leaves."""
    import importlib.util
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    path = next(versions.glob(f"{revision}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _story_then_back_to_0005(app, *, demo=False):
    """Histories written by escalate (the test story, or the demo partnership), then the
    database taken back to revision 0005 (unkeyed chains, as every database before 0009)."""
    from dataclasses import replace
    from datetime import UTC, datetime
    from unittest import mock

    from escalate import demo as demo_data
    from escalate import services
    from tests import oversight_fixture, partnership

    upgrade()
    if demo:
        # Before 0018 a learning note had no status to move on: the demo's notes stay open, so
        # that its histories hold only what a database of that time could.
        still_open = [replace(learning, status="open") for learning in demo_data.LEARNING]
        with mock.patch.object(demo_data, "LEARNING", still_open):
            services.demo.seed_demo(
                demo_data.DEMO_PASSWORD, datetime(2026, 11, 20, 10, tzinfo=UTC)
            )
        refs = {}
    else:
        people = partnership.ids(partnership.build())
        db.session.commit()
        refs = oversight_fixture.build(people)
    db.session.remove()
    downgrade(revision="0005")
    with db.engine.connect() as connection:
        unverified = _migration("0009")._unverified(
            connection, previous="previous_hash", sealed="hash"
        )
        assert unverified == []  # the unkeyed chains verify, as 0005 checks them
    return refs


def test_existing_histories_are_sealed_again_once_and_the_checkpoint_log_says_so(bare_app):
    from escalate import checkpoint_log, queries

    with bare_app.app_context():
        _story_then_back_to_0005(bare_app)

        upgrade()

        found = queries.histories.audit(full=True)
        assert (found.ok, found.differences, found.events) == (True, 8, 21)
        lines = checkpoint_log.lines(bare_app.config["HISTORY_CHECKPOINT_LOG"])
        # 0009 sealed them with the key, 0015 through commitments to their texts.
        assert [(line["kind"], line["position"], line["unverified"]) for line in lines] == [
            ("resealed", 21, []),
            ("resealed", 21, []),
        ]
        assert "0015" in lines[-1]["reason"]
        from_checkpoint = queries.histories.audit()
        assert from_checkpoint.ok and from_checkpoint.checkpoint.position == 21
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_a_history_altered_before_the_upgrade_is_named_when_it_is_sealed_again(bare_app):
    from escalate import checkpoint_log

    with bare_app.app_context():
        refs = _story_then_back_to_0005(bare_app)
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE event SET actor_id = 1 WHERE sequence = 2 AND difference_id = "
                    "(SELECT id FROM difference WHERE reference = :b)"
                ),
                {"b": refs["B"]},
            )

        upgrade()

        lines = checkpoint_log.lines(bare_app.config["HISTORY_CHECKPOINT_LOG"])
        assert [line["unverified"] for line in lines] == [[refs["B"]], []]
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_the_demo_partnership_migrates(bare_app):
    from escalate import checkpoint_log, queries

    with bare_app.app_context():
        _story_then_back_to_0005(bare_app, demo=True)

        upgrade()

        found = queries.histories.audit(full=True)
        assert found.ok and found.differences == 13, (found.altered, found.record)
        lines = checkpoint_log.lines(bare_app.config["HISTORY_CHECKPOINT_LOG"])
        assert [(line["kind"], line["unverified"]) for line in lines] == [("resealed", [])] * 2
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_a_history_altered_before_texts_were_committed_to_is_named_when_sealed_again(bare_app):
    import json

    from escalate import checkpoint_log, queries
    from tests import oversight_fixture, partnership

    with bare_app.app_context():
        upgrade()
        people = partnership.ids(partnership.build())
        db.session.commit()
        refs = oversight_fixture.build(people)
        db.session.remove()
        downgrade(revision="0014")  # as 0014 sealed them: over the texts themselves
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE difference SET reasons = 'Rewritten before the upgrade.' "
                    "WHERE reference = :c"
                ),
                {"c": refs["C"]},
            )

        upgrade()

        line = checkpoint_log.lines(bare_app.config["HISTORY_CHECKPOINT_LOG"])[-1]
        assert (line["kind"], line["unverified"]) == ("resealed", [refs["C"]])
        found = queries.histories.audit(full=True)
        assert found.ok and (found.differences, found.events) == (8, 21)
        texts = db.session.execute(
            sa.text("SELECT texts FROM event WHERE kind = 'responded' ORDER BY position")
        ).scalars().all()
        # The responses' rationales moved out of their data into their texts.
        assert texts and all(
            "rationale" in (t if isinstance(t, dict) else json.loads(t)) for t in texts
        )
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_each_persons_part_is_found_from_the_differences_recorded_before_it(bare_app):
    """0020 fills in ``involvement`` from the differences, stages and assignments already
    recorded: the demo partnership's thirteen (raised, answered, reassigned, escalated, closed)."""
    from datetime import UTC, datetime

    from escalate import demo as demo_data
    from escalate import services
    from tests.test_involvement import by_definition, noted

    with bare_app.app_context():
        upgrade()
        services.demo.seed_demo(demo_data.DEMO_PASSWORD, datetime(2026, 11, 20, 10, tzinfo=UTC))
        written = noted()
        db.session.remove()
        downgrade(revision="0019")

        upgrade()

        assert noted() == by_definition() == written
        assert len(written) > 40
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_nobody_is_asked_to_record_an_outcome_of_a_difference_anonymised_before_0022(bare_app):
    from datetime import UTC, datetime

    from escalate import demo as demo_data
    from escalate import services
    from escalate.models import ChronologyEntry

    def owners():
        found = db.session.execute(sa.select(ChronologyEntry.id, ChronologyEntry.owner_id))
        return {entry_id: owner_id for entry_id, owner_id in found}

    with bare_app.app_context():
        upgrade()
        services.demo.seed_demo(demo_data.DEMO_PASSWORD, datetime(2026, 11, 20, 10, tzinfo=UTC))
        unconfirmed = db.session.scalars(
            sa.select(ChronologyEntry)
            .where(ChronologyEntry.confirmed_at.is_(None), ChronologyEntry.owner_id.is_not(None))
            .order_by(ChronologyEntry.id)
        ).all()
        anonymised = unconfirmed[0].difference_id
        cleared = {e.id for e in unconfirmed if e.difference_id == anonymised}
        before = owners()
        db.session.remove()
        downgrade(revision="0021")
        with db.engine.begin() as connection:  # anonymised under 0021: its owners kept
            connection.execute(
                sa.text("UPDATE difference SET anonymised_at = :now WHERE id = :d"),
                {"now": datetime(2033, 11, 20, tzinfo=UTC), "d": anonymised},
            )

        upgrade()

        assert cleared and all(before[i] is not None for i in cleared)
        assert owners() == {i: None if i in cleared else o for i, o in before.items()}
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))


def test_each_inbox_is_tallied_from_the_messages_sent_before_0023(bare_app):
    """0023 counts each person's messages and unread ones from those the demo partnership's
    thirteen differences sent (one person's all read, one message of another's), as the
    services keep them."""
    from datetime import UTC, datetime

    from escalate import demo as demo_data
    from escalate import services
    from escalate.models import InboxTally, Notification, User
    from tests.conftest import _tallies_that_differ

    def tallies():
        found = db.session.scalars(sa.select(InboxTally))
        return {t.user_id: (t.messages, t.unread) for t in found}

    with bare_app.app_context():
        upgrade()
        now = datetime(2026, 11, 20, 10, tzinfo=UTC)
        services.demo.seed_demo(demo_data.DEMO_PASSWORD, now)
        first, second = db.session.scalars(
            sa.select(User).join(InboxTally, InboxTally.user_id == User.id).limit(2)
        )
        services.inbox.mark_all_read(first, now)
        message = db.session.scalar(
            sa.select(Notification.id).where(Notification.recipient_id == second.id).limit(1)
        )
        services.inbox.open_notification(second, message, now)
        first, second = first.id, second.id
        kept = tallies()
        db.session.remove()
        downgrade(revision="0022")

        upgrade()

        assert tallies() == kept and _tallies_that_differ() == []
        assert kept[first][1] == 0 < kept[first][0]
        assert 0 < kept[second][1] == kept[second][0] - 1
        assert len(kept) > 10
        db.session.remove()
        with db.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))
