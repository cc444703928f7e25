"""The registry follows the disk: changes appear within one second (SPEC 8.1)."""
import json
import os
import shutil
import signal
import time

from conftest import wait_for

RID = "202401011200001234"


def names(h, kind="triggered"):
    return [j["name"] for j in h.get(f"/api/{kind}webjobs").json()]


def test_job_created_changed_removed(host):
    assert names(host) == []
    host.add_job("triggered", "new")
    assert wait_for(lambda: names(host) == ["new"], timeout=1.0)
    (host.bin_dir("triggered", "new") / "settings.job").write_text('{"schedule":"* * * * * *"}')
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/new/settings").json()
                    == {"schedule": "* * * * * *"}, timeout=1.0)
    os.rename(host.bin_dir("triggered", "new") / "run.sh", host.bin_dir("triggered", "new") / "zz.py")
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/new").json()["run_command"] == "zz.py",
                    timeout=1.0)
    shutil.rmtree(host.bin_dir("triggered", "new"))
    assert wait_for(lambda: names(host) == [], timeout=1.0)
    assert host.get("/api/triggeredwebjobs/new").status == 404


def test_script_appears_later(host):
    d = host.add_job("continuous", "c", files={"readme.txt": "x"})
    time.sleep(0.2)
    assert names(host, "continuous") == []
    (d / "run.sh").write_text("x")
    assert wait_for(lambda: names(host, "continuous") == ["c"], timeout=1.0)


def test_exec_bit_change_seen(host):
    d = host.add_job("triggered", "e", files={"run": "#!/bin/sh\n"})
    time.sleep(0.2)
    assert names(host) == []
    (d / "run").chmod(0o755)
    assert wait_for(lambda: names(host) == ["e"], timeout=1.0)


def test_folder_swapped_by_rename(host):
    host.add_job("triggered", "swap", files={"run.sh": "x"})
    assert wait_for(lambda: names(host) == ["swap"])
    staging = host.home / "site/wwwroot/App_Data/jobs/triggered/.staging"
    staging.mkdir()
    (staging / "inner").mkdir()
    (staging / "inner" / "run.py").write_text("x")
    old = host.home / "site/wwwroot/App_Data/jobs/triggered/.old"
    os.rename(host.bin_dir("triggered", "swap"), old)
    os.rename(staging, host.bin_dir("triggered", "swap"))
    shutil.rmtree(old)
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/swap").status == 200 and
                    host.get("/api/triggeredwebjobs/swap").json()["run_command"] == "inner/run.py",
                    timeout=1.0)
    # The nested folder is watched too.
    (host.bin_dir("triggered", "swap") / "inner" / "settings.job").write_text('{"a":1}')
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/swap/settings").json() == {"a": 1},
                    timeout=1.0)


def test_new_runs_and_status_changes_seen(host):
    host.add_job("triggered", "t")
    assert wait_for(lambda: names(host) == ["t"])
    assert host.get("/api/triggeredwebjobs/t").json()["latest_run"] is None
    d = host.add_run("t", RID, {"Trigger": "x", "Status": "Success",
                                "StartTime": "2024-01-01T12:00:00Z",
                                "EndTime": "2024-01-01T12:00:01Z"})
    assert wait_for(lambda: (host.get("/api/triggeredwebjobs/t").json()["latest_run"] or {})
                    .get("id") == RID, timeout=1.0)
    # A status rewritten by rename (as the host writes it) is seen.
    tmp = d / "status.tmp"
    tmp.write_text('{"Trigger":"x","Status":"Failed","StartTime":"2024-01-01T12:00:00Z",'
                   '"EndTime":"2024-01-01T12:00:02Z"}')
    os.rename(tmp, d / "status")
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/t").json()["latest_run"]["status"]
                    == "Failed", timeout=1.0)
    (d / "output_log.txt").write_text("x\n")
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/t").json()["latest_run"]["output_url"],
                    timeout=1.0)
    shutil.rmtree(host.data_dir("triggered", "t"))
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/t").json()["latest_run"] is None,
                    timeout=1.0)


def test_a_data_folder_made_anew_is_watched_anew(host):
    """The registry keeps its watch of a job's data folder across re-reads
    (docs/DECISIONS.md, "The cost of a scheduled run"): a data folder
    removed, or replaced by a rename, is watched again, and so are the runs
    that appear in it afterwards."""
    host.add_job("triggered", "w")
    assert wait_for(lambda: names(host) == ["w"])
    status = {"Trigger": "x", "Status": "Success", "StartTime": "2024-01-01T12:00:00Z",
              "EndTime": "2024-01-01T12:00:01Z"}

    def latest():
        return host.get("/api/triggeredwebjobs/w").json()["latest_run"] or {}

    host.add_run("w", RID, status)
    assert wait_for(lambda: latest().get("id") == RID, timeout=1.0)
    data = host.data_dir("triggered", "w")
    shutil.rmtree(data)
    assert wait_for(lambda: latest() == {}, timeout=1.0)
    for k, rid in enumerate(("202401011300001234", "202401011400001234")):
        host.add_run("w", rid, status)
        assert wait_for(lambda: latest().get("id") == rid, timeout=1.0), k
    # Replaced by a rename: the new folder's runs are seen.
    new = data.parent / "w.new"
    shutil.copytree(data, new)
    shutil.rmtree(new / "202401011400001234")
    os.rename(data, data.parent / "w.old")
    os.rename(new, data)
    assert wait_for(lambda: latest().get("id") == "202401011300001234", timeout=1.0)
    d = host.add_run("w", "202401011500001234", status)
    assert wait_for(lambda: latest().get("id") == "202401011500001234", timeout=1.0)
    # And the newest run's folder: its status rewritten is seen.
    tmp = d / "status.tmp"
    tmp.write_text('{"Trigger":"x","Status":"Failed","StartTime":"2024-01-01T15:00:00Z",'
                   '"EndTime":"2024-01-01T15:00:02Z"}')
    os.rename(tmp, d / "status")
    assert wait_for(lambda: latest().get("status") == "Failed", timeout=1.0)


def test_run_folders_that_come_and_go_are_seen_at_once(host):
    """A triggered job's run list is kept from the names inotify gives
    (docs/DECISIONS.md, "The run list kept from inotify's names"): run
    folders made, renamed (as a recycled run is), removed, and files that
    only look like runs, are in the very next answer as a listing would
    have them — no waiting for the background pass."""
    host.add_job("triggered", "k")
    assert wait_for(lambda: names(host) == ["k"])
    data = host.data_dir("triggered", "k")

    def rec(status, hour):
        return {"Trigger": "x", "Status": status, "StartTime": f"2024-01-01T{hour}:00:00Z",
                "EndTime": f"2024-01-01T{hour}:00:01Z"}

    def check(latest):
        on_disk = sorted((p.name for p in data.iterdir() if p.is_dir()), reverse=True)
        runs = host.get("/api/triggeredwebjobs/k/history").json()["runs"]
        readable = [i for i in on_disk if (data / i / "status").exists()]
        assert [r["id"] for r in runs] == readable
        got = host.get("/api/triggeredwebjobs/k").json()["latest_run"]
        assert (got or {}).get("id") == latest, (got, latest)

    ids = [f"2024010112{m:02d}001234" for m in range(3)]
    for i, rid in enumerate(ids):
        host.add_run("k", rid, rec("Success", "12"))
    assert wait_for(lambda: (host.get("/api/triggeredwebjobs/k").json()["latest_run"] or {})
                    .get("id") == ids[-1], timeout=1.0)
    check(ids[-1])
    # The oldest renamed to a newer id, as the host recycles a run folder.
    newer = "202401011300001234"
    os.rename(data / ids[0], data / newer)
    check(newer)
    # The newest removed: the one before it is the latest again.
    shutil.rmtree(data / newer)
    check(ids[-1])
    # A file named like a run is not a run.
    (data / "202401011400001234").write_text("not a run\n")
    check(ids[-1])
    # A run folder with no record yet: the newest readable one stays latest;
    # its record, written by rename, makes it the latest.
    d = data / "202401011500001234"
    d.mkdir()
    check(ids[-1])
    (d / "status.tmp").write_text(json.dumps(rec("Failed", "15")))
    os.rename(d / "status.tmp", d / "status")
    check(d.name)
    assert host.get("/api/triggeredwebjobs/k").json()["latest_run"]["status"] == "Failed"
    # A folder moved in from elsewhere, and one moved out.
    outside = data.parent / "elsewhere"
    outside.mkdir()
    os.rename(data / ids[1], outside / ids[1])
    check(d.name)
    os.rename(outside / ids[1], data / "202401011600001234")
    check("202401011600001234")



def test_more_run_folders_at_once_than_one_read_of_events_holds(host):
    """2,000 run folders moved in while the host is stopped: some 94 KiB
    of inotify events, six reads of the registry's 16 KiB buffer; the
    reads go on while a read came back full, and stop at one with room
    left (no read more to hear EAGAIN): the next answer lists every
    folder."""
    host.add_job("triggered", "many")
    assert wait_for(lambda: "many" in names(host))
    data = host.data_dir("triggered", "many")
    # A run first: its data folder made and watched.
    assert host.request("POST", "/api/triggeredwebjobs/many/run").status == 202
    assert wait_for(lambda: [r["status"] for r in host.get(
        "/api/triggeredwebjobs/many/history").json()["runs"]] == ["Success"], timeout=10)
    first = host.get("/api/triggeredwebjobs/many/history").json()["runs"][0]["id"]
    outside = host.home / "staging"
    outside.mkdir()
    ids = [f"20240102{k // 3600:02d}{k // 60 % 60:02d}{k % 60:02d}0000" for k in range(2000)]
    for rid in ids:
        (outside / rid).mkdir()
        (outside / rid / "status").write_text(json.dumps(
            {"Trigger": "x", "Status": "Success", "StartTime": "2024-01-02T00:00:00Z",
             "EndTime": "2024-01-02T00:00:01Z"}))
    os.kill(host.proc.pid, signal.SIGSTOP)
    try:
        for rid in ids:
            os.rename(outside / rid, data / rid)
    finally:
        os.kill(host.proc.pid, signal.SIGCONT)
    runs = host.get("/api/triggeredwebjobs/many/history").json()["runs"]
    assert [r["id"] for r in runs] == sorted(ids + [first], reverse=True)
    # And one more after them, alone: its event in a read of its own.
    os.rename(data / ids[0], data / "202401030000000000")
    runs = host.get("/api/triggeredwebjobs/many/history").json()["runs"]
    assert [r["id"] for r in runs] == sorted(ids[1:] + [first, "202401030000000000"],
                                                    reverse=True)

def test_many_jobs_at_once(host):
    for i in range(300):
        host.add_job("triggered", f"job{i:03d}")
    assert wait_for(lambda: len(names(host)) == 300, timeout=2.0)
    shutil.rmtree(host.home / "site/wwwroot/App_Data/jobs/triggered")
    (host.home / "site/wwwroot/App_Data/jobs/triggered").mkdir()
    # The type folder itself was replaced: the host must notice.
    host.add_job("triggered", "after")
    assert wait_for(lambda: names(host) == ["after"], timeout=2.0)


def test_invalid_folder_names_are_not_jobs(host):
    host.add_job("triggered", ".hidden")
    bad = host.home / "site/wwwroot/App_Data/jobs/triggered" / "bad\nname"
    bad.mkdir()
    (bad / "run.sh").write_text("x")
    host.add_job("triggered", "good")
    assert wait_for(lambda: names(host) == ["good"])
    time.sleep(0.2)
    assert names(host) == ["good"]
