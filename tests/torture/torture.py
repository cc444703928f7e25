#!/usr/bin/python3
"""Crash torture (issue [6/7]): drive a random mix of deploys, redeploys,
runs, settings changes, starts/stops and deletes against a host, kill it
with SIGKILL at random moments, restart it on the same home, and check
after every restart:

  - every run record parses, and none is left Initializing/Running;
  - no run that was accepted (202) is lost, unless its job was deleted;
  - every job whose deploy got a 200 is listed with the files of its last
    successful deploy, and no deleted job is listed;
  - no process of a job outlives the host that started it.

Half the kills are of the machine rather than of the host: the host is
frozen, its job processes are killed, and run folders that only the run
journal made durable (its records of the current epochs, docs/DECISIONS.md,
"The run journal") are deleted, as a power loss would lose them before
they reached the disk; the restart must bring every one of them back.

Usage: tests/torture/torture.py [--kills N] [--seed S]   (`make torture`: 200)
"""
import argparse
import base64
import http.client
import io
import json
import os
import pathlib
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WEBJOBS_BIN", str(ROOT / "build" / "webjobs"))
AUTH = "Basic " + base64.b64encode(b"torture:torture-pass").decode()
TRIGGERED = [f"t{i}" for i in range(4)]
CONTINUOUS = [f"c{i}" for i in range(3)]


class Host:
    def __init__(self, home, temp, leaks=False):
        # Killed hosts cannot report leaks; the last one, stopped with
        # SIGTERM, does (LeakSanitizer of the ASan build): any leak that
        # grew with the requests and runs above fails its exit code.
        env = dict(os.environ, WEBJOBS_USERNAME="torture", WEBJOBS_PASSWORD="torture-pass",
                   WEBJOBS_HISTORY_SIZE="100000", WEBJOBS_RESTART_TIME="1",
                   ASAN_OPTIONS="detect_leaks=%d" % leaks)
        # The host's own log (and a sanitizer's report) is kept beside
        # the home: the last one is printed when a check fails.
        self.log = home.parent / "host.log"
        self.p = subprocess.Popen([BIN, "serve", "--home", str(home), "--listen", "127.0.0.1:0",
                                   "--instance-id", "torture", "--temp", str(temp),
                                   "--log-level", "error"],
                                  stdout=subprocess.PIPE, stderr=open(self.log, "w"), env=env,
                                  text=True)
        line = self.p.stdout.readline()
        self.port = int(re.search(r":(\d+)$", line.strip()).group(1))

    def req(self, method, path, body=None, headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Authorization": AUTH}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        out = r.status, dict(r.getheaders()), r.read()
        c.close()
        return out


def script(marker, version, kind):
    if kind == "continuous":
        return f"echo {version}\nexec sleep 3600 # {marker}\n"
    if random.random() < 0.3:
        return f"echo {version}\nsleep {random.choice([0.2, 1, 30])} # {marker}\n"
    return f"echo {version}\n"


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


def one_op(h, state, marker):
    """One random operation; on success the expected state is updated."""
    kind = random.choice(["triggered", "continuous"])
    name = random.choice(TRIGGERED if kind == "triggered" else CONTINUOUS)
    op = random.choices(["deploy", "run", "settings", "startstop", "delete"],
                        [5, 6, 2, 2, 1])[0]
    key = (kind, name)
    if op == "deploy" or key not in state["jobs"]:
        state["version"] += 1
        v = f"v{state['version']}"
        body = script(marker, v, kind)
        if random.random() < 0.5:
            s, _, _ = h.req("PUT", f"/api/{kind}webjobs/{name}", zipped({"run.sh": body}),
                            {"Content-Type": "application/zip",
                             "Content-Disposition": "attachment; filename=j.zip"})
        else:
            s, _, _ = h.req("PUT", f"/api/{kind}webjobs/{name}", body.encode(),
                            {"Content-Disposition": "attachment; filename=run.sh"})
        if s == 200:
            state["jobs"][key] = v
    elif op == "run" and kind == "triggered":
        s, hd, _ = h.req("POST", f"/api/triggeredwebjobs/{name}/run")
        if s == 202:
            state["runs"].setdefault(key, set()).add(hd["Location"].rsplit("/", 1)[1])
    elif op == "settings":
        h.req("PUT", f"/api/{kind}webjobs/{name}/settings",
              json.dumps({"n": random.randint(0, 9)}).encode())
    elif op == "startstop" and kind == "continuous":
        h.req("POST", f"/api/continuouswebjobs/{name}/{random.choice(['start', 'stop'])}")
    elif op == "delete":
        s, _, _ = h.req("DELETE", f"/api/{kind}webjobs/{name}")
        if s == 200:
            state["jobs"].pop(key, None)
            state["runs"].pop(key, None)


def journal_records(home, instance="torture"):
    """(job, run id) of each record of the current epoch of both journal
    files (the format of src/journal.c; the host is frozen: no torn line)."""
    out = []
    for sfx in ("a", "b"):
        try:
            data = (home / "data/webjobs/journal" / f"{instance}.{sfx}").read_bytes()
        except OSError:
            continue
        epoch = data[18:34]
        for line in data[64:].split(b"\n"):
            if len(line) < 35 or line[:16] != epoch:
                break
            job, rid, _ = json.loads(line[34:])
            out.append((job, rid))
    return out


def machine_crash(h, home, marker):
    """What a power loss does that SIGKILL does not: the jobs die with the
    host, and what was written but not synced may be gone."""
    os.kill(h.p.pid, signal.SIGSTOP)
    for pid in marked_pids(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    lost = 0
    for job, rid in journal_records(home):
        d = home / "data/jobs/triggered" / job / rid
        if d.is_dir() and random.random() < 0.7:
            shutil.rmtree(d, ignore_errors=True)
            lost += 1
    return lost


def marked_pids(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return {int(x) for x in out.split()}


def check(h, home, state, old_pids):
    errors = []
    for kind in ("triggered", "continuous"):
        s, _, body = h.req("GET", f"/api/{kind}webjobs")
        listed = {j["name"]: j for j in json.loads(body)}
        for (k, name), v in state["jobs"].items():
            if k != kind:
                continue
            if name not in listed:
                errors.append(f"{kind} {name}: deployed ({v}) but not listed")
                continue
            run = (home / "site/wwwroot/App_Data/jobs" / kind / name / "run.sh")
            if not run.exists() or f"echo {v}\n" not in run.read_text():
                errors.append(f"{kind} {name}: files are not those of its last deploy {v}")
        for name in listed:
            if (kind, name) not in state["jobs"]:
                errors.append(f"{kind} {name}: listed but deleted")
    for (kind, name), ids in state["runs"].items():
        data = home / "data/jobs/triggered" / name
        for rid in ids:
            st = data / rid / "status"
            if not st.exists():
                errors.append(f"run {rid} of {name}: accepted but lost")
                continue
            try:
                rec = json.loads(st.read_text())
            except ValueError:
                errors.append(f"run {rid} of {name}: status does not parse")
                continue
            if rec.get("Status") in ("Initializing", "Running"):
                _, _, b = h.req("GET", f"/api/triggeredwebjobs/{name}/history/{rid}")
                if json.loads(b).get("status") in ("Initializing", "Running"):
                    continue  # a run of this host that is really running
                if json.loads(st.read_text()).get("Status") not in ("Initializing", "Running"):
                    continue  # it ended between the two reads
                errors.append(f"run {rid} of {name}: still {rec['Status']} after a restart")
    time.sleep(0.5)
    left = old_pids & marked_pids(h.marker)
    if left:
        errors.append(f"processes of the killed host still alive: {sorted(left)}")
    return errors


def torture(kills, seed, verbose=True):
    random.seed(seed)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="webjobs-torture-"))
    os.chmod(tmp, 0o755)  # a root host's jobs (nobody) run from tmp/temp
    home, temp = tmp / "home", tmp / "temp"
    marker = f"torture-{os.getpid()}-{seed}"
    state = {"jobs": {}, "runs": {}, "version": 0}
    failures = []
    h = None
    try:
        for k in range(kills):
            h = Host(home, temp)
            h.marker = marker
            if k:
                errs = check(h, home, state, old_pids)
                if errs:
                    failures.extend(f"after kill {k}: {e}" for e in errs)
                    break
            deadline = time.time() + random.uniform(0.05, 0.6)
            while time.time() < deadline:
                try:
                    one_op(h, state, marker)
                except (OSError, http.client.HTTPException):
                    break
            if random.random() < 0.5:
                state["lost"] = state.get("lost", 0) + machine_crash(h, home, marker)
            old_pids = marked_pids(marker)
            h.p.send_signal(signal.SIGKILL)
            h.p.wait()
            if verbose and k % 20 == 0:
                print(f"kill {k}: {len(state['jobs'])} jobs, "
                      f"{sum(len(v) for v in state['runs'].values())} runs accepted, "
                      f"{state.get('lost', 0)} run folders lost and written again", flush=True)
        if not failures:
            h = Host(home, temp, leaks=True)
            h.marker = marker
            for _ in range(50):
                try:
                    one_op(h, state, marker)
                except (OSError, http.client.HTTPException):
                    break
            failures.extend(f"final: {e}" for e in check(h, home, state, old_pids))
            h.p.send_signal(signal.SIGTERM)
            if h.p.wait(60) != 0:
                failures.append("final: the host did not exit 0 on SIGTERM (a leak report?)")
            time.sleep(0.3)
            if marked_pids(marker):
                failures.append("final: job processes outlived a graceful shutdown")
    except (OSError, http.client.HTTPException) as e:
        failures.append(f"the host stopped answering: {e!r}")
    finally:
        if failures and h and h.log.exists():
            failures.append("the host's log ends with:\n" + h.log.read_text()[-4000:])
        if h and h.p.poll() is None:
            h.p.kill()
        for pid in marked_pids(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    return failures, state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    print(f"torture: {a.kills} kills, seed {a.seed}")
    failures, state = torture(a.kills, a.seed)
    runs = sum(len(v) for v in state["runs"].values())
    if failures:
        print("\n".join(failures))
        print(f"torture: FAILED (seed {a.seed})")
        sys.exit(1)
    print(f"torture: {a.kills} kills, {len(state['jobs'])} jobs at the end, {runs} runs accepted "
          f"and found ({state.get('lost', 0)} run folders deleted as a power loss would, and "
          f"written again from the journal): 1 passed, 0 failed")


if __name__ == "__main__":
    main()
