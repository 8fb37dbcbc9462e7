"""The synthetic country's own bookkeeping: which seed runs were made and how far they got."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base


class SeedRun(Base):
    """One ``seed_country`` run. ``completed_at`` is set in the transaction of its last batch,
    so a run without it was interrupted (its finished batches stay: each is complete)."""

    __tablename__ = "demo_seed_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    seed: Mapped[int]
    persons_requested: Mapped[int]
    persons_loaded: Mapped[int]
    #: Personal-code serial ranks this run may use (counted down from serial 999), so a later
    #: run (``joinedup seed --force``) never issues a code an earlier one did.
    first_serial_rank: Mapped[int]
    serial_ranks: Mapped[int]
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    started_by: Mapped[str] = mapped_column(String(100))
