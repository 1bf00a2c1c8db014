"""The database model of the difference workflow: states, outcomes and themes, the difference,
its stages, extensions, assignments and its append-only history. Part of ``escalate.models``,
which re-exports it."""

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from escalate.models import (  # noqa: F401 (names the annotations below resolve)
    Agency,
    Base,
    User,
    UTCDateTime,
    _enum,
    partial_index,
    utcnow,
)

if TYPE_CHECKING:
    from escalate.model_support import Proposal, Supporter


class State(enum.StrEnum):
    """Where a difference stands (product.md §4). Overdue is derived from the clock, not a state."""

    AWAITING_RESPONSE = "awaiting_response"
    AWAITING_RAISER = "awaiting_raiser"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"
    # The raising side neither accepted nor escalated a response through three reply windows.
    CLOSED_NO_REPLY = "closed_no_reply"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]

    @property
    def tag(self) -> str:
        """The colour of the GOV.UK tag that shows the state: blue while a response is awaited,
        yellow while the raising side decides, green once resolved, grey otherwise closed."""
        return _STATE_TAGS[self]

    @property
    def is_final(self) -> bool:
        return self in (State.RESOLVED, State.WITHDRAWN, State.CLOSED_NO_REPLY)


_STATE_LABELS = {
    State.AWAITING_RESPONSE: "Waiting for a response",
    State.AWAITING_RAISER: "Waiting for the raising side",
    State.RESOLVED: "Resolved",
    State.WITHDRAWN: "Withdrawn",
    State.CLOSED_NO_REPLY: "Closed: no reply from the raising side",
}
_STATE_TAGS = {
    State.AWAITING_RESPONSE: "govuk-tag--blue",
    State.AWAITING_RAISER: "govuk-tag--yellow",
    State.RESOLVED: "govuk-tag--green",
    State.WITHDRAWN: "govuk-tag--grey",
    State.CLOSED_NO_REPLY: "govuk-tag--grey",
}


class Outcome(enum.StrEnum):
    """A response's or a decision's outcome."""

    AGREED = "agreed"  # the decision disagreed with changes
    PARTLY_AGREED = "partly_agreed"  # a different plan from the one either side first had
    UPHELD = "upheld"  # the decision stands

    @property
    def label(self) -> str:
        return {
            Outcome.AGREED: "Agreed – the decision changes",
            Outcome.PARTLY_AGREED: "Partly agreed – a different plan",
            Outcome.UPHELD: "Upheld – the decision stands",
        }[self]

    @property
    def has_actions(self) -> bool:
        """Agreed and partly agreed both change what happens: the actions agreed are recorded."""
        return self != Outcome.UPHELD


class Category(enum.StrEnum):
    """Themes of product.md §2."""

    THRESHOLD = "threshold"
    SECTION_47 = "section_47"
    CONFERENCE_OR_PLAN = "conference_or_plan"
    CLOSURE = "closure"
    ASSESSMENT = "assessment"
    INFORMATION_SHARING = "information_sharing"
    MEDICAL = "medical"
    ROLES = "roles"
    SERVICES = "services"
    DRIFT = "drift"
    OTHER = "other"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.THRESHOLD: "Threshold for referral or service",
    Category.SECTION_47: "Section 47 enquiry or strategy decision",
    Category.CONFERENCE_OR_PLAN: "Child protection conference or plan "
    "(convening, category, step-down)",
    Category.CLOSURE: "Case closure or step-down",
    Category.ASSESSMENT: "Assessment outcome",
    Category.INFORMATION_SHARING: "Information sharing and communication",
    Category.MEDICAL: "Medical examination or health assessment",
    Category.ROLES: "Roles, responsibilities or lead agency",
    Category.SERVICES: "Service provision or resources",
    Category.DRIFT: "Drift or delay in an agreed plan",
    Category.OTHER: "Other",
}


class ResponderRule(enum.StrEnum):
    """Who answers for the receiving agency at a stage; each falls back to its stage contacts."""

    NAMED_PROFESSIONAL = "named_professional"
    NAMED_PROFESSIONALS_MANAGER = "named_professionals_manager"
    AGENCY_CONTACTS = "agency_contacts"
    PARTNERSHIP = "partnership"


class LeadRule(enum.StrEnum):
    """Who leads for the raising agency at a stage; each falls back to its stage contacts."""

    RAISER = "raiser"
    RAISERS_MANAGER = "raisers_manager"
    AGENCY_CONTACTS = "agency_contacts"
    NONE = "none"


class Side(enum.StrEnum):
    RESPONDER = "responder"  # the receiving agency's side
    LEAD = "lead"  # the raising agency's side


class EventKind(enum.StrEnum):
    RAISED = "raised"
    RESPONDED = "responded"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"
    EXTENDED = "extended"  # a responder's own extension, before extensions needed agreement
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_AGREED = "extension_agreed"
    EXTENSION_REFUSED = "extension_refused"
    EXTENSION_LAPSED = "extension_lapsed"  # not answered before the deadline it would move
    REASSIGNED = "reassigned"
    CONVERSATION = "conversation"
    OVERDUE = "overdue"  # the sweep found the stage's deadline missed
    PROPOSED = "proposed"  # a raising lead proposes to accept or withdraw; the raiser answers
    PROPOSAL_OBJECTED = "proposal_objected"  # the raiser objected: the difference goes on
    ADVICE = "advice"  # the raiser's supporter advises, on the record
    CLOSED_NO_REPLY = "closed_no_reply"  # the raising side never answered a response
    LEARNING_NOTE = "learning_note"  # the partnership's learning, on a closed difference
    DEADLINE_RECOMPUTED = "deadline_recomputed"  # an admin applied a changed policy
    CORRECTED = "corrected"  # the partnership erased a mistaken entry and said why
    ANONYMISED = "anonymised"  # the retention policy's sweep erased its texts
    # Follow-through: after an outcome.
    CHRONOLOGY_RECORDED = "chronology_recorded"  # an agency wrote the outcome on its own record
    ACTION_DUE = "action_due"  # the sweep asked an agreed action's owner whether it is done
    ACTION_DONE = "action_done"  # an agreed action was done
    FOLLOW_UP_RAISED = "follow_up_raised"  # a missed action was raised as a new difference
    MEETING_ARRANGED = "meeting_arranged"  # a professionals' meeting or mediation
    MEETING_HELD = "meeting_held"  # its outcome: who came, what was agreed
    MINUTES_RECORDED = "minutes_recorded"
    LEARNING_UPDATED = "learning_updated"  # a learning note's status or owner changed


class Difference(Base):
    """A resolving professional differences case."""

    __tablename__ = "difference"
    __table_args__ = (
        # By state, with what the unresolved list filters on and the dashboard and report count:
        # the open differences (a range of this index) are matched and sorted, and the figures
        # counted, without reading the differences' rows, which carry their long texts.
        sa.Index(
            "ix_difference_unresolved",
            "state",
            "stage_level",
            "raising_agency_id",
            "receiving_agency_id",
            "urgent",
            "category",
            "raised_at",
            "closed_at",
            "outcome",
            "resolution_working_days",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    version: Mapped[int] = mapped_column(default=1)

    raiser_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    raising_agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    receiving_agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    named_professional_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id"), index=True
    )

    child_reference: Mapped[str] = mapped_column(sa.String(60))
    child_initials: Mapped[str] = mapped_column(sa.String(60))  # room for the words of erasure
    child_date_of_birth: Mapped[date | None]

    category: Mapped[Category] = mapped_column(_enum(Category, "category"))
    decision: Mapped[str] = mapped_column(sa.Text)
    reasons: Mapped[str] = mapped_column(sa.Text)
    desired_outcome: Mapped[str] = mapped_column(sa.Text)
    discussed_informally: Mapped[bool]
    informal_discussion: Mapped[str] = mapped_column(sa.Text, default="")
    immediate_risk: Mapped[bool]
    protective_action: Mapped[str] = mapped_column(sa.Text, default="")
    urgent: Mapped[bool]

    state: Mapped[State] = mapped_column(_enum(State, "state"))
    stage_level: Mapped[int]
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # agreed, upheld or withdrawn
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Working days from raising to closing, fixed when it closes so reports can aggregate in SQL.
    resolution_working_days: Mapped[int | None]
    # When the retention policy erased its texts (the figures and dates are kept).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Commitments to the texts above (history.DIFFERENCE_TEXTS), which the row's digest covers
    # instead of the texts themselves.
    text_seals: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # The texts of this row and of its events that were erased: "row:<field>" or
    # "<sequence>:<field>" -> {"why": "retention" or "correction", "by": the erasing event}.
    erasures: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))

    raiser: Mapped[User] = relationship(foreign_keys=[raiser_id])
    named_professional: Mapped[User | None] = relationship(foreign_keys=[named_professional_id])
    raising_agency: Mapped[Agency] = relationship(foreign_keys=[raising_agency_id])
    receiving_agency: Mapped[Agency] = relationship(foreign_keys=[receiving_agency_id])
    stages: Mapped[list["Stage"]] = relationship(
        back_populates="difference", order_by="Stage.level", cascade="all, delete-orphan"
    )
    events: Mapped[list["Event"]] = relationship(
        back_populates="difference", order_by="Event.sequence"
    )
    # Who supports the raiser, and the raising leads' proposals: rows of their own, outside the
    # sealed row (the events that added them are sealed).
    supporters: Mapped[list["Supporter"]] = relationship(order_by="Supporter.id")
    proposals: Mapped[list["Proposal"]] = relationship(order_by="Proposal.id")
    # The stage at the difference's level: the open one, or the last it reached once closed.
    # Read-only, for lists to load with one join what each row shows.
    current_stage: Mapped["Stage"] = relationship(
        primaryjoin="and_(foreign(Stage.difference_id) == Difference.id, "
        "foreign(Stage.level) == Difference.stage_level)",
        viewonly=True,
        uselist=False,
    )

    # Optimistic concurrency: an UPDATE that finds another version raises StaleDataError.
    __mapper_args__ = {"version_id_col": version}

    @property
    def open_stage(self) -> "Stage | None":
        if self.state.is_final:
            return None
        return next((s for s in self.stages if s.level == self.stage_level), None)

    @property
    def open_proposal(self) -> "Proposal | None":
        """A raising lead's proposal still waiting for the raiser's answer."""
        return next((p for p in self.proposals if p.ended_at is None), None)


class Stage(Base):
    """One stage of one difference, with the deadline fixed when it opened."""

    __tablename__ = "stage"
    __table_args__ = (
        sa.UniqueConstraint("difference_id", "level"),
        # The sweep's "what is overdue" query reads only stages still waiting for a response, so
        # its cost follows what is due, not the length of the partnership's history.
        partial_index(
            "ix_stage_awaiting_deadline",
            "deadline",
            where="closed_at IS NULL AND responded_at IS NULL",
        ),
        # And its overdue query only those whose missed deadline it has not yet noticed: a stage
        # left overdue (one that does not escalate by itself) is not read again every minute.
        partial_index(
            "ix_stage_overdue_unnoticed",
            "deadline",
            where="closed_at IS NULL AND responded_at IS NULL AND overdue_noticed_at IS NULL",
        ),
        # The open stages, few: lists of what waits for someone start here, and read what they
        # need of them from the index alone. Only those, so no query planner takes
        # "closed_at IS NULL" for a rare value of a column mostly set.
        partial_index(
            "ix_stage_open",
            "difference_id",
            "level",
            "deadline",
            where="closed_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"))
    level: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(120))
    is_final: Mapped[bool]
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    working_days: Mapped[int]  # 0 on an urgent difference's stage, timed in working hours
    working_hours: Mapped[int | None]  # an urgent difference's stage: its working hours
    extended_days: Mapped[int] = mapped_column(default=0)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the sweep should remind the responder, and (after a response) the raising side.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    raiser_remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # After a response: by when the raising side should accept or escalate (the reply window).
    reply_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the sweep noticed this deadline was missed (cleared when the deadline moves).
    overdue_noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    difference: Mapped[Difference] = relationship(back_populates="stages")
    assignments: Mapped[list["Assignment"]] = relationship(
        back_populates="stage", cascade="all, delete-orphan", order_by="Assignment.id"
    )

    def people(self, side: Side, *, current_only: bool = True) -> list[User]:
        return [
            a.user for a in self.assignments if a.side == side and (a.active or not current_only)
        ]


class ExtensionStatus(enum.StrEnum):
    PENDING = "pending"
    AGREED = "agreed"
    REFUSED = "refused"
    LAPSED = "lapsed"  # the deadline it would have moved came first
    OVERTAKEN = "overtaken"  # a response, an escalation or a close came first


class ExtensionRequest(Base):
    """A responder's request for a later deadline, which moves only when the raising side
    agrees (product.md §4). At most one is pending for a stage at a time."""

    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("stage.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The deadline when it was asked for (the request lapses then) and the one asked for.
    current_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    proposed_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    working_days: Mapped[int]  # how far the proposed deadline is beyond the current one
    rationale: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ExtensionStatus] = mapped_column(
        _enum(ExtensionStatus, "extension_status"), default=ExtensionStatus.PENDING, index=True
    )
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(sa.Text, default="")

    stage: Mapped["Stage"] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])


class Assignment(Base):
    """A person answering (responder) or leading (lead) at a stage. Reassignment ends one."""

    __tablename__ = "assignment"
    __table_args__ = (
        # Who is assigned at a stage, and whether a person is: the lists start from open stages.
        sa.Index("ix_assignment_stage_user", "stage_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("stage.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    side: Mapped[Side] = mapped_column(_enum(Side, "side"))
    active: Mapped[bool] = mapped_column(default=True)

    stage: Mapped[Stage] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship()


class Event(Base):
    """One entry in a difference's history: append-only and sealed (escalate.history).

    ``sequence`` numbers a difference's events 1, 2, 3…; ``position`` numbers every event of the
    partnership's whole record. The seal covers the event, its difference's previous seal
    (``previous_seal``) and the seal of the event at the position before (``preceding_seal``).
    """

    __tablename__ = "event"
    __table_args__ = (sa.UniqueConstraint("difference_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"))
    sequence: Mapped[int]
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    stage_level: Mapped[int]
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict] = mapped_column(sa.JSON)  # what happened, but for the free texts
    # The free texts (history.EVENT_TEXTS): not sealed themselves, so they can be erased; their
    # commitments in ``text_seals`` are.
    texts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    text_seals: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    position: Mapped[int] = mapped_column(unique=True)
    # The difference's row as this event left it (a digest); none on events sealed before 0006
    # except each difference's latest.
    difference_digest: Mapped[str | None] = mapped_column(sa.String(64))
    key_id: Mapped[str] = mapped_column(sa.String(16))
    previous_seal: Mapped[str] = mapped_column(sa.String(64))
    preceding_seal: Mapped[str] = mapped_column(sa.String(64))
    seal: Mapped[str] = mapped_column(sa.String(64))

    difference: Mapped[Difference] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def details(self) -> dict:
        """Everything the event records, its texts (as they now stand) included."""
        return {**(self.data or {}), **(self.texts or {})}


class HistoryHead(Base):
    """How far the partnership's whole record has got: the last event's position and seal. One
    row (id 1), locked by each new event to take the next position."""

    __tablename__ = "history_head"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int]
    seal: Mapped[str] = mapped_column(sa.String(64))


@sa.event.listens_for(Event, "before_update")
@sa.event.listens_for(Event, "before_delete")
def _history_is_append_only(mapper, connection, target) -> None:
    raise ValueError("a difference's history is append-only: events are never changed or removed")
