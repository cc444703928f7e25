"""The short version of the crash torture (tests/torture/torture.py; the
full one, 200 kills, is `make torture`)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "torture"))

import torture  # noqa: E402


def test_crash_torture_short():
    failures, state = torture.torture(kills=12, seed=20261128, verbose=False)
    assert failures == []
    assert state["jobs"]
