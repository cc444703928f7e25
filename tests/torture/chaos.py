#!/usr/bin/python3
"""Randomized order-of-events torture (issue 11): for a number of seconds,
as fast as one client can send them, random deploys (file and zip),
deletes, runs, aborts (of a job, of one run), start/stop, settings
(schedules, retries, timeouts, concurrency policies, webhooks to a
receiver that answers 200, 500 or hangs, or to a port nobody listens on),
and hand edits, renames
and removals on disk of a handful of jobs — some continuous ones exiting at
once with WEBJOBS_RESTART_TIME=0, some leaving escapees behind (setsid) —
against one host (the ASan build in `make check`). Then SIGTERM must end
the host with exit 0 (so: no sanitizer report, no leak) within the grace
time, and leave no process of any job behind.

Found along the way: the host dying, a sanitizer report, any 5xx answer.

Usage: tests/torture/chaos.py [--seconds N] [--seed S]
       (`make chaos`: 1800 s; `make check`: a short seeded run)
"""
import argparse
import base64
import collections
import http.client
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
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from torture import zipped

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WEBJOBS_BIN", str(ROOT / "build" / "webjobs"))
AUTH = "Basic " + base64.b64encode(b"chaos:chaos-pass").decode()
NAMES = {"triggered": ["t0", "t1", "t2", "t3"], "continuous": ["c0", "c1", "c2", "c3"]}
SCRIPTS = {
    "quick": "echo quick\n",
    "fail": "echo failing >&2\nexit 1\n",
    "short": "sleep 0.2\necho done\n",
    "loop": "while true; do echo tick; sleep 0.1; done\n",
    "escape": "setsid sleep 60 > /dev/null 2>&1 &\nsleep 0.3\n",
    "stubborn": "trap '' TERM\nwhile true; do sleep 0.1; done\n",
}


class Receiver(ThreadingHTTPServer):
    """A webhook receiver that answers 200, 500, or late."""
    daemon_threads = True

    def __init__(self, seed):
        rng = random.Random(seed)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                how = rng.choice(["ok", "ok", "500", "slow"])
                if how == "slow":
                    time.sleep(0.5)
                self.send_response(500 if how == "500" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Host:
    def __init__(self, home, temp, hook):
        env = dict(os.environ, WEBJOBS_USERNAME="chaos", WEBJOBS_PASSWORD="chaos-pass",
                   WEBJOBS_RESTART_TIME="0", WEBJOBS_HISTORY_SIZE="20",
                   WEBJOBS_WEBHOOK_URL=hook, WEBJOBS_WEBHOOK_SECRET="chaos",
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        args = [BIN, "serve", "--home", str(home), "--listen", "127.0.0.1:0",
                "--instance-id", "chaos", "--temp", str(temp), "--log-level", "error"]
        if os.geteuid() == 0:
            args += ["--run-as", "root"]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  text=True)
        line = self.p.stdout.readline()
        m = re.search(r":(\d+)$", line.strip())
        if not m:
            raise RuntimeError("host did not start: " + self.p.stderr.read())
        self.port = int(m.group(1))

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Authorization": AUTH}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        self.last_body = r.read()
        c.close()
        return r.status


HOOKS = []  # filled by chaos(): the receiver, and a port nobody listens on


def one_op(h, home, rng):
    """One random operation; returns (its name, the HTTP status or None)."""
    kind = rng.choice(["triggered", "continuous"])
    name = rng.choice(NAMES[kind])
    folder = home / "site/wwwroot/App_Data/jobs" / kind / name
    op = rng.choices(["deploy", "zip", "delete", "run", "startstop", "settings", "edit",
                      "settings_file", "rename", "remove", "get", "abort"],
                     [6, 3, 2, 6, 4, 3, 5, 2, 1, 1, 4, 2])[0]
    if op in ("deploy", "zip"):
        body = SCRIPTS[rng.choice(list(SCRIPTS))]
        if op == "zip":
            return op, h.req("PUT", f"/api/{kind}webjobs/{name}", zipped({"run.sh": body}),
                             {"Content-Type": "application/zip",
                              "Content-Disposition": "attachment; filename=j.zip"})
        return op, h.req("PUT", f"/api/{kind}webjobs/{name}", body.encode(),
                         {"Content-Disposition": "attachment; filename=run.sh"})
    if op == "delete":
        return op, h.req("DELETE", f"/api/{kind}webjobs/{name}")
    if op == "run":
        return op, h.req("POST", f"/api/triggeredwebjobs/{NAMES['triggered'][rng.randrange(4)]}"
                                 f"/run?arguments=a%20b")
    if op == "startstop":
        return op, h.req("POST", f"/api/continuouswebjobs/{NAMES['continuous'][rng.randrange(4)]}"
                                 f"/{rng.choice(['start', 'stop'])}")
    if op == "abort":
        t = NAMES["triggered"][rng.randrange(4)]
        if rng.random() < 0.5 and h.req("GET", f"/api/triggeredwebjobs/{t}/history") == 200:
            runs = json.loads(h.last_body)["runs"]
            if runs:
                rid = rng.choice(runs)["id"]
                return op, h.req("POST", f"/api/triggeredwebjobs/{t}/history/{rid}/abort")
        return op, h.req("POST", f"/api/triggeredwebjobs/{t}/abort")
    if op == "settings":
        s = {"stopping_wait_time": rng.randint(0, 2), "is_singleton": rng.random() < 0.3}
        if kind == "triggered" and rng.random() < 0.4:
            s["schedule"] = rng.choice(["* * * * * *", "*/2 * * * * *", "bad cron"])
        if kind == "triggered" and rng.random() < 0.5:
            s.update(retries=rng.randint(0, 3), retry_delay=rng.randint(0, 1),
                     timeout=rng.choice([0, 1, 2]),
                     concurrency=rng.choice(["forbid", "queue", "replace", "allow"]),
                     queue_max=rng.randint(1, 3), max_concurrent=rng.randint(1, 3))
        if rng.random() < 0.3:
            s["webhook"] = rng.choice(HOOKS + [""])
            s["webhook_on"] = rng.sample(["start", "success", "failure", "retry", "exit"],
                                         rng.randint(0, 5))
        return op, h.req("PUT", f"/api/{kind}webjobs/{name}/settings", json.dumps(s).encode())
    if op == "get":
        return op, h.req("GET", rng.choice([f"/api/{kind}webjobs", f"/api/{kind}webjobs/{name}",
                                            "/api/triggeredwebjobs/t0/history", "/metrics"]))
    try:
        if op == "edit" and folder.exists():
            with open(folder / "run.sh", "a") as f:
                f.write(f"# edit {rng.random()}\n")
        elif op == "settings_file" and folder.exists():
            (folder / "settings.job").write_text(json.dumps(
                {"stopping_wait_time": rng.randint(0, 2)}))
        elif op == "rename" and folder.exists():
            other = folder.parent / rng.choice(NAMES[kind])
            if not other.exists():
                folder.rename(other)
        elif op == "remove" and folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        pass  # raced with the host's own deploy or delete: fine
    return op, None


def free_port():
    import socket
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def job_processes(home):
    """Processes whose environment names this home (every job process has
    WEBJOBS_DATA_PATH beneath it)."""
    found = []
    needle = str(home).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state != "Z" and b"WEBJOBS_NAME=" in env:
            found.append(int(d))
    return found


def chaos(seconds, seed, verbose=True):
    rng = random.Random(seed)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="webjobs-chaos-"))
    os.chmod(tmp, 0o755)
    home, temp = tmp / "home", tmp / "temp"
    findings, ops, statuses = [], collections.Counter(), collections.Counter()
    receiver = Receiver(seed)
    HOOKS[:] = [f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                f"http://127.0.0.1:{free_port()}/nobody"]
    h = Host(home, temp, HOOKS[0])
    try:
        end = time.time() + seconds
        last = time.time()
        while time.time() < end:
            try:
                op, status = one_op(h, home, rng)
            except (OSError, http.client.HTTPException) as e:
                findings.append(f"request failed: {e!r}")
                break
            ops[op] += 1
            if status is not None:
                statuses[status] += 1
                if status >= 500:
                    findings.append(f"{op}: {status} {h.last_body[:200]!r}")
            if h.p.poll() is not None:
                findings.append(f"the host died (exit {h.p.returncode})")
                break
            if verbose and time.time() - last > 60:
                last = time.time()
                print(f"chaos: {sum(ops.values())} operations so far", flush=True)
        if h.p.poll() is None:
            t0 = time.time()
            h.p.send_signal(signal.SIGTERM)
            try:
                rc = h.p.wait(45)
                if rc != 0:
                    findings.append(f"SIGTERM: exit {rc}")
                if time.time() - t0 > 40:
                    findings.append(f"SIGTERM: took {time.time() - t0:.1f} s")
            except subprocess.TimeoutExpired:
                findings.append("SIGTERM: the host did not exit within 45 s")
                h.p.kill()
                h.p.wait()
        err = h.p.stderr.read()
        if "ERROR: AddressSanitizer" in err or "runtime error:" in err or \
                "LeakSanitizer" in err:
            findings.append("sanitizer report:\n" + err[-4000:])
        time.sleep(0.5)
        left = job_processes(home)
        if left:
            findings.append(f"job processes left after the host: {left}")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
    finally:
        if h.p.poll() is None:
            h.p.kill()
        receiver.shutdown()
        receiver.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    return findings, ops, statuses


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    print(f"chaos: {a.seconds:.0f} s, seed {a.seed}, {BIN}", flush=True)
    findings, ops, statuses = chaos(a.seconds, a.seed)
    print(f"chaos: {sum(ops.values())} operations: " +
          ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    print("chaos: answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    if findings:
        print("\n".join(findings))
        print(f"chaos: FAILED (seed {a.seed})\n0 passed, 1 failed")
        sys.exit(1)
    print("chaos: nothing found\n1 passed, 0 failed")


if __name__ == "__main__":
    main()
