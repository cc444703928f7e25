"""The short, seeded version of the order-of-events torture
(tests/torture/chaos.py; the long one is `make chaos`)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torture"))

import chaos  # noqa: E402


def test_chaos_short():
    findings, ops, statuses = chaos.chaos(seconds=20, seed=20261201, verbose=False)
    assert findings == [], findings
    assert sum(ops.values()) > 100, ops
    assert statuses[202] > 0 and statuses[200] > 0, statuses
