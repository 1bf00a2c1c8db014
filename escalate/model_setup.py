"""The database model of how the partnership is set up: its settings (calendar, urgent rules,
contact numbers), local closure days and its stage policy. Part of ``escalate.models``, which
re-exports it."""

import enum
from datetime import date, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from escalate.models import Base, LeadRule, ResponderRule, _enum


class Nation(enum.StrEnum):
    ENGLAND_AND_WALES = "england-and-wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern-ireland"


class PartnershipSettings(Base):
    """The partnership's calendar, urgent rules and contact text: one row (id 1)."""

    __tablename__ = "partnership_settings"
    __table_args__ = (
        sa.CheckConstraint("id = 1", name="single_row"),
        sa.CheckConstraint("highest_urgent_start >= 1", name="highest_urgent_start_positive"),
        sa.CheckConstraint("minutes_working_days >= 1", name="minutes_working_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nation: Mapped[Nation] = mapped_column(_enum(Nation, "nation"))
    start_of_working_day: Mapped[time] = mapped_column(
        default=time(9, 0), server_default="09:00:00"
    )
    end_of_working_day: Mapped[time]
    # The highest stage at which the raiser of an urgent difference may start it.
    highest_urgent_start: Mapped[int] = mapped_column(default=3, server_default="3")
    act_now_text: Mapped[str] = mapped_column(sa.Text)
    # Two-factor sign-in for every password account, not only administrators, partnership
    # members and auditors (who always need it).
    two_factor_for_everyone: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The partnership's numbers, shown on the act-now page and in every page's footer.
    mash_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    out_of_hours_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    police_phone: Mapped[str] = mapped_column(sa.String(40), default="101", server_default="101")
    # A professionals' meeting's minutes are due this many working days after it meets.
    minutes_working_days: Mapped[int] = mapped_column(default=15, server_default="15")


class ClosureDay(Base):
    """A local closure day: not a working day, on top of weekends and bank holidays."""

    __tablename__ = "closure_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    description: Mapped[str] = mapped_column(sa.String(200))


class PolicyStage(Base):
    """One stage of the partnership's escalation policy. The highest level is the final stage."""

    __tablename__ = "policy_stage"
    __table_args__ = (
        sa.CheckConstraint("level >= 1", name="level_positive"),
        sa.CheckConstraint("working_days >= 1", name="working_days_positive"),
        sa.CheckConstraint("urgent_working_hours >= 1", name="urgent_working_hours_positive"),
        sa.CheckConstraint("reminder_days_before >= 0", name="reminder_not_negative"),
        sa.CheckConstraint("raiser_reply_days >= 1", name="raiser_reply_days_positive"),
        sa.CheckConstraint("max_extension_days >= 0", name="max_extension_not_negative"),
        sa.CheckConstraint("proposal_reply_days >= 1", name="proposal_reply_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    responder_rule: Mapped[ResponderRule] = mapped_column(_enum(ResponderRule, "responder_rule"))
    lead_rule: Mapped[LeadRule] = mapped_column(_enum(LeadRule, "lead_rule"))
    working_days: Mapped[int]
    urgent_working_hours: Mapped[int]
    reminder_days_before: Mapped[int] = mapped_column(default=1)
    auto_escalate: Mapped[bool] = mapped_column(default=True)
    raiser_reply_days: Mapped[int] = mapped_column(default=5)
    max_extension_days: Mapped[int] = mapped_column(default=5)
    # How long the raiser has to answer a lead's proposal to accept or withdraw for them.
    proposal_reply_days: Mapped[int] = mapped_column(default=2, server_default="2")
