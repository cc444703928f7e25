"""The README's first run, as written: `make run`'s script on a new home
(the example jobs put in), then the client and curl blocks of "A first
run" executed as they stand, with only the URL and the password filled
in. A home that exists never gets the examples."""
import os
import re
import signal
import subprocess
import time

from conftest import ROOT, wait_for


def start(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBJOBS_")}
    env.update(WEBJOBS_HOME=str(home), WEBJOBS_LISTEN="127.0.0.1:0")
    p = subprocess.Popen([str(ROOT / "scripts" / "run-host")], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, password, url = [], None, None
    deadline = time.time() + 30
    while time.time() < deadline and not url:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("run-host ended: " + "".join(lines) + p.stderr.read())
        lines.append(line)
        m = re.search(r"created user webjobs with password (\S+)", line)
        password = m.group(1) if m else password
        m = re.search(r"listening on (http://\S+)", line)
        url = m.group(1) if m else None
    return p, password, url, lines


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0


def blocks():
    text = (ROOT / "README.md").read_text()
    section = text.split("## A first run", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def run_block(block, url, password):
    script = "set -e\n" + block.replace("http://127.0.0.1:8080", url)
    return subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PASSWORD=password), timeout=60)


def test_first_run_walk_through(tmp_path):
    home = tmp_path / "webjobs-home"
    p, password, url, lines = start(home)
    try:
        assert any("example jobs hello, tick and heartbeat" in l for l in lines), lines
        assert password and url
        client, curl = blocks()[:2]
        assert "build/webjobs run hello" in client and "curl" in curl
        assert wait_for(lambda: run_block("curl -su \"webjobs:$PASSWORD\" "
                                          "http://127.0.0.1:8080/api/continuouswebjobs/heartbeat",
                                          url, password).stdout.find('"Running"') > 0,
                        timeout=10)
        r = run_block(client, url, password)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        for name in ["hello", "tick", "heartbeat"]:
            assert re.search(rf"^{name}\s", out, re.M), out
        assert "argument 1: first" in out and "argument 2: second arg" in out, out
        assert "heartbeat at " in out, out
        r = run_block(curl, url, password)
        assert r.returncode == 0, r.stderr
        assert "202 Accepted" in r.stdout and "Location: " in r.stdout
        assert '"name":"hello"' in r.stdout and '"name":"heartbeat"' in r.stdout
        # The scheduled example is set to fire at second 0 of every minute
        # (waiting up to a minute for it is test_schedules.py's business).
        log = home / "data/jobs/triggered/tick/job_scheduler.log"
        assert "Scheduling WebJob with 0 * * * * * next schedule expected in" in log.read_text()
        r = run_block('curl -su "webjobs:$PASSWORD" '
                      "http://127.0.0.1:8080/api/triggeredwebjobs/tick", url, password)
        assert re.search(r'"next_run":"[0-9-]+T[0-9:]+:00Z"', r.stdout), r.stdout
        # Removing an example, then starting again: an existing home is
        # never given the examples back.
        r = run_block('curl -su "webjobs:$PASSWORD" -X DELETE '
                      "http://127.0.0.1:8080/api/triggeredwebjobs/hello", url, password)
        assert r.returncode == 0
    finally:
        stop(p)
    p, password2, url, lines = start(home)
    try:
        assert password2 is None  # the user exists already
        assert not any("example jobs" in l for l in lines)
        assert not (home / "site/wwwroot/App_Data/jobs/triggered/hello").exists()
    finally:
        stop(p)
