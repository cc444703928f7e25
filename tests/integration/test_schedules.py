"""Schedules (SPEC 9): firing, changes, errors, the missed-run rule, exactly
once across instances, and `webjobs cron`."""
import calendar
import collections
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from conftest import BIN, Host, wait_for
from test_runs import deploy

SCHED_LINE = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d > [^:]+: (SYS INFO|SYS ERR )\] (.*)$")


def sched_log(h, name):
    p = h.data_dir("triggered", name) / "job_scheduler.log"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        m = SCHED_LINE.match(line)
        assert m, line
        out.append((m.group(1), m.group(2)))
    return out


def runs(h, name):
    return h.get(f"/api/triggeredwebjobs/{name}/history").json()["runs"]


def put_settings(h, name, obj):
    r = h.request("PUT", f"/api/triggeredwebjobs/{name}/settings", body=json.dumps(obj).encode())
    assert r.status == 200


@pytest.fixture
def host(home):
    h = Host(home).start()
    yield h
    assert h.stop() == 0, h.proc.stderr.read()


def test_every_two_seconds(host):
    deploy(host, "t", "echo tick\n")
    put_settings(host, "t", {"schedule": "*/2 * * * * *"})
    assert wait_for(lambda: len(runs(host, "t")) >= 2, timeout=6)
    rs = runs(host, "t")
    assert all(r["trigger"] == "Schedule - 0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,"
               "38,40,42,44,46,48,50,52,54,56,58 * * * * *" for r in rs)
    for r in rs:
        sec = int(r["id"][12:14])
        assert sec % 2 == 0, r["id"]
    log = sched_log(host, "t")
    assert log[0][1].startswith("Scheduling WebJob with 0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,"
                                "30,32,34,36,38,40,42,44,46,48,50,52,54,56,58 * * * * * "
                                "next schedule expected in 00:00:0")
    assert ("SYS INFO", "WebJob invoked") in log
    j = host.get("/api/triggeredwebjobs/t").json()
    assert j["scheduler_logs_url"] == f"{host.prefix}/vfs/data/jobs/triggered/t/job_scheduler.log"
    nxt = datetime.strptime(j["next_run"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert timedelta(0) < nxt - datetime.now(timezone.utc) <= timedelta(seconds=2.5)
    assert nxt.second % 2 == 0


def test_scheduler_log_rolls_over(home):
    """A line that takes the scheduler log past WEBJOBS_LOG_MAX_SIZE is
    written, then the log is moved to job_scheduler_prev.log and begun
    anew: each file holds whole lines."""
    h = Host(home, env={"WEBJOBS_LOG_MAX_SIZE": "400"}).start()
    try:
        deploy(h, "r", "true\n")
        put_settings(h, "r", {"schedule": "* * * * * *"})
        data = h.data_dir("triggered", "r")
        assert wait_for(lambda: (data / "job_scheduler_prev.log").exists(), timeout=15)
        put_settings(h, "r", {})
        time.sleep(0.5)
        prev = (data / "job_scheduler_prev.log").read_text()
        cur = (data / "job_scheduler.log").read_text()
        # Each file holds whole lines; the moved one went past the size
        # with its last line, the current one has not reached it.
        assert prev.endswith("\n") and len(prev.encode()) > 400
        assert len(prev.encode()) - len(prev.splitlines(True)[-1].encode()) <= 400
        assert len(cur.encode()) <= 400
        for text in (prev, cur):
            for line in text.splitlines():
                assert SCHED_LINE.match(line), line
        assert "WebJob invoked" in prev
    finally:
        assert h.stop() == 0


def test_change_remove_and_invalid(host):
    deploy(host, "c", "echo c\n")
    put_settings(host, "c", {"schedule": "0 0 0 1 1 *"})
    j = host.get("/api/triggeredwebjobs/c").json()
    assert j["next_run"].endswith("-01-01T00:00:00Z") and j["error"] is None
    # A change through the API applies at once.
    put_settings(host, "c", {"schedule": "* * * * * *"})
    assert wait_for(lambda: len(runs(host, "c")) >= 1, timeout=3)
    # Removed: no more runs.
    put_settings(host, "c", {})
    time.sleep(0.2)
    n = len(runs(host, "c"))
    time.sleep(2.2)
    assert len(runs(host, "c")) == n
    assert host.get("/api/triggeredwebjobs/c").json()["next_run"] is None
    assert ("SYS INFO", "WebJob schedule removed") in sched_log(host, "c")
    # Invalid: reported, never fires.
    put_settings(host, "c", {"schedule": "*/0 * * * * *"})
    j = host.get("/api/triggeredwebjobs/c").json()
    assert j["error"] == "Invalid schedule '*/0 * * * * *': field 'second': '*/0' has a step of 0"
    assert j["next_run"] is None
    time.sleep(1.5)
    assert len(runs(host, "c")) == n
    assert any(lvl == "SYS ERR " and "Failed to parse the schedule '*/0 * * * * *'" in t
               for lvl, t in sched_log(host, "c"))
    # A schedule that never fires.
    put_settings(host, "c", {"schedule": "0 0 0 30 2 *"})
    assert host.get("/api/triggeredwebjobs/c").json()["next_run"] is None
    assert any("never fires" in t for _, t in sched_log(host, "c"))


def test_schedule_in_deployed_zip_and_hand_edit(host):
    from test_runs import make_zip
    deploy(host, "z", make_zip({"run.sh": "echo z", "settings.job": '{"schedule": "* * * * * *"}'}),
           filename="z.zip", zip_=True)
    assert wait_for(lambda: len(runs(host, "z")) >= 1, timeout=3)
    deploy(host, "hand", "echo h\n")
    (host.bin_dir("triggered", "hand") / "settings.job").write_text('{"schedule": "* * * * * *"}')
    assert wait_for(lambda: len(runs(host, "hand")) >= 1, timeout=3)


def test_a_ticks_jobs_are_accepted_ahead_and_start_at_their_second(make_host):
    """A second's 40 due jobs are accepted ahead of it, as one batch, and
    their processes are held by the spawn helper until it
    (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one
    batch"): every job runs at every tick, never before its second (the
    job's own clock); the runs of one tick share one start, the second
    itself (the id's 100-us digits are 0: accepted before it, not at the
    timer's wake-up after it)."""
    h = make_host()
    n = 40
    for i in range(n):
        h.add_job("triggered", f"p{i:02d}", {"run.sh": "echo \"seen $EPOCHREALTIME\"\n"},
                  settings='{"schedule": "* * * * * *"}')
    h.start()
    time.sleep(4.5)
    assert h.stop() == 0
    ticks = collections.defaultdict(dict)  # second -> {job: run id}
    for i in range(n):
        d = h.data_dir("triggered", f"p{i:02d}")
        for rid in os.listdir(d):
            if re.fullmatch(r"\d{18}", rid):
                ticks[rid[:14]][f"p{i:02d}"] = rid
    full = sorted(t for t, runs_of in ticks.items() if len(runs_of) == n)
    # The last full tick may have been cut short by the stop.
    assert len(full) >= 2, {t: len(r) for t, r in ticks.items()}
    for t in full[:-1]:
        assert len(set(ticks[t].values())) == 1, ticks[t]  # one batch, one start
        assert set(ticks[t].values()) == {t + "0000"}, ticks[t]
        second = calendar.timegm(time.strptime(t, "%Y%m%d%H%M%S"))
        for name, rid in ticks[t].items():
            d = h.data_dir("triggered", name) / rid
            assert json.loads((d / "status").read_text())["Status"] == "Success", name
            seen = re.search(r"seen (\d+\.\d+)", (d / "output_log.txt").read_text())
            assert seen and float(seen.group(1)) >= second, (name, rid)


def zip_with_schedule(script, schedule):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("run.sh", script)
        z.writestr("settings.job", json.dumps({"schedule": schedule}))
    return buf.getvalue()


def test_ticks_in_parts_survive_random_changes(make_host):
    """The order of events around a tick fired in parts (the event queue is
    drained between them, so the registry's changes land mid-tick): twelve
    jobs on every second; a seeded random client redeploys, deletes,
    reschedules, runs and aborts six of them, or removes and edits them on
    disk, 20-80 ms apart, for 8 s. The host answers no 5xx, the other six
    ran at (nearly) every tick — each tick in parts — and after a graceful
    stop (exit 0: under the sanitizer build, no report) no run is left in
    progress."""
    rng = random.Random(1612)
    names = [f"r{i:02d}" for i in range(6)]  # what the client changes
    steady = [f"s{i:02d}" for i in range(6)]  # due every second throughout
    h = make_host()
    for n in names + steady:
        h.add_job("triggered", n, {"run.sh": "echo hi\n"},
                  settings='{"schedule": "* * * * * *"}')
    h.start()
    statuses = collections.Counter()
    end = time.time() + 8
    while time.time() < end:
        n = rng.choice(names)
        op = rng.choices(["zip", "delete", "settings", "run", "abort", "rm", "hand"],
                         [4, 1, 2, 3, 1, 1, 2])[0]
        if op in ("rm", "hand"):
            # By hand on disk: the registry hears of it through inotify
            # and tells the scheduler from the event queue.
            d = h.bin_dir("triggered", n)
            if op == "rm":
                shutil.rmtree(d, ignore_errors=True)
            elif d.is_dir():
                (d / "settings.job").write_text(json.dumps(
                    {"schedule": rng.choice(["* * * * * *", "*/2 * * * * *"])}))
            time.sleep(rng.uniform(0.02, 0.08))
            continue
        if op == "zip":
            r = h.request("PUT", f"/api/triggeredwebjobs/{n}",
                          body=zip_with_schedule(rng.choice(["echo hi\n"] * 4 + ["sleep 1.5\n"]),
                                                 rng.choice(["* * * * * *", "*/2 * * * * *"])),
                          headers={"Content-Type": "application/zip",
                                   "Content-Disposition": "attachment; filename=j.zip"})
        elif op == "delete":
            r = h.request("DELETE", f"/api/triggeredwebjobs/{n}")
        elif op == "settings":
            r = h.request("PUT", f"/api/triggeredwebjobs/{n}/settings",
                          body=json.dumps({"schedule": rng.choice(["* * * * * *", "bad"])}).encode())
        elif op == "run":
            r = h.request("POST", f"/api/triggeredwebjobs/{n}/run")
        else:
            r = h.request("POST", f"/api/triggeredwebjobs/{n}/abort")
        statuses[r.status] += 1
        assert r.status < 500, (op, n, r.status, r.body)
        time.sleep(rng.uniform(0.02, 0.08))
    assert h.stop() == 0, h.proc.stderr.read()
    per_tick = collections.Counter()
    left = []
    for n in names + steady:
        d = h.data_dir("triggered", n)
        if not d.is_dir():
            continue
        for rid in os.listdir(d):
            if not re.fullmatch(r"\d{18}", rid):
                continue
            per_tick[rid] += 1
            st = json.loads((d / rid / "status").read_text())
            if st["Status"] in ("Initializing", "Running", "Queued"):
                left.append((n, rid, st["Status"]))
    assert not left, left
    # Every tick had at least the six steady jobs due: each in parts.
    for n in steady:
        ids = [r for r in os.listdir(h.data_dir("triggered", n)) if re.fullmatch(r"\d{18}", r)]
        assert len(ids) >= 5, (n, sorted(ids))
    assert max(per_tick.values()) >= 6, per_tick



def test_a_registry_notice_delivered_inside_a_tick_drops_entries_safely(make_host):
    """The one order of events that lands a registry notice between two
    parts of a tick, made on purpose: eight of twelve jobs due every
    second have their folders removed 70 ms before the boundary (the
    registry settles them 50 ms after reading the events), and the host is
    stopped (SIGSTOP) from 45 ms before the boundary to 10 ms after it.
    When it wakes, the settle timer and the tick are both overdue: the
    settle posts its notices, and the tick's first part's drain delivers
    them — the scheduler drops eight entries while it is between parts.
    It must read its heap again after the drain: under the sanitizer
    build, a tick that keeps the entry it read before the drain is a
    heap-use-after-free. The folders come back at +400 ms; the four
    others run at every tick."""
    steady = [f"s{i}" for i in range(4)]
    victims = [f"v{i}" for i in range(8)]
    h = make_host()
    for n in steady + victims:
        h.add_job("triggered", n, {"run.sh": "echo hi\n"},
                  settings='{"schedule": "* * * * * *"}')
    h.start()
    saved = h.home / "saved"
    saved.mkdir()
    for v in victims:
        shutil.copytree(h.bin_dir("triggered", v), saved / v)
    time.sleep(1.5)

    def until(t):
        while time.time() < t:
            time.sleep(0.0005)

    first = int(time.time()) + 1
    for k in range(6):
        b = first + k
        until(b - 0.070)
        for v in victims:
            shutil.rmtree(h.bin_dir("triggered", v))
        until(b - 0.045)
        os.kill(h.proc.pid, signal.SIGSTOP)
        try:
            until(b + 0.010)
        finally:
            os.kill(h.proc.pid, signal.SIGCONT)
        until(b + 0.400)
        for v in victims:
            shutil.copytree(saved / v, h.bin_dir("triggered", v))
    time.sleep(0.6)
    assert h.stop() == 0, h.proc.stderr.read()
    for n in steady:
        ticks = {int(r[:14]) for r in os.listdir(h.data_dir("triggered", n))
                 if re.fullmatch(r"\d{18}", r)}
        want = {int(time.strftime("%Y%m%d%H%M%S", time.gmtime(first + k))) for k in range(6)}
        assert want <= ticks, (n, sorted(want - ticks))


def journaled(host, name, stamp):
    """1 when a run of job name whose id starts with stamp has its line
    in one of the host's run journal files."""
    key = f'["{name}","{stamp}'.encode()
    folder = host.home / "data" / "webjobs" / "journal"
    return any(key in f.read_bytes() for f in folder.iterdir())


@contextlib.contextmanager
def helper_stopped_at_a_tick(host, name):
    """Job name, run every 4 s, has run once; the spawn helper is stopped
    (SIGSTOP) 300 ms before the next boundary and goes on when the block
    ends. Yields the boundary (Unix seconds) and its run id's prefix, once
    that run is accepted (its line is in the run journal: the tick
    happened, its spawn's answer is owed; its folder comes after the
    answer)."""
    from test_spawner import helper_of
    deploy(host, name, f"echo {name}\n")
    put_settings(host, name, {"schedule": "*/4 * * * * *"})
    assert wait_for(lambda: any(r["status"] == "Success" for r in runs(host, name)), timeout=6)
    helper = helper_of(host)
    b = (int(time.time()) // 4 + 1) * 4
    if b - time.time() < 0.6:
        b += 4
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(b))
    time.sleep(b - 0.3 - time.time())
    os.kill(helper, signal.SIGSTOP)
    try:
        assert wait_for(lambda: journaled(host, name, stamp),
                        timeout=b + 1.4 - time.time()), "the run of the boundary is accepted"
        yield b, stamp
    finally:
        os.kill(helper, signal.SIGCONT)


def test_invoked_lines_wait_for_the_ticks_answers_and_keep_its_time(host):
    """A tick's "WebJob invoked" lines are written once the spawn helper
    has answered the tick's spawns, not between them — each with the
    time of its invocation. The helper is stopped from 300 ms before a
    boundary to 1.5 s after it: the run is accepted at the boundary (its
    id says so) but its line is not in the scheduler log while the answer
    is owed; once the helper goes on, the line is written, in the next
    second, and carries the boundary's."""
    path = host.data_dir("triggered", "w") / "job_scheduler.log"

    def invoked_at(t):
        """The log's "WebJob invoked" lines that carry second t."""
        head = "[" + time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(t)) + " > "
        return [x for x in path.read_text().splitlines()
                if x.startswith(head) and x.endswith("] WebJob invoked")]

    with helper_stopped_at_a_tick(host, "w") as (b, stamp):
        time.sleep(max(0, b + 1.5 - time.time()))
        assert invoked_at(b) == [], "its line waits for the helper's answer"
    # Written once the helper goes on (in a later second), with the
    # boundary's time.
    assert wait_for(lambda: len(invoked_at(b)) == 1, timeout=3), path.read_text()
    assert wait_for(lambda: [r["status"] for r in runs(host, "w")
                             if r["id"].startswith(stamp)] == ["Success"], timeout=5)


def test_a_ticks_run_is_placed_once_its_spawn_is_answered(host):
    """A tick's run is accepted into the run journal at the boundary; its
    folder is made once the tick's spawns are answered (here the helper is
    stopped across the boundary: none while the answer is owed), and then
    holds the run's whole log, in order, and its end."""
    data = host.data_dir("triggered", "p")
    with helper_stopped_at_a_tick(host, "p") as (b, stamp):
        time.sleep(max(0, b + 0.8 - time.time()))
        assert not [n for n in os.listdir(data) if n.startswith(stamp)], \
            "no folder while its spawn's answer is owed"
    assert wait_for(lambda: [r["status"] for r in runs(host, "p")
                             if r["id"].startswith(stamp)] == ["Success"], timeout=5)
    run = next(n for n in os.listdir(data) if n.startswith(stamp))
    lines = [x.split("] ", 1)[1] for x in (data / run / "output_log.txt").read_text().splitlines()]
    assert lines[0] == "Status changed to Initializing", lines
    assert lines.index("Status changed to Running") < lines.index("p") \
        < lines.index("Status changed to Success"), lines


def test_a_ticks_run_accepted_before_a_crash_is_not_lost(make_host):
    """The host is killed while its tick's run is accepted (its journal
    line synced) but not placed: the next host writes the run's folder
    from the journal and ends it Aborted, as any run its host left."""
    h = make_host()
    h.start()
    data = h.data_dir("triggered", "k")
    with helper_stopped_at_a_tick(h, "k") as (b, stamp):
        assert not [n for n in os.listdir(data) if n.startswith(stamp)]
        os.kill(h.proc.pid, signal.SIGKILL)
        h.proc.wait()
    time.sleep(0.5)  # the helper, going on, finds its host gone
    h2 = make_host()
    h2.start()
    assert wait_for(lambda: [r["status"] for r in runs(h2, "k")
                             if r["id"].startswith(stamp)] == ["Aborted"], timeout=5), \
        runs(h2, "k")


def test_a_held_line_of_a_deleted_job_makes_no_folder(host):
    """The job is removed (its folders deleted on disk) while its tick's
    line is held: the line goes with it — the scheduler log's folder,
    which an ordinary line makes when it is missing, is not made again
    for a job that is gone."""
    data = host.data_dir("triggered", "g")
    with helper_stopped_at_a_tick(host, "g"):
        shutil.rmtree(host.bin_dir("triggered", "g"))
        shutil.rmtree(data)
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/g").status == 404, timeout=5)
    time.sleep(1.2)
    assert not data.exists(), sorted(p.name for p in data.iterdir())


def test_running_tick_skipped(host):
    deploy(host, "slow", "sleep 2.5\n")
    put_settings(host, "slow", {"schedule": "* * * * * *"})
    assert wait_for(lambda: any("already running" in t for _, t in sched_log(host, "slow")), timeout=5)
    assert len(runs(host, "slow")) <= 2


def test_disable_schedule(home):
    h = Host(home, env={"WEBJOBS_DISABLE_SCHEDULE": "1"}).start()
    try:
        deploy(h, "d", "echo d\n")
        put_settings(h, "d", {"schedule": "* * * * * *"})
        time.sleep(2.2)
        assert runs(h, "d") == []
        assert any("schedules are disabled" in t for _, t in sched_log(h, "d"))
    finally:
        assert h.stop() == 0


def old_run(h, name, minutes_ago):
    t = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    rid = t.strftime("%Y%m%d%H%M%S") + "0000"
    h.add_run(name, rid, {"Trigger": "x", "Status": "Success",
                          "StartTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "EndTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return rid


def test_missed_run_recent_fires_once(make_host):
    h = make_host()
    h.add_job("triggered", "m", settings='{"schedule": "0 * * * * *"}')
    old_run(h, "m", 5)
    h.start()
    # The tick missed within 10 minutes fires at once, not at the next :00.
    assert wait_for(lambda: len(runs(h, "m")) == 2, timeout=3)
    time.sleep(1)
    assert len(runs(h, "m")) <= 3


def test_missed_run_old_logged_and_skipped(make_host):
    h = make_host()
    h.add_job("triggered", "o", settings='{"schedule": "0 0 * * * *"}')
    old_run(h, "o", 185)
    h.start()
    assert wait_for(lambda: any(t.startswith("Missed ") for _, t in sched_log(h, "o")), timeout=3)
    missed = [t for _, t in sched_log(h, "o") if t.startswith("Missed ")][0]
    assert re.match(r"Missed [34] schedules, most recent at \d{4}-\d\d-\d\dT\d\d:00:00\+00:00$", missed)
    time.sleep(1)
    assert len(runs(h, "o")) == 1


def test_many_missed_ticks_name_the_most_recent(make_host):
    """Two days of a per-second schedule missed: counted to 10,000, and
    the most recent found by a search, not by counting 172,800 fires (the
    count used to stop at 100,000 and name the 100,000th as the most
    recent, a day too early)."""
    h = make_host()
    h.add_job("triggered", "d", settings='{"schedule": "* * * * * *"}')
    old_run(h, "d", 2 * 24 * 60)
    t0 = datetime.now(timezone.utc)
    h.start()
    assert wait_for(lambda: any(t.startswith("Missed ") for _, t in sched_log(h, "d")), timeout=3)
    missed = [t for _, t in sched_log(h, "d") if t.startswith("Missed ")][0]
    m = re.match(r"Missed more than 10000 schedules, most recent at (\S+)$", missed)
    assert m, missed
    recent = datetime.fromisoformat(m.group(1))
    assert abs((recent - t0).total_seconds()) < 5, missed


def test_three_instances_fire_once(home):
    hosts = []
    try:
        for i in range(3):
            h = Host(home, instance=f"inst-{i}")
            h.args += ["--temp", str(home / f"tmp-{i}")]
            hosts.append(h.start())
        deploy(hosts[0], "x", "true\n")
        put_settings(hosts[0], "x", {"schedule": "* * * * * *"})
        time.sleep(5.5)
        put_settings(hosts[0], "x", {})
        time.sleep(1.2)
        ids = [r["id"] for r in runs(hosts[1], "x")]
        per_second = collections.Counter(i[:14] for i in ids)
        assert len(ids) >= 4
        assert max(per_second.values()) == 1, per_second
        # Every instance ran some of them or skipped them: together, once.
        status = [json.loads((hosts[0].data_dir("triggered", "x") / i / "status").read_text())
                  for i in ids]
        assert all(s["Status"] == "Success" for s in status)
    finally:
        for h in hosts:
            assert h.stop() == 0


def test_job_time_zone(host):
    deploy(host, "tz", "echo tz\n")
    put_settings(host, "tz", {"schedule": "0 0 9 * * *", "timezone": "Asia/Kathmandu"})
    j = host.get("/api/triggeredwebjobs/tz").json()
    assert j["next_run"].endswith("T03:15:00Z")  # 09:00 at +05:45
    put_settings(host, "tz", {"schedule": "0 0 9 * * *", "timezone": "Nowhere/Else"})
    j = host.get("/api/triggeredwebjobs/tz").json()
    assert j["error"] and "time zone" in j["error"] and j["next_run"] is None


# ---- webjobs cron ----

def cron(*args):
    return subprocess.run([BIN, "cron", *args], capture_output=True, text=True, timeout=30)


def test_cron_cli_next_times():
    r = cron("--tz", "America/New_York", "--from", "2026-03-08T01:59:00", "-n", "3", "0 30 2 * * *")
    assert r.returncode == 0
    assert r.stdout.split() == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
                                "2026-03-10T02:30:00-04:00"]
    r = cron("--tz", "America/New_York", "--from", "2026-11-01T00:45:00", "-n", "3", "0 30 * * * *")
    assert r.stdout.split() == ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00",
                                "2026-11-01T02:30:00-05:00"]
    r = cron("--from", "2024-01-01T00:00:00Z", "0 0 0 13 * fri")
    assert r.returncode == 0 and len(r.stdout.split()) == 5
    assert r.stdout.split()[0] == "2024-09-13T00:00:00+00:00"
    r = cron("--tz", "Europe/Berlin", "--from", "2026-03-29T02:30:00", "-n", "1", "* * * * * *")
    assert r.stdout.split() == ["2026-03-29T03:30:01+02:00"]  # moved forward by the gap


def test_cron_cli_expand_and_errors():
    r = cron("--expand", "*/10 * * * * *")
    assert r.returncode == 0 and r.stdout == "0,10,20,30,40,50 * * * * *\n"
    assert cron("--expand", "0 0 9 * * mon,wed").stdout == "0 0 9 * * 1,3\n"
    assert cron("--expand", "1,2,3,5 * * * * *").stdout == "1-3,5 * * * * *\n"
    # Never cut short (the landed build stopped at 44).
    assert cron("--expand", "*/2 * * * * *").stdout == \
        ",".join(str(s) for s in range(0, 60, 2)) + " * * * * *\n"
    long_expr = ",".join(f"{a}-{a + 1}" for a in range(0, 59, 3)) + " " + \
        ",".join(f"{a}-{a + 1}" for a in range(0, 59, 3)) + " " + \
        ",".join(f"{a}-{a + 1}" for a in range(0, 23, 3)) + " * * *"
    assert len(long_expr) > 256
    assert cron("--expand", long_expr).stdout == long_expr + "\n"
    r = cron("0 0 0 30 2 *")
    assert r.returncode == 1 and "never fires" in r.stdout
    r = cron("--expand", "0 0 0 30 2 *")
    assert r.returncode == 0 and r.stdout == "0 0 0 30 2 *\n"
    r = cron("0 0 25 * * *")
    assert r.returncode == 2 and "field 'hour': '25' is out of range 0-23" in r.stderr
    assert cron("* * * * *").returncode == 2
    assert cron("--tz", "Nowhere/Else", "* * * * * *").returncode == 2
    assert cron("--from", "yesterday", "* * * * * *").returncode == 2
    assert cron().returncode == 2
