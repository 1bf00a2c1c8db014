"""The database model of what follows an outcome (issue: follow-through): the entries each agency
writes on the child's own record, the actions agreed in a response, professionals' meetings, and
the report's impact section. Learning notes, which the board acts on, are in
``escalate.model_records``. Part of ``escalate.models``, which re-exports it."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from escalate.models import (  # noqa: F401 (names the annotations below resolve)
    Agency,
    Base,
    Difference,
    Event,
    Stage,
    User,
    UTCDateTime,
    _enum,
    partial_index,
)


class ChronologyEntry(Base):
    """An outcome as one agency should write it on the child's own record (its case file in
    Liquidlogic, Mosaic, EMIS, SystmOne…), and whether that agency has confirmed it did.

    Its words are not stored: they are made from the outcome's event each time they are shown,
    so erasing the event's texts erases them too."""

    __tablename__ = "chronology_entry"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "agency_id"),
        # Waiting for you: a person's entries still to confirm, oldest first, and how many.
        partial_index(
            "ix_chronology_entry_unconfirmed_owner",
            "owner_id",
            "created_at",
            "id",
            where="confirmed_at IS NULL",
        ),
        # The share each agency confirmed, over a period: counted from this index alone.
        sa.Index("ix_chronology_entry_shares", "created_at", "agency_id", "confirmed_at"),
        # The sweep reads only entries still to confirm whose reminder is due.
        partial_index(
            "ix_chronology_entry_remind_at",
            "remind_at",
            where="confirmed_at IS NULL AND reminded_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id"))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    # Who is asked to write it on their agency's record (any party of that agency may confirm).
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_on: Mapped[date | None]  # the day the agency says it wrote it in its own system

    difference: Mapped[Difference] = relationship()
    event: Mapped[Event] = relationship()
    agency: Mapped[Agency] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


class AgreedAction(Base):
    """One action agreed in an "agreed" or "partly agreed" response: what, which agency, by when.
    The sweep asks its owner on the due date whether it is done; one not done by the end of that
    day is overdue (derived from the clock, like a stage's deadline)."""

    __tablename__ = "agreed_action"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "number"),
        # The sweep reads only actions not done whose "done?" question is due.
        partial_index(
            "ix_agreed_action_ask_at",
            "ask_at",
            where="done_at IS NULL AND asked_at IS NULL",
        ),
        # Lists and the dashboard: actions not done, by due date (overdue ones first).
        partial_index(
            "ix_agreed_action_open_due_on",
            "due_on",
            where="done_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("stage.id"))
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id"))  # the response
    number: Mapped[int]  # 1, 2, 3… within the response
    what: Mapped[str] = mapped_column(sa.Text)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    # The person asked "done?": the responder for the receiving agency, the raiser for theirs.
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    due_on: Mapped[date]
    ask_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the due date's start of work
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    done_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # The difference raised because this action was missed.
    follow_up_id: Mapped[int | None] = mapped_column(sa.ForeignKey("difference.id"), index=True)

    difference: Mapped[Difference] = relationship(foreign_keys=[difference_id])
    agency: Mapped[Agency] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    follow_up: Mapped[Difference | None] = relationship(foreign_keys=[follow_up_id])


class MeetingKind(enum.StrEnum):
    PROFESSIONALS_MEETING = "professionals_meeting"
    MEDIATION = "mediation"  # at the final stage, by the partnership's independent chair

    @property
    def label(self) -> str:
        return {
            MeetingKind.PROFESSIONALS_MEETING: "Professionals' meeting",
            MeetingKind.MEDIATION: "Mediation by the independent chair",
        }[self]

    @property
    def in_a_sentence(self) -> str:
        return {
            MeetingKind.PROFESSIONALS_MEETING: "a professionals' meeting",
            MeetingKind.MEDIATION: "mediation by the partnership's independent chair",
        }[self]


class ProfessionalsMeeting(Base):
    """A professionals' meeting (or, at the final stage, mediation) arranged on a difference,
    then its outcome, then the day its minutes were recorded."""

    __tablename__ = "professionals_meeting"
    __table_args__ = (
        # The sweep reads only meetings whose outcome or minutes are still to come.
        partial_index(
            "ix_professionals_meeting_outcome_due",
            "meets_on",
            where="outcome_recorded_at IS NULL AND outcome_reminded_at IS NULL",
        ),
        partial_index(
            "ix_professionals_meeting_minutes_due",
            "minutes_due_on",
            where="minutes_recorded_on IS NULL AND minutes_reminded_at IS NULL",
        ),
        # Waiting for you: a person's arranged meetings still to follow up.
        partial_index(
            "ix_professionals_meeting_follow_up",
            "arranged_by_id",
            where="outcome_recorded_at IS NULL OR minutes_recorded_on IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    stage_level: Mapped[int]
    kind: Mapped[MeetingKind] = mapped_column(_enum(MeetingKind, "meeting_kind"))
    arranged_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    arranged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    meets_on: Mapped[date]
    invited: Mapped[str] = mapped_column(sa.Text)
    chair: Mapped[str] = mapped_column(sa.String(200))
    # Its outcome: who came and what was agreed.
    outcome_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    attendees: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    agreed: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    outcome_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Its minutes: due a policy's number of working days after it meets.
    minutes_due_on: Mapped[date]
    minutes_recorded_on: Mapped[date | None]
    minutes_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    difference: Mapped[Difference] = relationship()
    arranged_by: Mapped[User] = relationship(foreign_keys=[arranged_by_id])
    outcome_by: Mapped[User | None] = relationship(foreign_keys=[outcome_by_id])


class ReportImpact(Base):
    """What the partnership writes, for a reporting period, about the difference its work made."""

    __tablename__ = "report_impact"
    __table_args__ = (sa.UniqueConstraint("period_start", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    text: Mapped[str] = mapped_column(sa.Text)
    written_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())

    written_by: Mapped[User] = relationship()
