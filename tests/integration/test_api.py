"""The read endpoints of SPEC 3-4: shapes, field order, families, errors."""
import json
import os
import time

from conftest import HeldLock, wait_for

RID1 = "202401011200001234"
RID2 = "202401021200005678"
RID3 = "202401031200000001"


def rec(status, start, end=None, trigger="External - curl/8.0", **extra):
    r = {"Trigger": trigger, "Status": status, "StartTime": start}
    if end:
        r["EndTime"] = end
    r.update(extra)
    return r


def test_healthz_needs_no_auth(host):
    r = host.get("/healthz", auth=False)
    assert r.status == 200
    assert r.body == b"ok"


def test_empty_lists(host):
    for path in ["/api/webjobs", "/api/jobs", "/jobs", "/api/triggeredwebjobs",
                 "/api/continuouswebjobs", "/jobs/continuous"]:
        r = host.get(path)
        assert r.status == 200, path
        assert r.body == b"[]"
        assert r.header("Content-Type") == "application/json; charset=utf-8"


def test_triggered_job_exact_bytes(make_host):
    h = make_host()
    h.add_job("triggered", "hello", settings='{"note":"0 0 * * * *","z":1,"a":[true]}')
    h.add_run("hello", RID1, rec("Success", "2024-01-01T12:00:00.1234Z",
                                 "2024-01-01T12:00:05.5Z", ExitCode=0), output=True)
    h.start()
    p = h.prefix
    r = h.get("/api/triggeredwebjobs/hello")
    assert r.status == 200
    run = (f'{{"id":"{RID1}","name":"{RID1}","status":"Success",'
           f'"start_time":"2024-01-01T12:00:00.1234Z","end_time":"2024-01-01T12:00:05.5Z",'
           f'"duration":"00:00:05.3766000",'
           f'"output_url":"{p}/vfs/data/jobs/triggered/hello/{RID1}/output_log.txt",'
           f'"error_url":null,"url":"{p}/api/triggeredwebjobs/hello/history/{RID1}",'
           f'"job_name":"hello","trigger":"External - curl/8.0","attempt":1}}')
    want = (f'{{"latest_run":{run},"history_url":"{p}/api/triggeredwebjobs/hello/history",'
            f'"scheduler_logs_url":null,"name":"hello","run_command":"run.sh",'
            f'"url":"{p}/api/triggeredwebjobs/hello",'
            f'"extra_info_url":"{p}/azurejobs/#/jobs/triggered/hello",'
            f'"type":"triggered","error":null,"using_sdk":false,'
            f'"settings":{{"note":"0 0 * * * *","z":1,"a":[true]}},"next_run":null}}')
    assert r.text() == want
    assert h.stop() == 0


def test_continuous_job_exact_bytes(make_host):
    h = make_host()
    h.add_job("continuous", "daemon", files={"run.py": "print(1)\n", "disable.job": ""})
    h.start()
    p = h.prefix
    r = h.get("/api/continuouswebjobs/daemon")
    assert r.status == 200
    assert r.text() == (
        f'{{"status":"Stopped","detailed_status":"test-inst - Stopped\\n",'
        f'"log_url":"{p}/vfs/data/jobs/continuous/daemon/job_log.txt",'
        f'"name":"daemon","run_command":"run.py",'
        f'"url":"{p}/api/continuouswebjobs/daemon",'
        f'"extra_info_url":"{p}/azurejobs/#/jobs/continuous/daemon",'
        f'"type":"continuous","error":null,"using_sdk":false,"settings":{{}}}}')


def test_continuous_status_from_live_instances(make_host):
    h = make_host()
    # This host does not run the job (disabled): it reports it Stopped.
    h.add_job("continuous", "d", files={"run.sh": "x", "disable.job": ""})
    data = h.data_dir("continuous", "d")
    data.mkdir(parents=True)
    (data / "status_y-inst").write_text('{"Status":"Running"}')
    (data / "status_x-inst").write_text('{"Status":"InactiveInstance"}')
    (data / "status_dead").write_text('{"Status":"Stopped"}')
    (data / "status_olddead").write_text('{"Status":"Running"}')
    os.utime(data / "status_olddead", (time.time() - 3600, time.time() - 3600))
    la = HeldLock(data / "status_x-inst", shared=True)
    lb = HeldLock(data / "status_y-inst", shared=True)
    try:
        h.start()
        j = h.get("/api/continuouswebjobs/d").json()
        assert j["status"] == "Running"
        assert j["detailed_status"] == ("test-inst - Stopped\nx-inst - InactiveInstance\n"
                                        "y-inst - Running\n")
        lb.release()
        j = h.get("/api/continuouswebjobs/d").json()
        assert j["status"] == "Stopped"
        assert j["detailed_status"] == "test-inst - Stopped\nx-inst - InactiveInstance\n"
        # Dead files are ignored; an old one is removed, a fresh one kept.
        assert not (data / "status_olddead").exists()
        assert (data / "status_dead").exists()
    finally:
        la.release()


def test_disabled_continuous_job_is_stopped(make_host):
    h = make_host()
    h.add_job("continuous", "d", files={"run.sh": "x", "disable.job": ""})
    h.start()
    assert h.get("/api/continuouswebjobs/d").json()["status"] == "Stopped"


def test_all_jobs_order(make_host):
    h = make_host()
    for n in ["b", "B", "a", "é"]:
        h.add_job("triggered", n)
    h.add_job("continuous", "0c")
    h.add_job("continuous", "Zc")
    h.start()
    names = [(j["type"], j["name"]) for j in h.get("/api/webjobs").json()]
    assert names == [("triggered", "B"), ("triggered", "a"), ("triggered", "b"),
                     ("triggered", "é"), ("continuous", "0c"), ("continuous", "Zc")]
    assert [j["name"] for j in h.get("/jobs/continuous").json()] == ["0c", "Zc"]


def test_route_families_and_case(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.add_job("continuous", "c")
    h.start()
    for fam in ["/api/triggeredwebjobs", "/api/triggeredjobs", "/jobs/triggered",
                "/api/jobs/triggered", "/API/TRIGGEREDWEBJOBS", "/Jobs/Triggered"]:
        assert h.get(fam + "/t").json()["name"] == "t", fam
        assert h.get(fam + "/t/").status == 200, fam
        assert h.get(fam + "/t/history").status == 200, fam
        assert h.get(fam + "/t/settings").status == 200, fam
        assert h.get(fam + "/c").status == 404, fam
    for fam in ["/api/continuouswebjobs", "/api/continuousjobs", "/jobs/continuous",
                "/api/jobs/continuous"]:
        assert h.get(fam + "/c").json()["name"] == "c", fam
        assert h.get(fam + "/t").status == 404, fam
    # Names are case-sensitive.
    assert h.get("/api/triggeredwebjobs/T").status == 404


def test_names_percent_decoded(make_host):
    h = make_host()
    h.add_job("triggered", "my job")
    h.add_job("triggered", "a+b")
    h.start()
    j = h.get("/api/triggeredwebjobs/my%20job").json()
    assert j["url"] == h.prefix + "/api/triggeredwebjobs/my job"
    assert h.get("/api/triggeredwebjobs/a+b").status == 200
    assert h.get("/api/triggeredwebjobs/a%2Bb").status == 200


def test_not_listed_without_runnable_script(make_host):
    h = make_host()
    h.add_job("triggered", "nothing", files={"readme.txt": "x", "run.cmd": "x"})
    h.add_job("triggered", "ok")
    h.start()
    assert [j["name"] for j in h.get("/api/triggeredwebjobs").json()] == ["ok"]
    assert h.get("/api/triggeredwebjobs/nothing").status == 404
    assert h.get("/api/triggeredwebjobs/nothing/settings").status == 404


def test_script_folder_descent_and_selection(make_host):
    h = make_host()
    h.add_job("triggered", "zipped", files={"inner/deeper/run.py": "x", "inner/deeper/a.sh": "x"})
    h.add_job("triggered", "byname", files={"b.py": "x", "a.py": "x", "z.sh": "x"})
    d = h.add_job("triggered", "exe", files={"run": "#!/bin/sh\n", "run.sh": "x"})
    (d / "run").chmod(0o755)
    h.start()
    assert h.get("/api/triggeredwebjobs/zipped").json()["run_command"] == "inner/deeper/run.py"
    assert h.get("/api/triggeredwebjobs/byname").json()["run_command"] == "z.sh"
    assert h.get("/api/triggeredwebjobs/exe").json()["run_command"] == "run"


def test_settings_endpoint(make_host):
    h = make_host()
    h.add_job("triggered", "t", settings='{ // comment\n "schedule": "*/5 * * * * *", "x": {"b":1,"a":2}, }')
    h.add_job("continuous", "c", settings='{"is_singleton": true}')
    h.add_job("triggered", "none")
    h.start()
    r = h.get("/api/triggeredwebjobs/t/settings")
    assert r.status == 200
    assert r.text() == '{"schedule":"*/5 * * * * *","x":{"b":1,"a":2}}'
    assert h.get("/api/continuouswebjobs/c/settings").text() == '{"is_singleton":true}'
    assert h.get("/api/triggeredwebjobs/none/settings").text() == "{}"
    r = h.get("/api/triggeredwebjobs/missing/settings")
    assert r.status == 404
    assert "Message" in r.json()


def test_broken_settings_sets_error_and_keeps_job(make_host):
    h = make_host()
    h.add_job("triggered", "broken", settings='{"schedule": ')
    h.add_job("triggered", "fine")
    h.start()
    jobs = {j["name"]: j for j in h.get("/api/triggeredwebjobs").json()}
    assert set(jobs) == {"broken", "fine"}
    assert jobs["broken"]["error"].startswith("settings.job: line")
    assert jobs["broken"]["settings"] == {}
    assert jobs["fine"]["error"] is None
    assert h.get("/api/triggeredwebjobs/broken/settings").text() == "{}"


def test_history_order_damage_and_logs(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.add_run("t", RID1, rec("Failed", "2024-01-01T12:00:00Z", "2024-01-01T12:01:00Z"),
              output=True, error=True)
    h.add_run("t", RID2, "{not json")
    h.add_run("t", RID3, rec("Success", "2024-01-03T12:00:00Z", "2024-01-03T12:00:00.5Z"))
    (h.data_dir("triggered", "t") / "not-a-run").mkdir()
    h.start()
    runs = h.get("/api/triggeredwebjobs/t/history").json()["runs"]
    assert [r["id"] for r in runs] == [RID3, RID1]
    assert runs[0]["duration"] == "00:00:00.5000000"
    assert runs[0]["output_url"] is None and runs[0]["error_url"] is None
    assert runs[1]["error_url"] == f"{h.prefix}/vfs/data/jobs/triggered/t/{RID1}/error_log.txt"
    assert runs[1]["duration"] == "00:01:00"
    # Kudu's fields in Kudu's order, then webjobs' extension (attempt).
    assert list(runs[1]) == ["id", "name", "status", "start_time", "end_time", "duration",
                             "output_url", "error_url", "url", "job_name", "trigger", "attempt"]
    # latest_run is the newest readable run.
    assert h.get("/api/triggeredwebjobs/t").json()["latest_run"]["id"] == RID3
    r = h.get(f"/api/triggeredwebjobs/t/history/{RID1}")
    assert r.status == 200 and r.json() == runs[1]
    for bad in [RID2, "123", "20240101120000123x", "..%2F..%2Fetc", "999999999999999999"]:
        assert h.get(f"/api/triggeredwebjobs/t/history/{bad}").status == 404, bad
    assert h.get("/api/triggeredwebjobs/nope/history").status == 404


def test_aborted_rule(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.add_run("t", RID1, rec("Running", "2024-01-01T12:00:00Z"), output=True)
    # Another instance's runs: this host's start-up leaves them alone.
    h.add_run("t", RID2, rec("Initializing", "2024-01-02T12:00:00Z", InstanceId="other"))
    h.start()
    runs = h.get("/api/triggeredwebjobs/t/history").json()["runs"]
    # No lock held: both are reported Aborted, with an end time.
    assert [r["status"] for r in runs] == ["Aborted", "Aborted"]
    assert runs[0]["end_time"] != "0001-01-01T00:00:00"
    lock = HeldLock(h.data_dir("triggered", "t") / "triggeredJob.lock")
    try:
        runs = h.get("/api/triggeredwebjobs/t/history").json()["runs"]
        # The newest run with the lock held is in progress; the older is not.
        assert [r["status"] for r in runs] == ["Initializing", "Aborted"]
        assert runs[0]["end_time"] == "0001-01-01T00:00:00"
        latest = h.get("/api/triggeredwebjobs/t").json()["latest_run"]
        assert latest["status"] == "Initializing"
    finally:
        lock.release()
    assert h.get("/api/triggeredwebjobs/t").json()["latest_run"]["status"] == "Aborted"


def test_etags_and_304(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.add_run("t", RID1, rec("Success", "2024-01-01T12:00:00Z", "2024-01-01T12:00:01Z"))
    h.start()
    for path in ["/api/webjobs", "/api/triggeredwebjobs", "/api/continuouswebjobs",
                 "/api/triggeredwebjobs/t/history"]:
        r = h.get(path)
        tag = r.header("ETag")
        assert r.status == 200 and tag and tag.startswith('"'), path
        r2 = h.get(path, headers={"If-None-Match": tag})
        assert r2.status == 304 and r2.body == b"", path
        r3 = h.get(path, headers={"If-None-Match": '"other", ' + tag})
        assert r3.status == 304, path
        assert h.get(path, headers={"If-None-Match": '"nope"'}).status == 200
    tag = h.get("/api/triggeredwebjobs").header("ETag")
    h.add_job("triggered", "u")
    assert wait_for(lambda: h.get("/api/triggeredwebjobs", headers={"If-None-Match": tag}).status == 200)


def test_unknown_route_and_method(host):
    r = host.get("/api/nothing")
    assert r.status == 404
    assert "Message" in r.json()
    r = host.request("POST", "/api/triggeredwebjobs")
    assert r.status == 405
    assert r.header("Allow") == "GET, HEAD"
    assert "Message" in r.json()
    r = host.request("PATCH", "/api/webjobs")
    assert r.status == 405


def test_head_has_no_body(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.start()
    r = h.request("HEAD", "/api/triggeredwebjobs/t")
    assert r.status == 200 and r.body == b""
    assert int(r.header("Content-Length")) > 100


def test_hostile_names(make_host, tmp_path):
    h = make_host()
    h.add_job("triggered", "t")
    secret = h.home / "site" / "secret.sh"
    secret.write_text("echo secret")
    h.start()
    for path in ["/api/triggeredwebjobs/..", "/api/triggeredwebjobs/%2e%2e",
                 "/api/triggeredwebjobs/..%2F..%2Fsite", "/api/triggeredwebjobs/t%2F..",
                 "/api/triggeredwebjobs/.", "/api/triggeredwebjobs/t%00",
                 "/api/triggeredwebjobs/%zz", "/api/triggeredwebjobs/../../etc/passwd",
                 "/api/triggeredwebjobs/t/history/..%2F..%2F..%2Fetc%2Fpasswd"]:
        r = h.get(path)
        assert r.status in (400, 404), path
        assert b"secret" not in r.body
        assert "Message" in r.json()
    assert h.get("/api/triggeredwebjobs/%zz").status == 400


def test_urls_follow_host_header(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    h.start()
    j = h.get("/api/triggeredwebjobs/t", host_header="example.org:8443").json()
    assert j["url"] == "http://example.org:8443/api/triggeredwebjobs/t"
    # A Host that is not a host name is not echoed.
    j = h.get("/api/triggeredwebjobs/t", host_header="evil\"<x>").json()
    assert j["url"] == h.prefix + "/api/triggeredwebjobs/t"


def test_swagger(make_host):
    h = make_host()
    r = None
    h.start()
    r = h.get("/api/triggeredwebjobsswagger")
    assert r.text() == ('{"swagger":"2.0","info":{"version":"v1","title":"WebJobs"},'
                        '"host":"placeHolder","schemes":["https"],"paths":{}}')
    h.add_job("triggered", "b")
    h.add_job("triggered", "a")
    h.add_job("continuous", "c")
    wait_for(lambda: len(h.get("/api/triggeredwebjobs").json()) == 2)
    doc = json.loads(h.get("/api/triggeredwebjobsswagger").body)
    assert list(doc["paths"]) == ["/api/triggeredjobs/a/run", "/api/triggeredjobs/b/run"]
    assert json.dumps(doc["paths"]["/api/triggeredjobs/a/run"], separators=(",", ":")) == (
        '{"post":{"deprecated":false,"operationId":"a","consumes":[],"produces":[],'
        '"responses":{"200":{"description":"Success"},"default":{"description":"Success"}},'
        '"parameters":[{"name":"arguments","in":"query","description":"Web Job Arguments",'
        '"required":false,"type":"string"}]}}')


def test_markers_sdk_and_scheduler_log(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    d = h.data_dir("triggered", "t")
    d.mkdir(parents=True)
    (d / "webjobssdk.marker").write_text("")
    h.start()
    j = h.get("/api/triggeredwebjobs/t").json()
    assert j["using_sdk"] is True and j["scheduler_logs_url"] is None
    (d / "job_scheduler.log").write_text("x\n")
    assert wait_for(lambda: h.get("/api/triggeredwebjobs/t").json()["scheduler_logs_url"]
                    == f"{h.prefix}/vfs/data/jobs/triggered/t/job_scheduler.log")


def test_running_duration_grows(make_host):
    h = make_host()
    h.add_job("triggered", "t")
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3))
    rid = time.strftime("%Y%m%d%H%M%S0000", time.gmtime(time.time() - 3))
    h.add_run("t", rid, rec("Running", start, InstanceId="other"))
    lock = HeldLock(h.data_dir("triggered", "t") / "triggeredJob.lock")
    try:
        h.start()
        d1 = h.get("/api/triggeredwebjobs/t").json()["latest_run"]["duration"]
        time.sleep(1.1)
        d2 = h.get("/api/triggeredwebjobs/t").json()["latest_run"]["duration"]
        assert d2 > d1 and d1 >= "00:00:02"
    finally:
        lock.release()
