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
