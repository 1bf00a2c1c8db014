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
