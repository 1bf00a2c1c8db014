"""Importing agencies and accounts from CSV (`flask escalate import-agencies`, `import-users`)."""

from dataclasses import dataclass
from datetime import datetime

from escalate import administration
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    Agency,
    Role,
    User,
)
from escalate.queries.setup import find_agency_by_name, find_user_by_email
from escalate.services._records import agency_record, record_admin_change, user_record
from escalate.services.accounts import Invited, create_invitation
from escalate.workflow import (
    InvalidRequest,
    RationaleRequired,
)


@dataclass
class ImportResult:
    rejections: list
    created: list  # agencies or users, when nothing was rejected
    invited: list[Invited]


def import_agencies(rows: list[tuple[int, dict]], now: datetime, *, source: str) -> ImportResult:
    """Add every agency of the file, or none: any rejected row stops the whole import."""
    seen: dict[str, int] = {}

    def check(line, row):
        name = administration.check_name(row.get("name"), field="name", what="the agency's name")
        if name.lower() in seen:
            raise InvalidRequest(f"{name} is already on line {seen[name.lower()]}")
        seen[name.lower()] = line
        if find_agency_by_name(name) is not None:
            raise InvalidRequest(f"There is already an agency called {name}")
        administration.agency_kind(row.get("kind"))

    rejections = administration.collect_rejections(rows, check)
    if rejections:
        return ImportResult(rejections, [], [])
    created = []
    for _line, row in rows:
        agency = Agency(
            name=" ".join(row["name"].split()), kind=administration.agency_kind(row["kind"])
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
    rows: list[tuple[int, dict]], now: datetime, *, source: str, invite: bool
) -> ImportResult:
    """Create every account of the file without a password, or none: any rejected row stops the
    whole import. Line managers may be existing accounts or other rows of the file."""
    in_file: dict[str, int] = {}
    for line, row in rows:
        in_file.setdefault((row.get("email") or "").strip().lower(), line)
    file_managers: dict[str, str | None] = {}

    def check(line, row):
        email = administration.check_email(row.get("email"))
        if in_file.get(email) != line:
            raise InvalidRequest(f"{email} is already on line {in_file[email]}")
        if find_user_by_email(email) is not None:
            raise InvalidRequest(f"There is already an account for {email}")
        administration.check_name(row.get("name"), field="name", what="the person's full name")
        if len((row.get("job_title") or "").strip()) > administration.MAX_NAME_CHARACTERS:
            raise InvalidRequest("The job title must be 200 characters or fewer")
        agency_name = (row.get("agency") or "").strip()
        if agency_name and find_agency_by_name(agency_name) is None:
            raise InvalidRequest(f"There is no agency called {agency_name!r}")
        try:
            role = Role((row.get("role") or "").strip().lower())
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidRequest(
                f"Unknown role {row.get('role')!r}: use one of {allowed}"
            ) from None
        if role in AGENCY_ROLES and not agency_name:
            raise InvalidRequest(f"A {role.value} needs an agency")
        manager_email = (row.get("line_manager_email") or "").strip().lower()
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

    rejections = administration.collect_rejections(rows, check)
    # Managers within the file must not form a loop (accounts already stored cannot point back).
    for line, row in rows:
        email = (row.get("email") or "").strip().lower()
        if email not in file_managers or any(r.line == line for r in rejections):
            continue
        try:
            administration.check_line_manager(email, file_managers[email], file_managers)
        except RationaleRequired:
            rejections.append(
                administration.Rejection(
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
            token, invitation = create_invitation(user, None, now)
            invited.append(Invited(user, token, invitation.expires_at))
    db.session.commit()
    return ImportResult([], list(created.values()), invited)
