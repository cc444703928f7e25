"""Run control beyond Kudu (docs/API.md, "Run control"): aborting a run,
on the instance that got the request or on another one."""
import os
import re
import subprocess
import time

from conftest import BIN, PASSWORD, USER, Host, wait_for
from test_runs import deploy, start_run, wait_run

LOOP = "trap 'echo got TERM; exit 3' TERM\necho $WEBJOBS_SHUTDOWN_FILE > shutdown-path\n" \
       "echo trapped\nwhile true; do sleep 0.1; done\n"


def run_log(h, name, rid):
    p = h.data_dir("triggered", name) / rid / "output_log.txt"
    return p.read_text() if p.exists() else ""  # made once the run begins


def wait_trapped(h, name, rid):
    """Running is recorded when the job's process exists, which can be
    before its shell has read the trap line: a SIGTERM sent then kills it
    outright. The scripts here say "trapped" once the trap is set."""
    assert wait_for(lambda: "INFO] trapped" in run_log(h, name, rid), timeout=10)


def abort(h, name, rid=None):
    path = f"/api/triggeredwebjobs/{name}" + (f"/history/{rid}" if rid else "") + "/abort"
    return h.request("POST", path)


def test_abort_a_run(home):
    h = Host(home).start()
    try:
        deploy(h, "loop", LOOP)
        rid = start_run(h, "loop")
        assert wait_for(lambda: h.get(f"/api/triggeredwebjobs/loop/history/{rid}").json()
                        ["status"] == "Running", timeout=10)
        wait_trapped(h, "loop", rid)
        r = abort(h, "loop", rid)
        assert r.status == 202 and r.body == b""
        assert r.header("Location").endswith(f"/api/triggeredwebjobs/loop/history/{rid}")
        run = wait_run(h, "loop", rid)
        assert run["status"] == "Aborted"
        log = run_log(h, "loop", rid)
        assert f"SYS ERR ] Run aborted by {USER}" in log
        assert "INFO] got TERM" in log
        assert log.index("Run aborted by") < log.index("Status changed to Aborted")
        # The lock went with it: the next run starts.
        assert h.request("POST", "/api/triggeredwebjobs/loop/run").status == 202
        assert abort(h, "loop").status == 202
        # Ended, unknown, malformed.
        r = abort(h, "loop", rid)
        assert r.status == 409 and r.json() == {"Message": "The run has already ended."}
        assert abort(h, "loop", "202001010000000000").status == 404
        assert abort(h, "loop", "nonsense").status == 404
        assert abort(h, "nosuch").status == 404
        assert wait_for(lambda: abort(h, "loop").status == 409, timeout=10)
        assert abort(h, "loop").json() == {"Message": "No run is in progress."}
        assert 'webjobs_run_aborts_total{job="loop"} 2' in h.get("/metrics").text()
    finally:
        assert h.stop() == 0


def test_the_shutdown_file_goes_with_the_run(home):
    """The shutdown file a graceful abort made is removed when the process
    ends, so the next run does not find it at its start."""
    h = Host(home).start()
    try:
        deploy(h, "watch", "echo shut=$WEBJOBS_SHUTDOWN_FILE\n"
                           "[ -e \"$WEBJOBS_SHUTDOWN_FILE\" ] && echo there-at-start\n" + LOOP)
        rid = start_run(h, "watch")
        wait_trapped(h, "watch", rid)
        path = re.search(r"INFO\] shut=(\S+)", run_log(h, "watch", rid)).group(1)
        assert abort(h, "watch", rid).status == 202
        assert wait_run(h, "watch", rid)["status"] == "Aborted"
        assert "INFO] got TERM" in run_log(h, "watch", rid)
        assert not os.path.exists(path)
        rid = start_run(h, "watch")
        wait_trapped(h, "watch", rid)
        assert "there-at-start" not in run_log(h, "watch", rid)
        assert abort(h, "watch", rid).status == 202
        assert wait_run(h, "watch", rid)["status"] == "Aborted"
    finally:
        assert h.stop() == 0


def test_abort_kills_after_the_wait(home):
    """A run that ignores SIGTERM is killed after its stopping_wait_time."""
    h = Host(home).start()
    try:
        deploy(h, "stubborn", "trap '' TERM\necho trapped\nwhile true; do sleep 0.1; done\n")
        h.request("PUT", "/api/triggeredwebjobs/stubborn/settings",
                  body=b'{"stopping_wait_time": 1}')
        rid = start_run(h, "stubborn")
        wait_trapped(h, "stubborn", rid)
        t = time.time()
        assert abort(h, "stubborn").status == 202
        assert wait_run(h, "stubborn", rid)["status"] == "Aborted"
        assert 0.8 < time.time() - t < 5
    finally:
        assert h.stop() == 0


def test_abort_reaches_the_instance_that_runs_it(home):
    a = Host(home, instance="inst-a").start()
    b = Host(home, instance="inst-b").start()
    try:
        deploy(a, "loop", LOOP)
        rid = start_run(a, "loop")
        assert wait_for(lambda: b.get(f"/api/triggeredwebjobs/loop/history/{rid}").json()
                        ["status"] == "Running", timeout=10)
        t = time.time()
        r = abort(b, "loop")
        assert r.status == 202 and r.header("Location").endswith(rid)
        assert wait_run(a, "loop", rid)["status"] == "Aborted"
        assert time.time() - t < 4
        assert f"Run aborted by {USER}" in run_log(a, "loop", rid)
    finally:
        assert b.stop() == 0
        assert a.stop() == 0


def test_client_abort(home):
    h = Host(home).start()
    env = dict(os.environ, WEBJOBS_URL=h.prefix, WEBJOBS_USERNAME=USER,
               WEBJOBS_PASSWORD=PASSWORD)
    try:
        deploy(h, "loop", LOOP)
        rid = start_run(h, "loop")
        assert wait_for(lambda: h.get(f"/api/triggeredwebjobs/loop/history/{rid}").json()
                        ["status"] == "Running", timeout=10)
        r = subprocess.run([BIN, "abort", "loop"], capture_output=True, text=True, env=env)
        assert r.returncode == 0 and r.stdout == f"aborting run {rid} of loop\n"
        assert wait_run(h, "loop", rid)["status"] == "Aborted"
        r = subprocess.run([BIN, "abort", "loop", rid], capture_output=True, text=True, env=env)
        assert r.returncode == 3
        assert r.stderr == "webjobs: 409 Conflict: The run has already ended.\n"
        # run --wait says how many attempts a run took.
        deploy(h, "twice", "[ \"$WEBJOBS_RUN_ATTEMPT\" = 2 ] && exit 0\nexit 1\n")
        h.request("PUT", "/api/triggeredwebjobs/twice/settings",
                  body=b'{"retries": 2, "retry_delay": 0}')
        r = subprocess.run([BIN, "run", "twice", "--wait"], capture_output=True, text=True,
                           env=env, timeout=30)
        assert r.returncode == 0 and r.stdout.split()[1:] == ["Success", "after", "2", "attempts"]
    finally:
        assert h.stop() == 0


def test_timeout_of_the_job_and_of_the_host(home):
    """timeout in settings.job, else WEBJOBS_RUN_TIMEOUT: the run is
    stopped as by an abort and ends Failed with the timeout line."""
    h = Host(home, env={"WEBJOBS_RUN_TIMEOUT": "2"}).start()
    try:
        deploy(h, "busy", "trap 'echo got TERM; exit 0' TERM\nwhile true; do :; done\n")
        h.request("PUT", "/api/triggeredwebjobs/busy/settings", body=b'{"timeout": 1}')
        rid = start_run(h, "busy")
        t = time.time()
        run = wait_run(h, "busy", rid)
        assert run["status"] == "Failed"
        assert 0.8 < time.time() - t < 5
        log = run_log(h, "busy", rid)
        assert "SYS ERR ] Job failed due to timeout of 1 seconds" in log
        assert "INFO] got TERM" in log  # stopped gracefully, like an abort
        assert log.index("timeout of 1 seconds") < log.index("Status changed to Failed")
        # Without a setting of its own, the host's 2 s apply.
        h.request("PUT", "/api/triggeredwebjobs/busy/settings", body=b'{}')
        rid = start_run(h, "busy")
        assert wait_run(h, "busy", rid)["status"] == "Failed"
        assert "timeout of 2 seconds" in run_log(h, "busy", rid)
        assert 'webjobs_run_timeouts_total{job="busy"} 2' in h.get("/metrics").text()
        # A run that ends in time is not touched.
        deploy(h, "quick", "echo done\n")
        rid = start_run(h, "quick")
        assert wait_run(h, "quick", rid)["status"] == "Success"
    finally:
        assert h.stop() == 0


FLAKY = """n=$(cat {d}/count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {d}/count
echo "attempt $WEBJOBS_RUN_ATTEMPT, try $n"
[ $n -ge {ok} ] && exit 0
exit 1
"""


def start_flaky(h, tmp_path, ok, settings):
    """Deploys FLAKY (succeeding from its try ok on) with settings, starts
    a run of it and returns the run's id once its first attempt failed."""
    deploy(h, "flaky", FLAKY.format(d=tmp_path, ok=ok))
    h.request("PUT", "/api/triggeredwebjobs/flaky/settings", body=settings)
    rid = start_run(h, "flaky")
    assert wait_for(lambda: "attempt 2 starts" in run_log(h, "flaky", rid), timeout=10)
    return rid


def test_retries_are_attempts_of_one_run(home, tmp_path):
    h = Host(home).start()
    try:
        rid = start_flaky(h, tmp_path, 3, b'{"retries": 3, "retry_delay": 1, "retry_max_delay": 2}')
        # Between attempts the run stays Running, under the same id.
        mid = h.get(f"/api/triggeredwebjobs/flaky/history/{rid}").json()
        assert mid["status"] == "Running" and mid["attempt"] in (1, 2)
        run = wait_run(h, "flaky", rid)
        assert run["status"] == "Success" and run["attempt"] == 3
        assert [r["id"] for r in h.get("/api/triggeredwebjobs/flaky/history").json()["runs"]] \
            == [rid]
        log = run_log(h, "flaky", rid)
        for line in ["SYS INFO] Attempt 1 of 4 started", "INFO] attempt 1, try 1",
                     "SYS ERR ] Job failed due to exit code 1",
                     "SYS INFO] Attempt 1 of 4 failed; attempt 2 starts in 1 seconds",
                     "SYS INFO] Attempt 2 of 4 failed; attempt 3 starts in 2 seconds",
                     "SYS INFO] Attempt 3 of 4 started", "INFO] attempt 3, try 3",
                     "Status changed to Success"]:
            assert line in log, (line, log)
        assert log.count("Status changed to Running") == 1
        record = (h.data_dir("triggered", "flaky") / rid / "status").read_text()
        assert '"Attempt":3' in record
        assert 'webjobs_run_retries_total{job="flaky"} 2' in h.get("/metrics").text()
        # Out of attempts: the last one's result.
        (tmp_path / "count").write_text("0")
        h.request("PUT", "/api/triggeredwebjobs/flaky/settings",
                  body=b'{"retries": 1, "retry_delay": 1}')
        rid = start_run(h, "flaky")
        run = wait_run(h, "flaky", rid)
        assert run["status"] == "Failed" and run["attempt"] == 2
        log = run_log(h, "flaky", rid)
        assert log.rstrip().endswith("SYS ERR ] Job failed due to exit code 1")
    finally:
        assert h.stop() == 0


def test_no_retry_after_an_abort_or_a_timeout(home, tmp_path):
    h = Host(home).start()
    try:
        rid = start_flaky(h, tmp_path, 100, b'{"retries": 5, "retry_delay": 30}')
        assert "attempt 2 starts in 30 seconds" in run_log(h, "flaky", rid)
        assert abort(h, "flaky").status == 202
        assert wait_run(h, "flaky", rid)["status"] == "Aborted"
        assert "Attempt 2 of 6 started" not in run_log(h, "flaky", rid)
        # The timeout counts across attempts and the waits between them.
        h.request("PUT", "/api/triggeredwebjobs/flaky/settings",
                  body=b'{"retries": 5, "retry_delay": 1, "timeout": 2}')
        rid = start_run(h, "flaky")
        run = wait_run(h, "flaky", rid)
        assert run["status"] == "Failed" and run["attempt"] < 6
        assert "Job failed due to timeout of 2 seconds" in run_log(h, "flaky", rid)
    finally:
        assert h.stop() == 0
    # A host that dies between attempts leaves the run Aborted; the next
    # host does not retry it.
    h = Host(home).start()
    try:
        (tmp_path / "count").write_text("0")
        rid = start_flaky(h, tmp_path, 100, b'{"retries": 5, "retry_delay": 30}')
        assert status_of(h, "flaky", rid) == "Running"
        h.proc.kill()
        h.proc.wait()
        h = Host(home).start()
        run = h.get(f"/api/triggeredwebjobs/flaky/history/{rid}").json()
        assert run["status"] == "Aborted" and run["attempt"] == 1
        assert (tmp_path / "count").read_text().strip() == "1"
    finally:
        assert h.stop() == 0


def status_of(h, name, rid):
    return h.get(f"/api/triggeredwebjobs/{name}/history/{rid}").json()["status"]


def runs_then_aborts(h, name, rid):
    """Run rid of job name comes to run, then ends Aborted when asked."""
    assert wait_for(lambda: status_of(h, name, rid) == "Running", timeout=10)
    assert abort(h, name).status == 202
    assert wait_run(h, name, rid)["status"] == "Aborted"


def test_queue_policy(home):
    """concurrency queue: starts while a run is in progress are Queued runs
    (202, in the history), started one at a time in id order; at most
    queue_max; a queued run can be aborted without starting; queued runs
    survive a restart of the host."""
    h = Host(home).start()
    try:
        deploy(h, "q", "echo start; sleep 1\n")
        h.request("PUT", "/api/triggeredwebjobs/q/settings",
                  body=b'{"concurrency": "queue", "queue_max": 3}')
        ids = [start_run(h, "q") for _ in range(4)]
        assert [status_of(h, "q", i) for i in ids[1:]] == ["Queued"] * 3
        r = h.request("POST", "/api/triggeredwebjobs/q/run")
        assert r.status == 409 and r.json() == {"Message": "The run queue is full."}
        assert h.get("/api/triggeredwebjobs/q").json()["latest_run"]["id"] == ids[3]
        assert 'webjobs_run_queue_length{job="q"} 3' in h.get("/metrics").text()
        # The first is still Running, not Aborted, though it is not the newest.
        assert status_of(h, "q", ids[0]) == "Running"
        # A queued run aborted never starts.
        assert abort(h, "q", ids[2]).status == 202
        assert status_of(h, "q", ids[2]) == "Aborted"
        assert "Run aborted by tester" in run_log(h, "q", ids[2])
        assert "Run script" not in run_log(h, "q", ids[2])
        starts = []
        for i in (ids[0], ids[1], ids[3]):
            assert wait_run(h, "q", i, timeout=20)["status"] == "Success"
            starts.append(h.get(f"/api/triggeredwebjobs/q/history/{i}").json()["start_time"])
        assert starts == sorted(starts)
    finally:
        assert h.stop() == 0
    # Queued runs are durable: a host killed with -9 leaves them queued, and
    # the next host starts them.
    h = Host(home).start()
    try:
        deploy(h, "q", "sleep 30\n")  # a deploy replaces settings.job too
        h.request("PUT", "/api/triggeredwebjobs/q/settings", body=b'{"concurrency": "queue"}')
        first = start_run(h, "q")
        queued = start_run(h, "q")
        assert status_of(h, "q", queued) == "Queued"
        h.proc.kill()
        h.proc.wait()
        h = Host(home).start()
        assert status_of(h, "q", first) == "Aborted"
        runs_then_aborts(h, "q", queued)
    finally:
        assert h.stop() == 0


def test_replace_policy(home):
    h = Host(home).start()
    try:
        deploy(h, "r", LOOP)
        h.request("PUT", "/api/triggeredwebjobs/r/settings", body=b'{"concurrency": "replace"}')
        old = start_run(h, "r")
        assert wait_for(lambda: status_of(h, "r", old) == "Running", timeout=10)
        new = start_run(h, "r")
        assert wait_run(h, "r", old)["status"] == "Aborted"
        assert f"Run aborted by replacement run {new}" in run_log(h, "r", old)
        runs_then_aborts(h, "r", new)
    finally:
        assert h.stop() == 0


def test_schedule_ticks_follow_the_policy(home):
    """Under queue, a tick that finds the job running is queued, not
    skipped; past queue_max it is skipped and logged."""
    h = Host(home).start()
    try:
        deploy(h, "s", "sleep 2\n")
        h.request("PUT", "/api/triggeredwebjobs/s/settings",
                  body=b'{"schedule": "* * * * * *", "concurrency": "queue", "queue_max": 1}')
        log = h.data_dir("triggered", "s") / "job_scheduler.log"
        assert wait_for(lambda: log.exists() and "the run queue is full" in log.read_text(),
                        timeout=10)
        def runs():
            return h.get("/api/triggeredwebjobs/s/history").json()["runs"]

        # A tick queued behind the running one (polled: it starts when
        # the run ahead of it ends).
        assert wait_for(lambda: any(r["status"] == "Queued" for r in runs()), timeout=10)
        assert all(r["trigger"].startswith("Schedule - ") for r in runs())
        assert "already running" not in log.read_text()
    finally:
        assert h.stop() == 0


ALLOW = "trap 'echo got TERM; exit 3' TERM\n" \
        "echo cwd=$(pwd) shut=$WEBJOBS_SHUTDOWN_FILE\nwhile true; do sleep 0.1; done\n"


def test_allow_policy_across_instances(home):
    """concurrency allow: up to max_concurrent runs at once across every
    instance, each in its own working copy with its own shutdown file;
    one more is 409; aborting one stops that one alone; a job's abort stops
    them all; the slot of an ended run is free for the next."""
    a = Host(home, instance="inst-a").start()
    b = Host(home, instance="inst-b").start()
    try:
        deploy(a, "par", ALLOW)
        a.request("PUT", "/api/triggeredwebjobs/par/settings",
                  body=b'{"concurrency": "allow", "max_concurrent": 3}')
        assert wait_for(lambda: b.get("/api/triggeredwebjobs/par").json()["settings"]
                        .get("max_concurrent") == 3, timeout=10)
        ids = [start_run(a, "par"), start_run(b, "par"), start_run(a, "par")]
        assert len(set(ids)) == 3
        for i in ids:
            assert wait_for(lambda: status_of(b, "par", i) == "Running", timeout=10)
        for h in (a, b):
            r = h.request("POST", "/api/triggeredwebjobs/par/run")
            assert r.status == 409, r.body
        # Each from its own copy, each with its own shutdown file.
        lines = []
        for i in ids:
            assert wait_for(lambda: "cwd=" in run_log(a, "par", i), timeout=10)
            lines.append(run_log(a, "par", i).split("cwd=")[1].split("\n")[0])
        assert len(set(lines)) == 3, lines
        # Every one is in progress, though only one is the newest.
        assert [status_of(a, "par", i) for i in ids] == ["Running"] * 3
        # One aborted (through the other instance): that one alone ends.
        assert abort(b, "par", ids[0]).status == 202
        assert wait_run(a, "par", ids[0])["status"] == "Aborted"
        assert "got TERM" in run_log(a, "par", ids[0])
        assert [status_of(a, "par", i) for i in ids[1:]] == ["Running"] * 2
        # Its slot is free again.
        ids.append(start_run(b, "par"))
        assert wait_for(lambda: status_of(a, "par", ids[3]) == "Running", timeout=10)
        # The job's abort ends every run in progress, on both instances.
        r = abort(a, "par")
        assert r.status == 202
        assert r.header("Location").endswith(f"/history/{ids[3]}")
        for i in ids[1:]:
            assert wait_run(a, "par", i)["status"] == "Aborted"
            assert "Run aborted by tester" in run_log(a, "par", i)
        assert wait_for(lambda: abort(a, "par").status == 409, timeout=10)
    finally:
        assert a.stop() == 0
        assert b.stop() == 0


def test_allow_runs_left_by_a_crash(home):
    """Runs in slots of a host killed with -9 are Aborted at its restart,
    and their slots serve new runs."""
    h = Host(home).start()
    try:
        deploy(h, "par", "sleep 30\n")
        h.request("PUT", "/api/triggeredwebjobs/par/settings",
                  body=b'{"concurrency": "allow", "max_concurrent": 2}')
        ids = [start_run(h, "par"), start_run(h, "par")]
        for i in ids:
            assert wait_for(lambda: status_of(h, "par", i) == "Running", timeout=10)
        h.proc.kill()
        h.proc.wait()
        h = Host(home).start()
        assert [status_of(h, "par", i) for i in ids] == ["Aborted"] * 2
        for i in ids:
            assert "The host went away during the run" in run_log(h, "par", i)
        new = [start_run(h, "par"), start_run(h, "par")]
        for i in new:
            assert wait_for(lambda: status_of(h, "par", i) == "Running", timeout=10)
        assert abort(h, "par").status == 202
        for i in new:
            assert wait_run(h, "par", i)["status"] == "Aborted"
    finally:
        assert h.stop() == 0


def test_schedule_ticks_under_allow_forbid_and_replace(home):
    """Under allow, a tick that finds runs in progress starts another while
    a slot is free; under forbid it is skipped and logged; under replace it
    aborts the run in progress and takes its place."""
    h = Host(home).start()
    try:
        deploy(h, "sa", "sleep 3\n")
        h.request("PUT", "/api/triggeredwebjobs/sa/settings",
                  body=b'{"schedule": "* * * * * *", "concurrency": "allow", '
                       b'"max_concurrent": 2}')

        def running():
            return sum(r["status"] == "Running" for r in
                       h.get("/api/triggeredwebjobs/sa/history").json()["runs"])

        assert wait_for(lambda: running() == 2, timeout=10)
        log = h.data_dir("triggered", "sa") / "job_scheduler.log"
        assert wait_for(lambda: log.exists() and "already running" in log.read_text(),
                        timeout=10)
        deploy(h, "sf", "sleep 3\n")
        h.request("PUT", "/api/triggeredwebjobs/sf/settings",
                  body=b'{"schedule": "* * * * * *"}')
        slog = h.data_dir("triggered", "sf") / "job_scheduler.log"
        assert wait_for(lambda: slog.exists() and "already running" in slog.read_text(),
                        timeout=10)
        runs = h.get("/api/triggeredwebjobs/sf/history").json()["runs"]
        assert sum(r["status"] == "Running" for r in runs) == 1
        # Under replace, each tick aborts the run in progress.
        deploy(h, "sr", "sleep 30\n")
        h.request("PUT", "/api/triggeredwebjobs/sr/settings",
                  body=b'{"schedule": "* * * * * *", "concurrency": "replace", '
                       b'"stopping_wait_time": 0}')

        def replaced():
            return [r for r in h.get("/api/triggeredwebjobs/sr/history").json()["runs"]
                    if r["status"] == "Aborted"]

        assert wait_for(lambda: len(replaced()) >= 2, timeout=15)
        for r in replaced():
            assert "Run aborted by replacement run " in run_log(h, "sr", r["id"])
    finally:
        assert h.stop() == 0


def test_abort_an_initializing_run(home):
    """A run aborted while its working copy is still being made (status
    Initializing) never starts its process and ends Aborted."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("run.sh", "echo started > started\n")
        for i in range(4000):
            z.writestr(f"data/{i // 100}/f{i}.txt", "x" * 2000)
    h = Host(home).start()
    try:
        r = h.request("PUT", "/api/triggeredwebjobs/big", body=buf.getvalue(),
                      headers={"Content-Disposition": "attachment; filename=big.zip",
                               "Content-Type": "application/zip"})
        assert r.status == 200, r.body
        rid = start_run(h, "big")
        assert status_of(h, "big", rid) == "Initializing"
        assert abort(h, "big", rid).status == 202
        run = wait_run(h, "big", rid)
        assert run["status"] == "Aborted"
        log = run_log(h, "big", rid)
        assert "Run aborted by tester" in log and "Run script" not in log
        # The next run makes its copy and runs.
        rid = start_run(h, "big")
        assert wait_run(h, "big", rid)["status"] == "Success"
    finally:
        assert h.stop() == 0
