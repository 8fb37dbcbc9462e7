"""Start a re-evaluation's read-ahead process, print its id, and wait to be killed.

python read_ahead_orphan.py DATABASE_URL
"""

from __future__ import annotations

import sys
import time

from joinedup.proactive.reevaluation.readahead import ReadAhead


def main() -> None:
    ahead = ReadAhead(sys.argv[1])
    sys.stdout.write(f"{ahead.process_id()}\n")
    sys.stdout.flush()
    time.sleep(600)


if __name__ == "__main__":
    main()
