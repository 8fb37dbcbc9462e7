"""What the benchmarks' tests share."""

from __future__ import annotations

import pytest

#: The benchmarks' tests start platforms and load them for seconds at a time: they run one
#: after another on one test worker (pytest ``--dist loadgroup``), not two at once on the 2
#: cores, where a timed row could end before a starved server answered anything.
ONE_AT_A_TIME = pytest.mark.xdist_group("benchmarks")
