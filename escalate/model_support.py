"""The database model of support and follow-up around a difference: supporters, the agencies'
designated safeguarding leads, leads' proposals, the weekly digest and the stage alerts. Part of
``escalate.models``, which re-exports it."""

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
    utcnow,
)


class SupportBasis(enum.StrEnum):
    """Why someone supports the raiser of a difference (product.md §4)."""

    LINE_MANAGER = "line_manager"
    SAFEGUARDING_LEAD = "safeguarding_lead"

    @property
    def label(self) -> str:
        return {
            SupportBasis.LINE_MANAGER: "the raiser's line manager",
            SupportBasis.SAFEGUARDING_LEAD: "the agency's designated safeguarding lead",
        }[self]


class AgencySafeguardingLead(Base):
    """An agency's designated safeguarding lead (a practice's named GP for safeguarding, a
    school's DSL): supports its raisers who have no line manager."""

    __tablename__ = "agency_safeguarding_lead"
    __table_args__ = (sa.UniqueConstraint("agency_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)

    user: Mapped[User] = relationship()


class Supporter(Base):
    """Someone who supports a difference's raiser from the first step: told when it is raised,
    sees it, may add advice to its record, takes no action."""

    __tablename__ = "supporter"
    __table_args__ = (sa.UniqueConstraint("difference_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    basis: Mapped[SupportBasis] = mapped_column(_enum(SupportBasis, "support_basis"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ProposalKind(enum.StrEnum):
    ACCEPT = "accept"
    WITHDRAW = "withdraw"


class ProposalEnd(enum.StrEnum):
    """How a lead's proposal ended."""

    CONFIRMED = "confirmed"  # the raiser agreed: it was applied
    OBJECTED = "objected"  # the raiser objected: the difference goes on
    APPLIED = "applied"  # the raiser did not reply in time: it was applied
    OVERTAKEN = "overtaken"  # the difference moved on first (a response, an escalation…)


class Proposal(Base):
    """A raising lead's proposal to accept a response or withdraw the difference. It takes
    effect only when the raiser confirms it, or does not reply within the policy's window."""

    __tablename__ = "proposal"
    __table_args__ = (
        # One open proposal per difference, whoever proposes at once.
        partial_index(
            "ix_proposal_one_open",
            "difference_id",
            unique=True,
            where="ended_at IS NULL",
        ),
        # The sweep reads only open proposals whose window has passed.
        partial_index(
            "ix_proposal_open_reply_by",
            "reply_by",
            where="ended_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    difference_id: Mapped[int] = mapped_column(sa.ForeignKey("difference.id"), index=True)
    stage_level: Mapped[int]
    kind: Mapped[ProposalKind] = mapped_column(_enum(ProposalKind, "proposal_kind"))
    proposer_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    rationale: Mapped[str] = mapped_column(sa.Text)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reply_by: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end: Mapped[ProposalEnd | None] = mapped_column(_enum(ProposalEnd, "proposal_end"))

    proposer: Mapped[User] = relationship()


class PartnershipDigest(Base):
    """The weekly digest of open differences, sent once for each week (the week's Monday)."""

    __tablename__ = "partnership_digest"

    id: Mapped[int] = mapped_column(primary_key=True)
    week_of: Mapped[date] = mapped_column(unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageAlert(Base):
    """Something the sweep did once for a stage (a reminder, an overdue notice, an automatic
    escalation). The unique constraint is what makes the sweep safe to run twice, or on two
    machines at once: the second insert fails and its work is rolled back."""

    __tablename__ = "stage_alert"
    __table_args__ = (sa.UniqueConstraint("stage_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(sa.ForeignKey("stage.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Involvement(Base):
    """A person's part in a difference, for their own lists: they raised it (``raised``), or
    were named, assigned or reassigned to it at any stage. Written by the services when the part
    begins and kept for good; ``is_open`` follows the difference's state. One index then gives
    a person's differences in the order *Your differences* shows them (open first, then most
    recently raised first), and *Waiting for you* starts from their open ones: what either
    reads follows the person's own work, never the partnership's whole record."""

    __tablename__ = "involvement"
    __table_args__ = (
        sa.Index(
            "ix_involvement_lists", "user_id", "raised", "is_open", "raised_at", "difference_id"
        ),
    )

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    difference_id: Mapped[int] = mapped_column(
        sa.ForeignKey("difference.id"), primary_key=True, index=True
    )
    raised: Mapped[bool]
    is_open: Mapped[bool]
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
