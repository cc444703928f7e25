"""The run journal (docs/DECISIONS.md, "The run journal"): a 202 is
durable through one synced line in data/webjobs/journal/{instance}.a|.b;
the run folder and its status are written unsynced beside it. A crash that
loses them is repaired at the next start by replaying the journal."""
import json
import os
import re
import shutil
import signal
import time

from conftest import Host, wait_for

SLOW = 'sleep 2\n'


def journal_files(home, inst="test-inst"):
    d = home / "data/webjobs/journal"
    return [d / f"{inst}.a", d / f"{inst}.b"]


def test_journal_files_are_allocated_once(home, host):
    host.add_job("triggered", "quick", {"run.sh": "exit 0\n"})
    for f in journal_files(home):
        assert f.stat().st_size == 4 << 20
        assert f.read_bytes()[:18] == b"webjobs-journal 1 "
    ino = [f.stat().st_ino for f in journal_files(home)]
    for _ in range(5):
        r = host.request("POST", "/api/triggeredwebjobs/quick/run")
        assert r.status == 202
        rid = r.header("Location").rsplit("/", 1)[1]
        wait_for(lambda: host.get(f"/api/triggeredwebjobs/quick/history/{rid}").json()["status"]
                 == "Success")
    # Appends overwrite the blocks made at creation: same files, same size.
    assert [f.stat().st_ino for f in journal_files(home)] == ino
    assert all(f.stat().st_size == 4 << 20 for f in journal_files(home))
    text = b"".join(f.read_bytes() for f in journal_files(home))
    assert b'quick' in text and rid.encode() in text


def test_a_run_folder_lost_in_a_crash_is_written_again(home, make_host):
    h = make_host()
    h.add_job("triggered", "slow", {"run.sh": SLOW})
    h.start()
    r = h.request("POST", "/api/triggeredwebjobs/slow/run?arguments=a%20b")
    assert r.status == 202
    # Frozen before the checkpoint (2.5 s) makes the folder durable and
    # empties the journal; then the crash takes the folder with it.
    os.kill(h.proc.pid, signal.SIGSTOP)
    rid = r.header("Location").rsplit("/", 1)[1]
    run_dir = h.data_dir("triggered", "slow") / rid
    assert run_dir.is_dir()
    shutil.rmtree(run_dir)
    os.kill(h.proc.pid, signal.SIGKILL)
    h.proc.wait()
    time.sleep(2.2)  # the job's own process ends by itself

    h2 = make_host()
    h2.start()
    run = h2.get(f"/api/triggeredwebjobs/slow/history/{rid}")
    assert run.status == 200, run.text()
    # Replayed as accepted (Initializing), then recovered like any run
    # whose host died: Aborted, not stuck.
    assert run.json()["status"] == "Aborted"
    assert '"Arguments":"a b"' in (run_dir / "status").read_text()
    assert "The host went away during the run" in (run_dir / "output_log.txt").read_text()
    h2.stop()
    log = h2.proc.stderr.read()
    m = re.search(r"run journal: (\d+) records replayed, (\d+) run records written again", log)
    assert m and int(m.group(2)) >= 1, log


def test_a_torn_or_foreign_journal_does_not_stop_the_host(home, make_host):
    h = make_host()
    h.add_job("triggered", "quick", {"run.sh": "exit 0\n"})
    h.start()
    assert h.request("POST", "/api/triggeredwebjobs/quick/run").status == 202
    h.stop()
    a, b = journal_files(home)
    # A torn record at the end of one file, garbage in place of the other.
    with open(a, "r+b") as f:
        f.seek(64)
        f.write(b"0000000000000001 00000000deadbeef [\"quick\",\"torn")
    b.write_bytes(b"not a journal\n")
    h2 = make_host()
    h2.start()
    r = h2.request("POST", "/api/triggeredwebjobs/quick/run")
    assert r.status == 202
    rid = r.header("Location").rsplit("/", 1)[1]
    wait_for(lambda: h2.get(f"/api/triggeredwebjobs/quick/history/{rid}").json()["status"]
             == "Success")
    h2.stop()
    log = h2.proc.stderr.read()
    # The foreign file is not overwritten: runs are synced one by one.
    assert "run journal:" in log and "synced one by one" in log
    assert b.read_bytes() == b"not a journal\n"


def test_a_status_is_rewritten_through_its_spare(home, host):
    """docs/API.md, "Files on disk": the record is written into
    .status-prev and the two exchanged — each whole, and after a run
    .status-prev holds the record before the last."""
    host.add_job("triggered", "quick", {"run.sh": "echo hi\n"})
    r = host.request("POST", "/api/triggeredwebjobs/quick/run?arguments=x")
    assert r.status == 202
    rid = r.header("Location").rsplit("/", 1)[1]
    assert wait_for(lambda: host.get(f"/api/triggeredwebjobs/quick/history/{rid}").json()
                    ["status"] == "Success")
    run_dir = host.data_dir("triggered", "quick") / rid
    final = json.loads((run_dir / "status").read_text())
    before = json.loads((run_dir / ".status-prev").read_text())
    assert final["Status"] == "Success" and final["Arguments"] == "x"
    # The record before the last: Running, or Initializing when the
    # process was over before its start was recorded (docs/API.md,
    # "Statuses": a millisecond's run skips Running in the record).
    assert before["Status"] in ("Running", "Initializing")
    assert before["StartTime"] == final["StartTime"]
    # Nothing else is left behind: no temporary names.
    assert sorted(p.name for p in run_dir.iterdir()) == [".status-prev", "output_log.txt",
                                                          "status"]


def test_a_full_history_recycles_the_oldest_run_folder(home, make_host):
    """docs/DECISIONS.md, "Run folders are recycled": with the history
    full, the run being trimmed gives its folder and files to the new run
    (same inodes), emptied of everything the old run left."""
    h = make_host(env={"WEBJOBS_HISTORY_SIZE": "2"})
    h.add_job("triggered", "talk", {"run.sh": 'echo "out $1"\necho "err $1" >&2\n'})
    h.start()
    data = h.data_dir("triggered", "talk")

    def run(arg):
        r = h.request("POST", f"/api/triggeredwebjobs/talk/run?arguments={arg}")
        assert r.status == 202
        rid = r.header("Location").rsplit("/", 1)[1]
        assert wait_for(lambda: h.get(f"/api/triggeredwebjobs/talk/history/{rid}").json()
                        ["status"] == "Success")
        return rid

    first = run("one")
    (data / first / "abort").write_text("left by the first run\n")
    (data / first / "extra").mkdir()
    inodes = {p.name: p.stat().st_ino for p in (data / first).iterdir()}
    folder = (data / first).stat().st_ino
    second = run("two")
    third = run("three")
    assert sorted(p.name for p in data.iterdir() if re.fullmatch(r"\d{18}", p.name)) == \
        [second, third]
    new = data / third
    assert new.stat().st_ino == folder
    assert (new / "output_log.txt").stat().st_ino == inodes["output_log.txt"]
    # The record and its spare exchange places at each write: same pair.
    assert {(new / n).stat().st_ino for n in ("status", ".status-prev")} == \
        {inodes["status"], inodes[".status-prev"]}
    # Only the new run's record, log and error log are there.
    assert sorted(p.name for p in new.iterdir()) == [".status-prev", "error_log.txt",
                                                     "output_log.txt", "status"]
    status = json.loads((new / "status").read_text())
    assert status["Status"] == "Success" and status["Arguments"] == "three"
    out = (new / "output_log.txt").read_text()
    assert "out three" in out and "one" not in out
    # The recycle wrote the new run's first line over the old output (its
    # block kept): once, first, before BEGIN's lines — as in a new folder.
    texts = [line.split("] ", 1)[1] for line in out.splitlines()]
    assert texts[0] == "Status changed to Initializing"
    assert texts.count("Status changed to Initializing") == 1
    assert texts[1].startswith("Run script 'run.sh'")
    assert texts.index("Status changed to Running") > 1
    assert "one" not in (new / "error_log.txt").read_text()
    hist = h.get("/api/triggeredwebjobs/talk/history").json()["runs"]
    assert [x["id"] for x in hist] == [third, second]
    assert h.get(f"/api/triggeredwebjobs/talk/history/{first}").status == 404


def test_a_recycle_cut_short_by_a_crash_is_not_left_in_progress(home, make_host):
    """run_record_recycled: the new run's first record is written into the
    trimmed run's folder before the folder takes the new id. A crash
    between the two leaves the oldest folder holding an Initializing record
    that nobody was told of: the recovery ends it like any run its host
    left, instead of leaving it in progress for ever."""
    h = make_host(env={"WEBJOBS_HISTORY_SIZE": "3"})
    h.add_job("triggered", "cut", {"run.sh": "echo hi\n"})
    h.start()
    ids = []
    for _ in range(2):
        r = h.request("POST", "/api/triggeredwebjobs/cut/run")
        assert r.status == 202
        ids.append(r.header("Location").rsplit("/", 1)[1])
        assert wait_for(lambda: h.get(f"/api/triggeredwebjobs/cut/history/{ids[-1]}").json()
                        ["status"] == "Success")
    # After the checkpoint (2.5 s): the journal holds no record of the
    # old runs (a record there would be replayed over the folder's).
    time.sleep(4)
    os.kill(h.proc.pid, signal.SIGKILL)
    h.proc.wait()
    data = h.data_dir("triggered", "cut")
    # The state of the crash: the oldest folder, emptied, holds the next
    # run's first record (its start after the newest run's).
    oldest = data / ids[0]
    newest = json.loads((data / ids[1] / "status").read_text())
    rec = {k: v for k, v in newest.items() if k not in ("EndTime", "ExitCode")}
    rec["Status"] = "Initializing"
    rec["StartTime"] = rec["StartTime"].replace(rec["StartTime"][:4], "2099")
    (oldest / "status").write_text(json.dumps(rec, separators=(",", ":")))
    (oldest / "output_log.txt").write_text("")

    h2 = make_host(env={"WEBJOBS_HISTORY_SIZE": "3"})
    h2.start()
    old = h2.get(f"/api/triggeredwebjobs/cut/history/{ids[0]}").json()
    assert old["status"] == "Aborted"
    assert "The host went away during the run" in (oldest / "output_log.txt").read_text()
    # The newest run is untouched, and new runs go on.
    assert h2.get(f"/api/triggeredwebjobs/cut/history/{ids[1]}").json()["status"] == "Success"
    r = h2.request("POST", "/api/triggeredwebjobs/cut/run")
    assert r.status == 202
    rid = r.header("Location").rsplit("/", 1)[1]
    assert wait_for(lambda: h2.get(f"/api/triggeredwebjobs/cut/history/{rid}").json()
                    ["status"] == "Success")
