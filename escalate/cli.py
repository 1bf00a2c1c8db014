"""`flask escalate …`: thin wrappers over services for the jobs a deployment scripts."""

import os

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from escalate import demo, services
from escalate.models import Role
from escalate.workflow import DomainError

PASSWORD_VARIABLE = "ESCALATE_NEW_USER_PASSWORD"  # noqa: S105 (a variable name)


class EscalateGroup(click.Group):
    """Turns domain and database errors into a one-line message and a non-zero exit."""

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
@click.option("--agency", "agency_name", help="Name of an existing agency (required for "
              "practitioners, managers and senior managers).")
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
    user = services.create_user(
        email=email,
        name=name,
        role=role,
        password=password,
        agency_name=agency_name,
        job_title=job_title,
    )
    click.echo(f"Created {user.role.value} account for {user.email}.")


@escalate_group.command("seed-demo")
@with_appcontext
def seed_demo():
    """Load the fictional Northshire partnership (development only; safe to run again)."""
    if current_app.config["ESCALATE_ENV"] == "production":
        raise click.ClickException(
            "seed-demo creates accounts that share a published password, so it does not run in "
            "production. Set ESCALATE_ENV=development for a demonstration database."
        )
    created = services.seed_demo(demo.DEMO_PASSWORD)
    summary = ", ".join(f"{count} {what}" for what, count in created.items())
    click.echo(f"Northshire demo partnership ready (added {summary}).")
