"""SQL tables of the system of record (SQLAlchemy Core metadata, shared by every backend).

Attempts, attempt outcomes, decisions and events are append-only: the audit trail. Money is
``Numeric`` and reaches Python as ``Decimal``; instants are stored in UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

Money = Numeric(18, 2, asdecimal=True)
UtcDateTime = DateTime(timezone=True)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),  # the external id of the case
    Column("product", String(32), nullable=False),
    Column("principal", Money, nullable=False),
    Column("balance", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", String(32), nullable=False, default="active"),
    Column("holds", JSON, nullable=False, default=list),
    Column("country", String(2)),
    Column("region", String(64)),
    Column("postal_code", String(16)),
    Column("city", String(64)),
    Column("timezone", String(64)),
    Column("risk", String(16)),
    Column("language", String(16)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # planning and hand-offs look for the ids of open accounts by due date (migration 0005;
    # the id makes it a covering index: the rows themselves are not read)
    Index("ix_accounts_status_due_date", "status", "due_date", "id"),
)

parties = Table(
    "parties",
    metadata,
    Column("id", String(128), primary_key=True),  # "<account id>/<party ref>"
    Column("account_id", String(64), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("name", String(128)),
    Column("relationship", String(64)),
    Column("sensitive", Boolean, nullable=False, default=False),
    Column("designated_by_debtor", Boolean, nullable=False, default=False),
    Column("represented_by_attorney", Boolean, nullable=False, default=False),
    Column("language", String(16)),
    Column("opt_outs", JSON, nullable=False, default=list),
    Column("consents", JSON, nullable=False, default=list),
    Index("ix_parties_account_id", "account_id"),
)

contact_points = Table(
    "contact_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("party_id", String(128), ForeignKey("parties.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # phone | email | address
    Column("value", String(320), nullable=False),
    Column("line_type", String(16), nullable=False, default="unknown"),
    Column("timezone", String(64)),
    Column("opt_outs", JSON, nullable=False, default=list),
    Column("provenance", String(32)),
    Column("employer_provided", Boolean, nullable=False, default=False),
    UniqueConstraint("party_id", "kind", "value", name="uq_contact_points_party_kind_value"),
    Index("ix_contact_points_account_id", "account_id"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False, default="active"),  # active | paused
    Column("definition", JSON, nullable=False),
    Column("source_yaml", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

campaign_versions = Table(
    "campaign_versions",
    metadata,
    Column("campaign_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("source_yaml", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
)

intents = Table(
    "intents",
    metadata,
    Column("id", String(64), primary_key=True),  # deterministic, see domain.intent_id
    Column("campaign_id", String(64), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("party_id", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("contact_point", String(320), nullable=False),
    Column("script", String(128), nullable=False),
    Column("language", String(16), nullable=False),
    Column("local_day", Date),
    Column("not_before", UtcDateTime, nullable=False),
    # planned | queued | claimed | sent | deferred | dropped | done | failed
    Column("status", String(16), nullable=False, default="planned"),
    Column("last_rule", String(64)),
    Column("tries", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_intents_status", "status"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("party_id", String(128), nullable=False),
    Column("intent_id", String(64)),
    Column("channel", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("contact_point", String(320), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("denied_by", JSON, nullable=False, default=list),
    Column("next_allowed_at", UtcDateTime),
    Column("policy_versions", JSON, nullable=False, default=dict),
    Column("reservation_id", String(64)),
    Index("ix_decisions_account_at", "account_id", "at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("intent_id", String(64)),
    Column("decision_id", String(64)),
    Column("reservation_id", String(64)),
    Column("account_id", String(64), nullable=False),
    Column("party_id", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("contact_point", String(320), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Index("ix_attempts_account_placed", "account_id", "placed_at"),
)

attempt_outcomes = Table(
    "attempt_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("attempt_id", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("status", String(32), nullable=False),  # provider status: ringing, completed, ...
    Column("outcome", String(32)),  # domain Outcome when final
    Column("provider_ref", String(64)),
    Column("duration_s", Float),
    Column("detail", JSON, nullable=False, default=dict),
    # when the engine learned it (``at`` is the provider's time); what the gate could know
    Column("received_at", UtcDateTime),
    Index("ix_attempt_outcomes_attempt_id", "attempt_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("account_id", String(64)),
    Column("data", JSON, nullable=False, default=dict),
    Index("ix_events_account_at", "account_id", "at"),
    Index("ix_events_kind", "kind"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(64), nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Index("ix_payments_account_id", "account_id"),
)

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("attempt_id", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("provider_ref", String(64)),
    Column("media_url", String(512)),
    Column("path", String(512)),
    Column("sha256", String(64)),
    Column("size_bytes", Integer),
    Column("duration_s", Float),
    Column("channels", Integer),
    # pending | stored | failed (still queued for retry)
    Column("status", String(16), nullable=False),
    Column("tries", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("provider_deleted", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime),
    Index("ix_recordings_attempt_id", "attempt_id"),
    Index("ix_recordings_status", "status"),
)

qa_results = Table(
    "qa_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording_id", String(64), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("lang", String(16), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("findings", JSON, nullable=False, default=list),
    Column("transcript", JSON, nullable=False, default=list),
    Column("created_at", UtcDateTime, nullable=False),
    Column("review_status", String(16)),  # open | confirmed | dismissed
    Column("reviewed_by", String(64)),
    Column("reviewed_at", UtcDateTime),
    Index("ix_qa_results_recording_id", "recording_id"),
)
