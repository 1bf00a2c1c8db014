"""A synthetic partnership for measuring escalate at scale (`flask escalate seed-bench`).

About 30 agencies and 1,000 people, and any number of differences at every stage and in every
state, each with its history (sealed into its hash chain) and the notifications it sent. Rows
are written in bulk, a chunk of differences at a time, with ids chosen here: 100,000 differences
(a million events and as many notifications) take minutes, not the hours the services would.

The data follows the default stage policy and the services' shapes (what each event records,
who is assigned at each stage, the sweep's schedule and alerts), so every page and command
reads it as it would read a partnership's own: a few per cent open, some of them overdue, most
resolved. The first differences are dealt to the people `make bench` signs in as, so that even
a small partnership gives each of them something in every list.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from escalate import queries
from escalate.extensions import db
from escalate.models import (
    Agency,
    AgencyStageContact,
    Assignment,
    Category,
    ChronologyEntry,
    Difference,
    EmailStatus,
    Event,
    EventKind,
    Involvement,
    LearningNote,
    Notification,
    Outcome,
    PolicyStage,
    Side,
    Stage,
    StageAlert,
    State,
    User,
)
from escalate.services import _tally
from escalate.services import synthetic_parts as parts
from escalate.services._records import commit_row_texts, seal_written_in_bulk
from escalate.services.synthetic_people import (  # noqa: F401 (LOGINS, PASSWORD: make bench's)
    DOMAIN,
    LOGINS,
    PASSWORD,
    TOTP_SECRET,
    People,
    add_people,
)
from escalate.workflow import InvalidRequest

LONG_HISTORY_EVENTS = 400  # the one difference with a long history (at 1,000 differences up)
CHUNK = 2_000

SENTENCE = (
    "The referral was closed after the initial contact although the school reported new "
    "bruising and the child said she was frightened to go home; the chronology shows three "
    "similar concerns in the last six months and no strategy discussion was held."
)


@dataclass
class Seeded:
    agencies: int = 0
    users: int = 0
    differences: int = 0
    events: int = 0
    notifications: int = 0
    long_history: str | None = None
    counts: dict = field(default_factory=dict)


class _Ids:
    """Ids chosen here for bulk inserts, continuing each table's own."""

    def __init__(self):
        self.next = {}
        for model in (Difference, Stage, Assignment, Event, Notification, StageAlert,
                      LearningNote, ChronologyEntry):
            self.next[model] = (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1

    def take(self, model) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


def seed_bench(differences: int, now: datetime, *, people: int = 1_000, seed: int = 11) -> Seeded:
    """Write a synthetic partnership with ``differences`` differences into an empty database
    (its policy and settings installed), everything dated up to ``now``."""
    if db.session.scalar(sa.select(sa.func.count(User.id))):
        raise InvalidRequest("seed-bench writes into an empty database: this one has accounts.")
    rng = random.Random(seed)  # noqa: S311 (made-up data, not secrets)
    now = now.astimezone(UTC).replace(microsecond=0)
    policy = {s.level: s for s in db.session.scalars(sa.select(PolicyStage))}
    if sorted(policy) != [1, 2, 3, 4]:
        raise InvalidRequest("seed-bench follows the default four-stage policy.")
    found = add_people(rng, people)
    ids = _Ids()
    writer = _Writer(rng, now, policy, found, ids)
    result = Seeded(agencies=len(found.agencies), users=len(found.names))
    for start in range(0, differences, CHUNK):
        for number in range(start, min(start + CHUNK, differences)):
            writer.difference(number)
        writer.flush()
    if differences >= 1_000:
        result.long_history = writer.difference(differences, long_history=True)
        writer.flush()
    result.differences, result.events = writer.differences, writer.events
    result.notifications = writer.notifications
    _tally.count_again()
    _reset_sequences()
    db.session.commit()
    _analyse()
    return result


# --- People ------------------------------------------------------------------------------------


# --- Differences -------------------------------------------------------------------------------


class _Writer:
    """Builds differences a chunk at a time and writes each chunk with one insert per table."""

    def __init__(self, rng, now, policy, people: People, ids: _Ids):
        self.rng, self.now, self.policy, self.people, self.ids = rng, now, policy, people, ids
        self.rows = {model: [] for model in (Difference, Stage, Assignment, Involvement, Event,
                                             Notification, StageAlert, LearningNote,
                                             ChronologyEntry)}
        self.pending_events: list[SimpleNamespace] = []
        self.differences = self.events = self.notifications = 0
        self.author = people.partnership[0]

    # Whom each difference is between: weighted so a few people are much busier than most.
    def _raising(self, number: int):
        agencies = self.people.agencies
        if number < 8 or self.rng.random() < 0.05:
            return agencies[0][0]
        return self.rng.choice(agencies)[0]

    def _raiser(self, agency_id: int, number: int) -> int:
        practitioners = self.people.practitioners[agency_id]
        if number < 8 or self.rng.random() < 0.3:
            return practitioners[0]
        return self.rng.choice(practitioners)

    def difference(self, number: int, *, long_history: bool = False) -> str:
        rng, now = self.rng, self.now
        raising = self._raising(number)
        receiving = rng.choice([a for a, _ in self.people.agencies if a != raising])
        raiser = self._raiser(raising, number)
        named = rng.choice(self.people.practitioners[receiving]) if rng.random() < 0.7 else None
        urgent = rng.random() < 0.05
        if number < 8:  # one of each for the people `make bench` signs in as
            level, state = ((1, 2, 3, 4) * 2)[number], (
                State.AWAITING_RAISER, State.AWAITING_RESPONSE, State.AWAITING_RAISER,
                State.AWAITING_RESPONSE, State.RESOLVED, State.WITHDRAWN,
                State.AWAITING_RESPONSE, State.RESOLVED,
            )[number]
        elif long_history:
            level, state = 4, State.AWAITING_RESPONSE
        else:
            level = rng.choices((1, 2, 3, 4), (55, 25, 12, 8))[0]
            roll = rng.random()
            state = (
                State.AWAITING_RESPONSE if roll < 0.02
                else State.AWAITING_RAISER if roll < 0.03
                else State.WITHDRAWN if roll < 0.15
                else State.RESOLVED
            )
        if level == 4 and state == State.AWAITING_RAISER:
            state = State.AWAITING_RESPONSE  # the partnership decides: nobody answers it
        is_open = not state.is_final
        days_per_stage = 9
        span = days_per_stage * level + 3
        if is_open:
            raised_at = now - timedelta(days=span - rng.uniform(0, 6), hours=rng.uniform(0, 8))
        else:
            raised_at = now - timedelta(days=span + rng.uniform(0, 5 * 365))
        if long_history:
            raised_at = now - timedelta(days=700)
        raised_at = raised_at.replace(microsecond=0)
        difference_id = self.ids.take(Difference)
        reference = f"RPD-{raised_at.year}-{difference_id:05d}"
        d = SimpleNamespace(
            id=difference_id, raiser=raiser, raising=raising, receiving=receiving, named=named,
            urgent=urgent, sequence=0,
        )
        t = raised_at
        closed_at = None
        for stage_level in range(1, level + 1):
            rule = self.policy[stage_level]
            # Urgent stages are timed in working hours; bulk data rounds them up to a day.
            hours = rule.urgent_working_hours if urgent else None
            days = -(-hours // 8) if urgent else rule.working_days
            final_here = stage_level == level
            if long_history:
                t = now - timedelta(days=2)
            elif is_open and final_here:
                # The open stage: opened recently, some deadlines already missed.
                t = max(t, now - timedelta(days=rng.uniform(0, 9)))
            stage = self._stage(d, stage_level, t, days, hours)
            responders, leads = self._assign(d, stage, stage_level)
            opened = {
                "stage": rule.name,
                "responders": [self.people.names[u] for u in responders],
                "leads": [self.people.names[u] for u in leads],
                "responders_fell_back": False,
            }
            if stage_level == 1:
                self._event(d, EventKind.RAISED, raiser, t, stage, {"urgent": urgent, **opened},
                            [raiser, *responders])
            actor = responders[0] if responders else None
            long_here = long_history and final_here
            conversations = LONG_HISTORY_EVENTS if long_here else rng.randint(1, 4)
            for c in range(conversations):
                at = t + timedelta(hours=2 + c * (0.5 if long_history else 7))
                self._event(
                    d, EventKind.CONVERSATION, actor or raiser, at, stage,
                    {"held_on": at.date().isoformat(), "participants": "Both sides and the "
                     "child's social worker", "agreed": "To share the chronology and meet again."},
                    [raiser] if actor != raiser else [],
                )
                if long_history and c % 40 == 39:
                    stage["deadline"] += timedelta(days=1)
                    self._event(d, EventKind.EXTENDED, actor, at, stage,
                                {"days": 1, "rationale": SENTENCE}, [raiser, *leads])
            if rng.random() < 0.1 and not long_history:
                stage["deadline"] += timedelta(days=2)
                stage["extended_days"] = 2
                self._event(d, EventKind.EXTENDED, actor, t + timedelta(days=1), stage,
                            {"days": 2, "rationale": SENTENCE}, [raiser, *leads])
            if final_here and state == State.AWAITING_RESPONSE:
                if stage["deadline"] < now:
                    self._alert(stage, "reminder", stage["deadline"] - timedelta(days=1))
                    self._overdue(d, stage, responders, leads, escalating=False)
                elif stage["deadline"] - timedelta(days=1) > now:
                    stage["remind_at"] = stage["deadline"] - timedelta(days=1)
                else:
                    self._alert(stage, "reminder", stage["deadline"] - timedelta(days=1))
                break
            # Not (or no longer) waiting for a response here: answered, or missed and escalated.
            answered = final_here or rng.random() < 0.75
            self._alert(stage, "reminder", stage["deadline"] - timedelta(days=1))
            if answered:
                at = min(stage["deadline"] - timedelta(hours=3), now - timedelta(hours=2))
                outcome = rng.choice((Outcome.AGREED, Outcome.UPHELD))
                stage["responded_at"], stage["outcome"] = at, outcome
                if stage_level < 4:
                    data = {"outcome": outcome.value, "rationale": SENTENCE,
                            "child_impact": "She will be seen at school and at home this week.",
                            "agreed_actions": "A strategy discussion by Friday."
                            if outcome == Outcome.AGREED else ""}
                    self._event(d, EventKind.RESPONDED, actor, at, stage, data,
                                [raiser, *leads], deadline=None)
                t = at + timedelta(days=1)
            else:
                self._overdue(d, stage, responders, leads, escalating=True)
                t = stage["deadline"] + timedelta(minutes=5)
            if final_here and state == State.AWAITING_RAISER:
                stage["raiser_remind_at"] = stage["responded_at"] + timedelta(days=7)
                if stage["raiser_remind_at"] <= now:
                    self._alert(stage, "raiser_reminder", stage["raiser_remind_at"])
                    stage["raiser_remind_at"] = None
                break
            if not final_here:
                stage["closed_at"] = t
                continue
            # Closed at this, the last stage it reached.
            closed_at = min(t, now - timedelta(hours=1))
            stage["closed_at"] = closed_at
            who = [raiser, *responders, *leads]
            if state == State.WITHDRAWN:
                self._event(d, EventKind.WITHDRAWN, raiser, closed_at, stage,
                            {"rationale": SENTENCE}, who, deadline=None)
            elif stage_level == 4:
                self._event(d, EventKind.DECIDED, actor, closed_at, stage,
                            {"outcome": stage["outcome"].value, "decision": SENTENCE,
                             "rationale": SENTENCE, "child_impact": "A plan is in place."},
                            who, deadline=None)
            else:
                self._event(d, EventKind.ACCEPTED, raiser, closed_at, stage,
                            {"comment": "", "outcome": stage["outcome"].value}, who,
                            deadline=None)
            if rng.random() < 0.02:
                self._learning_note(d, closed_at + timedelta(days=1), stage)
        self.rows[Difference].append(
            {
                "id": difference_id,
                "reference": reference,
                "version": d.sequence + 1,
                "raiser_id": raiser,
                "raising_agency_id": raising,
                "receiving_agency_id": receiving,
                "named_professional_id": named,
                "child_reference": f"CSC-{rng.randrange(100000, 999999)}",
                "child_initials": "AB",
                "child_date_of_birth": None,
                "category": rng.choice(list(Category)),
                "decision": "The referral was closed with no further action.",
                "reasons": SENTENCE,
                "desired_outcome": "A strategy discussion and a section 47 enquiry.",
                "discussed_informally": True,
                "informal_discussion": "By telephone with the duty social worker.",
                "immediate_risk": urgent,
                "protective_action": "The school kept her safe until a parent came." if urgent
                else "",
                "urgent": urgent,
                "state": state,
                "stage_level": stage_level,
                "outcome": None if not state.is_final
                else "withdrawn" if state == State.WITHDRAWN
                else self.rows[Stage][-1]["outcome"].value,
                "raised_at": raised_at,
                "closed_at": closed_at,
                "resolution_working_days": (closed_at - raised_at).days * 5 // 7
                if state == State.RESOLVED else None,
            }
        )
        self.differences += 1
        return reference

    def _stage(self, d, level: int, opened_at: datetime, days: int, hours=None) -> dict:
        rule = self.policy[level]
        deadline = (opened_at + timedelta(days=days * 7 / 5)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        stage = {
            "id": self.ids.take(Stage),
            "difference_id": d.id,
            "level": level,
            "name": rule.name,
            "is_final": level == 4,
            "opened_at": opened_at,
            "deadline": deadline,
            "working_days": 0 if hours else days,
            "working_hours": hours,
            "extended_days": 0,
            "responded_at": None,
            "outcome": None,
            "closed_at": None,
            "remind_at": None,
            "raiser_remind_at": None,
            "overdue_noticed_at": None,
        }
        self.rows[Stage].append(stage)
        if level > 1:
            previous = self.rows[Stage][-2]
            automatic = previous["responded_at"] is None
            self._pending_escalation = (previous, automatic)
        return stage

    def _assign(self, d, stage: dict, level: int) -> tuple[list[int], list[int]]:
        people = self.people
        contacts = people.contacts
        if level == 1:
            responders = [d.named] if d.named else contacts[(d.receiving, 1)]
            leads = [d.raiser]
        elif level == 2:
            manager = people.managers.get(d.named) if d.named else None
            responders = [manager] if manager else contacts[(d.receiving, 2)]
            leads = [people.managers.get(d.raiser) or contacts[(d.raising, 2)][0]]
        elif level == 3:
            responders, leads = contacts[(d.receiving, 3)], contacts[(d.raising, 3)]
        else:
            responders, leads = list(people.partnership), []
        for side, users in ((Side.RESPONDER, responders), (Side.LEAD, leads)):
            for user in users:
                self.rows[Assignment].append(
                    {"id": self.ids.take(Assignment), "stage_id": stage["id"], "user_id": user,
                     "side": side, "active": True}
                )
        if level > 1:
            previous, automatic = self._pending_escalation
            rule = self.policy[level]
            data = {
                "rationale": "The response did not resolve the concern for the child."
                if not automatic else "The response was not given by the deadline.",
                "from_stage": previous["name"],
                "automatic": automatic,
                "stage": rule.name,
                "responders": [people.names[u] for u in responders],
                "leads": [people.names[u] for u in leads],
                "responders_fell_back": False,
            }
            actor = None if automatic else (leads[0] if leads else d.raiser)
            self._event(d, EventKind.ESCALATED, actor, stage["opened_at"], stage, data,
                        [d.raiser, *responders, *leads])
        return responders, leads

    def _overdue(self, d, stage, responders, leads, *, escalating: bool) -> None:
        at = stage["deadline"] + timedelta(minutes=1)
        self._alert(stage, "overdue", at)
        stage["overdue_noticed_at"] = at
        if escalating:
            self._alert(stage, "auto_escalated", at)
        level = stage["level"]
        data = {
            "stage": stage["name"],
            "responders": [self.people.names[u] for u in responders],
            "next_stage": self.policy[level + 1].name if level < 4 else None,
            "next_responders": [],
            "escalated_automatically": escalating,
        }
        self._event(d, EventKind.OVERDUE, None, at, stage, data, [*responders, d.raiser, *leads])

    def _alert(self, stage: dict, kind: str, at: datetime) -> None:
        self.rows[StageAlert].append(
            {"id": self.ids.take(StageAlert), "stage_id": stage["id"], "kind": kind, "at": at}
        )

    def _learning_note(self, d, at: datetime, stage: dict) -> None:
        self.rows[LearningNote].append(
            {"id": self.ids.take(LearningNote), "difference_id": d.id, "author_id": self.author,
             "text": "Read the referrer's evidence back before closing a referral.",
             "created_at": at}
        )
        self._event(d, EventKind.LEARNING_NOTE, self.author, at, stage,
                    {"text": "Read the referrer's evidence back before closing a referral."}, [],
                    deadline=None)

    def _event(self, d, kind, actor, at, stage, data, recipients, *, deadline=...) -> None:
        at = at.replace(microsecond=0)
        d.sequence += 1
        event = SimpleNamespace(
            id=self.ids.take(Event),
            difference_id=d.id,
            sequence=d.sequence,
            kind=kind,
            actor_id=actor,
            at=at,
            stage_level=stage["level"],
            deadline=stage["deadline"] if deadline is ... else deadline,
            data=data,
            position=None,  # taken in the partnership's record when the batch is sealed
            difference_digest=None,
        )
        self.pending_events.append(event)
        now, rng = self.now, self.rng
        for recipient in dict.fromkeys(r for r in recipients if r is not None):
            recent = now - at < timedelta(days=14)
            failed = rng.random() < 0.002
            self.rows[Notification].append(
                {
                    "id": self.ids.take(Notification),
                    "recipient_id": recipient,
                    "difference_id": d.id,
                    "event_id": event.id,
                    "subject": f"RPD-{d.id:05d}: {kind.value.replace('_', ' ')} at {stage['name']}",
                    "body": SENTENCE,
                    "created_at": at,
                    "read_at": None if (recent and rng.random() < 0.7) or rng.random() < 0.03
                    else at + timedelta(hours=3),
                    "email_status": EmailStatus.FAILED if failed else EmailStatus.SENT,
                    "attempts": 8 if failed else 1,
                    "next_attempt_at": None,
                    "sent_at": None if failed else at + timedelta(minutes=1),
                    "last_error": "550 mailbox unavailable" if failed else None,
                }
            )

    def flush(self) -> None:
        keys = queries.histories.keyring()
        for row in self.rows[Difference]:  # the digests cover commitments to the texts
            row["text_seals"] = commit_row_texts(row, keys)
        self.rows[Involvement] = parts.involvements(
            self.rows[Difference], self.rows[Stage], self.rows[Assignment]
        )
        self.rows[ChronologyEntry] = parts.chronology_entries(
            self.pending_events,
            self.rows[Difference],
            self.rows[Stage],
            self.rows[Assignment],
            take_id=lambda: self.ids.take(ChronologyEntry),
            now=self.now,
            rng=self.rng,
        )
        self._insert(Difference, Stage, Assignment, Involvement)
        # Each difference's latest event vouches for its row as written.
        latest = {event.difference_id: event for event in self.pending_events}
        for difference_id, event in latest.items():
            event.difference_digest = queries.histories.row_digest(difference_id)
        seal_written_in_bulk(self.pending_events)
        self.rows[Event] = [vars(event) for event in self.pending_events]
        self.events += len(self.pending_events)
        self.notifications += len(self.rows[Notification])
        self.pending_events = []
        self._insert(Event, Notification, StageAlert, LearningNote, ChronologyEntry)
        db.session.commit()

    def _insert(self, *models) -> None:
        for model in models:
            if self.rows[model]:
                db.session.execute(sa.insert(model.__table__), self.rows[model])
            self.rows[model] = []


def _analyse() -> None:
    """Give the query planner its statistics now, as a partnership's database has them after a
    while (PostgreSQL's autovacuum; on SQLite, a sample of each index)."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("PRAGMA analysis_limit = 1000"))
        db.session.execute(sa.text("ANALYZE"))
    else:
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("ANALYZE")
            )
    db.session.commit()


def _reset_sequences() -> None:
    """PostgreSQL's id sequences continue after the ids chosen here."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in (Agency, User, AgencyStageContact, Difference, Stage, Assignment, Event,
                  Notification, StageAlert, LearningNote, ChronologyEntry):
        highest = db.session.scalar(sa.select(sa.func.max(model.id))) or 0
        db.session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next, false)"),
            {"table": model.__tablename__, "next": highest + 1},
        )
