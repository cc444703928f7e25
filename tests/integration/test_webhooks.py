"""Webhooks (docs/API.md, "Run control", "Webhooks"): the events, the payload
and its headers, the HMAC-SHA256 signature, retries on a 500 and while the
receiver is down, the spool across a host killed with -9, exactly one
delivery per run with two instances, and the job settings that choose or
turn off the hook. Each test starts its own receiver on loopback."""
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import Host, wait_for
from test_runs import deploy, start_run, wait_run
from test_runcontrol import abort, status_of

SECRET = "s3cret-for-tests"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Receiver:
    """An HTTP server that records every POST; fail_first answers the
    first n requests of each delivery with 500."""

    def __init__(self, port=None, fail_first=0):
        self.port = port or free_port()
        self.got = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    delivery = self.headers.get("X-Webjobs-Delivery")
                    seen = sum(g["headers"].get("X-Webjobs-Delivery") == delivery
                               for g in outer.got)
                    outer.got.append({"headers": dict(self.headers), "body": body,
                                      "time": time.time()})
                code = 500 if seen < outer.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self):
        with self.lock:
            return [json.loads(g["body"])["event"] for g in self.got]

    def deliveries(self):
        """The requests, one per delivery id (the last try of each)."""
        with self.lock:
            by = {}
            for g in self.got:
                by[g["headers"]["X-Webjobs-Delivery"]] = g
            return list(by.values())


def put_settings(h, name, settings):
    r = h.request("PUT", f"/api/triggeredwebjobs/{name}/settings",
                  body=json.dumps(settings).encode())
    assert r.status == 200, r.body


FLAKY = "n=$(cat $WEBJOBS_DATA_PATH/count 2>/dev/null || echo 0)\n" \
        "echo $((n+1)) > $WEBJOBS_DATA_PATH/count\n" \
        "echo attempt $WEBJOBS_RUN_ATTEMPT\n" \
        "[ $((n+1)) -ge 2 ]\n"


def test_events_payload_headers_and_signature(home):
    rec = Receiver().start()
    h = Host(home, env={"WEBJOBS_WEBHOOK_URL": rec.url,
                        "WEBJOBS_WEBHOOK_SECRET": SECRET}).start()
    try:
        deploy(h, "flaky", FLAKY)
        put_settings(h, "flaky", {"retries": 1, "retry_delay": 1,
                                  "webhook_on": ["start", "success", "failure", "retry"]})
        rid = start_run(h, "flaky")
        assert wait_run(h, "flaky", rid)["status"] == "Success"
        assert wait_for(lambda: rec.events() == ["start", "retry", "success"], timeout=10), \
            rec.events()
        ids = set()
        for g in rec.got:
            body, hd = g["body"], g["headers"]
            p = json.loads(body)
            # Field order of the payload and of its job object.
            assert list(p) == ["event", "instance", "job", "run"]
            assert list(p["job"]) == ["name", "type", "url"]
            assert p["instance"] == "test-inst"
            assert p["job"] == {"name": "flaky", "type": "triggered",
                                "url": f"http://127.0.0.1:{h.port}/api/triggeredwebjobs/flaky"}
            assert p["run"]["id"] == rid
            assert hd["Content-Type"] == "application/json"
            assert hd["User-Agent"].startswith("webjobs/")
            assert hd["X-Webjobs-Event"] == p["event"]
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hd["X-Webjobs-Signature-256"] == "sha256=" + want
            ids.add(hd["X-Webjobs-Delivery"])
        assert len(ids) == 3  # one per event
        start, retry, success = (json.loads(g["body"])["run"] for g in rec.got)
        assert start["status"] == "Running" and start["attempt"] == 1
        assert retry["status"] == "Running" and retry["attempt"] == 1
        # The final one is the run as the API shows it.
        final = h.get(f"/api/triggeredwebjobs/flaky/history/{rid}").json()
        assert success == final and success["attempt"] == 2
        log = home / "data" / "webjobs" / "webhooks.log"
        # The outcome is written once the reply is in: a moment after.
        assert wait_for(lambda: log.exists() and
                        log.read_text().count("delivered, HTTP 200") == 3, timeout=5)
        m = h.get("/metrics").text()
        assert 'webjobs_webhook_deliveries_total{outcome="ok"} 3' in m
    finally:
        assert h.stop() == 0
        rec.stop()


def test_no_signature_without_a_secret_and_default_events(home):
    """Without a secret there is no signature header; by default only
    failures are sent, and a job's "webhook": "" turns its hook off."""
    rec = Receiver().start()
    h = Host(home, env={"WEBJOBS_WEBHOOK_URL": rec.url}).start()
    try:
        deploy(h, "ok", "true\n")
        deploy(h, "bad", "exit 3\n")
        deploy(h, "quiet", "exit 3\n")
        put_settings(h, "quiet", {"webhook": ""})
        for name in ("ok", "bad", "quiet"):
            wait_run(h, name, start_run(h, name))
        assert wait_for(lambda: len(rec.got) == 1, timeout=10)
        time.sleep(1)
        assert len(rec.got) == 1, rec.events()
        g = rec.got[0]
        assert "X-Webjobs-Signature-256" not in g["headers"]
        p = json.loads(g["body"])
        assert p["event"] == "failure" and p["job"]["name"] == "bad"
        assert p["run"]["status"] == "Failed"
    finally:
        assert h.stop() == 0
        rec.stop()


def test_job_hook_and_bad_settings(home):
    """A job's own webhook replaces the host's; a bad URL or an unknown
    event is the job's error."""
    host_rec = Receiver().start()
    job_rec = Receiver().start()
    h = Host(home, env={"WEBJOBS_WEBHOOK_URL": host_rec.url}).start()
    try:
        deploy(h, "own", "exit 1\n")
        put_settings(h, "own", {"webhook": job_rec.url})
        wait_run(h, "own", start_run(h, "own"))
        assert wait_for(lambda: len(job_rec.got) == 1, timeout=10)
        assert host_rec.got == []
        put_settings(h, "own", {"webhook": "ftp://example.invalid/x"})
        assert wait_for(lambda: h.get("/api/triggeredwebjobs/own").json()["error"] ==
                        "settings.job: 'webhook' is not an http:// or https:// URL", timeout=5)
        put_settings(h, "own", {"webhook_on": ["failure", "sometimes"]})
        assert wait_for(lambda: "unknown event" in
                        (h.get("/api/triggeredwebjobs/own").json()["error"] or ""), timeout=5)
        put_settings(h, "own", {})
        assert wait_for(lambda: h.get("/api/triggeredwebjobs/own").json()["error"] is None,
                        timeout=5)
    finally:
        assert h.stop() == 0
        host_rec.stop()
        job_rec.stop()


def test_retries_on_500_and_while_the_receiver_is_down(home):
    """A 5xx is tried again after 1 and 4 s with the same delivery id; a
    receiver that comes up within the retries still gets the delivery."""
    rec = Receiver(fail_first=2).start()
    h = Host(home, env={"WEBJOBS_WEBHOOK_URL": rec.url}).start()
    try:
        deploy(h, "bad", "exit 1\n")
        wait_run(h, "bad", start_run(h, "bad"))
        assert wait_for(lambda: len(rec.got) == 3, timeout=15)
        log = home / "data" / "webjobs" / "webhooks.log"
        assert wait_for(lambda: "delivered" in log.read_text(), timeout=5)
        ids = {g["headers"]["X-Webjobs-Delivery"] for g in rec.got}
        assert len(ids) == 1
        gaps = [b["time"] - a["time"] for a, b in zip(rec.got, rec.got[1:])]
        assert 0.8 < gaps[0] < 3 and 3.5 < gaps[1] < 7, gaps
        assert rec.got[0]["body"] == rec.got[2]["body"]
        m = h.get("/metrics").text()
        assert 'webjobs_webhook_deliveries_total{outcome="retried"} 2' in m
        assert 'webjobs_webhook_deliveries_total{outcome="ok"} 1' in m
        text = log.read_text()
        assert text.count("HTTP 500") == 2 and "again in 1 seconds" in text
        # Down for a while: nothing listens for 3 s, then it comes back.
        rec.stop()
        late = Receiver(port=rec.port)
        wait_run(h, "bad", start_run(h, "bad"))
        time.sleep(3)
        late.start()
        assert wait_for(lambda: len(late.got) == 1, timeout=15)
        assert json.loads(late.got[0]["body"])["event"] == "failure"
        late.stop()
    finally:
        assert h.stop() == 0


def test_spool_survives_a_host_killed_with_9(home):
    """A delivery not yet made when the host dies is sent by its next start,
    with the same delivery id."""
    port = free_port()
    h = Host(home, env={"WEBJOBS_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook"}).start()
    try:
        deploy(h, "bad", "exit 1\n")
        rid = start_run(h, "bad")
        wait_run(h, "bad", rid)
        spool = home / "data" / "webjobs" / "webhooks" / "test-inst"
        assert wait_for(lambda: len(list(spool.glob("*.json"))) == 1, timeout=5)
        delivery = next(spool.glob("*.json")).stem
        h.proc.kill()
        h.proc.wait()
        rec = Receiver(port=port).start()
        h = Host(home, env={"WEBJOBS_WEBHOOK_URL": rec.url}).start()
        assert wait_for(lambda: len(rec.got) == 1, timeout=10)
        assert rec.got[0]["headers"]["X-Webjobs-Delivery"] == delivery
        assert json.loads(rec.got[0]["body"])["run"]["id"] == rid
        assert wait_for(lambda: not list(spool.glob("*.json")), timeout=5)
        rec.stop()
    finally:
        assert h.stop() == 0


def test_one_delivery_per_run_with_two_instances(home):
    """Two instances share the home and the hook: each run is told of once,
    by the instance that wrote its final status — for an abort asked
    through the other instance and for a timeout too."""
    rec = Receiver().start()
    env = {"WEBJOBS_WEBHOOK_URL": rec.url}
    a = Host(home, env=env, instance="inst-a").start()
    b = Host(home, env=env, instance="inst-b").start()
    try:
        deploy(a, "loop", "while true; do sleep 0.1; done\n")
        put_settings(a, "loop", {"stopping_wait_time": 1})
        rid = start_run(a, "loop")
        assert wait_for(lambda: status_of(b, "loop", rid) == "Running", timeout=10)
        assert abort(b, "loop", rid).status == 202
        assert wait_run(a, "loop", rid)["status"] == "Aborted"
        put_settings(a, "loop", {"timeout": 1, "stopping_wait_time": 1})
        assert wait_for(lambda: b.get("/api/triggeredwebjobs/loop").json()["settings"]
                        .get("timeout") == 1, timeout=10)
        rid2 = start_run(b, "loop")
        assert wait_run(a, "loop", rid2)["status"] == "Failed"
        assert wait_for(lambda: len(rec.got) == 2, timeout=10)
        time.sleep(1.5)
        runs = [json.loads(g["body"]) for g in rec.got]
        assert [(p["run"]["id"], p["run"]["status"], p["instance"]) for p in runs] == \
            [(rid, "Aborted", "inst-a"), (rid2, "Failed", "inst-b")]
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
        rec.stop()


def test_crash_recovery_and_continuous_exit(home):
    """A run a crash left in progress is told of as a failure by the start
    that marks it Aborted; a continuous job's exit the host did not ask for
    is the "exit" event (run null), at most once a minute."""
    rec = Receiver().start()
    env = {"WEBJOBS_WEBHOOK_URL": rec.url, "WEBJOBS_RESTART_TIME": "1"}
    h = Host(home, env=env).start()
    try:
        deploy(h, "long", "sleep 30\n")
        rid = start_run(h, "long")
        assert wait_for(lambda: status_of(h, "long", rid) == "Running", timeout=10)
        h.proc.kill()
        h.proc.wait()
        h = Host(home, env=env).start()
        assert wait_for(lambda: len(rec.got) == 1, timeout=10)
        p = json.loads(rec.got[0]["body"])
        assert p["event"] == "failure" and p["run"]["id"] == rid
        assert p["run"]["status"] == "Aborted"
        r = deploy(h, "dies", "sleep 0.2; exit 2\n", kind="continuous")
        assert r.status == 200, r.body
        h.request("PUT", "/api/continuouswebjobs/dies/settings",
                  body=b'{"webhook_on": ["exit"]}')
        assert wait_for(lambda: "exit" in rec.events(), timeout=15)
        time.sleep(4)  # it goes down again and again: told once a minute
        exits = [json.loads(g["body"]) for g in rec.got
                 if json.loads(g["body"])["event"] == "exit"]
        assert len(exits) == 1
        assert exits[0]["run"] is None and exits[0]["job"]["type"] == "continuous"
    finally:
        assert h.stop() == 0
        rec.stop()
