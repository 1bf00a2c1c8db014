"""Importing agencies and accounts from CSV (`flask escalate import-agencies`, `import-users`)."""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from escalate import validation
from escalate.extensions import db
from escalate.models import (
    Agency,
    Role,
    User,
)
from escalate.queries.setup import find_agency_by_name, find_user_by_email
from escalate.services._records import agency_record, record_admin_change, user_record
from escalate.services.accounts import create_invitation
from escalate.workflow import FieldError, InvalidRequest


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


AGENCY_COLUMNS = ("name", "kind")
USER_COLUMNS = ("email", "name", "job_title", "role", "agency", "line_manager_email")


def check_columns(found: Sequence[str] | None, expected: Sequence[str]) -> None:
    """Refuse a file whose header row is not the documented columns (in any order)."""
    wanted = ", ".join(expected)
    if not found:
        raise InvalidRequest(f"The file is empty: its first line must name the columns {wanted}.")
    names = [(name or "").strip().lower() for name in found]
    missing = [name for name in expected if name not in names]
    unknown = [name for name in names if name not in expected]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("unknown " + ", ".join(repr(n) for n in unknown))
    if duplicated:
        problems.append("repeated " + ", ".join(duplicated))
    if problems:
        raise InvalidRequest(
            f"The first line must name the columns {wanted} (found: {'; '.join(problems)})."
        )


def collect_rejections(rows, check: Callable[[int, dict], None]) -> list[Rejection]:
    """Run ``check`` on every (line, row); gather each refusal with its line instead of stopping."""
    rejected = []
    for line, row in rows:
        if row.get("__too_many__"):
            rejected.append(
                Rejection(line, "The row has more values than there are columns (a value "
                          "containing a comma must be in double quotes).")
            )
            continue
        try:
            check(line, row)
        except (InvalidRequest, FieldError) as error:
            rejected.append(Rejection(line, str(error).rstrip(".") + "."))
    return rejected


def read_rows(path: str, columns) -> list[tuple[int, dict]]:
    """The file's rows as (line number, {column: text}), blank lines left out."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except IsADirectoryError:
        raise InvalidRequest(f"{path} is a folder: give the path of a CSV file.") from None
    except FileNotFoundError:
        raise InvalidRequest(f"There is no file {path}.") from None
    except OSError as error:
        raise InvalidRequest(f"{path} cannot be read ({error.strerror}).") from None
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"{path} is not UTF-8 text. Save it from your spreadsheet as \"CSV UTF-8\" and try "
            "again."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = next(reader, None)
        check_columns(header, columns)
        names = [name.strip().lower() for name in header]
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(names):
                row = {"__too_many__": True}
            else:
                row = dict(zip(names, [v.strip() for v in values], strict=False))
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise InvalidRequest(
            f"{path} is not a CSV file escalate can read (line {reader.line_num}: {error})."
        ) from None
    if not rows:
        raise InvalidRequest(f"{path} has its column names but no rows to import.")
    return rows


@dataclass
class ImportResult:
    rejections: list
    created: list  # agencies or users, when nothing was rejected
    invited: list[User]  # accounts whose owners are emailed a link to set a password


def import_agencies(rows: list[tuple[int, dict]], now: datetime, *, source: str) -> ImportResult:
    """Add every agency of the file, or none: any rejected row stops the whole import."""
    seen: dict[str, int] = {}

    def check(line, row):
        name = validation.check_name(row.get("name"), field="name", what="the agency's name")
        if name.lower() in seen:
            raise InvalidRequest(f"{name} is already on line {seen[name.lower()]}")
        seen[name.lower()] = line
        if find_agency_by_name(name) is not None:
            raise InvalidRequest(f"There is already an agency called {name}")
        validation.agency_kind(row.get("kind"))

    rejections = collect_rejections(rows, check)
    if rejections:
        return ImportResult(rejections, [], [])
    created = []
    for _line, row in rows:
        agency = Agency(
            name=" ".join(row["name"].split()), kind=validation.agency_kind(row["kind"])
        )
        db.session.add(agency)
        db.session.flush()
        record_admin_change(
            None,
            now,
            entity="agency",
            entity_id=agency.id,
            action="created",
            summary=f"Agency {agency.name} imported from {source}",
            after=agency_record(agency),
        )
        created.append(agency)
    db.session.commit()
    return ImportResult([], created, [])


def import_users(
    rows: list[tuple[int, dict]],
    now: datetime,
    *,
    source: str,
    invite: bool,
    secret_key: str | None = None,
) -> ImportResult:
    """Create every account of the file without a password, or none: any rejected row stops the
    whole import. Line managers may be existing accounts or other rows of the file.

    With ``invite``, each owner is emailed a one-time link to set a password, made with
    ``secret_key`` (the application's SECRET_KEY).
    """
    if invite and not secret_key:
        raise ValueError("inviting needs the application's SECRET_KEY to make the links")
    in_file: dict[str, int] = {}
    for line, row in rows:
        in_file.setdefault(validation.normalise_email(row.get("email")), line)
    file_managers: dict[str, str | None] = {}

    def check(line, row):
        email = validation.check_email(row.get("email"))
        if in_file.get(email) != line:
            raise InvalidRequest(f"{email} is already on line {in_file[email]}")
        if find_user_by_email(email) is not None:
            raise InvalidRequest(f"There is already an account for {email}")
        validation.check_name(row.get("name"), field="name", what="the person's full name")
        validation.check_name(
            row.get("job_title"), field="job_title", what="the job title", required=False
        )
        agency_name = (row.get("agency") or "").strip()
        if agency_name and find_agency_by_name(agency_name) is None:
            raise InvalidRequest(f"There is no agency called {agency_name!r}")
        validation.check_role_and_agency((row.get("role") or "").strip().lower(), bool(agency_name))
        manager_email = validation.normalise_email(row.get("line_manager_email"))
        if manager_email:
            if manager_email == email:
                raise InvalidRequest("A person cannot be their own line manager")
            existing = find_user_by_email(manager_email)
            if manager_email not in in_file and existing is None:
                raise InvalidRequest(
                    f"The line manager {manager_email} has no account and is not in the file"
                )
            if existing is not None and not existing.active:
                raise InvalidRequest(f"The line manager {manager_email} is deactivated")
        file_managers[email] = manager_email or None

    rejections = collect_rejections(rows, check)
    # Managers within the file must not form a loop (accounts already stored cannot point back).
    for line, row in rows:
        email = (row.get("email") or "").strip().lower()
        if email not in file_managers or any(r.line == line for r in rejections):
            continue
        try:
            validation.check_line_manager(email, file_managers[email], file_managers)
        except FieldError:
            rejections.append(
                Rejection(
                    line, "The line managers in the file go round in a circle through this row."
                )
            )
    if rejections:
        return ImportResult(sorted(rejections, key=lambda r: r.line), [], [])

    created: dict[str, User] = {}
    for _line, row in rows:
        agency_name = (row.get("agency") or "").strip()
        user = User(
            email=row["email"].strip().lower(),
            name=" ".join(row["name"].split()),
            job_title=" ".join((row.get("job_title") or "").split()),
            role=Role(row["role"].strip().lower()),
            agency=find_agency_by_name(agency_name) if agency_name else None,
            password_hash=None,
            active=True,
            created_at=now,
        )
        db.session.add(user)
        created[user.email] = user
    db.session.flush()
    invited = []
    for email, user in created.items():
        manager = file_managers.get(email)
        if manager:
            user.line_manager = created.get(manager) or find_user_by_email(manager)
        record_admin_change(
            None,
            now,
            entity="user",
            entity_id=user.id,
            action="created",
            summary=f"{user.name} ({user.email}) imported from {source}",
            after=user_record(user),
        )
        if invite:
            create_invitation(user, None, now, secret_key)
            invited.append(user)
    db.session.commit()
    return ImportResult([], list(created.values()), invited)
