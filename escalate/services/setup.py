"""Setting the partnership up: the default policy, agencies and their stage contacts, the stage
policy, deadlines recomputed, the working calendar and the act-now text. Every change writes an
AdminChange row (who, when, the fields before and after) in the same transaction; the actor None
is the command line.
"""

from datetime import date, datetime

import sqlalchemy as sa

from escalate import calendar, deadlines, history, policy, validation, wording
from escalate.extensions import db
from escalate.models import (
    AGENCY_ROLES,
    AccessHead,
    Agency,
    AgencyStageContact,
    ClosureDay,
    EventKind,
    HistoryHead,
    LeadRule,
    Nation,
    PartnershipSettings,
    PolicyStage,
    ResponderRule,
    Side,
    User,
)
from escalate.queries.setup import (
    as_stage_policy,
    deadline_moves,
    find_agency_by_name,
    get_agency,
    get_policy_stage,
    partnership_settings,
    policy_stages,
    removal_problem,
    stage_record,
)
from escalate.services._records import (
    agency_record,
    commit_or_stale,
    message_facts,
    notify_people,
    record_admin_change,
    record_admin_edit,
    record_event,
    require_admin,
    settings_record,
    stale_on_conflict,
)
from escalate.services._stages import rearm_deadline_alerts
from escalate.workflow import FieldError, InvalidRequest, NotFound


def install_defaults() -> None:
    """Give an empty database the default stage policy and settings (product.md §3)."""
    if db.session.get(PartnershipSettings, 1) is None:
        db.session.add(
            PartnershipSettings(
                id=1,
                nation=Nation.ENGLAND_AND_WALES,
                start_of_working_day=calendar.START_OF_WORKING_DAY,
                end_of_working_day=calendar.END_OF_WORKING_DAY,
                highest_urgent_start=3,
                act_now_text=policy.DEFAULT_ACT_NOW_TEXT,
                mash_phone="",
                out_of_hours_phone="",
                police_phone=policy.DEFAULT_POLICE_PHONE,
            )
        )
    if db.session.scalar(sa.select(sa.func.count(PolicyStage.id))) == 0:
        for stage in policy.DEFAULT_POLICY:
            db.session.add(PolicyStage(**vars(stage)))
    if db.session.get(HistoryHead, 1) is None:
        db.session.add(HistoryHead(id=1, position=0, seal=history.GENESIS))
    if db.session.get(AccessHead, 1) is None:
        db.session.add(AccessHead(id=1, position=0, seal=history.GENESIS))
    db.session.commit()


def _check_agency_name(name: str, *, except_id: int | None = None) -> str:
    name = validation.check_name(name, field="name", what="the agency's name")
    existing = find_agency_by_name(name)
    if existing is not None and existing.id != except_id:
        raise FieldError("name", f"There is already an agency called {existing.name}")
    return name


def add_agency(
    actor: User | None, *, name: str, kind, now: datetime, passwords_allowed: bool = True
) -> Agency:
    """Add a member agency. Names are unique whatever their case."""
    require_admin(actor)
    agency = Agency(
        name=_check_agency_name(name),
        kind=validation.agency_kind(kind),
        passwords_allowed=passwords_allowed is not False,
    )
    db.session.add(agency)
    db.session.flush()
    record_admin_change(
        actor,
        now,
        entity="agency",
        entity_id=agency.id,
        action="created",
        summary=f"Agency {agency.name} added",
        after=agency_record(agency),
    )
    db.session.commit()
    return agency


def change_agency(
    actor: User | None,
    agency_id: int,
    *,
    name: str,
    kind,
    now: datetime,
    passwords_allowed: bool | None = None,
) -> bool:
    """Rename an agency, change its kind, or whether its people may sign in with a password
    (None: as it was); False when nothing changed. Turning passwords off ends its people's
    password sessions at their next request (escalate.auth)."""
    require_admin(actor)
    agency = get_agency(agency_id)
    before = agency_record(agency)
    agency.name = _check_agency_name(name, except_id=agency.id)
    agency.kind = validation.agency_kind(kind)
    if passwords_allowed is not None:
        agency.passwords_allowed = bool(passwords_allowed)
    changed = record_admin_edit(
        actor,
        now,
        entity="agency",
        entity_id=agency.id,
        summary=f"Agency {before['name']} changed",
        before=before,
        after=agency_record(agency),
    )
    db.session.commit()
    return changed


def add_stage_contact(actor: User | None, agency_id: int, *, level, user_id, now) -> None:
    """Name someone of the agency to receive its differences at a stage level."""
    require_admin(actor)
    agency = get_agency(agency_id)
    levels = [s.level for s in policy_stages()]
    if level not in levels:
        raise FieldError("level", "Select a stage of the policy")
    user = db.session.get(User, user_id) if user_id else None
    if (
        user is None
        or user.agency_id != agency.id
        or not user.active
        or user.role not in AGENCY_ROLES
    ):
        raise FieldError(
            "user",
            f"Select an active practitioner, manager or senior manager of {agency.name}",
        )
    exists = db.session.scalar(
        sa.select(AgencyStageContact.id).where(
            AgencyStageContact.agency_id == agency.id,
            AgencyStageContact.stage_level == level,
            AgencyStageContact.user_id == user.id,
        )
    )
    if exists is not None:
        raise FieldError("user", f"{user.name} is already a stage {level} contact")
    contact = AgencyStageContact(agency=agency, stage_level=level, user=user)
    db.session.add(contact)
    db.session.flush()
    record_admin_change(
        actor,
        now,
        entity="stage contact",
        entity_id=contact.id,
        action="created",
        summary=f"{user.name} made a stage {level} contact for {agency.name}",
        after={"agency": agency.name, "stage": level, "user": user.email},
    )
    db.session.commit()


def remove_stage_contact(actor: User | None, agency_id: int, contact_id: int, now) -> str:
    """Stop someone receiving an agency's differences at a level; returns their name."""
    require_admin(actor)
    contact = db.session.get(AgencyStageContact, contact_id)
    if contact is None or contact.agency_id != agency_id:
        raise NotFound("Stage contact not found.")
    record = {
        "agency": contact.agency.name,
        "stage": contact.stage_level,
        "user": contact.user.email,
    }
    name = contact.user.name
    record_admin_change(
        actor,
        now,
        entity="stage contact",
        entity_id=contact.id,
        action="removed",
        summary=f"{name} is no longer a stage {contact.stage_level} contact for "
        f"{contact.agency.name}",
        before=record,
    )
    db.session.delete(contact)
    db.session.commit()
    return name


def _valid_stage(stage: policy.StagePolicy, *, is_final: bool) -> dict:
    """The stage's columns, once it passes every guard (rules as enums)."""
    policy.check_stage(stage, is_final=is_final)
    values = vars(stage) | {
        "responder_rule": ResponderRule(stage.responder_rule),
        "lead_rule": LeadRule(stage.lead_rule),
    }
    values.pop("level")
    return values


def _stage_values(level: int, values: dict) -> policy.StagePolicy:
    return policy.StagePolicy(
        level=level,
        name=(values.get("name") or "").strip(),
        responder_rule=values.get("responder_rule"),
        lead_rule=values.get("lead_rule"),
        working_days=values.get("working_days"),
        urgent_working_hours=values.get("urgent_working_hours"),
        reminder_days_before=values.get("reminder_days_before"),
        auto_escalate=bool(values.get("auto_escalate")),
        raiser_reply_days=values.get("raiser_reply_days"),
        proposal_reply_days=values.get("proposal_reply_days", policy.DEFAULT_PROPOSAL_REPLY_DAYS),
        max_extension_days=values.get("max_extension_days"),
    )


def change_stage(actor: User | None, level: int, values: dict, now: datetime) -> bool:
    """Change one stage of the policy. It governs stages opened from now on: open stages keep
    their deadlines unless an administrator recomputes them."""
    require_admin(actor)
    stages = policy_stages()
    stage = get_policy_stage(level)
    wanted = _valid_stage(_stage_values(level, values), is_final=level == stages[-1].level)
    before = stage_record(stage)
    for key, value in wanted.items():
        setattr(stage, key, value)
    changed = record_admin_edit(
        actor,
        now,
        entity="stage policy",
        entity_id=level,
        summary=f"Stage {level} ({stage.name}) changed",
        before=before,
        after=stage_record(stage),
    )
    db.session.commit()
    return changed


def add_stage(actor: User | None, values: dict, now: datetime) -> PolicyStage:
    """Add a stage after the last one: it becomes the final stage, which the partnership decides."""
    require_admin(actor)
    stages = policy_stages()
    level = stages[-1].level + 1 if stages else 1
    wanted = _stage_values(
        level,
        values
        | {
            "responder_rule": ResponderRule.PARTNERSHIP,
            "lead_rule": LeadRule.NONE,
            "auto_escalate": False,
        },
    )
    policy.check_policy([*map(as_stage_policy, stages), wanted])
    stage = PolicyStage(level=level, **_valid_stage(wanted, is_final=True))
    db.session.add(stage)
    db.session.flush()
    record_admin_change(
        actor,
        now,
        entity="stage policy",
        entity_id=level,
        action="created",
        summary=f"Stage {level} ({stage.name}) added as the final stage",
        after=stage_record(stage),
    )
    db.session.commit()
    return stage


def remove_last_stage(actor: User | None, now: datetime) -> PolicyStage:
    """Remove the last stage; the one before becomes final. Refused while a difference could
    still reach it."""
    require_admin(actor)
    db.session.execute(sa.select(PolicyStage.id).with_for_update())
    problem = removal_problem()
    if problem:
        raise InvalidRequest(problem)
    last = policy_stages()[-1]
    record_admin_change(
        actor,
        now,
        entity="stage policy",
        entity_id=last.level,
        action="removed",
        summary=f"Stage {last.level} ({last.name}) removed",
        before=stage_record(last),
    )
    db.session.delete(last)
    db.session.commit()
    return last


@stale_on_conflict
def recompute_deadlines(actor: User | None, now: datetime) -> int:
    """Apply the current policy and calendar to every open stage's deadline. Each difference
    whose deadline moves gets an event in its history, and its raiser and responders are told."""
    require_admin(actor)
    moves = deadline_moves(now, lock=True)
    for move in moves:
        move.stage.deadline = move.new
        move.stage.working_days = move.timescale.days
        move.stage.working_hours = move.timescale.hours or None
        rearm_deadline_alerts(move.stage, now)
        data = {
            "previous_deadline": move.old.isoformat(),
            "working_days": move.timescale.days,
            "working_hours": move.timescale.hours,
            "extended_days": move.stage.extended_days,
        }
        event = record_event(move.difference, EventKind.DEADLINE_RECOMPUTED, actor, now, data)
        facts_ = message_facts(move.difference, move.stage, actor) | {
            "previous_deadline": move.old,
            "deadline": move.new,
            "overdue": deadlines.is_past(move.new, now),
        }
        notify_people(
            move.difference,
            event,
            now,
            [move.difference.raiser],
            "deadline_recomputed",
            "raiser",
            facts_,
        )
        notify_people(
            move.difference,
            event,
            now,
            move.stage.people(Side.RESPONDER),
            "deadline_recomputed",
            "responder",
            facts_,
        )
    record_admin_change(
        actor,
        now,
        entity="stage policy",
        entity_id=None,
        action="deadlines recomputed",
        # The summary names no difference: administrators read it too. The partnership and
        # auditors see which moved, in "moved".
        summary="Open deadlines recomputed",
        after={"moved": {m.difference.reference: m.new.isoformat() for m in moves}},
    )
    commit_or_stale()
    return len(moves)


def change_calendar(
    actor: User | None, *, nation, end_of_working_day, now, start_of_working_day=None
) -> bool:
    """Set the nation whose bank holidays apply and the working day: when it starts (urgent
    differences count working hours from then) and ends (deadlines fall due then). Without a
    start, the start stays as it is."""
    require_admin(actor)
    try:
        nation = Nation(nation)
    except ValueError:
        raise FieldError("nation", "Select the nation whose bank holidays apply") from None
    end_of_working_day = policy.check_end_of_working_day(end_of_working_day)
    settings = partnership_settings()
    start_of_working_day = policy.check_start_of_working_day(
        settings.start_of_working_day if start_of_working_day is None else start_of_working_day,
        end_of_working_day,
    )
    before = settings_record(settings)
    settings.nation = nation
    settings.start_of_working_day = start_of_working_day
    settings.end_of_working_day = end_of_working_day
    changed = record_admin_edit(
        actor,
        now,
        entity="calendar",
        entity_id=None,
        summary="Working calendar changed",
        before=before,
        after=settings_record(settings),
    )
    db.session.commit()
    return changed


def add_closure_day(actor: User | None, *, day, description, now) -> ClosureDay:
    """A local closure day: not a working day for deadlines opened (or recomputed) after this."""
    require_admin(actor)
    if not isinstance(day, date):
        raise FieldError("day", "Enter the date of the closure day")
    description = validation.check_name(
        description,
        field="description",
        what="a description, like Council closure day",
        limit=wording.MAX_CLOSURE_DESCRIPTION,
    )
    if db.session.scalar(sa.select(ClosureDay.id).where(ClosureDay.day == day)):
        raise FieldError("day", "That date is already a closure day")
    closure = ClosureDay(day=day, description=description)
    db.session.add(closure)
    db.session.flush()
    record_admin_change(
        actor,
        now,
        entity="closure day",
        entity_id=closure.id,
        action="created",
        summary=f"Closure day {day.isoformat()} added ({description})",
        after={"day": day.isoformat(), "description": description},
    )
    db.session.commit()
    return closure


def remove_closure_day(actor: User | None, closure_id: int, now) -> ClosureDay:
    require_admin(actor)
    closure = db.session.get(ClosureDay, closure_id)
    if closure is None:
        raise NotFound("Closure day not found.")
    record_admin_change(
        actor,
        now,
        entity="closure day",
        entity_id=closure.id,
        action="removed",
        summary=f"Closure day {closure.day.isoformat()} removed ({closure.description})",
        before={"day": closure.day.isoformat(), "description": closure.description},
    )
    db.session.delete(closure)
    db.session.commit()
    return closure


PHONES = {
    "mash_phone": "the MASH's number",
    "out_of_hours_phone": "the out-of-hours team's number",
    "police_phone": "the police's non-emergency number",
}


def change_highest_urgent_start(actor: User | None, level, now) -> bool:
    """The highest stage at which the raiser of an urgent difference may start it."""
    require_admin(actor)
    level = policy.check_highest_urgent_start(level, [s.level for s in policy_stages()])
    settings = partnership_settings()
    before = settings_record(settings)
    settings.highest_urgent_start = level
    changed = record_admin_edit(
        actor,
        now,
        entity="stage policy",
        entity_id=None,
        summary="Highest starting stage for urgent differences changed",
        before=before,
        after=settings_record(settings),
    )
    db.session.commit()
    return changed


def change_act_now_text(actor: User | None, text: str, now, *, phones: dict | None = None) -> bool:
    """The contacts shown to someone who says a child is at immediate risk: the text, and the
    partnership's numbers (``phones``: mash_phone, out_of_hours_phone, police_phone; numbers
    not given stay as they are)."""
    require_admin(actor)
    cleaned = policy.check_act_now_text(text)
    settings = partnership_settings()
    numbers = {}
    for field, what in PHONES.items():
        if phones is not None and field in phones:
            numbers[field] = policy.check_phone(phones[field], field=field, what=what)
    before = settings_record(settings)
    settings.act_now_text = cleaned
    for field, number in numbers.items():
        setattr(settings, field, number)
    changed = record_admin_edit(
        actor,
        now,
        entity="act now text",
        entity_id=None,
        summary="Immediate-risk contact text changed",
        before=before,
        after=settings_record(settings),
    )
    db.session.commit()
    return changed


def change_two_factor_for_everyone(actor: User | None, required: bool, now) -> bool:
    """Whether everyone who signs in with a password needs two-factor sign-in, not only
    administrators, partnership members and auditors; False when nothing changed."""
    require_admin(actor)
    settings = partnership_settings()
    before = {"two-factor sign-in for everyone": settings.two_factor_for_everyone}
    settings.two_factor_for_everyone = bool(required)
    changed = record_admin_edit(
        actor,
        now,
        entity="sign-in",
        entity_id=None,
        summary="Two-factor sign-in "
        + ("required of everyone" if required else "required of administrators, partnership "
           "members and auditors only"),
        before=before,
        after={"two-factor sign-in for everyone": settings.two_factor_for_everyone},
    )
    db.session.commit()
    return changed
