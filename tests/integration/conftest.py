"""Black-box test fixtures: a real `webjobs serve` on a temporary home and an
ephemeral port, and helpers to lay out jobs and run records on disk."""
import base64
import fcntl
import http.client
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WEBJOBS_BIN", str(ROOT / "build" / "webjobs"))
USER, PASSWORD = "tester", "s3cret pass:word"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def text(self):
        return self.body.decode()


class Host:
    """One running host process on its own home."""

    def __init__(self, home, extra_args=(), env=None, instance="test-inst"):
        self.home = pathlib.Path(home)
        self.args = [BIN, "serve", "--home", str(self.home), "--listen",
                     "127.0.0.1:0", "--instance-id", instance, *extra_args]
        # Jobs of a root host run as nobody unless asked: the tests ask,
        # since their jobs write into the tests' private folders.
        if os.geteuid() == 0 and "--run-as" not in extra_args:
            self.args += ["--run-as", "root"]
        self.env = dict(os.environ)
        self.env.update({"WEBJOBS_USERNAME": USER, "WEBJOBS_PASSWORD": PASSWORD})
        if env:
            self.env.update(env)
        self.proc = None
        self.port = None
        self.first_lines = []

    def start(self, new_session=False):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env,
                                     text=True, start_new_session=new_session)
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("host exited: " + self.proc.stderr.read())
            self.first_lines.append(line)
            if line.startswith("webjobs: listening on http://"):
                self.port = int(line.strip().rsplit(":", 1)[1])
                return self
        raise RuntimeError("host did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, auth=True,
                user=USER, password=PASSWORD, host_header=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {}
        if auth:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            h["Authorization"] = "Basic " + token
        if headers:
            h.update(headers)
        conn.putrequest(method, path, skip_host=host_header is not None,
                        skip_accept_encoding=True)
        if host_header is not None:
            conn.putheader("Host", host_header)
        for k, v in h.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        conn.close()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    @property
    def prefix(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- the home ----
    def bin_dir(self, kind, name):
        return self.home / "site/wwwroot/App_Data/jobs" / kind / name

    def data_dir(self, kind, name):
        return self.home / "data/jobs" / kind / name

    def add_job(self, kind, name, files=None, settings=None):
        d = self.bin_dir(kind, name)
        d.mkdir(parents=True, exist_ok=True)
        for rel, content in (files or {"run.sh": "echo hi\n"}).items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        if settings is not None:
            (d / "settings.job").write_text(settings)
        return d

    def add_run(self, name, run_id, record, output=False, error=False):
        d = self.data_dir("triggered", name) / run_id
        d.mkdir(parents=True, exist_ok=True)
        (d / "status").write_text(record if isinstance(record, str)
                                  else json.dumps(record))
        if output:
            (d / "output_log.txt").write_text("x\n")
        if error:
            (d / "error_log.txt").write_text("y\n")
        return d


def wait_for(predicate, timeout=3.0, interval=0.02):
    """Polls until predicate() is truthy; returns its last value."""
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class HeldLock:
    """Holds a POSIX byte-range lock on a file, as another process would."""

    def __init__(self, path, shared=False):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "a+")
        fcntl.lockf(self.f, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)

    def release(self):
        fcntl.lockf(self.f, fcntl.LOCK_UN)
        self.f.close()


@pytest.fixture
def home():
    d = tempfile.mkdtemp(prefix="webjobs-test-")
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def host(home):
    """A host started on an empty home; jobs may be added before or after."""
    h = Host(home)
    h.start()
    yield h
    rc = h.stop()
    assert rc == 0, h.proc.stderr.read()


@pytest.fixture
def make_host(home):
    """Builds hosts on the test's home (add jobs first, then start)."""
    hosts = []

    def make(**kw):
        h = Host(home, **kw)
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        if h.proc and h.proc.poll() is None:
            h.stop()
