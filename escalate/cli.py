"""`flask escalate …`: thin wrappers over services for the jobs a deployment scripts."""

import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from escalate import calendar, demo, notify, policy, queries, services, validation
from escalate.models import Role
from escalate.wording import plural
from escalate.workflow import DomainError

PASSWORD_VARIABLE = "ESCALATE_NEW_USER_PASSWORD"  # noqa: S105 (a variable name)


# Bounds on numbers given on the command line: beyond them a value is a typing mistake (and a
# wait or a query limit that large would fail deep inside).
LONGEST_INTERVAL_SECONDS = 86_400
MOST_EMAILS_PER_RUN = 1_000_000


class EscalateGroup(click.Group):
    """Turns domain and database errors into a one-line message and a non-zero exit, and refuses
    arguments that are not UTF-8 text before any command sees them."""

    def parse_args(self, ctx, args):
        for position, arg in enumerate(args, start=1):
            if not validation.is_utf8(arg):
                shown = arg.encode("utf-8", "replace").decode("utf-8")
                raise click.UsageError(
                    f"Argument {position} ({shown}) is not text escalate can use: it must be "
                    "UTF-8 (check the terminal's or the file name's encoding)."
                )
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        except (OperationalError, ProgrammingError) as error:
            raise click.ClickException(
                "The database is not ready: run `flask db upgrade` first, and check DATABASE_URL. "
                f"({error.orig.__class__.__name__})"
            ) from None


@click.group("escalate", cls=EscalateGroup)
def escalate_group():
    """Manage escalate: accounts, demo data and background work."""


@escalate_group.command("create-user")
@click.option("--email", required=True, help="Email address the person signs in with.")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role], case_sensitive=False),
    default=Role.ADMIN.value,
    show_default=True,
)
@click.option(
    "--agency",
    "agency_name",
    help="Name of an existing agency (required for practitioners, managers and senior managers).",
)
@click.option("--job-title", default="", help="Job title shown beside the name.")
@with_appcontext
def create_user(email, name, role, agency_name, job_title):
    """Create an account, for example the first administrator.

    The password is read from the ESCALATE_NEW_USER_PASSWORD environment variable if it is set,
    otherwise asked for (twice, hidden).
    """
    password = os.environ.get(PASSWORD_VARIABLE)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = services.accounts.create_user(
        email=email,
        name=name,
        role=role,
        password=password,
        agency_name=agency_name,
        job_title=job_title,
    )
    click.echo(f"Created {user.role.value} account for {user.email}.")
    if user.role in policy.TWO_FACTOR_ROLES:
        click.echo(
            "When they first sign in, they set up two-factor sign-in with an authenticator app "
            "before anything else."
        )


@escalate_group.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the Northshire demo partnership and differences (development only; safe to rerun)."""
    if current_app.config["ESCALATE_ENV"] == "production":
        raise click.ClickException(
            "seed-demo creates accounts that share a published password, so it does not run in "
            "production. Set ESCALATE_ENV=development for a demonstration database."
        )
    created = services.demo.seed_demo(demo.DEMO_PASSWORD, datetime.now(UTC))
    summary = ", ".join(f"{count} {what}" for what, count in created.items())
    click.echo(f"Northshire demo partnership ready (added {summary}).")


@escalate_group.command("seed-bench")
@click.option(
    "--differences", type=click.IntRange(min=1), default=100_000, show_default=True,
    help="How many differences to write.",
)
@click.option(
    "--people", type=click.IntRange(min=100), default=1_000, show_default=True,
    help="About how many accounts, across 30 agencies.",
)
@with_appcontext
def seed_bench(differences, people):
    """Write a synthetic partnership into an empty database, for measuring (development only)."""
    if current_app.config["ESCALATE_ENV"] == "production":
        raise click.ClickException(
            "seed-bench creates accounts that share a published password, so it does not run in "
            "production."
        )
    import time

    started = time.perf_counter()
    services.setup.install_defaults()
    seeded = services.synthetic.seed_bench(differences, datetime.now(UTC), people=people)
    click.echo(
        f"Synthetic partnership ready in {time.perf_counter() - started:.0f} s: "
        f"{plural(seeded.agencies, 'agency', 'agencies')}, {plural(seeded.users, 'account')}, "
        f"{plural(seeded.differences, 'difference')}, {plural(seeded.events, 'event')}, "
        f"{plural(seeded.notifications, 'notification')}."
    )


@escalate_group.command("sweep")
@click.option(
    "--dry-run", is_flag=True, help="List what the sweep would do, one line each; change nothing."
)
@with_appcontext
def sweep(dry_run):
    """Send due reminders, record missed deadlines and escalate where the policy says so;
    anonymise differences closed longer ago than the retention policy keeps them."""
    report = services.sweep.sweep(current_app.config["CLOCK"](), dry_run=dry_run)
    for item in report.items if dry_run else ():
        click.echo(item.summary)
    for reference in report.anonymised if dry_run else ():
        click.echo(f"{reference}: anonymise under the retention policy")
    for problem in report.problems:
        click.echo(f"Not done: {problem}", err=True)
    counts = str(report)
    if dry_run:
        click.echo(f"Dry run, nothing changed. The sweep would do: {counts}.")
    else:
        taken = f" ({report.skipped} skipped: someone got there first)" if report.skipped else ""
        click.echo(f"Sweep done: {counts}{taken}.")


# --- Oversight: verifying histories and the periodic report (issue 6) --------------------------


@escalate_group.command("verify-audit")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every seal from the first event, not only those after the last checkpoint.",
)
@with_appcontext
def verify_audit(batch_size, full):
    """Check every difference's history against its seals, and the partnership's whole record
    against the last checkpoint; exit 1 naming anything altered, removed or out of place."""
    result = queries.histories.audit(batch_size, full=full)
    for check in result.altered:
        v = check.verification
        click.echo(f"{check.reference}: event {v.broken_at}: {v.reason}", err=True)
    for problem in result.record:
        where = f"position {problem.position}: " if problem.position else ""
        click.echo(f"The partnership's record: {where}{problem.reason}", err=True)
    for problem in result.access:
        where = f"position {problem.position}: " if problem.position else ""
        click.echo(f"The access log: {where}{problem.reason}", err=True)
    if not result.ok:
        summary = []
        if result.altered:
            summary.append(
                f"{len(result.altered)} of {result.differences} difference histories were "
                f"altered: {', '.join(c.reference for c in result.altered)}."
            )
        if result.record:
            summary.append(
                f"The partnership's record was altered "
                f"({plural(len(result.record), 'problem')} above)."
            )
        if result.access:
            summary.append(
                f"The access log was altered ({plural(len(result.access), 'problem')} above)."
            )
        raise click.ClickException(" ".join(summary))
    click.echo(
        f"Verified the history of {plural(result.differences, 'difference')} "
        f"({plural(result.events, 'event')}): nothing was altered."
    )
    click.echo(
        f"Verified the access log ({plural(result.access_entries, 'entry', 'entries')}): "
        "nothing was altered."
    )
    if result.checkpoint is not None:
        cp = result.checkpoint
        after = plural(result.events - cp.position, "event after it was", "events after it were")
        click.echo(
            f"Events 1 to {cp.position} are as the checkpoint of {cp.at} fingerprinted them; "
            f"the {after} verified seal by seal (--full verifies every seal)."
        )


@escalate_group.command("checkpoint")
@click.option("--full", is_flag=True, help="Verify every seal before writing the checkpoint.")
@click.option("--email", is_flag=True, help="Email the checkpoint to the auditors now.")
@with_appcontext
def checkpoint(full, email):
    """Verify the history since the last checkpoint and append a signed checkpoint of how far it
    has got to the checkpoint log (HISTORY_CHECKPOINT_LOG); exit 1 if it does not verify.

    The auditors are emailed the latest checkpoint once a day (the worker does this each round).
    """
    app = current_app._get_current_object()
    report = services.checkpoints.checkpoint(
        app.config["CLOCK"](), mailer=notify.mailer_from_app(app), full=full, email=email
    )
    for problem in report.problems:
        click.echo(problem, err=True)
    if report.problems:
        raise click.ClickException(
            "The history does not verify: no checkpoint was written, and the auditors are told."
        )
    click.echo(f"History: {report}.")


@escalate_group.command("count-inboxes")
@with_appcontext
def count_inboxes():
    """Count every person's inbox (messages, unread) again from the messages themselves: after a
    database was restored, or rows were changed by hand. Safe to run at any time."""
    people = services.inbox.count_every_inbox()
    click.echo(f"Inboxes counted again: {plural(people, 'person has', 'people have')} messages.")


@escalate_group.command("reseal-history")
@click.option("--reason", required=True, help="Why, for the checkpoint log (a new key, say).")
@with_appcontext
def reseal_history(reason):
    """Seal every event again with HISTORY_KEY, after verifying every seal with the keys held.

    For a key that may have been exposed: afterwards the old key is no longer needed.
    """
    app = current_app._get_current_object()
    result = queries.histories.audit(full=True)
    if not result.ok:
        raise click.ClickException(
            "The history does not verify, so it is not sealed again: run "
            "`flask escalate verify-audit --full` to see why."
        )
    line = services.checkpoints.reseal_everything(app.config["CLOCK"](), reason=reason)
    click.echo(
        f"Sealed {plural(line['position'], 'event')} again with key {line['key_id']}; "
        "the checkpoint log records it."
    )


def _iso_date(ctx, param, value):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use the form YYYY-MM-DD, like 2026-07-01."
        ) from None


@escalate_group.command("report")
@click.option("--from", "first", callback=_iso_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "last", callback=_iso_date, help="Last day (YYYY-MM-DD).")
@with_appcontext
def report(first, last):
    """Write the partnership's report for a period as CSV to standard output.

    Without dates, the current quarter.
    """
    from escalate.calendar import to_local
    from escalate.oversight.forms import period_problem

    quarter = calendar.quarter_of(to_local(current_app.config["CLOCK"]()).date())
    first = first or quarter.first
    last = last or quarter.last
    problem = period_problem(first, last)
    if problem is not None:
        raise click.UsageError(f"{problem[1]}.")
    period = calendar.Period(first, last)
    for line in queries.report_sections.report_csv(period, current_app.config["CLOCK"]()):
        click.echo(line, nl=False)


# --- Administration: importing agencies and accounts from CSV (issue 7) ---


def _import_report(result, what: str) -> None:
    """Print the rejected rows and stop with a non-zero exit: nothing was imported."""
    if result.rejections:
        for rejection in result.rejections:
            click.echo(f"Line {rejection.line}: {rejection.reason}", err=True)
        count = len(result.rejections)
        raise click.ClickException(
            f"Nothing was imported: {plural(count, 'row was', 'rows were')} rejected. "
            f"Correct the file and import all the {what} again."
        )


@escalate_group.command("import-agencies")
@click.argument("file")
@with_appcontext
def import_agencies(file):
    """Add the agencies listed in a CSV FILE with the columns name and kind (see README).

    Every row is checked first: if any is rejected, nothing is imported.
    """
    from pathlib import Path

    rows = services.importing.read_rows(file, services.importing.AGENCY_COLUMNS)
    result = services.importing.import_agencies(rows, datetime.now(UTC), source=Path(file).name)
    _import_report(result, "agencies")
    click.echo(f"Imported {plural(len(result.created), 'agency', 'agencies')}.")


@escalate_group.command("import-users")
@click.argument("file")
@click.option(
    "--send-invitations",
    is_flag=True,
    help="Email each new account a one-time link to set its password (sent by the worker).",
)
@with_appcontext
def import_users(file, send_invitations):
    """Create the accounts listed in a CSV FILE with the columns email, name, job_title, role,
    agency and line_manager_email (see README). Accounts have no password until their owner
    sets one with a one-time link.

    Every row is checked first: if any is rejected, nothing is imported.
    """
    from pathlib import Path

    rows = services.importing.read_rows(file, services.importing.USER_COLUMNS)
    result = services.importing.import_users(
        rows,
        current_app.config["CLOCK"](),  # the clock the worker delivers the links by
        source=Path(file).name,
        invite=send_invitations,
        secret_key=current_app.config["SECRET_KEY"],
    )
    _import_report(result, "accounts")
    count = len(result.created)
    click.echo(f"Imported {plural(count, 'account')}.")
    if not send_invitations:
        click.echo(
            f"{plural(count, 'account needs', 'accounts need')} a password. Send each a link "
            "from their page under Administration > People, or import with --send-invitations."
        )
        return
    invited = len(result.invited)
    click.echo(
        f"{plural(invited, 'link')} to set a password will be emailed by the "
        "worker (`flask escalate worker`, or `flask escalate deliver` to send them now). Each "
        "account's page under Administration > People shows whether its email was sent."
    )


# --- Delivering email, and the worker (issue 4) ------------------------------------------------


def _worker_id() -> str:
    """Who holds a claim: host, process and a random tag (a restarted process may reuse a pid)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def worker_jobs(app, clock, worker_id: str, stopping) -> list[tuple[str, Callable[[], object]]]:
    """What `flask escalate worker` does each round, in this order; add a job with one line.

    A job returns what it did; the worker prints it when it is truthy. ``stopping()`` turns
    True on SIGTERM or Ctrl-C: a long job should finish what it has in hand and return.
    """
    mailer = notify.mailer_from_app(app)
    return [
        # The sweep first, so that the reminders and notices it writes go out this round.
        ("sweep", lambda: services.sweep.sweep(clock())),
        (
            "email",
            lambda: services.delivery.deliver_due(
                mailer, clock, worker_id=worker_id, stopping=stopping
            ),
        ),
        # How far the history has got, signed into the checkpoint log; emailed once a day.
        ("history", lambda: services.checkpoints.checkpoint(clock(), mailer=mailer)),
    ]


@escalate_group.command("deliver")
@click.option(
    "--limit",
    type=click.IntRange(1, MOST_EMAILS_PER_RUN),
    help="Send at most this many emails (default: all due)."
)
@with_appcontext
def deliver(limit):
    """Email the notifications that are due (tries included), then exit."""
    app = current_app._get_current_object()
    counts = services.delivery.deliver_due(
        notify.mailer_from_app(app), app.config["CLOCK"], worker_id=_worker_id(), limit=limit
    )
    click.echo(f"Email: {counts}.")


@escalate_group.command("worker")
@click.option(
    "--interval",
    type=click.IntRange(1, LONGEST_INTERVAL_SECONDS),
    help="Seconds between rounds (default: the WORKER_INTERVAL setting, 15).",
)
@click.option("--once", is_flag=True, help="Do one round, then exit.")
@with_appcontext
def worker(interval, once):
    """Run the deadline sweep and deliver email, round after round, until SIGTERM or Ctrl-C.

    On a signal it finishes the message in hand, then exits with status 0.
    """
    app = current_app._get_current_object()
    interval = interval or app.config["WORKER_INTERVAL"]
    stopping = threading.Event()
    worker_id = _worker_id()
    jobs = worker_jobs(app, app.config["CLOCK"], worker_id, stopping.is_set)
    previous = {
        signum: signal.signal(signum, lambda *_: stopping.set())
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    click.echo(f"Worker {worker_id} started: a round every {interval} seconds.")
    try:
        while not stopping.is_set():
            for name, job in jobs:
                if stopping.is_set():
                    break
                try:
                    done = job()
                except Exception:
                    # A database or mail outage must not end the worker: next round tries again.
                    services.differences.forget_changes()
                    app.logger.exception("The worker's %s job failed; it runs next round", name)
                    continue
                if done:
                    click.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {name}: {done}.")
            if once:
                break
            stopping.wait(interval)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("Worker stopped.")
