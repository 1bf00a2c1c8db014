"""`make bench`: every page at scale, through HTTP, against the framework's own ceiling.

1. Seeds the benchmark database with `flask escalate seed-bench` (BENCH_DIFFERENCES, 100,000
   by default), or reuses it when it already holds that many; and a second one of 1,000, to
   compare. SQLite files in instance/, or with DATABASE_URL set, that PostgreSQL database (the
   1,000 in its own schema, bench_small).
2. Counts each page's SQL statements and HTML size in-process, at both sizes, and times it
   there, one request at a time ("ms", "ms 1k": what the page itself costs at each size), with
   the part of it spent in the database ("DB ms") and the ratio that part alone would allow
   ("bound": the page's database work on top of the signed-in floor). And, alone, what every
   view of a difference does before it shows anything (its sealed entry in the access log, its
   history's verification), and the most those two leave a difference's page over HTTP.
3. Serves bench.app with gunicorn (2 workers) and measures each page with wrk (concurrency 4,
   BENCH_SECONDS a page), bracketed by the ceiling route before and after it: the ratio is the
   page's requests per second over the mean of the two ceilings around it.
4. Measures the deadline sweep with nothing due at both sizes (its "what is due" queries, over a
   history of alerted stages), and the worker's memory while it streams the unresolved CSV.

Prints one table and ends with `worst ratio to ceiling: R (PAGE)`, over the pages with a target
(the CSV download, the longest history, the learning notes and the administrators' list have
none).
"""

import contextlib
import http.cookiejar
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
SIZE = int(os.environ.get("BENCH_DIFFERENCES", "100000"))
SMALL = 1_000
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
CEILING_SECONDS = max(2, round(SECONDS * 0.6))
WORKERS, CONNECTIONS = 2, 4
AGENT = "escalate-bench"  # wrk and the sign-ins send the same, as sessions are bound to it
EVERYDAY, FIGURES = 0.5, 0.25

# The benchmark's own throwaway settings, for its commands, its server and itself.
os.environ.update(
    ESCALATE_ENV="development",
    FLASK_APP="wsgi",
    SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or secrets.token_hex(32),
)
ENV = dict(os.environ)


def database_url(size: int) -> str:
    server = os.environ.get("DATABASE_URL", "").strip()
    if not server:
        return f"sqlite:///{ROOT / 'instance' / f'bench-{size}.sqlite'}"
    if size == SIZE:
        return server
    # The small one in its own schema of the same database.
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3Dbench_small"


def environment(url: str) -> dict:
    """The settings to serve ``url`` with: its own checkpoint log, as each deployment has."""
    engine = "postgresql" if url.startswith("postgresql") else "sqlite"
    size = SMALL if "bench_small" in url or url.endswith(f"bench-{SMALL}.sqlite") else SIZE
    log = ROOT / "instance" / f"bench-{engine}-{size}-checkpoints.jsonl"
    return {**ENV, "DATABASE_URL": url, "HISTORY_CHECKPOINT_LOG": str(log)}


def flask(url: str, *args: str, quiet: bool = False) -> str:
    result = subprocess.run(
        [str(BIN / "flask"), *args],
        cwd=ROOT,
        env=environment(url),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def count_differences(url: str) -> int | None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT count(*) FROM difference"))
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def empty_database(url: str) -> None:
    import sqlalchemy as sa

    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    schema = "bench_small" if "bench_small" in url else "public"
    engine = sa.create_engine(url.split("?")[0])
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


def seeded(size: int) -> str:
    """The database of ``size`` differences, seeded unless it already is."""
    url = database_url(size)
    expected = size + (1 if size >= 1_000 else 0)  # and the one with a long history
    if count_differences(url) == expected:
        flask(url, "db", "upgrade")
        print(f"Reusing the benchmark database of {size:,} differences.", flush=True)
        return checkpointed(url)
    empty_database(url)
    flask(url, "db", "upgrade")
    started = time.perf_counter()
    print(f"Seeding {size:,} differences…", flush=True)
    print("  " + flask(url, "escalate", "seed-bench", "--differences", str(size)).strip())
    if not url.startswith("sqlite:"):
        import sqlalchemy as sa

        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        engine.dispose()
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    Path(environment(url)["HISTORY_CHECKPOINT_LOG"]).unlink(missing_ok=True)
    return checkpointed(url)


def checkpointed(url: str) -> str:
    """A checkpoint of the seeded record, as the worker writes one each round in a deployment
    (the difference page counts the record from it on)."""
    if not Path(environment(url)["HISTORY_CHECKPOINT_LOG"]).exists():
        started = time.perf_counter()
        print("  " + flask(url, "escalate", "checkpoint").strip())
        print(f"  checkpoint written in {time.perf_counter() - started:.0f} s", flush=True)
    return url


# --- What each page is, and who asks for it ----------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    role: str | None  # None: a visitor
    path: str
    target: float | None  # the least ratio to the ceiling the page should reach


def pages(references: dict) -> list[Page]:
    everyday = []
    for role in ("practitioner", "manager", "partnership"):
        everyday += [
            Page("home (redirect)", role, "/", EVERYDAY),
            Page("Waiting for you", role, "/waiting", EVERYDAY),
            Page("Your differences", role, "/differences/yours", EVERYDAY),
            Page("a difference", role, f"/differences/{references['typical']}", EVERYDAY),
            Page("inbox", role, "/inbox", EVERYDAY),
        ]
    return [
        Page("signed-in floor", "practitioner", "/bench/floor", 0.7),
        Page("sign-in page", None, "/sign-in", EVERYDAY),
        *everyday,
        Page("home (redirect)", "auditor", "/", EVERYDAY),
        Page("a difference", "auditor", f"/differences/{references['typical']}", EVERYDAY),
        Page("inbox", "auditor", "/inbox", EVERYDAY),
        Page("unresolved list", "auditor", "/oversight/unresolved", EVERYDAY),
        Page(
            "unresolved, filtered", "auditor",
            f"/oversight/unresolved?agency={references['agency']}&only=overdue&sort=oldest",
            EVERYDAY,
        ),
        Page("unresolved CSV", "auditor", "/oversight/unresolved.csv", None),
        Page("learning notes", "auditor", "/oversight/learning", None),
        Page("dashboard", "partnership", "/oversight/", FIGURES),
        Page("dashboard", "auditor", "/oversight/", FIGURES),
        Page("report", "auditor", "/oversight/report", FIGURES),
        # Named without its length, which differs between the two databases, so that its
        # figures at 1,000 are found beside those at 100,000.
        Page("the longest history", "auditor", f"/differences/{references['long']}", None),
        Page("admin people", "admin", "/admin/users", None),
    ]


def logins() -> dict:
    from escalate.services import synthetic

    return {**synthetic.LOGINS, "admin": f"admin@{synthetic.DOMAIN}"}


def find_references(app) -> dict:
    import sqlalchemy as sa

    from escalate.extensions import db
    from escalate.models import Agency, Difference, Event, User
    from escalate.services import synthetic

    with app.app_context():
        practitioner = db.session.scalar(
            sa.select(User.id).where(User.email == synthetic.LOGINS["practitioner"])
        )
        typical = db.session.scalar(
            sa.select(Difference.reference)
            .where(Difference.raiser_id == practitioner, Difference.stage_level == 2)
            .order_by(Difference.id)
            .limit(1)
        )
        long, events = db.session.execute(
            sa.select(Difference.reference, sa.func.count(Event.id))
            .join(Event, Event.difference_id == Difference.id)
            .group_by(Difference.id, Difference.reference)
            .order_by(sa.func.count(Event.id).desc())
            .limit(1)
        ).one()
        agency = db.session.scalar(sa.select(Agency.id).order_by(Agency.id).limit(1))
        db.session.remove()
    return {"typical": typical, "long": long, "long_events": events, "agency": agency}


# --- In-process: statements and sizes ----------------------------------------------------------


class DatabaseClock:
    """Time spent in the database during a request: each statement's execution and each commit
    (from the commit's start on the connection to the session's word that it is done). Not the
    pool's ping when a connection is lent, nor a ROLLBACK ending a transaction."""

    def __init__(self, engine):
        import sqlalchemy as sa
        from sqlalchemy.orm import Session

        self._event = sa.event
        self.spent = 0.0
        self._started = None
        self._hooks = [
            (engine, "before_cursor_execute", self._start),
            (engine, "after_cursor_execute", self._stop),
            (engine, "handle_error", self._stop),
            (engine, "commit", self._start),
            (Session, "after_commit", self._stop),
        ]
        for target, name, hook in self._hooks:
            self._event.listen(target, name, hook)

    def _start(self, *_):
        self._started = time.perf_counter()

    def _stop(self, *_):
        if self._started is not None:
            self.spent += time.perf_counter() - self._started
            self._started = None

    def reset(self) -> None:
        self.spent, self._started = 0.0, None

    def remove(self) -> None:
        for target, name, hook in self._hooks:
            self._event.remove(target, name, hook)


def count_statements(url: str, references: dict | None = None):
    """Each page's SQL statements and HTML size, asked in-process as the guard test does."""
    import sqlalchemy as sa

    from bench.app import create_bench_app
    from escalate.extensions import db
    from escalate.services import synthetic

    app = create_bench_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False,
            "HISTORY_CHECKPOINT_LOG": environment(url)["HISTORY_CHECKPOINT_LOG"],
        }
    )
    references = references or find_references(app)
    clients = {None: app.test_client()}
    for role, email in logins().items():
        client = clients[role] = app.test_client()
        form = client.get("/sign-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        signed = client.post(
            "/sign-in",
            data={"email": email, "password": synthetic.PASSWORD, "csrf_token": token},
        )
        assert signed.status_code == 302, f"could not sign in as {email}"
        if signed.location.endswith("/sign-in/code"):
            form = client.get("/sign-in/code").get_data(as_text=True)
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
            assert with_a_code(
                lambda code, token=token, client=client: client.post(
                    "/sign-in/code", data={"code": code, "csrf_token": token}
                ).status_code == 302
            ), f"no code completed the sign-in of {email}"
    with app.app_context():
        engine = db.engine
    statements = []
    listener = lambda *_: statements.append(1)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    measured = {}
    for page in pages(references):
        # Count what computing the kept figures and the record's count takes (each is kept for
        # the worker's interval): the same at every size, whenever the interval ends.
        app.extensions.pop("escalate_figures", None)
        app.extensions.pop("escalate_record_counts", None)
        statements.clear()
        response = clients[page.role].get(page.path)
        size = len(response.get_data())
        measured[(page.name, page.role)] = (len(statements), size, response.status_code)
    sa.event.remove(engine, "before_cursor_execute", listener)
    # And what each page costs in-process, one request at a time (the median of ten, after two
    # to warm up): what the page itself costs at this size, without the server or the load; and
    # how much of it was spent in the database (its statements and commits).
    database = DatabaseClock(engine)
    ceiling = Page("ceiling", None, "/bench/ceiling", None)
    try:
        for page in [ceiling, *pages(references)]:
            client = clients[page.role]
            times, in_database = [], []
            # The two references more often: every page's bound is measured against them.
            for n in range(42 if page.path.startswith("/bench/") else 12):
                database.reset()
                started = time.perf_counter()
                client.get(page.path).get_data()
                if n >= 2:
                    times.append((time.perf_counter() - started) * 1000)
                    in_database.append(database.spent * 1000)
            measured[(page.name, page.role)] = measured.get((page.name, page.role), ()) + (
                statistics.median(times), statistics.median(in_database)
            )
    finally:
        database.remove()
    measured[VIEW_RECORD] = view_record_cost(app, references)
    with app.app_context():
        db.engine.dispose()
    return measured, references


VIEW_RECORD = ("what every view of a difference does", "auditor")


def view_record_cost(app, references: dict, repeats: int = 30) -> tuple[float, float]:
    """What a difference's page does on every view before it shows anything, timed alone
    in-process (medians, ms): writing, sealing and committing the view's entry in the access
    log, and verifying the difference's history (its events, their places in the record, the
    record's ends). Both are the auditor's, on the typical difference."""
    import sqlalchemy as sa

    from escalate import presentation, queries, services
    from escalate.extensions import db
    from escalate.models import AccessKind, User

    with app.test_request_context():
        auditor = db.session.scalar(sa.select(User).where(User.email == logins()["auditor"]))
        difference_id = queries.differences.find_difference_id(auditor, references["typical"])
        difference = queries.differences.load_difference(difference_id)
        logged, verified = [], []
        for n in range(repeats + 2):
            started = time.perf_counter()
            services.access.record(
                auditor,
                AccessKind.VIEWED_DIFFERENCE,
                presentation.now(),
                difference_id=difference_id,
                what=f"Difference {references['typical']}",
            )
            middle = time.perf_counter()
            if not queries.histories.verify_difference(difference).ok:
                sys.exit(
                    f"The history of {references['typical']} does not verify: run "
                    "`flask escalate verify-audit` on the benchmark database, or seed it again."
                )
            if n >= 2:
                logged.append((middle - started) * 1000)
                verified.append((time.perf_counter() - middle) * 1000)
        db.session.remove()
    return statistics.median(logged), statistics.median(verified)


def sweep_cost(url: str, repeats: int = 15) -> tuple[float, int]:
    """Milliseconds (median) the sweep takes to find what is due at its size, and what it found."""
    from escalate import create_app
    from escalate.extensions import db
    from escalate.services import sweep

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        now = datetime.now(UTC)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            due = sweep._due_stages(now)
            times.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return statistics.median(times), len(due)


# --- Through HTTP: gunicorn and wrk -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(url: str):
    port = free_port()
    log = open(ROOT / "instance" / "bench-gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
            "--chdir", str(ROOT), "bench.app:app",
        ],
        cwd=ROOT,
        env=environment(url),
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/bench/ceiling", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("gunicorn did not start: see instance/bench-gunicorn.log")
        yield base, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def http_session(base: str, email: str) -> str:
    """Sign in over HTTP; the session cookie to send with wrk."""
    from escalate.services import synthetic

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect()
    )
    opener.addheaders = [("User-Agent", AGENT)]
    form = opener.open(f"{base}/sign-in").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode(
        {"email": email, "password": synthetic.PASSWORD, "csrf_token": token}
    ).encode()
    if _redirect(opener, f"{base}/sign-in", data).endswith("/sign-in/code"):
        form = opener.open(f"{base}/sign-in/code").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)

        def accepted(code) -> bool:
            sent = urllib.parse.urlencode({"code": code, "csrf_token": token}).encode()
            return _redirect(opener, f"{base}/sign-in/code", sent) != ""

        assert with_a_code(accepted), f"no code completed the sign-in of {email}"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _redirect(opener, url: str, data: bytes) -> str:
    """Where a form's answer redirects to ("" when it does not)."""
    try:
        opener.open(url, data)
    except urllib.error.HTTPError as answer:
        return answer.headers.get("Location", "") if answer.code == 302 else ""
    return ""


def with_a_code(accepted) -> bool:
    """Complete a sign-in with a code from the benchmark accounts' authenticator app: the code
    of now, else the next one (a code works once); else wait for the next half minute."""
    import pyotp

    from escalate.services import synthetic

    app = pyotp.TOTP(synthetic.TOTP_SECRET)
    for _ in range(3):
        now = time.time()
        if accepted(app.at(now)) or accepted(app.at(now + 30)):
            return True
        time.sleep(31 - now % 30)
    return False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Load:
    rate: float
    p50: float  # milliseconds
    p99: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, cookie: str | None, seconds: float) -> Load:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--latency",
               "--timeout", "30s", "-H", f"User-Agent: {AGENT}"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Load(rate, p50, p99, int(errors.group(1)) if errors else 0)


def warm_up(url: str, cookie: str | None) -> None:
    """A few requests first, so each worker has the page's templates compiled and any figures it
    keeps computed: wrk then measures the page as people meet it all day."""
    headers = {"User-Agent": AGENT, **({"Cookie": cookie} if cookie else {})}
    for _ in range(WORKERS * 2):
        with contextlib.suppress(urllib.error.HTTPError):
            opener = urllib.request.build_opener(NoRedirect())
            opener.open(urllib.request.Request(url, headers=headers), timeout=120).read()


def worker_memory(server_pid: int) -> dict[int, int]:
    """Resident memory (KiB) of each gunicorn worker."""
    sizes = {}
    for child in Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        sizes[int(child)] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return sizes


def csv_memory(base: str, cookie: str, server_pid: int) -> tuple[float, int]:
    """The most any worker's resident memory grew while streaming the CSV (MB), and its size."""
    before = worker_memory(server_pid)
    size = 0
    for _ in range(WORKERS * 2):  # each worker serves it at least once, most likely
        request = urllib.request.Request(
            f"{base}/oversight/unresolved.csv", headers={"Cookie": cookie, "User-Agent": AGENT}
        )
        with urllib.request.urlopen(request) as response:
            size = len(response.read())
    after = worker_memory(server_pid)
    grew = max(after[pid] - before.get(pid, after[pid]) for pid in after)
    return grew / 1024, size


def bound(counts: dict, page: Page, database_ms: float) -> float:
    """The ratio to the ceiling, in-process, that ``page`` would reach if everything it does
    but its database work cost no more than the floor's (the signed-in floor's for a signed-in
    page, the ceiling's for a visitor's): a limit its Python cannot push past."""
    ceiling = counts[("ceiling", None)]
    floor_ms, floor_database_ms = (
        counts[("signed-in floor", "practitioner")][3:] if page.role else ceiling
    )
    ceiling_ms = ceiling[0]
    return ceiling_ms / (floor_ms + max(0.0, database_ms - floor_database_ms))


def view_record_line(cost: tuple[float, float], rows: list) -> str:
    """What the access log and the verification alone leave a difference's page: the most it
    could reach over HTTP if it did nothing else beyond the signed-in floor, against the
    ceilings measured around the floor. Each request's cost is taken as WORKERS over its rate
    (wrk's own share of the CPU left in, which only makes the figure higher)."""
    logged, verified = cost
    floor_rate, floor_ratio = next(
        (load.rate, ratio) for page, load, ratio in rows if page.name == "signed-in floor"
    )
    floor_ms = WORKERS / floor_rate * 1000
    ceiling_ms = floor_ms * floor_ratio
    most = ceiling_ms / (floor_ms + logged + verified)
    return (
        f"what every view of a difference does before it shows anything: its entry in the "
        f"access log {logged:.2f} ms, its history's verification {verified:.2f} ms (in-process, "
        f"the auditor's); on top of the signed-in floor ({floor_ms:.2f} ms a request, the "
        f"ceiling {ceiling_ms:.2f}), with nothing else, a difference's page would reach at most "
        f"{most:.2f} of the ceiling"
    )


# --- The run ------------------------------------------------------------------------------------


def main() -> None:
    # Stopped from outside, still stop the server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("make bench was stopped."))
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian: apt-get install wrk); `make bench` installs it.")
    started = time.perf_counter()
    engine = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    large, small = seeded(SIZE), seeded(SMALL)
    counts, references = count_statements(large)
    small_counts, _ = count_statements(small)
    sweep_large, sweep_small = sweep_cost(large), sweep_cost(small)

    rows = []
    with served(large) as (base, server_pid):
        cookies = {role: http_session(base, email) for role, email in logins().items()}
        cookies[None] = None
        ceilings = [wrk(f"{base}/bench/ceiling", None, CEILING_SECONDS).rate]
        for page in pages(references):
            warm_up(base + page.path, cookies[page.role])
            load = wrk(base + page.path, cookies[page.role], SECONDS)
            ceilings.append(wrk(f"{base}/bench/ceiling", None, CEILING_SECONDS).rate)
            ceiling = (ceilings[-2] + ceilings[-1]) / 2
            rows.append((page, load, load.rate / ceiling))
            print(f"  {page.name} ({page.role or 'visitor'}): {load.rate:.0f}/s", flush=True)
        csv_grew, csv_size = csv_memory(base, cookies["auditor"], server_pid)

    print()
    print(f"{engine}, {SIZE:,} differences; gunicorn {WORKERS} workers, wrk concurrency "
          f"{CONNECTIONS}, {SECONDS:g} s a page; ceiling {min(ceilings):.0f}–{max(ceilings):.0f} "
          f"requests/s; in-process, the ceiling {counts[('ceiling', None)][0]:.1f} ms and the "
          f"signed-in floor {counts[('signed-in floor', 'practitioner')][3]:.1f} ms")
    header = (f"{'page':<28} {'role':<13} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'ratio':>6} {'target':>6} {'SQL':>4} {'SQL 1k':>6} {'HTML KB':>8} "
              f"{'ms':>6} {'ms 1k':>6} {'DB ms':>6} {'bound':>6}")
    print(header)
    print("-" * len(header))
    for page, load, ratio in rows:
        statements, size, status, ms, database_ms = counts[(page.name, page.role)]
        small_statements, *_, small_ms, _ = small_counts.get(
            (page.name, page.role), (None, None, None)
        )
        target = f"{page.target:g}" if page.target else "–"
        flag = "" if not page.target or ratio >= page.target else " below target"
        if load.errors or status >= 400:
            flag += f" ({load.errors} errors, status {status})"
        print(
            f"{page.name[:28]:<28} {page.role or 'visitor':<13} {load.rate:>7.0f} "
            f"{load.p50:>7.1f} {load.p99:>7.1f} {ratio:>6.2f} {target:>6} {statements:>4} "
            f"{small_statements if small_statements is not None else '–':>6} "
            f"{size / 1024:>8.1f} {ms:>6.1f} "
            f"{f'{small_ms:.1f}' if small_ms is not None else '–':>6} {database_ms:>6.2f} "
            f"{bound(counts, page, database_ms):>6.2f}{flag}"
        )
    print()
    something_due = bool(sweep_small[1] or sweep_large[1])
    due = "something due" if something_due else "nothing due"
    print(f"sweep, {due}: {sweep_small[0]:.2f} ms at {SMALL:,} differences, "
          f"{sweep_large[0]:.2f} ms at {SIZE:,} ({sweep_small[1]} and {sweep_large[1]} due)")
    if something_due:
        print("  (deadlines have come since the databases were seeded, and the sweep's work "
              "follows what is due: to measure it with nothing due, seed them again, by removing "
              "instance/bench-*.sqlite or the PostgreSQL database's tables)")
    print(f"the longest history: {references['long_events']} events")
    print(view_record_line(counts[VIEW_RECORD], rows))
    print(f"unresolved CSV through HTTP: {csv_size / 1024:.0f} KB; a worker's memory grew by "
          f"{csv_grew:.1f} MB at most")
    print("bound: the ratio a page would reach in-process if all it did besides its database work "
          "(its statements and commits, DB ms) cost no more than the signed-in floor")
    print(f"took {time.perf_counter() - started:.0f} s")
    worst = min((row for row in rows if row[0].target), key=lambda row: row[2])
    print(f"worst ratio to ceiling: {worst[2]:.2f} ({worst[0].name}, {worst[0].role or 'visitor'})")


if __name__ == "__main__":
    main()
