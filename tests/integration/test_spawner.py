"""The spawn helper (docs/DECISIONS.md, "The spawn helper"): a process the
host forks at start, holding four descriptors, that starts job processes
as the host's own children; when it is gone the host starts them itself."""
import os
import time

from conftest import wait_for


def children(pid):
    out = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        except FileNotFoundError:
            pass  # a thread that ended meanwhile (one of the host's short-lived ones)
    return out


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def helper_of(host):
    found = [c for c in children(host.proc.pid) if comm(c) == "webjobs-spawn"]
    assert len(found) == 1, found
    return found[0]


def run_and_wait(host, name):
    r = host.request("POST", f"/api/triggeredwebjobs/{name}/run")
    assert r.status == 202
    rid = r.header("Location").rsplit("/", 1)[1]
    assert wait_for(lambda: host.get(f"/api/triggeredwebjobs/{name}/history/{rid}").json()
                    ["status"] in ("Success", "Failed"), timeout=10)
    return host.get(f"/api/triggeredwebjobs/{name}/history/{rid}").json()


def test_jobs_are_the_hosts_children_started_by_a_small_helper(home, host, tmp_path):
    helper = helper_of(host)
    assert sorted(int(fd) for fd in os.listdir(f"/proc/{helper}/fd")) == [0, 1, 2, 3]
    host.add_job("triggered", "who", {"run.sh": f"echo $PPID > {tmp_path}/ppid\nsleep 0.3\n"})
    assert run_and_wait(host, "who")["status"] == "Success"
    # CLONE_PARENT: the job's parent is the host, not the helper.
    assert int((tmp_path / "ppid").read_text()) == host.proc.pid
    # The sweep of the host's children (SIGCHLD) left the helper alone.
    assert helper_of(host) == helper


def test_without_the_helper_the_host_starts_jobs_itself(home, host, tmp_path):
    host.add_job("triggered", "after", {"run.sh": "echo still\n"})
    os.kill(helper_of(host), 9)
    time.sleep(0.3)
    for _ in range(2):
        run = run_and_wait(host, "after")
        assert run["status"] == "Success"
        assert "still" in host.get(run["output_url"].split(str(host.port), 1)[1]).text()
    assert not [c for c in children(host.proc.pid) if comm(c) == "webjobs-spawn"]


def test_jobs_start_with_no_signal_ignored_or_blocked(home, host, tmp_path):
    """The helper ignores SIGINT, SIGHUP and SIGTERM (a ^C, or a SIGTERM
    to the process group, is the host's to handle): its spawns set those
    back, and the helper alone skips the other 59
    (process_signals_settled); a job started by the host itself gets the
    same."""
    script = f"grep -E '^Sig(Ign|Blk)' /proc/self/status > {tmp_path}/$1\n"
    host.add_job("triggered", "sig", {"run.sh": script})

    def run(name):
        r = host.request("POST", f"/api/triggeredwebjobs/sig/run?arguments={name}")
        assert r.status == 202
        assert wait_for(lambda: (tmp_path / name).exists(), timeout=10)
        time.sleep(0.1)
        return (tmp_path / name).read_text().split()

    zero = ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]
    assert run("by-helper") == zero
    os.kill(helper_of(host), 9)
    time.sleep(0.3)
    assert run("by-host") == zero


def test_a_job_gets_three_descriptors_and_a_read_only_stdin(home, host, tmp_path):
    """Its stdin on /dev/null, read-only, its stdout and stderr the host's
    pipes, and nothing else — whether the helper started it (its children
    keep the helper's own /dev/null as 0) or the host did (/dev/null
    opened close-on-exec: no copy of it outlives the exec). Read from
    /proc while the job's shell waits (its own 255, the script, aside)."""
    host.add_job("triggered", "fds", {"run.sh": f"echo $$ > {tmp_path}/$1.t\n"
                                                f"mv {tmp_path}/$1.t {tmp_path}/$1\nsleep 3\n"})

    def run(name):
        r = host.request("POST", f"/api/triggeredwebjobs/fds/run?arguments={name}")
        assert r.status == 202
        assert wait_for(lambda: (tmp_path / name).exists(), timeout=10)
        pid = int((tmp_path / name).read_text())
        fds = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if fd != "255":
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    flags = [x for x in f.read().split("\n") if x.startswith("flags:")][0]
                fds[int(fd)] = (os.readlink(f"/proc/{pid}/fd/{fd}"), int(flags.split()[1], 8))
        assert host.request("POST", "/api/triggeredwebjobs/fds/abort").status == 202
        return fds

    for name in ("by-helper", "by-host"):
        fds = run(name)
        assert sorted(fds) == [0, 1, 2], fds
        assert fds[0][0] == "/dev/null" and fds[0][1] & 3 == os.O_RDONLY, fds
        assert fds[1][0].startswith("pipe:") and fds[2][0].startswith("pipe:"), fds
        assert wait_for(lambda: host.get("/api/triggeredwebjobs/fds").json()
                        ["latest_run"]["status"] != "Running", timeout=10)
        if name == "by-helper":
            os.kill(helper_of(host), 9)
            time.sleep(0.3)
