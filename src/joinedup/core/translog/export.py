"""Export the transparency log as JSON Lines (``joinedup log export``), streamed."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from joinedup.core.db import make_engine
from joinedup.core.translog.models import LogEntry, TreeHead
from joinedup.core.translog.schemas import TreeHeadOut
from joinedup.core.translog.treehead import SignedTreeHead

CHUNK = 20_000


@dataclass(frozen=True)
class ExportCount:
    entries: int
    tree_heads: int


def write_export(database_url: str, out: Path) -> ExportCount:
    """Write every entry, then every signed tree head, one JSON object per line."""
    engine = make_engine(database_url, readonly=True, pool_size=1)
    entries = heads = 0
    try:
        with engine.connect() as conn, conn.begin(), out.open("w", encoding="utf-8") as file:
            rows = conn.execution_options(yield_per=CHUNK).execute(
                select(LogEntry.index, LogEntry.kind, LogEntry.leaf_input).order_by(LogEntry.index)
            )
            for index, kind, leaf_input in rows:
                line = {"index": index, "kind": kind, "leaf_input": base64.b64encode(leaf_input)}
                file.write(json.dumps({"entry": line}, default=bytes.decode) + "\n")
                entries += 1
            head_rows = conn.execution_options(yield_per=CHUNK).execute(
                select(
                    TreeHead.tree_size,
                    TreeHead.timestamp_ms,
                    TreeHead.root_hash,
                    TreeHead.previous_tree_size,
                    TreeHead.key_id,
                    TreeHead.signature,
                ).order_by(TreeHead.tree_size)
            )
            for row in head_rows:
                head = TreeHeadOut.of(SignedTreeHead(*row)).model_dump()
                file.write(json.dumps({"tree_head": head}) + "\n")
                heads += 1
    finally:
        engine.dispose()
    return ExportCount(entries=entries, tree_heads=heads)
