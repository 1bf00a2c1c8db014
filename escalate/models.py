"""The database model (SQLAlchemy 2.0). No commits and no Flask here: services own transactions."""

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no time zone, so without this the same row would read back naive there and
    aware on PostgreSQL.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(enum.StrEnum):
    """The roles of product.md §1, from least to most reach."""

    PRACTITIONER = "practitioner"
    MANAGER = "manager"
    SENIOR = "senior"
    PARTNERSHIP = "partnership"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PRACTITIONER: "Practitioner",
    Role.MANAGER: "Manager",
    Role.SENIOR: "Senior manager or designated professional",
    Role.PARTNERSHIP: "Safeguarding partnership",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Administrator",
}

# Roles that act for an agency: they cannot exist without one.
AGENCY_ROLES = frozenset({Role.PRACTITIONER, Role.MANAGER, Role.SENIOR})


class AgencyKind(enum.StrEnum):
    """Kinds of member agency (product.md §8)."""

    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    EARLY_HELP = "early_help"
    PROBATION = "probation"
    HOUSING = "housing"
    VOLUNTARY_SECTOR = "voluntary_sector"
    OTHER = "other"

    @property
    def label(self) -> str:
        return AGENCY_KIND_LABELS[self]


AGENCY_KIND_LABELS = {
    AgencyKind.CHILDRENS_SOCIAL_CARE: "Children's social care",
    AgencyKind.POLICE: "Police",
    AgencyKind.HEALTH: "Health",
    AgencyKind.EDUCATION: "Education",
    AgencyKind.EARLY_HELP: "Early help",
    AgencyKind.PROBATION: "Probation",
    AgencyKind.HOUSING: "Housing",
    AgencyKind.VOLUNTARY_SECTOR: "Voluntary sector",
    AgencyKind.OTHER: "Other",
}


def _enum(enum_class, name: str) -> sa.Enum:
    # Stored as text with a CHECK constraint: portable, and a new value needs only a migration.
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    """An index of only the rows ``where`` holds, the same condition on SQLite and PostgreSQL."""
    condition = sa.text(where)
    return sa.Index(
        name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition
    )


class Agency(Base):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[AgencyKind] = mapped_column(_enum(AgencyKind, "agency_kind"))
    # False: the agency's people sign in only through single sign-on (their organisation's
    # account, with its own multi-factor authentication); a password is refused.
    passwords_allowed: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    users: Mapped[list["User"]] = relationship(back_populates="agency")
    stage_contacts: Mapped[list["AgencyStageContact"]] = relationship(
        back_populates="agency", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Agency {self.id} {self.name!r}>"


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (
        # Email addresses are stored lower-cased so uniqueness ignores case on every database.
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    job_title: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    line_manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # Stored in each session at sign-in; raised by signing out, a new password, deactivation and
    # reactivation, which so end every session begun before.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Two-factor sign-in: the authenticator app's shared secret (base32), set once a code from
    # the app has confirmed it; and the last time step whose code was accepted, so that no code
    # is accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agency: Mapped[Agency | None] = relationship(back_populates="users")
    line_manager: Mapped["User | None"] = relationship(remote_side=[id])

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    # The four members Flask-Login expects, written out so this module needs no Flask.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class AgencyStageContact(Base):
    """A user who receives an agency's differences at a stage level when nobody is named."""

    __tablename__ = "agency_stage_contact"
    __table_args__ = (
        sa.UniqueConstraint("agency_id", "stage_level", "user_id"),
        sa.CheckConstraint("stage_level >= 1", name="stage_level_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"))
    stage_level: Mapped[int]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)

    agency: Mapped[Agency] = relationship(back_populates="stage_contacts")
    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """One of a person's single-use recovery codes for two-factor sign-in (only its hash)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The difference workflow is a module of its own, and the rest build on it: support and
# follow-up, and what is sent, noted and logged.
from escalate.model_workflow import (  # noqa: E402, F401
    Assignment,
    Category,
    Difference,
    Event,
    EventKind,
    ExtensionRequest,
    ExtensionStatus,
    HistoryHead,
    LeadRule,
    Outcome,
    ResponderRule,
    Side,
    Stage,
    State,
)

# isort: split
from escalate.model_followthrough import (  # noqa: E402, F401
    AgreedAction,
    ChronologyEntry,
    MeetingKind,
    ProfessionalsMeeting,
    ReportImpact,
)
from escalate.model_records import (  # noqa: E402, F401
    ACCESS_KIND_LABELS,
    AccessEntry,
    AccessHead,
    AccessKind,
    AdminChange,
    EmailStatus,
    InboxTally,
    Invitation,
    LearningNote,
    LearningStatus,
    Notification,
    RaiseDraft,
)
from escalate.model_setup import (  # noqa: E402, F401
    ClosureDay,
    Nation,
    PartnershipSettings,
    PolicyStage,
)
from escalate.model_support import (  # noqa: E402, F401
    AgencySafeguardingLead,
    Involvement,
    PartnershipDigest,
    Proposal,
    ProposalEnd,
    ProposalKind,
    StageAlert,
    SupportBasis,
    Supporter,
)
