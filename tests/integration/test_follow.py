"""Live log following (docs/API.md)."""
import base64
import http.client
import threading
import time

from conftest import PASSWORD, USER, Host, wait_for
from test_runs import deploy, start_run, wait_run


def stream(h, path, accept=None, limit=None, timeout=20):
    """Reads a streamed reply line by line: [(seconds since start, line)]."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=timeout)
    hd = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    if accept:
        hd["Accept"] = accept
    c.request("GET", path, headers=hd)
    r = c.getresponse()
    t0 = time.time()
    out = []
    assert r.status == 200, r.read()
    while True:
        line = r.readline()
        if not line:
            break
        out.append((time.time() - t0, line.decode().rstrip("\n")))
        if limit and len(out) >= limit:
            break
    c.close()
    return r, out


def test_follow_run_until_it_ends(host):
    deploy(host, "f", "for i in 1 2 3 4; do echo line-$i; sleep 0.4; done\n")
    rid = start_run(host, "f")
    r, lines = stream(host, f"/api/triggeredwebjobs/f/history/{rid}/log")
    assert r.getheader("Content-Type").startswith("text/plain")
    texts = [t for _, t in lines]
    assert [t.split("] ", 1)[1] for t in texts if "INFO] line-" in t] == \
        ["line-1", "line-2", "line-3", "line-4"]
    assert texts[-1].endswith("Status changed to Success")
    # Lines arrive as they are written, not all at the end.
    first = next(s for s, t in lines if t.endswith("line-1"))
    last = next(s for s, t in lines if t.endswith("line-4"))
    assert last - first > 0.8
    # A finished run's log is sent whole, from an offset.
    full = (host.data_dir("triggered", "f") / rid / "output_log.txt").read_bytes()
    _, again = stream(host, f"/api/triggeredwebjobs/f/history/{rid}/log?offset=10")
    assert "\n".join(t for _, t in again) + "\n" == full[10:].decode()
    assert host.get(f"/api/triggeredwebjobs/f/history/202001010000000000/log").status == 404
    assert host.get("/api/triggeredwebjobs/nope/history/202001010000000000/log").status == 404


def test_follow_run_as_server_sent_events(host):
    deploy(host, "e", "echo one; echo two\n")
    rid = start_run(host, "e")
    wait_run(host, "e", rid)
    r, lines = stream(host, f"/api/triggeredwebjobs/e/history/{rid}/log", accept="text/event-stream")
    assert r.getheader("Content-Type") == "text/event-stream"
    texts = [t for _, t in lines]
    assert all(t == "" or t.startswith("data: [") for t in texts)
    assert any(t.endswith("INFO] one") for t in texts)


def test_follow_continuous_tail_and_rollover(home):
    h = Host(home, env={"WEBJOBS_LOG_MAX_SIZE": "4000"}).start()
    try:
        deploy(h, "c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.05; done\n",
               kind="continuous")
        assert wait_for(lambda: (h.data_dir("continuous", "c") / "job_log.txt").exists() and
                        "tick-5" in (h.data_dir("continuous", "c") / "job_log.txt").read_text())
        _, lines = stream(h, "/api/continuouswebjobs/c/log?tail=3", limit=120)
        ticks = [int(t.rsplit("tick-", 1)[1]) for _, t in lines if "INFO] tick-" in t]
        # The stream crossed at least one roll-over (4000 bytes is ~60
        # lines) and lost no line.
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))
        assert len(ticks) >= 100
        assert (h.data_dir("continuous", "c") / "job_prev_log.txt").exists()
    finally:
        assert h.stop() == 0


def test_followers_leave_cleanly(host):
    deploy(host, "q", "while true; do echo q; sleep 0.2; done\n", kind="continuous")
    threads = []
    for _ in range(20):
        t = threading.Thread(target=stream, args=(host, "/api/continuouswebjobs/q/log"),
                             kwargs={"limit": 2})
        t.start()
        threads.append(t)
    for t in threads:
        t.join(20)
    assert host.get("/healthz").status == 200
    assert host.get("/api/continuouswebjobs/q").status == 200
