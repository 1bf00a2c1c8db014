"""Loading the fictional Northshire partnership (`flask escalate seed-demo`)."""

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from escalate import calendar, workflow
from escalate.agreed_actions import NewAction
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgencySafeguardingLead,
    AgencyStageContact,
    Difference,
    User,
)
from escalate.queries.setup import (
    WorkingCalendar,
    find_agency_by_name,
    find_user_by_email,
    partnership_settings,
    working_calendar,
)
from escalate.services.accounts import build_user
from escalate.services.differences import (
    NewDifference,
    accept,
    decide,
    escalate,
    raise_difference,
    reassign,
    record_conversation,
    respond,
    withdraw,
)
from escalate.services.extension_requests import answer_extension, request_extension


def seed_demo(password: str, now: datetime) -> dict[str, int]:
    """Load the fictional Northshire partnership; running it again adds nothing already there.

    Its differences are played through the ordinary services at moments counted back from
    ``now`` in working days, so each is at the stage, and as overdue, as its scenario says.
    """
    from escalate import demo, demo_differences

    created = {"agencies": 0, "users": 0, "stage contacts": 0, "differences": 0}
    password_hash = generate_password_hash(password)
    agencies: dict[str, Agency] = {}
    for name, kind in demo.AGENCIES:
        agency = find_agency_by_name(name)
        if agency is None:
            agency = Agency(name=name, kind=kind)
            db.session.add(agency)
            created["agencies"] += 1
        agencies[name] = agency
    db.session.flush()

    users: dict[str, User] = {}
    for person in demo.USERS:
        user = find_user_by_email(person.email)
        if user is None:
            user = build_user(
                email=person.email,
                name=person.name,
                job_title=person.job_title,
                role=person.role,
                agency=agencies.get(person.agency),
                line_manager=users.get(person.line_manager) if person.line_manager else None,
                password_hash=password_hash,
            )
            db.session.add(user)
            db.session.flush()
            created["users"] += 1
        users[person.email] = user

    for agency_name, level, email in demo.STAGE_CONTACTS:
        agency, user = agencies[agency_name], users[email]
        exists = db.session.scalar(
            sa.select(AgencyStageContact.id).where(
                AgencyStageContact.agency_id == agency.id,
                AgencyStageContact.stage_level == level,
                AgencyStageContact.user_id == user.id,
            )
        )
        if exists is None:
            db.session.add(AgencyStageContact(agency=agency, stage_level=level, user=user))
            created["stage contacts"] += 1
    # The partnership's numbers, fictional (Ofcom's drama range), where none are set yet.
    settings = partnership_settings()
    for field, number in demo.NUMBERS.items():
        if not getattr(settings, field):
            setattr(settings, field, number)
    for agency_name, email in demo.SAFEGUARDING_LEADS:
        agency, user = agencies[agency_name], users[email]
        exists = db.session.scalar(
            sa.select(AgencySafeguardingLead.id).where(
                AgencySafeguardingLead.agency_id == agency.id,
                AgencySafeguardingLead.user_id == user.id,
            )
        )
        if exists is None:
            db.session.add(AgencySafeguardingLead(agency_id=agency.id, user=user))
    db.session.commit()

    cal = working_calendar()
    for scenario in demo_differences.SCENARIOS:
        created["differences"] += int(_seed_demo_difference(scenario, now, cal))
    for learning in demo.LEARNING:
        _seed_demo_learning(learning, now)
    return created


def _seed_demo_learning(learning, now: datetime) -> None:
    """A learning note on a closed demo difference, moved on to its status; once."""
    from escalate import demo
    from escalate.models import LearningNote
    from escalate.services.learning import Owner, add_learning_note, update_learning_note

    difference = db.session.scalar(
        sa.select(Difference).where(Difference.child_reference == learning.child_reference)
    )
    if difference is None or not difference.state.is_final:
        return
    if db.session.scalar(
        sa.select(LearningNote.id).where(LearningNote.difference_id == difference.id)
    ):
        return
    chair = find_user_by_email(demo.CHAIR)
    owner_person = find_user_by_email(learning.owner) if learning.owner else None
    owner = Owner(
        find_agency_by_name(learning.owner_agency).id,
        owner_person.id if owner_person else None,
        calendar.to_local(now).date() + timedelta(days=learning.due_in_days),
    )
    written = now - timedelta(hours=2)
    note = add_learning_note(
        chair,
        difference.reference,
        learning.text,
        written,
        recommendation=learning.recommendation,
        owner=owner,
    )
    steps = {"in_progress": ["in_progress"], "done": ["in_progress", "done"]}.get(
        learning.status, []
    )
    for minutes, status in enumerate(steps, start=1):
        reason = {
            "in_progress": "The owner has started the work and reports back at the next board.",
            "done": "The owner showed the board the change in place and how it is checked.",
        }[status]
        update_learning_note(
            chair,
            note.id,
            status=status,
            owner=owner,
            reason=reason,
            now=written + timedelta(minutes=30 * minutes),
        )


def _seed_demo_difference(scenario, now: datetime, cal: "WorkingCalendar") -> bool:
    """Raise one demo difference and take its actions, unless its raiser already recorded it."""
    from datetime import UTC

    raiser = find_user_by_email(scenario.raiser)
    if db.session.scalar(
        sa.select(Difference.id).where(
            Difference.raiser_id == raiser.id,
            Difference.child_reference == scenario.child_reference,
        )
    ):
        return False
    local_now = calendar.to_local(now)
    moments = len(scenario.steps) + 1

    def moment(index: int, days_ago: int) -> datetime:
        """The index-th moment of the scenario, ``days_ago`` working days before ``now``."""
        if days_ago == 0:  # earlier today, a few minutes apart
            return (now - timedelta(minutes=20 * (moments - index))).astimezone(UTC)
        day = calendar.working_day_before(local_now.date(), days_ago, cal.nation, cal.closures)
        start = datetime.combine(day, time(9), tzinfo=local_now.tzinfo)
        return (start + timedelta(minutes=40 * index)).astimezone(UTC)

    raised_at = moment(0, scenario.raised_days_ago)
    born = None
    if scenario.child_age_months is not None:
        age_days = round(scenario.child_age_months * 30.44) + 3
        born = calendar.to_local(raised_at).date() - timedelta(days=age_days)
    named = find_user_by_email(scenario.named) if scenario.named else None
    difference = raise_difference(
        raiser,
        NewDifference(
            receiving_agency_id=find_agency_by_name(scenario.receiving).id,
            named_professional_id=named.id if named else None,
            child_reference=scenario.child_reference,
            child_initials=scenario.child_initials,
            child_date_of_birth=born,
            category=scenario.category,
            decision=scenario.decision,
            reasons=scenario.reasons,
            desired_outcome=scenario.desired_outcome,
            discussed_informally=bool(scenario.informal_discussion),
            informal_discussion=scenario.informal_discussion,
            immediate_risk=bool(scenario.protective_action),
            protective_action=scenario.protective_action,
        ),
        raised_at,
    )
    actions = {
        workflow.Action.RESPOND: respond,
        workflow.Action.ACCEPT: accept,
        workflow.Action.ESCALATE: escalate,
        workflow.Action.DECIDE: decide,
        workflow.Action.WITHDRAW: withdraw,
        workflow.Action.EXTEND: _ask_for_more_time,
        workflow.Action.ANSWER_EXTENSION: answer_extension,
        workflow.Action.REASSIGN: reassign,
        workflow.Action.RECORD_CONVERSATION: record_conversation,
    }
    previous = scenario.raised_days_ago
    for index, step in enumerate(scenario.steps, start=1):
        if step.days_ago > previous:
            raise ValueError(f"demo {scenario.child_reference}: steps must be in time order")
        previous = step.days_ago
        at = moment(index, step.days_ago)
        fields = dict(step.fields)
        if step.action == workflow.Action.REASSIGN:
            fields["new_responder_id"] = find_user_by_email(fields.pop("new_responder")).id
        if step.action == workflow.Action.RECORD_CONVERSATION:
            fields["held_on"] = calendar.to_local(at).date()
        if step.action == workflow.Action.RESPOND and "actions" in fields:
            fields["actions"] = _agreed_actions(difference, fields["actions"], at)
        difference = actions[step.action](
            find_user_by_email(step.by), difference.id, difference.version, now=at, **fields
        )
    return True


def _agreed_actions(difference, actions, at) -> list[NewAction]:
    """A demo response's actions, each (what, "receiving" or "raising", due after how many
    working days)."""
    cal = working_calendar()
    today = calendar.to_local(at).date()
    return [
        NewAction(
            what,
            difference.receiving_agency_id if who == "receiving" else difference.raising_agency_id,
            calendar.add_working_days(today, days, cal.nation, cal.closures) if days else today,
        )
        for what, who, days in actions
    ]


def _ask_for_more_time(user, difference_id, version, *, days, rationale, now):
    """A demo step asks for ``days`` more working days: the new deadline as the form gives it."""
    difference = db.session.get(Difference, difference_id)
    cal = working_calendar()
    current = calendar.to_local(difference.open_stage.deadline).date()
    new_deadline = calendar.add_working_days(current, days, cal.nation, cal.closures)
    request_extension(
        user, difference_id, version, new_deadline=new_deadline, rationale=rationale, now=now
    )
    return db.session.get(Difference, difference_id)
