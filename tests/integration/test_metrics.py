"""GET /metrics (Prometheus text format) after known activity."""
import re

from conftest import Host, wait_for
from test_runs import deploy, start_run, wait_run

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$')


def scrape(h):
    r = h.get("/metrics")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    samples = {}
    for line in r.text().splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        m = LINE.match(line)
        assert m, line
        samples[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return samples


def test_metrics_after_activity(home):
    h = Host(home, env={"WEBJOBS_RESTART_TIME": "1"}).start()
    try:
        assert h.get("/metrics", auth=False).status == 401
        deploy(h, "ok", "echo fine\n")
        deploy(h, "bad", "exit 3\n")
        wait_run(h, "ok", start_run(h, "ok"))
        wait_run(h, "bad", start_run(h, "bad"))
        deploy(h, "c", "echo up; exit 1\n", kind="continuous")
        assert wait_for(lambda: scrape(h).get('webjobs_continuous_restarts_total{job="c"}', 0) >= 1,
                        timeout=5)
        deploy(h, "d", "while true; do sleep 1; done\n", kind="continuous")
        assert wait_for(lambda: scrape(h).get(
            'webjobs_continuous_up{job="d",instance="test-inst"}') == 1, timeout=5)
        m = scrape(h)
        assert m['webjobs_runs_total{job="ok",status="Success"}'] == 1
        assert m['webjobs_runs_total{job="bad",status="Failed"}'] == 1
        assert m["webjobs_run_duration_seconds_count"] == 2
        assert m['webjobs_run_duration_seconds_bucket{le="+Inf"}'] == 2
        assert m['webjobs_last_success_timestamp_seconds{job="ok"}'] > 1.7e9
        assert m['webjobs_http_requests_total{route="run_start",status="202"}'] == 2
        assert m['webjobs_http_requests_total{route="deploy",status="200"}'] == 4
        assert m["webjobs_http_open_connections"] >= 1
        assert m["process_resident_memory_bytes"] > 1e6
        assert m["process_open_fds"] > 3
        # A deleted job's series go.
        h.request("DELETE", "/api/triggeredwebjobs/ok")
        assert not any(k.startswith("webjobs_runs_total{job=\"ok\"") for k in scrape(h))
    finally:
        assert h.stop() == 0


def test_the_schedule_fire_delay_is_each_runs_start(home):
    """A tick accepted ahead of its second observes its delay as its
    process starts: one sample per scheduled run, each the time from its
    second to its start (above 0: not the accept's, which is before it;
    well under a second)."""
    h = Host(home).start()
    try:
        h.add_job("triggered", "s", {"run.sh": "echo tick\n"},
                  settings='{"schedule": "* * * * * *"}')
        assert wait_for(lambda: scrape(h).get('webjobs_runs_total{job="s",status="Success"}', 0)
                        >= 3, timeout=8)
        m = scrape(h)
        n = m["webjobs_schedule_fire_delay_seconds_count"]
        assert n >= 3
        assert m['webjobs_schedule_fire_delay_seconds_bucket{le="+Inf"}'] == n
        assert 0 < m["webjobs_schedule_fire_delay_seconds_sum"] < 0.5 * n
    finally:
        assert h.stop() == 0
