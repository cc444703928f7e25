"""Triggered jobs (SPEC 5, 6, 8): deploy, run with arguments, history, logs,
crash recovery and shutdown."""
import contextlib
import fcntl
import io
import json
import os
import shutil
import re
import signal
import stat
import time
import zipfile

import pytest

from conftest import PASSWORD, Host, wait_for

LINE = re.compile(r"^\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d) > ([^:]+): (SYS INFO|SYS ERR |INFO|ERR )\] (.*)$")


def make_zip(entries):
    """entries: {name: bytes|str} or a list of (ZipInfo|name, data)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        items = entries.items() if isinstance(entries, dict) else entries
        for name, data in items:
            z.writestr(name, data)
    return buf.getvalue()


def deploy(h, name, body, filename="run.sh", zip_=False, kind="triggered", headers=None):
    hd = {"Content-Disposition": f"attachment; filename={filename}"}
    if zip_:
        hd["Content-Type"] = "application/zip"
    if headers is not None:
        hd = headers
    data = body.encode() if isinstance(body, str) else body
    return h.request("PUT", f"/api/{kind}webjobs/{name}", body=data, headers=hd)


def start_run(h, name, args=None, ua="pytest"):
    q = "" if args is None else "?arguments=" + args
    r = h.request("POST", f"/api/triggeredwebjobs/{name}/run{q}", headers={"User-Agent": ua})
    assert r.status == 202, (r.status, r.body)
    return r.header("Location").rsplit("/", 1)[1]


def wait_run(h, name, rid, timeout=20):
    def done():
        r = h.get(f"/api/triggeredwebjobs/{name}/history/{rid}")
        if r.status == 200 and r.json()["status"] in ("Success", "Failed", "Aborted"):
            return r.json()
        return None
    run = wait_for(done, timeout=timeout, interval=0.05)
    assert run, f"run {rid} of {name} did not end"
    return run


def log_lines(h, name, rid, file="output_log.txt"):
    text = (h.data_dir("triggered", name) / rid / file).read_text()
    assert text.endswith("\n")
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, line
        assert m.group(2) == "test-i"  # the first 6 characters of the instance id
        out.append((m.group(3), m.group(4)))
    return out


@pytest.fixture
def host(home):
    h = Host(home, env={"WEBJOBS_IDLE_TIMEOUT": "120"})
    h.start()
    yield h
    assert h.stop() == 0, h.proc.stderr.read()


# ---- deploy ----

def test_deploy_single_file_forms(host):
    for cd, fname in [("attachment; filename=run.sh", "run.sh"),
                      ('attachment; filename="my run.sh"', "my run.sh"),
                      ("attachment; filename*=UTF-8''r%C3%BCn.py", "rün.py"),
                      ('attachment; filename="x.txt"; filename*=UTF-8\'\'a.sh', "a.sh"),
                      ("attachement; filename=C:\\\\dir\\\\job.sh", "job.sh"),
                      ("attachment; filename=../../evil.sh", "evil.sh")]:
        r = deploy(host, "j", "echo x\n", headers={"Content-Disposition": cd})
        assert r.status == 200, (cd, r.body)
        j = r.json()
        assert j["name"] == "j" and j["run_command"] == fname, cd
        assert sorted(os.listdir(host.bin_dir("triggered", "j"))) == [fname]
    assert host.get("/api/triggeredwebjobs/j").status == 200


def test_deploy_zip_nested_and_modes(host):
    zi = zipfile.ZipInfo("top/run.sh")
    zi.external_attr = (0o104755 & 0xFFFF) << 16  # setuid must go
    zi2 = zipfile.ZipInfo("top/data/readme.txt")
    zi2.external_attr = (0o100600 & 0xFFFF) << 16
    body = make_zip([(zi, "echo zipped\n"), (zi2, "x"), ("top/settings.job", '{"a":1}')])
    r = deploy(host, "z", body, filename="z.zip", zip_=True)
    assert r.status == 200, r.body
    assert r.json()["run_command"] == "top/run.sh"
    assert r.json()["settings"] == {"a": 1}
    d = host.bin_dir("triggered", "z") / "top"
    assert stat.S_IMODE((d / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((d / "data" / "readme.txt").stat().st_mode) == 0o600
    rid = start_run(host, "z")
    assert wait_run(host, "z", rid)["status"] == "Success"


def test_deploy_replaces_whole_folder(host):
    deploy(host, "r", make_zip({"run.sh": "echo 1", "settings.job": '{"x":1}', "old.txt": "o"}),
           filename="a.zip", zip_=True)
    r = deploy(host, "r", "echo 2\n", filename="run.py")
    assert r.status == 200
    assert os.listdir(host.bin_dir("triggered", "r")) == ["run.py"]
    assert host.get("/api/triggeredwebjobs/r/settings").json() == {}


def test_deploy_errors_change_nothing(host):
    assert deploy(host, "keep", "echo kept\n").status == 200
    rid = start_run(host, "keep")
    wait_run(host, "keep", rid)
    before = host.get("/api/triggeredwebjobs/keep/history").json()
    cases = [
        ({"Content-Type": "text/plain"}, b"x", 400, "Missing Content-Disposition header."),
        ({"Content-Disposition": "attachment"}, b"x", 400, "Missing Content-Disposition header."),
        ({"Content-Disposition": "attachment; filename=readme.txt"}, b"x", 400,
         "No runnable script file was found."),
        ({"Content-Disposition": "attachment; filename=a.zip", "Content-Type": "application/zip"},
         b"not a zip", 400, None),
        ({"Content-Disposition": "attachment; filename=a.zip", "Content-Type": "application/zip"},
         make_zip({"readme.md": "x"}), 400, "No runnable script file was found."),
    ]
    for headers, body, status, text in cases:
        r = deploy(host, "keep", body, headers=headers)
        assert r.status == status, (headers, r.body)
        if text:
            assert r.json() == {"Message": text}
        assert os.listdir(host.bin_dir("triggered", "keep")) == ["run.sh"]
        assert host.get("/api/triggeredwebjobs/keep/history").json() == before
    # Nothing is left behind in the jobs folder.
    assert sorted(os.listdir(host.home / "site/wwwroot/App_Data/jobs/triggered")) == ["keep"]


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_libarchive_loaded_only_by_first_zip(host):
    """An idle host does not map libarchive (docs/DECISIONS.md, idle
    memory); the first zip deploy loads it and works."""
    maps = f"/proc/{host.proc.pid}/maps"

    def mapped():
        with open(maps) as f:
            return "libarchive" in f.read()

    assert deploy(host, "plain", "echo hi\n").status == 200
    assert not mapped()
    r = deploy(host, "zipped", make_zip({"run.sh": "echo hi\n"}), filename="j.zip", zip_=True)
    assert r.status == 200, r.body
    assert mapped()
    assert (host.bin_dir("triggered", "zipped") / "run.sh").read_text() == "echo hi\n"


def test_hostile_zip_entries(host):
    assert deploy(host, "keep", "echo kept\n").status == 200
    link = zipfile.ZipInfo("link")
    link.external_attr = (0o120777 & 0xFFFF) << 16
    fifo = zipfile.ZipInfo("fifo")
    fifo.external_attr = (0o010644 & 0xFFFF) << 16
    dev = zipfile.ZipInfo("dev")
    dev.external_attr = (0o020644 & 0xFFFF) << 16
    shapes = {
        "absolute": [("/etc/evil.sh", "x"), ("run.sh", "x")],
        "dotdot": [("../evil.sh", "x"), ("run.sh", "x")],
        "inner-dotdot": [("a/../../evil.sh", "x"), ("run.sh", "x")],
        "backslash-dotdot": [("..\\evil.sh", "x"), ("run.sh", "x")],
        "symlink": [(link, "/etc/passwd"), ("run.sh", "x")],
        "device": [(dev, ""), ("run.sh", "x")],
        "drive": [("C:/evil.sh", "x"), ("run.sh", "x")],
        "duplicate": [("run.sh", "a"), ("run.sh", "b")],
        "control": [("a\x01b.sh", "x"), ("run.sh", "x")],
    }
    for label, entries in shapes.items():
        r = deploy(host, "keep", make_zip(entries), filename="a.zip", zip_=True)
        assert r.status == 400, (label, r.body)
        msg = r.json()["Message"]
        assert "entry" in msg or "archive" in msg, (label, msg)
        assert os.listdir(host.bin_dir("triggered", "keep")) == ["run.sh"], label
        assert (host.bin_dir("triggered", "keep") / "run.sh").read_text() == "echo kept\n"
    assert not (host.home / "site" / "evil.sh").exists()
    assert not os.path.exists("/etc/evil.sh")
    # libarchive presents an empty FIFO entry as a plain file: whatever it
    # is, nothing but plain files and folders ever lands on disk.
    r = deploy(host, "fifo", make_zip([(fifo, ""), ("run.sh", "x")]), filename="a.zip", zip_=True)
    if r.status == 200:
        assert stat.S_ISREG(os.lstat(host.bin_dir("triggered", "fifo") / "fifo").st_mode)
    # A name with .. refused names the entry.
    r = deploy(host, "keep", make_zip([("../evil.sh", "x")]), filename="a.zip", zip_=True)
    assert "'../evil.sh'" in r.json()["Message"]


def test_truncated_zips_change_nothing(host):
    """A zip cut short — its end record gone, cut in the central directory,
    between two entries, inside an entry — is refused whole: 400 with the
    reason, and the job as it was (never some of the files)."""
    assert deploy(host, "keep", "echo kept\n").status == 200
    z = make_zip([("run.sh", "echo one\n" * 50), ("b.txt", "b" * 2000), ("c.txt", "c" * 3000)])
    infos = zipfile.ZipFile(io.BytesIO(z)).infolist()
    cd = z.find(b"PK\x01\x02")
    cuts = {"end record": z[:-30], "central directory": z[:cd + 30],
            "between entries": z[:infos[1].header_offset],
            "inside an entry": z[:infos[2].header_offset + 60]}
    for label, body in cuts.items():
        r = deploy(host, "keep", body, filename="a.zip", zip_=True)
        assert r.status == 400, (label, r.status, r.body)
        assert "cut short" in r.json()["Message"], (label, r.body)
        assert os.listdir(host.bin_dir("triggered", "keep")) == ["run.sh"], label
        assert (host.bin_dir("triggered", "keep") / "run.sh").read_text() == "echo kept\n"
    # The whole zip is fine.
    assert deploy(host, "keep", z, filename="a.zip", zip_=True).status == 200
    assert sorted(os.listdir(host.bin_dir("triggered", "keep"))) == ["b.txt", "c.txt", "run.sh"]


def test_zip_limits(home):
    h = Host(home).start()
    try:
        bomb = make_zip({"run.sh": "x", "zeros.bin": b"\0" * (40 * 1024 * 1024)})
        r = deploy(h, "b", bomb, filename="b.zip", zip_=True)
        assert r.status == 400 and "compressed more than 1000:1" in r.json()["Message"]
        assert not h.bin_dir("triggered", "b").exists()
    finally:
        assert h.stop() == 0


def test_bad_job_names(host):
    for name in ["%2e%2e", ".hidden", "a%5Cb", "a%01b", "x" * 129]:
        r = deploy(host, name, "echo\n")
        assert r.status in (400, 404), name
    assert os.listdir(host.home / "site/wwwroot/App_Data/jobs/triggered") == []


# ---- settings ----

def test_put_settings(host):
    deploy(host, "s", make_zip({"inner/run.sh": "echo"}), filename="s.zip", zip_=True)
    r = host.request("PUT", "/api/triggeredwebjobs/s/settings",
                     body=b'{"schedule":"0 0 * * * *","b":[1],"a":true}',
                     headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.body == b""
    assert host.get("/api/triggeredwebjobs/s/settings").text() == '{"schedule":"0 0 * * * *","b":[1],"a":true}'
    assert (host.bin_dir("triggered", "s") / "inner" / "settings.job").exists()
    for bad in [b"[1]", b"", b"{", b'"x"', b"null"]:
        r = host.request("PUT", "/api/triggeredwebjobs/s/settings", body=bad)
        assert r.status == 400, bad
    assert host.get("/api/triggeredwebjobs/s/settings").json()["a"] is True
    assert host.request("PUT", "/api/triggeredwebjobs/nope/settings", body=b"{}").status == 404


# ---- runs ----

def test_run_success_and_log_format(host):
    deploy(host, "ok", 'echo "out line"\necho "err line" >&2\nprintf "a\\r\\nb\\rc"\n')
    rid = start_run(host, "ok", ua="my-agent/1.0")
    run = wait_run(host, "ok", rid)
    assert run["status"] == "Success"
    assert run["trigger"] == "External - my-agent/1.0"
    assert run["end_time"] != "0001-01-01T00:00:00"
    assert run["error_url"].endswith(f"/vfs/data/jobs/triggered/ok/{rid}/error_log.txt")
    lines = log_lines(host, "ok", rid)
    assert lines[0] == ("SYS INFO", "Status changed to Initializing")
    assert lines[1] == ("SYS INFO", "Run script 'run.sh' with script host - 'BashScriptHost'")
    assert lines[2] == ("SYS INFO", "Status changed to Running")
    body = lines[3:-1]
    assert ("INFO", "out line") in body and ("ERR ", "err line") in body
    assert [t for lvl, t in body if lvl == "INFO"] == ["out line", "a", "b", "c"]
    assert lines[-1] == ("SYS INFO", "Status changed to Success")
    assert log_lines(host, "ok", rid, "error_log.txt") == [("ERR ", "err line")]
    status = json.loads((host.data_dir("triggered", "ok") / rid / "status").read_text())
    assert status["Status"] == "Success" and status["ExitCode"] == 0
    assert list(status)[:4] == ["Trigger", "Status", "StartTime", "EndTime"]
    # No stderr: no error_log.txt.
    deploy(host, "quiet", "echo only out\n")
    rid = start_run(host, "quiet")
    assert wait_run(host, "quiet", rid)["error_url"] is None


def test_run_failure_lines(host):
    deploy(host, "f", "echo before\nexit 7\n")
    rid = start_run(host, "f")
    assert wait_run(host, "f", rid)["status"] == "Failed"
    lines = log_lines(host, "f", rid)
    assert lines[-2:] == [("SYS INFO", "Status changed to Failed"),
                          ("SYS ERR ", "Job failed due to exit code 7")]
    deploy(host, "sig", "kill -SEGV $$\n")
    rid = start_run(host, "sig")
    assert wait_run(host, "sig", rid)["status"] == "Failed"
    assert log_lines(host, "sig", rid)[-1] == ("SYS ERR ", "Job failed due to signal SIGSEGV")


def test_missing_interpreter(host):
    if any(os.access(os.path.join(p, "php"), os.X_OK) for p in os.environ["PATH"].split(":")):
        pytest.skip("php is installed here")
    deploy(host, "php", "<?php echo 1;", filename="run.php")
    rid = start_run(host, "php")
    assert wait_run(host, "php", rid)["status"] == "Failed"
    text = (host.data_dir("triggered", "php") / rid / "output_log.txt").read_text()
    assert "'php'" in text and "not installed" in text


def test_a_start_that_fails_is_not_retried(host):
    """The spawn's answer comes after the drain that sent it (STARTED,
    docs/DECISIONS.md, "The cost of a scheduled run"): a process that
    cannot start still ends its run Failed at once, with no attempt
    retried and no Running record, as when the spawn waited."""
    host.add_job("triggered", "nope", {"run": "#!/no/such/interpreter\necho never\n"},
                 settings='{"retries": 2, "retry_delay": 0}')
    (host.bin_dir("triggered", "nope") / "run").chmod(0o755)
    deploy(host, "fine", "echo fine\n")
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/nope").status == 200)
    rids = [start_run(host, "nope"), start_run(host, "fine")]
    assert wait_run(host, "nope", rids[0])["status"] == "Failed"
    lines = log_lines(host, "nope", rids[0])
    failed = [t for _, t in lines if t.startswith("Job failed to start")]
    assert len(failed) == 1 and failed[0].endswith(
        "/run': the program is not installed (not found)"), lines
    assert not [t for _, t in lines if "failed; attempt" in t or t.startswith("Attempt 2")
                or t == "Status changed to Running"], lines
    assert wait_run(host, "fine", rids[1])["status"] == "Success"


def test_arguments_are_not_expanded(host):
    deploy(host, "args", 'for a in "$@"; do printf "<%s>\\n" "$a"; done\n'
                         'echo "raw=$WEBJOBS_COMMAND_ARGUMENTS"\n')
    import urllib.parse
    raw = "one 'two words' \"three $(id) `id`\" *.sh & ; a\\ b $HOME ~ x+y"
    rid = start_run(host, "args", urllib.parse.quote(raw, safe=""))
    assert wait_run(host, "args", rid)["status"] == "Success"
    out = [t for lvl, t in log_lines(host, "args", rid) if lvl == "INFO"]
    assert out == ["<one>", "<two words>", "<three $(id) `id`>", "<*.sh>", "<&>", "<;>",
                   "<a b>", "<$HOME>", "<~>", "<x+y>", "raw=" + raw]
    # '+' stays '+' (percent-decoded once).
    rid = start_run(host, "args", "a+b%2Bc")
    wait_run(host, "args", rid)
    assert [t for lvl, t in log_lines(host, "args", rid) if lvl == "INFO"][0] == "<a+b+c>"
    r = host.request("POST", "/api/triggeredwebjobs/args/run?arguments=%22open")
    assert r.status == 400 and "unterminated" in r.json()["Message"]


def test_environment(home):
    h = Host(home, env={"MY_VAR": "kept"}).start()
    try:
        deploy(h, "env", "env | sort\npwd\ncat <&0; echo stdin=$?\n")
        rid = start_run(h, "env", "a%20b")
        assert wait_run(h, "env", rid)["status"] == "Success"
        text = (h.data_dir("triggered", "env") / rid / "output_log.txt").read_text()
        assert PASSWORD not in text and "WEBJOBS_PASSWORD" not in text
        assert "WEBJOBS_USERNAME" not in text
        env = dict(t.split("=", 1) for lvl, t in log_lines(h, "env", rid) if lvl == "INFO" and "=" in t)
        assert env["MY_VAR"] == "kept"
        assert env["WEBJOBS_NAME"] == "env" and env["WEBJOBS_TYPE"] == "triggered"
        assert env["WEBJOBS_RUN_ID"] == rid
        assert env["WEBJOBS_COMMAND_ARGUMENTS"] == "a b"
        assert env["WEBJOBS_DATA_PATH"] == str(h.data_dir("triggered", "env"))
        assert env["WEBROOT_PATH"] == str(h.home / "site/wwwroot")
        assert env["WEBSITE_TRIGGERED_JOB_RUNNING_env"] == "true"
        assert env["WEBJOBS_SHUTDOWN_FILE"]
        # The run works in a private copy, not in the binaries folder.
        assert env["WEBJOBS_PATH"] != str(h.bin_dir("triggered", "env"))
        assert os.path.isfile(os.path.join(env["WEBJOBS_PATH"], "run.sh"))
        lines = [t for lvl, t in log_lines(h, "env", rid) if lvl == "INFO"]
        assert lines[-2] == env["WEBJOBS_PATH"]
        assert lines[-1] == "stdin=0"
    finally:
        assert h.stop() == 0


def test_working_copy_isolated_and_refreshed(host):
    deploy(host, "wc", "echo v1; touch written-by-run\n")
    rid = start_run(host, "wc")
    wait_run(host, "wc", rid)
    assert os.listdir(host.bin_dir("triggered", "wc")) == ["run.sh"]
    deploy(host, "wc", "echo v2\n")
    rid = start_run(host, "wc")
    wait_run(host, "wc", rid)
    assert ("INFO", "v2") in log_lines(host, "wc", rid)


def test_409_while_running_and_404(host):
    deploy(host, "slow", "sleep 2\n")
    rid = start_run(host, "slow")
    r = host.request("POST", "/api/triggeredwebjobs/slow/run")
    assert r.status == 409
    assert r.json() == {"Message": "Cannot start a new run since job is already running."}
    j = host.get("/api/triggeredwebjobs/slow").json()
    assert j["latest_run"]["status"] in ("Initializing", "Running")
    assert j["latest_run"]["end_time"] == "0001-01-01T00:00:00"
    assert wait_run(host, "slow", rid)["status"] == "Success"
    assert host.request("POST", "/api/triggeredwebjobs/nope/run").status == 404
    # After the run the job can run again.
    rid2 = start_run(host, "slow")
    assert rid2 > rid


def test_stopped_host(host):
    deploy(host, "t", "echo\n")
    (host.home / "site" / "settings.json").write_text('{"WEBJOBS_STOPPED": "1"}')
    def stopped():
        r = host.request("POST", "/api/triggeredwebjobs/t/run")
        return r if r.status == 409 else None
    r = wait_for(stopped, timeout=3)
    assert r and r.json() == {"Message": 'WebJobs are currently in "stopped" state.'}
    (host.home / "site" / "settings.json").write_text('{"WEBJOBS_STOPPED": false}')
    assert wait_for(lambda: host.request("POST", "/api/triggeredwebjobs/t/run").status == 202, timeout=3)


def test_history_trimmed(home):
    h = Host(home, env={"WEBJOBS_HISTORY_SIZE": "5"}).start()
    try:
        deploy(h, "t", "echo\n")
        ids = []
        for _ in range(8):
            rid = start_run(h, "t")
            wait_run(h, "t", rid)
            ids.append(rid)
        runs = h.get("/api/triggeredwebjobs/t/history").json()["runs"]
        assert [r["id"] for r in runs] == list(reversed(ids[-5:]))
        assert sorted(p for p in os.listdir(h.data_dir("triggered", "t")) if p.isdigit()) == ids[-5:]
    finally:
        assert h.stop() == 0


def test_history_trimmed_counts_folders_made_behind_its_back(home):
    """A run's start takes the job's runs from the registry's list when it
    is exact (docs/DECISIONS.md, "The run list kept from inotify's
    names"): run folders made or removed by hand a moment before are
    counted as a listing would count them, and a folder with a later id
    than the clock's makes the next run's id later still."""
    h = Host(home, env={"WEBJOBS_HISTORY_SIZE": "4"}).start()
    try:
        deploy(h, "t", "echo\n")
        first = start_run(h, "t")
        wait_run(h, "t", first)
        data = h.data_dir("triggered", "t")
        rec = {"Trigger": "x", "Status": "Success", "StartTime": "2001-01-01T00:00:00Z",
               "EndTime": "2001-01-01T00:00:01Z"}
        by_hand = [f"20010101000{k}000000" for k in range(3)]
        for rid in by_hand:
            h.add_run("t", rid, rec)
        rid = start_run(h, "t")
        wait_run(h, "t", rid)
        # Five were there with the new one: the oldest went.
        assert sorted(p.name for p in data.iterdir() if p.is_dir()) == by_hand[1:] + [first, rid]
        # One removed by hand: nothing more goes.
        shutil.rmtree(data / by_hand[1])
        rid2 = start_run(h, "t")
        wait_run(h, "t", rid2)
        assert sorted(p.name for p in data.iterdir() if p.is_dir()) == [by_hand[2], first, rid, rid2]
        # A folder from the future: the next id comes after it.
        future = "209901010000000000"
        h.add_run("t", future, rec)
        rid3 = start_run(h, "t")
        assert rid3 > future
        wait_run(h, "t", rid3)
        assert sorted(p.name for p in data.iterdir() if p.is_dir()) == [first, rid, rid2, future, rid3][1:]
    finally:
        assert h.stop() == 0


def test_a_request_sees_a_run_end_at_once(host):
    """The registry reads a change of a triggered job's runs in the
    background only 500 ms after it came (docs/DECISIONS.md, "Schedule fire
    latency: a tick's runs are one batch"); a request reads first what it
    shows: the run's end, seen on disk, is in the very next answers."""
    deploy(host, "quick", "echo hi\n")
    for _ in range(3):
        rid = start_run(host, "quick")
        status = host.data_dir("triggered", "quick") / rid / "status"
        deadline = time.time() + 10
        while '"Success"' not in (status.read_text() if status.exists() else ""):
            assert time.time() < deadline
            time.sleep(0.002)
        listed = {j["name"]: j for j in host.get("/api/triggeredwebjobs").json()}
        assert listed["quick"]["latest_run"]["id"] == rid
        assert listed["quick"]["latest_run"]["status"] == "Success"
        assert host.get("/api/triggeredwebjobs/quick").json()["latest_run"]["status"] == "Success"


def test_idle_timeout(home):
    h = Host(home, env={"WEBJOBS_IDLE_TIMEOUT": "2"}).start()
    try:
        deploy(h, "idle", "echo start\nsleep 60\n")
        rid = start_run(h, "idle")
        t0 = time.time()
        run = wait_run(h, "idle", rid, timeout=30)
        assert run["status"] == "Failed"
        assert time.time() - t0 >= 2
        lines = log_lines(h, "idle", rid)
        assert lines[-2] == ("SYS ERR ", "Job aborted due to no output nor CPU activity for 2 seconds")
        assert lines[-1] == ("SYS INFO", "Status changed to Failed")
        # Output keeps a run alive.
        deploy(h, "busy", "for i in 1 2 3 4 5 6; do echo $i; sleep 0.7; done\n")
        rid = start_run(h, "busy")
        assert wait_run(h, "busy", rid, timeout=30)["status"] == "Success"
    finally:
        assert h.stop() == 0


def alive(pid):
    try:
        os.kill(pid, 0)
        # A zombie waiting for its parent counts as gone.
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone, or going while we read (ESRCH)
        return False


def test_background_grandchild_killed(host, tmp_path):
    pidfile = tmp_path / "bg.pid"
    deploy(host, "bg", f"sleep 1000 &\necho $! > {pidfile}\necho done\n")
    rid = start_run(host, "bg")
    assert wait_run(host, "bg", rid)["status"] == "Success"
    pid = int(pidfile.read_text())
    assert wait_for(lambda: not alive(pid), timeout=5)


def test_delete_stops_run_and_removes(host, tmp_path):
    pidfile = tmp_path / "p"
    deploy(host, "d", f"echo $$ > {pidfile}\nsleep 1000\n")
    start_run(host, "d")
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    r = host.request("DELETE", "/api/triggeredwebjobs/d")
    assert r.status == 200 and r.body == b""
    assert host.get("/api/triggeredwebjobs/d").status == 404
    assert not host.bin_dir("triggered", "d").exists()
    assert wait_for(lambda: not host.data_dir("triggered", "d").exists())
    assert wait_for(lambda: not alive(pid), timeout=5)
    assert host.request("DELETE", "/api/triggeredwebjobs/never-was").status == 200
    assert host.request("DELETE", "/api/triggeredwebjobs/%2e%2e").status == 200
    assert (host.home / "site/wwwroot/App_Data/jobs").is_dir()


def test_a_folder_a_delete_marked_takes_no_run(host):
    """A delete marks the job's data folder before it moves it aside (a
    machine of a shared home may still be led there by the name for a
    moment, docs/SCALE-OUT.md): a run, or a queued run, that finds the
    mark is refused with 503 and makes nothing there."""
    deploy(host, "marked", "echo hi\n")
    rid = start_run(host, "marked")
    assert wait_run(host, "marked", rid)["status"] == "Success"
    data = host.data_dir("triggered", "marked")
    (data / ".deleted").write_text("")
    before = sorted(os.listdir(data))
    for settings in ({}, {"concurrent_runs": "queue"}):
        host.request("PUT", "/api/triggeredwebjobs/marked/settings",
                     json.dumps(settings).encode())
        r = host.request("POST", "/api/triggeredwebjobs/marked/run")
        assert r.status == 503, (settings, r.status, r.body)
        assert r.json()["Message"] == ("The job was deleted or deployed again a moment ago on "
                                       "another instance; try again in a second.")
        assert sorted(os.listdir(data)) == before
    assert [run["id"] for run in host.get("/api/triggeredwebjobs/marked/history").json()
            ["runs"]] == [rid]
    (data / ".deleted").unlink()
    assert wait_run(host, "marked", start_run(host, "marked"))["status"] == "Success"


@contextlib.contextmanager
def run_lock_held(h, name):
    """Job name run once, then its run lock held by this process (as by
    another machine's run still writing in the data folder): yields the
    data folder and the run's id."""
    deploy(h, name, "echo hi\n")
    rid = start_run(h, name)
    assert wait_run(h, name, rid)["status"] == "Success"
    data = h.data_dir("triggered", name)
    fd = os.open(data / "triggeredJob.lock", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
        yield data, rid
    finally:
        os.close(fd)


def test_a_delete_waits_for_the_locks_in_the_data_folder(host):
    """A delete empties the job's data folder only once no process holds a
    lock on a file at its top — here one standing for another machine's
    run of the job, still writing there (docs/SCALE-OUT.md, "A job deleted
    on one machine") — and holds those locks until the folder is gone: a
    run that got through the mark check before the delete is refused 503."""
    with run_lock_held(host, "held") as (data, rid):
        assert host.request("DELETE", "/api/triggeredwebjobs/held").status == 200
        assert host.get("/api/triggeredwebjobs/held").status == 404
        aside = [n for n in os.listdir(data.parent) if n.startswith(".deleted-")]
        assert len(aside) == 1
        time.sleep(1)
        # Still whole, marked, while the lock is held.
        assert sorted(os.listdir(data.parent / aside[0])) == sorted(
            [".deleted", "triggeredJob.lock", rid])
        assert (data.parent / aside[0] / rid / "status").exists()
    assert wait_for(lambda: not (data.parent / aside[0]).exists(), timeout=3)


def test_a_run_while_a_delete_holds_the_removal_byte_is_refused(host):
    """The byte of data/jobs/triggered/.removal.lock for the job's name
    (FNV-1a, docs/SCALE-OUT.md) is held by a delete between the mark's
    removal and the folder's: a run then makes nothing there and answers
    503; another job's byte is not in the way."""
    deploy(host, "byte", "echo hi\n")
    deploy(host, "other", "echo hi\n")
    h = 2166136261
    for c in b"byte":
        h = ((h ^ c) * 16777619) & 0xffffffff
    fd = os.open(host.home / "data/jobs/triggered/.removal.lock", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, h & 0x7fffffff)
        r = host.request("POST", "/api/triggeredwebjobs/byte/run")
        assert r.status == 503, (r.status, r.body)
        assert r.json()["Message"] == ("The job was deleted or deployed again a moment ago on "
                                       "another instance; try again in a second.")
        assert not host.data_dir("triggered", "byte").exists()
        assert wait_run(host, "other", start_run(host, "other"))["status"] == "Success"
    finally:
        os.close(fd)
    assert wait_run(host, "byte", start_run(host, "byte"))["status"] == "Success"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a mount (root)")
def test_a_data_folder_that_would_not_go_aside_keeps_no_mark(host):
    """A delete marks the data folder, then moves it aside; when the move
    fails (here: the folder is a mount point, EBUSY) the folder stays the
    name's, and unmarked: the job deployed again runs."""
    deploy(host, "stuck", "echo hi\n")
    data = host.data_dir("triggered", "stuck")
    data.mkdir(parents=True, exist_ok=True)
    subprocess = __import__("subprocess")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(data)], check=True)
    try:
        assert host.request("DELETE", "/api/triggeredwebjobs/stuck").status == 200
        assert wait_for(lambda: host.get("/api/triggeredwebjobs/stuck").status == 404)
        assert data.is_dir() and not (data / ".deleted").exists()
        deploy(host, "stuck", "echo again\n")
        assert wait_run(host, "stuck", start_run(host, "stuck"))["status"] == "Success"
    finally:
        subprocess.run(["umount", "-l", str(data)])


def test_a_removal_a_crash_cut_short_is_swept(home):
    """What a delete moved aside and a crash left there goes at the next
    start once untouched for a minute; a fresher one is left to its
    remover."""
    old_at = time.time() - 120
    for kind in ("triggered", "continuous"):
        for base in (home / "data/jobs" / kind, home / "site/wwwroot/App_Data/jobs" / kind):
            for name, at in ((".deleted-old0000000", old_at), (".deleted-new0000000", None)):
                d = base / name
                (d / "sub").mkdir(parents=True)
                (d / "sub" / "f").write_text("x")
                if at:
                    os.utime(d, (at, at))
    h = Host(home).start()
    try:
        for kind in ("triggered", "continuous"):
            for base in (home / "data/jobs" / kind,
                         home / "site/wwwroot/App_Data/jobs" / kind):
                assert wait_for(lambda: not (base / ".deleted-old0000000").exists()), base
                assert (base / ".deleted-new0000000" / "sub" / "f").exists(), base
    finally:
        h.stop()


def test_a_marked_data_folder_a_crash_kept_under_its_name_is_swept(home):
    """On a shared home a delete's data folder goes aside on the thread
    pool; a crash before that leaves it marked under the job's name. The
    next start removes it once the mark is a minute old (a fresher one is
    a delete under way elsewhere), so the job deployed again runs."""
    old_at = time.time() - 120
    for name, at in (("gone", old_at), ("going", None)):
        d = home / "data/jobs/triggered" / name
        (d / "202601010000000000").mkdir(parents=True)
        (d / ".deleted").write_text("")
        if at:
            os.utime(d / ".deleted", (at, at))
    h = Host(home).start()
    try:
        assert wait_for(lambda: not (home / "data/jobs/triggered/gone").exists())
        assert (home / "data/jobs/triggered/going/.deleted").exists()
        deploy(h, "gone", "echo back\n")
        assert wait_run(h, "gone", start_run(h, "gone"))["status"] == "Success"
    finally:
        h.stop()


def test_a_shared_homes_delete_puts_the_data_aside_once_no_run_writes(home):
    """On a shared home the data folder goes aside only once no lock in it
    is held (another machine's run still writing there; renaming a folder
    under such a writer can split a GlusterFS replica, docs/SCALE-OUT.md).
    Meanwhile it stays under its name, marked: the job deployed again is
    refused 503; then it goes, and the job runs in a new folder."""
    h = Host(home, ["--shared-home", "yes"]).start()
    try:
        with run_lock_held(h, "slow") as (data, rid):
            assert h.request("DELETE", "/api/triggeredwebjobs/slow").status == 200
            assert h.get("/api/triggeredwebjobs/slow").status == 404
            # The binaries go at once: another machine reading them would
            # keep the job, and its locks here, for as long as they stay.
            bins = h.bin_dir("triggered", "slow").parent
            assert wait_for(lambda: not [n for n in os.listdir(bins)
                                         if n.startswith(".deleted-")], timeout=3)
            deploy(h, "slow", "echo again\n")
            time.sleep(0.5)
            assert (data / ".deleted").exists() and (data / rid).is_dir()
            r = h.request("POST", "/api/triggeredwebjobs/slow/run")
            assert r.status == 503, (r.status, r.body)
        assert wait_for(lambda: not (data / rid).exists(), timeout=5)
        assert wait_for(lambda: not [n for n in os.listdir(data.parent)
                                     if n.startswith(".deleted-")], timeout=5)
        assert wait_run(h, "slow", start_run(h, "slow"))["status"] == "Success"
    finally:
        h.stop()


def test_crash_recovery(home, tmp_path):
    pidfile = tmp_path / "p"
    h = Host(home).start()
    deploy(h, "c", f"echo started\necho $$ > {pidfile}\nsleep 1000\n")
    rid = start_run(h, "c")
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    h.proc.kill()
    h.proc.wait()
    assert alive(pid)  # the job outlived the host: recovery must end it
    h2 = Host(home).start()
    try:
        assert wait_for(lambda: not alive(pid), timeout=5)
        run = h2.get(f"/api/triggeredwebjobs/c/history/{rid}").json()
        assert run["status"] == "Aborted"
        assert run["end_time"] != "0001-01-01T00:00:00"
        status = json.loads((h2.data_dir("triggered", "c") / rid / "status").read_text())
        assert status["Status"] == "Aborted" and "EndTime" in status
        lines = log_lines(h2, "c", rid)
        assert lines[-1] == ("SYS INFO", "Status changed to Aborted")
        # The job runs again.
        pidfile.unlink()
        deploy(h2, "c", "echo again\n")
        rid2 = start_run(h2, "c")
        assert wait_run(h2, "c", rid2)["status"] == "Success"
    finally:
        assert h2.stop() == 0


def test_shutdown_aborts_runs(home, tmp_path):
    pidfile = tmp_path / "p"
    h = Host(home).start()
    deploy(h, "s", "trap 'echo got term; exit 0' TERM\n"
                   f"echo $$ > {pidfile}\nwhile true; do sleep 0.1; done\n")
    rid = start_run(h, "s")
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    assert h.stop() == 0
    assert not alive(pid)
    status = json.loads((h.data_dir("triggered", "s") / rid / "status").read_text())
    assert status["Status"] == "Aborted"
    text = (h.data_dir("triggered", "s") / rid / "output_log.txt").read_text()
    assert "got term" in text


def test_shutdown_kills_after_stopping_wait_time(home, tmp_path):
    pidfile = tmp_path / "p"
    h = Host(home).start()
    deploy(h, "s", make_zip({"run.sh": f"trap '' TERM\necho $$ > {pidfile}\nwhile true; do sleep 0.1; done\n",
                             "settings.job": '{"stopping_wait_time": 1}'}),
           filename="s.zip", zip_=True)
    start_run(h, "s")
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    t0 = time.time()
    assert h.stop() == 0
    assert 0.9 < time.time() - t0 < 10
    assert not alive(pid)


def test_run_ids_increase(host):
    deploy(host, "fast", "true\n")
    ids = []
    for _ in range(5):
        rid = start_run(host, "fast")
        wait_run(host, "fast", rid)
        ids.append(rid)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert all(len(i) == 18 and i.isdigit() for i in ids)


def test_the_newest_run_is_shown_as_its_files_say(home):
    """A host keeps the record of its own newest run as it wrote it, not
    read back from disk (registry_note_run): what it shows must be what
    another instance, which reads the files, shows — through a run's
    stages, a first stderr line mid-run (error_url), history folders
    recycled, and a newer run by the other instance."""
    env = {"WEBJOBS_HISTORY_SIZE": "2"}
    a = Host(home, env=env, instance="inst-a").start()
    b = Host(home, env=env, instance="inst-b").start()

    def latest(h):
        r = h.get("/api/triggeredwebjobs/j")
        assert r.status == 200
        run = r.json()["latest_run"]
        return json.loads(r.text().replace(h.prefix, "PREFIX"))["latest_run"] if run else None

    try:
        deploy(a, "j", "echo out\nsleep 0.6\necho err >&2\nsleep 1\nexit 3\n")
        for i in range(4):
            h = a if i < 3 else b
            rid = start_run(h, "j")
            assert wait_for(lambda: (latest(h) or {}).get("id") == rid, timeout=5)
            shown = latest(h)
            assert shown["status"] in ("Initializing", "Running") and shown["error_url"] is None
            assert wait_for(lambda: latest(h)["status"] == "Running" and latest(h)["error_url"],
                            timeout=5), latest(h)
            assert latest(h)["output_url"]
            wait_run(h, "j", rid)
            assert wait_for(lambda: latest(a) == latest(b), timeout=5), (latest(a), latest(b))
            assert latest(a)["id"] == rid and latest(a)["status"] == "Failed"
            assert latest(a)["output_url"] and latest(a)["error_url"]
        runs = sorted(p.name for p in a.data_dir("triggered", "j").iterdir() if p.is_dir())
        assert len(runs) == 2 and runs[-1] == rid
    finally:
        assert b.stop() == 0
        assert a.stop() == 0


def test_a_run_folder_removed_during_its_run_stays_gone(host, tmp_path):
    """A run's records after its folder was removed by hand (the host still
    writes them, into the folder it holds open) do not bring the run back
    into the job's history or latest_run."""
    go = tmp_path / "go"
    deploy(host, "gone", f"while [ ! -e {go} ]; do sleep 0.05; done\necho done\n")
    first = start_run(host, "gone")
    go.touch()
    wait_run(host, "gone", first)
    go.unlink()
    rid = start_run(host, "gone")
    assert wait_for(lambda: host.get(f"/api/triggeredwebjobs/gone/history/{rid}").json()
                    .get("status") == "Running", timeout=10)
    shutil.rmtree(host.data_dir("triggered", "gone") / rid)
    assert wait_for(lambda: host.get(f"/api/triggeredwebjobs/gone/history/{rid}").status
                    == 404, timeout=5)
    go.touch()
    time.sleep(1.5)  # the run ends and writes its last records
    runs = [r["id"] for r in host.get("/api/triggeredwebjobs/gone/history").json()["runs"]]
    assert runs == [first]
    assert host.get("/api/triggeredwebjobs/gone").json()["latest_run"]["id"] == first
    assert host.get(f"/api/triggeredwebjobs/gone/history/{rid}").status == 404
