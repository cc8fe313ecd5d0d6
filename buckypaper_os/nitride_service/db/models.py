"""SQLAlchemy models of Nitride's tables.

Times are naive UTC ``DateTime`` values, set by the workers, so that the
same comparisons run on SQLite, MySQL and PostgreSQL.
"""

import datetime
import typing

import sqlalchemy as sa
from sqlalchemy import orm

UUID_LENGTH = 36
ID_LENGTH = 255


class Base(orm.DeclarativeBase):
    """Declarative base of every Nitride table."""

    metadata = sa.MetaData(naming_convention={
        'ix': 'ix_%(column_0_label)s',
        'uq': 'uq_%(table_name)s_%(column_0_name)s'})


class ReferenceValue(Base):
    """What an instance's evidence must show: measurements and policy."""

    __tablename__ = 'reference_values'

    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(UUID_LENGTH), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(ID_LENGTH),
                                                    index=True)
    tee: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    flavor_id: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(ID_LENGTH))
    measurements: orm.Mapped[list] = orm.mapped_column(sa.JSON)
    policy: orm.Mapped[dict] = orm.mapped_column(sa.JSON)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)
    updated_at: orm.Mapped[typing.Optional[datetime.datetime]] = (
        orm.mapped_column(sa.DateTime))


class InstanceBinding(Base):
    """The SNP host_data / TDX mr_config_id Nova gave an instance (hex)."""

    __tablename__ = 'instance_bindings'

    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(UUID_LENGTH), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(ID_LENGTH),
                                                    index=True)
    tee: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    binding: orm.Mapped[str] = orm.mapped_column(sa.String(96))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)


class Nonce(Base):
    """A challenge nonce, stored as the SHA-256 of its value."""

    __tablename__ = 'nonces'

    value_hash: orm.Mapped[str] = orm.mapped_column(sa.String(64),
                                                    primary_key=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(UUID_LENGTH), index=True)
    issued_at: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime)
    expires_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, index=True)
    used: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, server_default=sa.false())
    used_at: orm.Mapped[typing.Optional[datetime.datetime]] = (
        orm.mapped_column(sa.DateTime))


class Attestation(Base):
    """One verified piece of evidence and the token issued for it."""

    __tablename__ = 'attestations'

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(UUID_LENGTH), index=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(ID_LENGTH),
                                                    index=True)
    tee: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    simulated: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, default=False, server_default=sa.false())
    claims: orm.Mapped[dict] = orm.mapped_column(sa.JSON)
    reasons: orm.Mapped[list] = orm.mapped_column(sa.JSON)
    #: The evidence as received (base64), so auditors can re-verify it.
    evidence: orm.Mapped[typing.Optional[dict]] = orm.mapped_column(sa.JSON)
    token_jti: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(64), unique=True)
    token: orm.Mapped[typing.Optional[str]] = orm.mapped_column(sa.Text)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)
    expires_at: orm.Mapped[typing.Optional[datetime.datetime]] = (
        orm.mapped_column(sa.DateTime))


class AppraisalPolicy(Base):
    """An appraisal policy document for a project or a flavor."""

    __tablename__ = 'appraisal_policies'

    scope: orm.Mapped[str] = orm.mapped_column(sa.String(16),
                                               primary_key=True)
    scope_id: orm.Mapped[str] = orm.mapped_column(sa.String(ID_LENGTH),
                                                  primary_key=True)
    document: orm.Mapped[dict] = orm.mapped_column(sa.JSON)
    updated_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime)
    updated_by: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(ID_LENGTH))


class AuditEvent(Base):
    """An append-only record of a decision and its reasons."""

    __tablename__ = 'audit_log'

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    event: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    instance_uuid: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(UUID_LENGTH), index=True)
    project_id: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(ID_LENGTH), index=True)
    decision: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    reasons: orm.Mapped[list] = orm.mapped_column(sa.JSON)
    #: The secret of a release decision (migration 0003).
    secret_ref: orm.Mapped[typing.Optional[str]] = orm.mapped_column(
        sa.String(UUID_LENGTH), nullable=True)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        sa.DateTime, index=True)


class RateMixin:
    """A per-instance rate limit (GCRA).

    ``tat`` is the theoretical arrival time of the next request, in
    microseconds since the epoch: integers compare exactly on every
    database, unlike fractional DateTime values.
    """

    instance_uuid: orm.Mapped[str] = orm.mapped_column(
        sa.String(UUID_LENGTH), primary_key=True)
    tat: orm.Mapped[int] = orm.mapped_column(sa.BigInteger)


class ChallengeRate(RateMixin, Base):
    """The challenge rate limit of an instance."""

    __tablename__ = 'challenge_rates'


class ReleaseRate(RateMixin, Base):
    """The release rate limit of an instance (migration 0004)."""

    __tablename__ = 'release_rates'
