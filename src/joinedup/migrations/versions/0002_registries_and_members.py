"""base registries, the exchange's member directory, and the demo's seed runs

Revision ID: 0002
Revises: 0001

- registries: region, municipality, address; person with bitemporal person_name, residence
  and relation; business and business_representative; employment and monthly_income;
  payment_account; registry (which member keeps which registry). Partial indexes hold the
  invariants (one open residence and one open payment account per person, one believed
  income per person, employer and month).
- exchange: exchange_member, exchange_subsystem.
- demo: demo_seed_run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demo_seed_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("persons_requested", sa.Integer(), nullable=False),
        sa.Column("persons_loaded", sa.Integer(), nullable=False),
        sa.Column("first_serial_rank", sa.Integer(), nullable=False),
        sa.Column("serial_ranks", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_seed_run")),
    )
    op.create_table(
        "exchange_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_class", sa.String(length=10), nullable=False),
        sa.Column("member_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(length=8), nullable=True),
        sa.Column("municipality_code", sa.String(length=8), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "level IN ('national', 'regional', 'local')", name=op.f("ck_exchange_member_level")
        ),
        sa.CheckConstraint(
            "member_class IN ('GOV', 'COM', 'NGO')", name=op.f("ck_exchange_member_member_class")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["exchange_member.id"],
            name=op.f("fk_exchange_member_parent_id_exchange_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_member")),
        sa.UniqueConstraint(
            "member_class", "member_code", name=op.f("uq_exchange_member_member_class_member_code")
        ),
    )
    with op.batch_alter_table("exchange_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_member_parent_id"), ["parent_id"], unique=False
        )

    op.create_table(
        "person",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("birth_place", sa.String(length=200), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("citizenship", sa.String(length=2), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=True),
        sa.Column("death_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("sex IN ('F', 'M')", name=op.f("ck_person_sex")),
        sa.CheckConstraint(
            "date_of_death IS NULL OR date_of_death >= birth_date", name=op.f("ck_person_death")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("personal_code", name=op.f("uq_person_personal_code")),
    )
    op.create_table(
        "region",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region")),
        sa.UniqueConstraint("code", name=op.f("uq_region_code")),
    )
    op.create_table(
        "registry",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_member_class", sa.String(length=10), nullable=False),
        sa.Column("owner_member_code", sa.String(length=64), nullable=False),
        sa.Column("owner_subsystem_code", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_registry")),
    )
    op.create_table(
        "exchange_subsystem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["exchange_member.id"],
            name=op.f("fk_exchange_subsystem_member_id_exchange_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_subsystem")),
        sa.UniqueConstraint("member_id", "code", name=op.f("uq_exchange_subsystem_member_id_code")),
    )
    op.create_table(
        "municipality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.id"], name=op.f("fk_municipality_region_id_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipality")),
        sa.UniqueConstraint("code", name=op.f("uq_municipality_code")),
    )
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_municipality_region_id"), ["region_id"], unique=False)

    op.create_table(
        "payment_account",
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_payment_account_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_payment_account_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_account")),
    )
    with op.batch_alter_table("payment_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_account_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            "uq_payment_account_open",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
        )

    op.create_table(
        "person_name",
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_person_name_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_name_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_name")),
    )
    with op.batch_alter_table("person_name", schema=None) as batch_op:
        batch_op.create_index("ix_person_name_person", ["person_id", "valid_from"], unique=False)

    op.create_table(
        "relation",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("related_person_id", sa.BigInteger(), nullable=False),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind IN ('parent', 'spouse', 'partner')", name=op.f("ck_relation_kind")
        ),
        sa.CheckConstraint(
            "person_id <> related_person_id", name=op.f("ck_relation_distinct_persons")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_relation_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_relation_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["related_person_id"], ["person.id"], name=op.f("fk_relation_related_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relation")),
    )
    with op.batch_alter_table("relation", schema=None) as batch_op:
        batch_op.create_index("ix_relation_person", ["person_id", "kind"], unique=False)
        batch_op.create_index(
            "ix_relation_related_person", ["related_person_id", "kind"], unique=False
        )

    op.create_table(
        "address",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("house_number", sa.String(length=20), nullable=False),
        sa.Column("apartment", sa.String(length=20), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_address_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address")),
    )
    with op.batch_alter_table("address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_municipality_id"), ["municipality_id"], unique=False
        )

    op.create_table(
        "business",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("registration_code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("legal_form", sa.String(length=30), nullable=False),
        sa.Column("address_id", sa.BigInteger(), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_id"], ["address.id"], name=op.f("fk_business_address_id_address")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business")),
        sa.UniqueConstraint("registration_code", name=op.f("uq_business_registration_code")),
    )
    op.create_table(
        "residence",
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("address_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_residence_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["address_id"], ["address.id"], name=op.f("fk_residence_address_id_address")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_residence_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residence")),
    )
    with op.batch_alter_table("residence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residence_address_id"), ["address_id"], unique=False)
        batch_op.create_index("ix_residence_person", ["person_id", "valid_from"], unique=False)
        batch_op.create_index(
            "uq_residence_open",
            ["person_id"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
        )

    op.create_table(
        "business_representative",
        sa.Column("business_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_business_representative_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_business_representative_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_business_representative_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_representative")),
    )
    with op.batch_alter_table("business_representative", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_business_representative_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_business_representative_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "employment",
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("business_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_employment_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_employment_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_employment_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employment")),
    )
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_employment_business_id"), ["business_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_employment_person_id"), ["person_id"], unique=False)

    op.create_table(
        "monthly_income",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("business_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_monthly_income_amount")),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_monthly_income_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_monthly_income_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_income")),
    )
    with op.batch_alter_table("monthly_income", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monthly_income_superseded",
            ["person_id", "period"],
            unique=False,
            sqlite_where=sa.text("superseded_at IS NOT NULL"),
            postgresql_where=sa.text("superseded_at IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_monthly_income_current",
            ["person_id", "business_id", "period"],
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("monthly_income", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_monthly_income_current",
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_monthly_income_superseded",
            sqlite_where=sa.text("superseded_at IS NOT NULL"),
            postgresql_where=sa.text("superseded_at IS NOT NULL"),
        )

    op.drop_table("monthly_income")
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employment_person_id"))
        batch_op.drop_index(batch_op.f("ix_employment_business_id"))

    op.drop_table("employment")
    with op.batch_alter_table("business_representative", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_business_representative_person_id"))
        batch_op.drop_index(batch_op.f("ix_business_representative_business_id"))

    op.drop_table("business_representative")
    with op.batch_alter_table("residence", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_residence_open",
            sqlite_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
        )
        batch_op.drop_index("ix_residence_person")
        batch_op.drop_index(batch_op.f("ix_residence_address_id"))

    op.drop_table("residence")
    op.drop_table("business")
    with op.batch_alter_table("address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_municipality_id"))

    op.drop_table("address")
    with op.batch_alter_table("relation", schema=None) as batch_op:
        batch_op.drop_index("ix_relation_related_person")
        batch_op.drop_index("ix_relation_person")

    op.drop_table("relation")
    with op.batch_alter_table("person_name", schema=None) as batch_op:
        batch_op.drop_index("ix_person_name_person")

    op.drop_table("person_name")
    with op.batch_alter_table("payment_account", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payment_account_open",
            sqlite_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL AND valid_to IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_payment_account_person_id"))

    op.drop_table("payment_account")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipality_region_id"))

    op.drop_table("municipality")
    op.drop_table("exchange_subsystem")
    op.drop_table("registry")
    op.drop_table("region")
    op.drop_table("person")
    with op.batch_alter_table("exchange_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_member_parent_id"))

    op.drop_table("exchange_member")
    op.drop_table("demo_seed_run")
