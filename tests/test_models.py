"""Database-level guarantees that hold whatever code writes the rows."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import escalate
from escalate.extensions import db
from escalate.models import Role
from tests import factories


def test_email_addresses_are_unique_regardless_of_case(ctx):
    factories.user(Role.ADMIN, email="ada@example.org")
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            sa.text("UPDATE user_account SET email = 'ADA@example.org'")
        )
    db.session.rollback()


def test_sqlite_enforces_foreign_keys_uses_wal_and_a_larger_page_cache(ctx):
    if db.engine.dialect.name != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        assert cache == -escalate.SQLITE_CACHE_KIB


def test_a_stage_contact_must_name_a_real_user(ctx):
    agency = factories.agency()
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            sa.text("INSERT INTO agency_stage_contact (agency_id, stage_level, user_id) "
                    "VALUES (:a, 1, 9999)"),
            {"a": agency.id},
        )
        db.session.flush()
    db.session.rollback()
