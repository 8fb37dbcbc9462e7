"""Run a re-evaluation and SIGKILL this process inside the transaction of chunk ``k`` (its
entitlement changes and letters written, not committed): what a crash or an OOM kill does.

    python reevaluation_kill.py DATABASE_URL RUN_UID K
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from typing import Any

from joinedup.core.db import Database
from joinedup.platform import load_models
from joinedup.proactive.reevaluation import chunk as reevaluation_chunk
from joinedup.proactive.reevaluation import run_reevaluation


def main() -> None:
    url, run_uid, kill_at = sys.argv[1], uuid.UUID(sys.argv[2]), int(sys.argv[3])
    load_models()
    real = reevaluation_chunk.send_decision_letters
    calls = {"n": 0}

    def letters_then_die(*args: Any, **kwargs: Any) -> int:
        sent = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == kill_at + 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return sent

    reevaluation_chunk.send_decision_letters = letters_then_die  # type: ignore[assignment]
    run_reevaluation(Database(url), uid=run_uid)


if __name__ == "__main__":
    main()
