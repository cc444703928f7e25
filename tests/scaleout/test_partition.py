"""Losing the shared storage (docs/SCALE-OUT.md, "Losing the storage"): the
machine that runs a singleton is cut off from the volume and from the
others. Its host must kill the job (--fence-after) before GlusterFS gives
its lock to another machine (network.ping-timeout), so that at no moment
do two machines run it; when the link comes back it rejoins without a
restart. --fence-after is 8 s here to keep the test short (default 20);
the bricks gave a vanished client's locks away after about 42 s whether
the volume's network.ping-timeout was 42 (its default) or 20 (here)."""
import os
import subprocess
import time

import pytest

import rig as R

PING_TIMEOUT, FENCE_AFTER = 20, 8
SHORT = os.environ.get("WEBJOBS_SCALEOUT_SHORT") == "1"

pytestmark = pytest.mark.skipif(SHORT, reason="the long scale-out suite (make scaleout)")


@pytest.fixture
def rig():
    why = R.why_not()
    if why:
        pytest.skip(why)
    r = R.Rig(2, env={"WEBJOBS_RESTART_TIME": "1", "WEBJOBS_FENCE_AFTER": str(FENCE_AFTER)},
              ping_timeout=PING_TIMEOUT).up()
    for m in r.machines:
        m.start()
    yield r
    r.down()


def running_on(m):
    """1 when a process of m's job runs (it runs from m's --temp)."""
    return subprocess.run(["pgrep", "-f", f"{m.temp}/jobs/continuous/only/"],
                          capture_output=True).returncode == 0


def test_a_partitioned_machine_stops_its_singleton_before_another_starts_it(rig):
    a, b = rig.machines
    assert a.deploy("only", "while true; do sleep 0.2; done\n", "continuous")[0] == 200
    assert a.request("PUT", "/api/continuouswebjobs/only/settings",
                     b'{"is_singleton": true}')[0] == 200
    deadline = time.time() + 30
    while not (running_on(a) ^ running_on(b)):
        assert time.time() < deadline, "no machine runs the singleton"
        time.sleep(0.2)
    time.sleep(3)
    owner, other = (a, b) if running_on(a) else (b, a)
    assert running_on(owner) and not running_on(other)
    t0 = time.time()
    owner.link(False)
    stopped = taken = None
    while time.time() - t0 < 120:
        o, t = running_on(owner), running_on(other)
        assert not (o and t), f"both machines run it {time.time() - t0:.1f} s into the partition"
        if not o and stopped is None:
            stopped = time.time() - t0
        if t and taken is None:
            taken = time.time() - t0
            break
        time.sleep(0.1)
    print(f"scaleout: partition: the cut-off machine killed its job after "
          f"{stopped if stopped is None else round(stopped, 1)} s (--fence-after {FENCE_AFTER}); "
          f"the other took it over after {taken if taken is None else round(taken, 1)} s "
          f"(network.ping-timeout {PING_TIMEOUT})")
    if taken is None:
        print((rig.tmp / f"host{other.n}.log").read_text()[-3000:])
        print((rig.tmp / f"host{owner.n}.log").read_text()[-3000:])
    assert stopped is not None and stopped < FENCE_AFTER + 4
    assert taken is not None and taken > stopped
    # The link comes back: the host rejoins by itself and does not run it.
    owner.link(True)
    deadline = time.time() + 60
    while owner.get_json("/api/continuouswebjobs/only")[0] != 200:
        assert time.time() < deadline, "the cut-off machine did not come back"
        time.sleep(0.5)
    for _ in range(50):
        assert not (running_on(owner) and running_on(other))
        time.sleep(0.2)
    assert running_on(other) and not running_on(owner)
    # It starts runs again.
    assert owner.deploy("after", "echo back\n")[0] == 200
    s, _, body = owner.request("POST", "/api/triggeredwebjobs/after/run")
    assert s == 202, body
