"""Does the deadline sweep's cost follow what is due, not what is open or closed? (`make bench`)

Issue 5 asks that the sweep's work grow with the number of differences that are due, not with
the number open or the length of the partnership's history. This builds scratch SQLite
databases with bulk inserts (not through the services: this measures the sweep, not the
workflow), each with the same 50 due differences among more and more open ones and closed
history, then times `services.sweep.sweep(now, dry_run=True)`, shows SQLite's query plans for the
sweep's "what is due" queries and counts the virtual-machine steps the sweep takes (exact, where
times are noisy). It then runs the sweep for real, and again, which finds nothing left to do.

Every row satisfies the schema: each difference has its stage with a responder and a lead, its
"raised" event sealed into the history (the real sweep appends to it, and the histories are
verified afterwards), and the notification that event sent.
"""

import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# A throwaway application: it must not read a developer's settings or write a key anywhere.
os.environ["ESCALATE_ENV"] = "development"
os.environ["SECRET_KEY"] = secrets.token_hex(32)
os.environ["HISTORY_KEY"] = secrets.token_hex(32)
os.environ.pop("DATABASE_URL", None)

from flask import current_app  # noqa: E402

from escalate import create_app, history, queries, services  # noqa: E402
from escalate.extensions import db  # noqa: E402
from escalate.models import (  # noqa: E402
    Agency,
    AgencyKind,
    AgencyStageContact,
    Assignment,
    Base,
    Category,
    Difference,
    Event,
    EventKind,
    HistoryHead,
    Notification,
    Outcome,
    Role,
    Side,
    Stage,
    State,
    User,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday morning
CHUNK = 10_000
REPEATS = 5
STEP = 1000  # SQLite calls the progress handler every STEP virtual-machine instructions
FLAT = 2.0  # (b) costing less than twice (a) counts as flat
SHOWN = 72  # characters of each statement shown
STAGE_NAMES = {
    1: "Practitioner to practitioner",
    2: "Manager to manager",
    3: "Senior manager or designated professional",
    4: "Partnership resolution",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    open: int  # open differences, the due ones included
    history: int  # closed differences, each with its closed stage
    due: int  # of the open ones


SCENARIOS = (
    Scenario("a", 1_000, 0, 50),
    Scenario("b", 100_000, 100_000, 50),
    Scenario("c", 1_000, 0, 500),  # the control: ten times as much due
)


@dataclass
class People:
    agencies: list[int]
    practitioners: list[int]  # by agency
    managers: list[int]
    seniors: list[int]
    partnership: int
    names: dict[int, str]
    keys: history.KeyRing = None
    last_seal: str = history.GENESIS  # of the event last sealed into the record


def add_people() -> People:
    """Six agencies, each with a practitioner, their manager and a senior stage contact."""
    agencies = [Agency(name=f"Agency {i}", kind=AgencyKind.OTHER) for i in range(6)]
    db.session.add_all(agencies)
    db.session.flush()
    practitioners, managers, seniors = [], [], []
    for i, agency in enumerate(agencies):
        senior = User(email=f"senior{i}@example.org", name=f"Senior {i}", role=Role.SENIOR)
        manager = User(email=f"manager{i}@example.org", name=f"Manager {i}", role=Role.MANAGER)
        practitioner = User(
            email=f"practitioner{i}@example.org",
            name=f"Practitioner {i}",
            role=Role.PRACTITIONER,
            line_manager=manager,
        )
        for user in (senior, manager, practitioner):
            user.agency = agency
        db.session.add_all([senior, manager, practitioner])
        db.session.flush()
        db.session.add_all(
            AgencyStageContact(agency_id=agency.id, stage_level=level, user_id=senior.id)
            for level in (1, 2, 3)
        )
        practitioners.append(practitioner.id)
        managers.append(manager.id)
        seniors.append(senior.id)
    chair = User(email="chair@example.org", name="Chair", role=Role.PARTNERSHIP)
    db.session.add(chair)
    db.session.commit()
    names = dict(db.session.execute(sa.select(User.id, User.name)).all())
    keys = history.KeyRing.from_config(current_app.config)
    return People(
        [a.id for a in agencies], practitioners, managers, seniors, chair.id, names, keys
    )


def due_kind(k: int) -> str:
    """What the sweep finds due for the k-th due difference: of every 50, 20 overdue (and
    escalated automatically), 5 overdue at the final stage, 15 reminders, 10 raiser reminders."""
    k %= 50
    if k < 20:
        return "overdue"
    if k < 25:
        return "overdue_final"
    return "reminder" if k < 40 else "raiser_reminder"


def difference_rows(scenario: Scenario) -> Iterator[tuple[int, str]]:
    """(id, kind) of every difference: open ones, due ones spread evenly among them, history."""
    spacing = scenario.open // scenario.due
    for i in range(1, scenario.open + 1):
        if (i - 1) % spacing == 0 and (i - 1) // spacing < scenario.due:
            yield i, due_kind((i - 1) // spacing)
        else:
            yield i, "waiting_raiser" if i % 5 == 0 else "waiting_response"
    for i in range(scenario.open + 1, scenario.open + scenario.history + 1):
        yield i, "closed"


def rows_for(i: int, kind: str, people: People) -> dict[str, list[dict]]:
    """The rows of one difference: itself, its stage, assignments, raised event, notification."""
    raising, receiving = i % 3, 3 + i % 3
    raiser = people.practitioners[raising]
    level = {"overdue": 1 + i % 3, "overdue_final": 4}.get(kind, 1 + i % 4)
    if kind == "closed":
        opened = NOW - timedelta(days=30 + i % 700, hours=i % 7)
    elif kind in ("overdue", "overdue_final"):
        opened = NOW - timedelta(days=9, hours=i % 5)
    else:
        opened = NOW - timedelta(days=2, hours=i % 20)
    deadline = {
        "overdue": NOW - timedelta(hours=1 + i % 40),
        "overdue_final": NOW - timedelta(hours=1 + i % 40),
        "reminder": NOW + timedelta(hours=7),
        "waiting_response": NOW + timedelta(days=2 + i % 8, hours=i % 9),
        # A response came; this deadline is past (and no longer the sweep's business) for half.
        "waiting_raiser": NOW + timedelta(days=(i % 2) * 4 - 2),
        "raiser_reminder": NOW - timedelta(days=1),
        "closed": opened + timedelta(days=7),
    }[kind]
    responded = kind in ("waiting_raiser", "raiser_reminder", "closed")
    closed_at = opened + timedelta(days=5) if kind == "closed" else None
    responder = {
        1: people.practitioners[receiving],
        2: people.managers[receiving],
        3: people.seniors[receiving],
        4: people.partnership,
    }[level]
    lead = {1: raiser, 2: people.managers[raising], 3: people.seniors[raising]}.get(level)
    difference = {
        "id": i,
        "reference": f"RPD-2026-{i:06d}",
        "version": 1,
        "raiser_id": raiser,
        "raising_agency_id": people.agencies[raising],
        "receiving_agency_id": people.agencies[receiving],
        "named_professional_id": people.practitioners[receiving],
        "child_reference": f"C-{i}",
        "child_initials": "AB",
        "child_date_of_birth": None,
        "category": list(Category)[i % len(Category)],
        "decision": "A decision.",
        "reasons": "Some reasons, long enough to be typical of a real record.",
        "desired_outcome": "An outcome.",
        "discussed_informally": False,
        "informal_discussion": "",
        "immediate_risk": False,
        "protective_action": "",
        "urgent": False,
        "state": {
            "closed": State.RESOLVED,
            "waiting_raiser": State.AWAITING_RAISER,
            "raiser_reminder": State.AWAITING_RAISER,
        }.get(kind, State.AWAITING_RESPONSE),
        "stage_level": level,
        "outcome": "agreed" if kind == "closed" else None,
        "raised_at": opened,
        "closed_at": closed_at,
        "resolution_working_days": 4 if kind == "closed" else None,
    }
    stage = {
        "id": i,
        "difference_id": i,
        "level": level,
        "name": STAGE_NAMES[level],
        "is_final": level == 4,
        "opened_at": opened,
        "deadline": deadline,
        "working_days": 5,
        "extended_days": 0,
        "responded_at": opened + timedelta(days=1) if responded else None,
        "outcome": Outcome.UPHELD if responded else None,
        "closed_at": closed_at,
        # The schedule a stage carries: cleared once it has been reminded, answered or closed.
        "remind_at": {
            "reminder": NOW - timedelta(hours=1),
            "waiting_response": deadline - timedelta(days=1),
        }.get(kind),
        "raiser_remind_at": {
            "raiser_reminder": NOW - timedelta(hours=1),
            "waiting_raiser": NOW + timedelta(days=1 + i % 4),
        }.get(kind),
    }
    assignments = [{"stage_id": i, "user_id": responder, "side": Side.RESPONDER, "active": True}]
    if lead is not None:
        assignments.append({"stage_id": i, "user_id": lead, "side": Side.LEAD, "active": True})
    event = SimpleNamespace(
        id=i,
        difference_id=i,
        sequence=1,
        position=i,
        kind=EventKind.RAISED,
        actor_id=raiser,
        at=opened,
        stage_level=level,
        deadline=deadline,
        data={
            "urgent": False,
            "stage": STAGE_NAMES[level],
            "responders": [people.names[responder]],
            "leads": [people.names[lead]] if lead else [],
            "responders_fell_back": False,
        },
    )
    notification = {
        "recipient_id": responder,
        "difference_id": i,
        "event_id": i,
        "subject": f"RPD-2026-{i:06d}: a professional difference has been raised with you",
        "body": "A practitioner has raised a professional difference with your agency. " * 3,
        "created_at": opened,
        "read_at": opened + timedelta(hours=2),
        "email_status": "sent",
        "attempts": 1,
        "next_attempt_at": None,
        "sent_at": opened + timedelta(minutes=1),
    }
    return {
        "difference": [difference],
        "stage": [stage],
        "assignment": assignments,
        "event": [event],  # sealed once its difference's row is in the database
        "notification": [notification],
    }


def build(scenario: Scenario) -> list[int]:
    """Fill the database; return the ids of the due differences. Ids are given explicitly:
    SQLite carries on from the largest (PostgreSQL's sequences would need setting)."""
    people = add_people()
    tables = {
        "difference": Difference,
        "stage": Stage,
        "assignment": Assignment,
        "event": Event,
        "notification": Notification,
    }
    due, batch = [], {name: [] for name in tables}

    def flush() -> None:
        if not batch["difference"]:
            return
        db.session.execute(sa.insert(Difference.__table__), batch.pop("difference"))
        text = queries.histories.as_stored(
            [getattr(Difference, name) for name in history.DIFFERENCE_FIELDS], "sqlite"
        )
        ids = [event.difference_id for event in batch["event"]]
        found = db.session.execute(sa.select(Difference.id, text).where(Difference.id.in_(ids)))
        digests = {i: history.digest(stored) for i, stored in found}
        # Differences are built in id order, so each raised event follows the one before it.
        for event in batch["event"]:
            event.difference_digest = digests[event.difference_id]
            history.seal(
                event, people.keys, previous_seal=history.GENESIS, preceding_seal=people.last_seal
            )
            people.last_seal = event.seal
        batch["event"] = [vars(event) for event in batch["event"]]
        for name, model in tables.items():
            if batch.get(name):
                db.session.execute(sa.insert(model.__table__), batch[name])
        batch.update({name: [] for name in tables})

    for count, (i, kind) in enumerate(difference_rows(scenario), start=1):
        if kind not in ("waiting_response", "waiting_raiser", "closed"):
            due.append(i)
        for name, rows in rows_for(i, kind, people).items():
            batch[name].extend(rows)
        if count % CHUNK == 0:
            flush()
    flush()
    db.session.execute(
        sa.update(HistoryHead).values(position=count, seal=people.last_seal)
    )
    db.session.commit()
    assert len(due) == scenario.due, (len(due), scenario)
    return due


@dataclass
class Watch:
    steps: int = 0  # SQLite virtual-machine instructions, to the nearest STEP
    statements: list = field(default_factory=list)  # (statement, parameters), in order
    time_by_shape: dict = field(default_factory=dict)  # statement -> [executions, seconds]

    def slowest(self, count: int) -> list[tuple[str, int, float]]:
        ranked = sorted(self.time_by_shape.items(), key=lambda item: -item[1][1])
        return [(" ".join(shape.split()), n, seconds) for shape, (n, seconds) in ranked[:count]]


@contextmanager
def watching(engine, *, count_steps: bool) -> Iterator[Watch]:
    """Keep the statements run meanwhile and their times; with ``count_steps``, count SQLite's
    virtual-machine steps too (exact where times are noisy, but it slows SQLite a little)."""
    watch, connections = Watch(), set()

    def step() -> int:
        watch.steps += STEP
        return 0

    def before(conn, cursor, statement, parameters, context, executemany):
        if count_steps:
            dbapi = conn.connection.dbapi_connection
            if dbapi not in connections:
                dbapi.set_progress_handler(step, STEP)
                connections.add(dbapi)
        watch.statements.append((statement, parameters))
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        shape = watch.time_by_shape.setdefault(statement, [0, 0.0])
        shape[0] += 1
        shape[1] += time.perf_counter() - conn.info.pop("bench_started")

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield watch
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        for dbapi in connections:
            dbapi.set_progress_handler(None, 0)


def due_queries(statements) -> list[tuple[str, tuple]]:
    """The sweep's three "what is due" queries, among everything a sweep ran."""
    return [
        (statement, parameters)
        for statement, parameters in statements
        if statement.splitlines()[0].strip() == "SELECT stage.id, stage.difference_id"
    ]


def explain(statement: str, parameters) -> tuple[list[str], int, int]:
    """SQLite's plan for a statement, the rows it returns, and its virtual-machine steps."""
    with db.engine.connect() as conn:
        plan = [
            row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
        steps = [0]

        def step() -> int:
            steps[0] += STEP
            return 0

        dbapi = conn.connection.dbapi_connection
        dbapi.set_progress_handler(step, STEP)
        try:
            rows = len(conn.exec_driver_sql(statement, parameters).all())
        finally:
            dbapi.set_progress_handler(None, 0)
    return plan, rows, steps[0]


def timed_sweep(*, dry_run: bool) -> tuple[float, services.sweep.SweepReport]:
    db.session.remove()
    started = time.perf_counter()
    report = services.sweep.sweep(NOW, dry_run=dry_run)
    elapsed = time.perf_counter() - started
    db.session.remove()
    return elapsed, report


@dataclass
class Result:
    scenario: Scenario
    stages: int
    history_stages: int
    built: float
    dry_ms: float
    dry_items: int
    dry_steps: int
    plans: list[tuple[list[str], int, int]]
    real_ms: float
    real: services.sweep.SweepReport
    real_slowest: list[tuple[str, int, float]]
    notifications: int
    again_ms: float
    again: services.sweep.SweepReport
    chains_ok: int


def measure(scenario: Scenario, directory: Path) -> Result:
    path = directory / f"sweep-{scenario.name}.sqlite"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "HISTORY_CHECKPOINT_LOG": str(directory / f"checkpoints-{scenario.name}.jsonl"),
        }
    )
    with app.app_context():
        Base.metadata.create_all(db.engine)
        services.setup.install_defaults()
        started = time.perf_counter()
        due = build(scenario)
        built = time.perf_counter() - started
        stages = db.session.scalar(sa.select(sa.func.count(Stage.id)))
        history_stages = db.session.scalar(
            sa.select(sa.func.count(Stage.id)).where(Stage.closed_at.is_not(None))
        )
        notifications_before = db.session.scalar(sa.select(sa.func.count(Notification.id)))
        db.session.remove()

        timed_sweep(dry_run=True)  # warm the statement caches
        times, items = [], set()
        for _ in range(REPEATS):
            elapsed, report = timed_sweep(dry_run=True)
            times.append(elapsed)
            items.add(len(report.items))
        assert len(items) == 1, items
        with watching(db.engine, count_steps=True) as seen:
            services.sweep.sweep(NOW, dry_run=True)
        db.session.remove()
        plans = [explain(*query) for query in due_queries(seen.statements)]
        assert len(plans) == 3, len(plans)

        with watching(db.engine, count_steps=False) as real_watch:
            real_seconds, real = timed_sweep(dry_run=False)
        notifications = (
            db.session.scalar(sa.select(sa.func.count(Notification.id))) - notifications_before
        )
        again_seconds, again = timed_sweep(dry_run=False)
        chains_ok = 0
        for difference_id in due:
            difference = db.session.get(Difference, difference_id)
            chains_ok += queries.histories.verify_difference(difference).ok
        db.session.remove()
        db.engine.dispose()
    return Result(
        scenario,
        stages,
        history_stages,
        built,
        statistics.median(times) * 1000,
        items.pop(),
        seen.steps,
        plans,
        real_seconds * 1000,
        real,
        real_watch.slowest(3),
        notifications,
        again_seconds * 1000,
        again,
        chains_ok,
    )


def verdict(ratio: float) -> str:
    if ratio < FLAT:
        return "flat: the cost follows what is due"
    return "NOT flat: the cost grows with what is open or closed, not only with what is due"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        results = [measure(scenario, Path(scratch)) for scenario in SCENARIOS]
    a, b, c = results

    print()
    print(f"Deadline sweep, dry run (median of {REPEATS}; VM steps: SQLite instructions):")
    print(
        f"  {'scenario':<8} {'open':>8} {'history stages':>15} {'due':>5} "
        f"{'sweep ms':>9} {'items found':>12} {'VM steps':>11}   (database built in)"
    )
    for r in results:
        s = r.scenario
        print(
            f"  {s.name:<8} {s.open:>8,} {r.history_stages:>15,} {s.due:>5} "
            f"{r.dry_ms:>9.1f} {r.dry_items:>12} {r.dry_steps:>11,}   ({r.built:.1f} s)"
        )
    print(
        f"  (b) against (a), the same {a.scenario.due} due among "
        f"{b.scenario.open + b.scenario.history:,} differences instead of "
        f"{a.scenario.open + a.scenario.history:,}: time x{b.dry_ms / a.dry_ms:.2f}, "
        f"VM steps x{b.dry_steps / a.dry_steps:.2f}"
    )
    print(f"    {verdict(b.dry_steps / a.dry_steps)}")
    print(
        f"  (c) against (a), {c.scenario.due // a.scenario.due} times as much due: "
        f"time x{c.dry_ms / a.dry_ms:.2f}, VM steps x{c.dry_steps / a.dry_steps:.2f}"
    )

    print()
    labels = ("overdue", "reminders", "raiser reminders")
    print("The sweep's \"what is due\" queries: rows returned, VM steps, and SQLite's plan:")
    print(
        f"  {'query':<17}"
        + "".join(f"{f'({r.scenario.name}) rows':>12}" for r in results)
        + "".join(f"{f'({r.scenario.name}) VM steps':>16}" for r in results)
    )
    for index, label in enumerate(labels):
        print(
            f"  {label:<17}"
            + "".join(f"{r.plans[index][1]:>12,}" for r in results)
            + "".join(f"{r.plans[index][2]:>16,}" for r in results)
        )
    for index, label in enumerate(labels):
        for r in results:
            plan = r.plans[index][0]
            if r is b or plan != b.plans[index][0]:
                print(f"  plan of {label} in ({r.scenario.name}):")
                for line in plan:
                    print(f"    {line}")
    same = [
        f"({r.scenario.name})"
        for r in results
        if r is not b and [plan for plan, *_ in r.plans] == [plan for plan, *_ in b.plans]
    ]
    if same:
        print(f"  the same plans in {' and '.join(same)}")

    print()
    print("Real sweeps (each item its own transaction), then the same sweep again:")
    print(
        f"  {'scenario':<8} {'sweep ms':>9} {'items':>6} {'notifications':>14} "
        f"{'again ms':>9} {'again items':>12}   what it did"
    )
    for r in results:
        print(
            f"  {r.scenario.name:<8} {r.real_ms:>9.1f} {len(r.real.items):>6} "
            f"{r.notifications:>14} {r.again_ms:>9.1f} {len(r.again.items):>12}   {r.real}"
            f"{f'; {r.real.skipped} skipped' if r.real.skipped else ''}"
            f"{f'; problems: {r.real.problems}' if r.real.problems else ''}"
        )
    print(
        f"  (b) against (a): real sweep x{b.real_ms / a.real_ms:.2f}, again x"
        f"{b.again_ms / a.again_ms:.2f}"
    )
    print(f"    {verdict(b.real_ms / a.real_ms)}")
    for r in results:
        print(f"  where the real sweep of ({r.scenario.name}) spent its time in SQL:")
        for shape, n, seconds in r.real_slowest:
            print(f"    {seconds * 1000:8.1f} ms in {n:>4} x {shape[:SHOWN]}")
    for r in results:
        assert not r.real.problems and not r.again.items, (r.real.problems, r.again)
        assert len(r.real.items) == r.dry_items, (len(r.real.items), r.dry_items)
        assert r.chains_ok == r.scenario.due, (r.chains_ok, r.scenario.due)
    print("  every swept difference's history still verifies against its seals")


if __name__ == "__main__":
    main()
