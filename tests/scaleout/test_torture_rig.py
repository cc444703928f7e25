"""The kill -9 torture with instances on two machines (SPEC "Several
instances", issue [5/6]): random deploys, runs, settings, starts/stops and
deletes through either machine, while machine 1's host is killed with
SIGKILL at random moments and started again on its mount; after each
restart, through both machines:

  - every job whose deploy got a 200 is listed by both with the files of
    its last deploy, and no deleted job is listed;
  - no accepted run is lost, and none is left Initializing/Running unless
    a machine really runs it;
  - no process that machine 1's killed host started outlives its restart.

The operations are tests/torture/torture.py's."""
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

import rig as R

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "torture"))
import torture as T  # noqa: E402

SHORT = os.environ.get("WEBJOBS_SCALEOUT_SHORT") == "1"
KILLS = int(os.environ.get("WEBJOBS_SCALEOUT_KILLS", "12"))

pytestmark = pytest.mark.skipif(SHORT, reason="the long scale-out suite (make scaleout)")


class Via:
    """torture.py's host interface over a rig machine."""

    trace = []  # (time, machine, method, path, status, Location): kept on a failure

    def __init__(self, m):
        self.m = m

    def req(self, method, path, body=None, headers=None, timeout=10):
        out = self.m.request(method, path, body, headers, timeout=timeout)
        Via.trace.append((round(time.time(), 3), self.m.n, method, path, out[0],
                          out[1].get("Location", "")))
        return out


def pids_of(m):
    out = subprocess.run(["pgrep", "-f", f"{m.temp}/"], capture_output=True, text=True).stdout
    return {int(x) for x in out.split()}


def describe_leftovers(m, pids):
    """What a leftover is, for the failure's message: its /proc stat
    (state, parent, group, session, start time), its command line, and
    every pid file under the machine's --temp, with the one naming it."""
    out = []
    for pid in sorted(pids):
        try:
            stat = open(f"/proc/{pid}/stat").read()
            f = stat.rsplit(")", 1)[1].split()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
            out.append(f"{pid}: state {f[0]} ppid {f[1]} pgrp {f[2]} sid {f[3]} "
                       f"start {f[19]} cmd {cmd!r}")
        except OSError as e:
            out.append(f"{pid}: gone ({e.strerror})")
    for p in sorted(m.temp.rglob("pid*")):
        try:
            text = p.read_text().strip()
        except OSError:
            continue
        named = text.split(" ", 1)[0] if text else ""
        mark = " <- a leftover" if named.isdigit() and int(named) in pids else ""
        out.append(f"{p.relative_to(m.temp)}: {text!r}{mark}")
    return "\n".join(out)


def keep_evidence(rig, seed, home):
    """On a failure: the hosts' and FUSE clients' logs, the requests made
    (which machine, what answer), and the run journals, copied where the
    rig's removal does not reach; the folder's path."""
    keep = pathlib.Path(f"/tmp/webjobs-rig-failure-{seed}-{os.getpid()}")
    keep.mkdir(exist_ok=True)
    for p in rig.tmp.glob("*.log"):
        shutil.copy(p, keep / p.name)
    (keep / "requests.txt").write_text("".join(f"{t}\n" for t in Via.trace))
    journal = home / "data/webjobs/journal"
    if journal.is_dir():
        shutil.copytree(journal, keep / "journal", dirs_exist_ok=True)
    return keep


def wait_for(fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if not v:
            return v
        time.sleep(0.2)
    return fn()


def problems(machines, home, state):
    errors = []
    for m in machines:
        for kind in ("triggered", "continuous"):
            s, _, body = m.request("GET", f"/api/{kind}webjobs")
            listed = {j["name"] for j in json.loads(body)}
            for (k, name), v in state["jobs"].items():
                if k == kind and name not in listed:
                    errors.append(f"machine {m.n}: {kind} {name} deployed ({v}) but not listed")
                elif k == kind:
                    run = home / "site/wwwroot/App_Data/jobs" / kind / name / "run.sh"
                    try:
                        text = run.read_text()
                    except OSError as e:
                        # ESTALE: the FUSE client of this mount read a
                        # folder another machine's deploy had just swapped
                        # (seen once); not settled yet, asked again.
                        text = f"({e.strerror})"
                    if f"echo {v}\n" not in text:
                        errors.append(f"{kind} {name}: not the files of its last deploy {v}: {text!r}")
            for name in listed:
                if (kind, name) not in state["jobs"]:
                    errors.append(f"machine {m.n}: {kind} {name} listed but deleted")
    for (kind, name), ids in state["runs"].items():
        for rid in ids:
            st = home / "data/jobs/triggered" / name / rid / "status"
            if not st.exists():
                errors.append(f"run {rid} of {name}: accepted but lost")
                continue
            try:
                status = json.loads(st.read_text()).get("Status")
            except OSError as e:  # ESTALE as above: asked again
                errors.append(f"run {rid} of {name}: status unreadable ({e.strerror})")
                continue
            if status in ("Initializing", "Running"):
                views = [json.loads(m.request("GET", f"/api/triggeredwebjobs/{name}/history/{rid}")
                                    [2]).get("status") for m in machines]
                if not any(v in ("Initializing", "Running") for v in views):
                    errors.append(f"run {rid} of {name}: {status} on disk, ended for every machine")
    return errors


def test_kill_9_torture_on_two_machines():
    why = R.why_not()
    if why:
        pytest.skip(why)
    seed = int(os.environ.get("WEBJOBS_SCALEOUT_SEED", time.time()))
    random.seed(seed)
    # Debug logs (each change read from the other machine, each reading of
    # a job, with the time): kept with the evidence of a failure.
    r = R.Rig(2, env={"WEBJOBS_RESTART_TIME": "1", "WEBJOBS_HISTORY_SIZE": "100000",
                      "WEBJOBS_LOG_LEVEL": os.environ.get("WEBJOBS_LOG_LEVEL", "debug")}).up()
    marker = f"rigtorture-{os.getpid()}"
    state = {"jobs": {}, "runs": {}, "version": 0}
    try:
        for m in r.machines:
            m.start()
        one, two = r.machines
        home = two.mount
        for k in range(KILLS):
            deadline = time.time() + random.uniform(0.2, 1.5)
            while time.time() < deadline:
                T.one_op(Via(random.choice(r.machines)), state, marker)
            before = pids_of(one)
            one.stop(signal.SIGKILL)
            one.start()
            # What both say settles within the propagation bound.
            errs = wait_for(lambda: problems(r.machines, home, state), timeout=8)
            assert not errs, (f"seed {seed}, after kill {k + 1}: {errs}; evidence in "
                              f"{keep_evidence(r, seed, home)}")
            left = wait_for(lambda: before & pids_of(one) - set(), timeout=5)
            assert not left, (f"seed {seed}, after kill {k + 1}: leftovers {sorted(left)}\n"
                              + describe_leftovers(one, left) + "\nevidence in "
                              + str(keep_evidence(r, seed, home)))
        runs = sum(len(v) for v in state["runs"].values())
        print(f"scaleout: kill -9 torture on two machines: {KILLS} kills, "
              f"{len(state['jobs'])} jobs, {runs} runs accepted, nothing lost (seed {seed})")
    finally:
        r.down()
