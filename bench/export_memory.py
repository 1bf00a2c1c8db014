"""Peak memory of the unresolved-list CSV export, 100 rows against 100,000 (`make bench`).

Builds a scratch SQLite database with bulk inserts (not through the services: this measures the
export, not the workflow), then streams the export as the web page does, counting the bytes and
tracing the peak memory allocated while it runs.
"""

import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# A throwaway application: it must not read a developer's settings or write a key anywhere.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = secrets.token_hex(32)
os.environ.pop("DATABASE_URL", None)

from escalate import create_app, queries, services  # noqa: E402
from escalate.extensions import db  # noqa: E402
from escalate.models import (  # noqa: E402
    Agency,
    AgencyKind,
    Base,
    Category,
    Difference,
    Role,
    Stage,
    State,
    User,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SIZES = (100, 1_000, 10_000, 100_000)
CHUNK = 10_000


def build(count: int) -> None:
    """``count`` open differences between six agencies, each with its open stage."""
    agencies = [Agency(name=f"Agency {i}", kind=AgencyKind.OTHER) for i in range(6)]
    db.session.add_all(agencies)
    db.session.flush()
    raiser = User(
        email="raiser@example.org", name="Raiser", role=Role.PRACTITIONER, agency=agencies[0]
    )
    db.session.add(raiser)
    db.session.flush()
    categories = list(Category)
    for start in range(0, count, CHUNK):
        ids = range(start + 1, min(start + CHUNK, count) + 1)
        differences, stages = [], []
        for i in ids:
            raised = NOW - timedelta(hours=i % 2000)
            level = 1 + i % 4
            differences.append(
                {
                    "id": i,
                    "reference": f"RPD-2026-{i:06d}",
                    "version": 1,
                    "raiser_id": raiser.id,
                    "raising_agency_id": agencies[i % 3].id,
                    "receiving_agency_id": agencies[3 + i % 3].id,
                    "child_reference": f"C-{i}",
                    "child_initials": "AB",
                    "category": categories[i % len(categories)],
                    "decision": "A decision.",
                    "reasons": "Some reasons, long enough to be typical of a real record.",
                    "desired_outcome": "An outcome.",
                    "discussed_informally": False,
                    "informal_discussion": "",
                    "immediate_risk": False,
                    "protective_action": "",
                    "urgent": i % 10 == 0,
                    "state": State.AWAITING_RAISER if i % 5 == 0 else State.AWAITING_RESPONSE,
                    "stage_level": level,
                    "raised_at": raised,
                }
            )
            stages.append(
                {
                    "difference_id": i,
                    "level": level,
                    "name": f"Stage {level}",
                    "is_final": level == 4,
                    "opened_at": raised,
                    "deadline": raised + timedelta(days=7),
                    "working_days": 5,
                    "extended_days": 0,
                }
            )
        db.session.execute(sa.insert(Difference), differences)
        db.session.execute(sa.insert(Stage), stages)
    db.session.commit()


def measure(count: int, directory: Path) -> tuple[int, int, float]:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / f'bench-{count}.sqlite'}"}
    )
    with app.app_context():
        Base.metadata.create_all(db.engine)
        services.setup.install_defaults()
        started = time.perf_counter()
        build(count)
        built = time.perf_counter() - started
        db.session.remove()
        filters = queries.unresolved.UnresolvedFilters(sort="oldest")
        tracemalloc.start()
        rows = size = 0
        for text in queries.unresolved.unresolved_csv(filters, NOW):
            size += len(text)
            rows += text.count("\r\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.remove()
        db.engine.dispose()
    assert rows == count + 1, (rows, count)
    return peak, size, built


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        results = {count: measure(count, Path(scratch)) for count in SIZES}
    print("Unresolved-list CSV export, streamed (tracemalloc peak while exporting):")
    for count, (peak, size, built) in results.items():
        print(
            f"  {count:>7,} rows: peak {peak / 1024:8.0f} KiB for {size / 1024:8.0f} KiB of CSV"
            f"  (database built in {built:.1f} s)"
        )
    small, large = results[SIZES[0]][0], results[SIZES[-1]][0]
    print(f"  ratio of peaks, {SIZES[-1]:,} rows to {SIZES[0]:,}: {large / small:.2f}")


if __name__ == "__main__":
    main()
