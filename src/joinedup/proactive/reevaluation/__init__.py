"""Re-evaluation when the law changes: publish a parameter version effective from a date, then
re-evaluate the whole population in columns, store only the changed entitlements, write to
those affected, and resume after a crash where it stopped.

Public names: :func:`publish_law_version`, :func:`ruleset_in_force` (the law in force, which
every evaluation uses), :func:`start_reevaluation`, :func:`run_reevaluation`,
:func:`get_reevaluation`, :class:`ServiceSpec`, :func:`import_entitlements` (bulk seeding).
"""

from joinedup.proactive.reevaluation.chunk import ChunkResult
from joinedup.proactive.reevaluation.events import (
    LawVersionPublished,
    ReevaluationCompleted,
)
from joinedup.proactive.reevaluation.law import (
    LawVersionRecord,
    get_law_version,
    list_law_versions,
    publish_law_version,
    ruleset_in_force,
)
from joinedup.proactive.reevaluation.ledger import ServiceSpec
from joinedup.proactive.reevaluation.service import (
    CHUNK_PERSONS,
    ReevaluationProgress,
    get_reevaluation,
    run_reevaluation,
    start_reevaluation,
)

__all__ = [
    "CHUNK_PERSONS",
    "ChunkResult",
    "LawVersionPublished",
    "LawVersionRecord",
    "ReevaluationCompleted",
    "ReevaluationProgress",
    "ServiceSpec",
    "get_law_version",
    "get_reevaluation",
    "list_law_versions",
    "publish_law_version",
    "ruleset_in_force",
    "run_reevaluation",
    "start_reevaluation",
]
