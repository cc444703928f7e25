"""`webjobs serve` and the other subcommands as a user types them (SPEC 11)."""
import os
import signal
import socket
import subprocess
import time

from conftest import BIN, Host, PASSWORD, USER, wait_for


def run(*args, env=None, stdin=None, timeout=30):
    e = dict(os.environ)
    e.pop("WEBJOBS_USERNAME", None)
    e.pop("WEBJOBS_PASSWORD", None)
    if env:
        e.update(env)
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e,
                          input=stdin, timeout=timeout)


def test_version_and_help():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("webjobs ")
    r = run("help")
    assert r.returncode == 0 and "webjobs serve" in r.stdout
    r = run("help", "serve")
    assert r.returncode == 0
    for flag in ["--home", "--listen", "--instance-id", "--temp", "--auth-file",
                 "--tls-cert", "--tls-key", "--max-upload-size", "--max-connections",
                 "--idle-timeout"]:
        assert flag in r.stdout, flag
    r = run()
    assert r.returncode == 2 and "Usage" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown subcommand" in r.stderr


def test_bad_flags_exit_2_with_one_line(home):
    cases = [["--nope"], ["--listen"], ["--max-connections", "x"],
             ["--idle-timeout", "0"], ["--listen", "nonsense"],
             ["--instance-id", "bad/id"], ["--log-level", "loud"]]
    for args in cases:
        r = run("serve", "--home", str(home), "--listen", "127.0.0.1:0", *args,
                env={"WEBJOBS_USERNAME": USER, "WEBJOBS_PASSWORD": PASSWORD})
        assert r.returncode == 2, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("webjobs: "), (args, r.stderr)


def test_unusable_home_exit_2(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run("serve", "--home", str(f), "--listen", "127.0.0.1:0",
            env={"WEBJOBS_USERNAME": USER, "WEBJOBS_PASSWORD": PASSWORD})
    assert r.returncode == 2
    assert str(f) in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_port_in_use_exit_2(home):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = run("serve", "--home", str(home), "--listen", f"127.0.0.1:{port}",
                env={"WEBJOBS_USERNAME": USER, "WEBJOBS_PASSWORD": PASSWORD})
        assert r.returncode == 2
        assert "address already in use" in r.stderr
    finally:
        s.close()


def test_listening_line_and_sigterm_sigint(home):
    for sig in (signal.SIGTERM, signal.SIGINT):
        h = Host(home).start()
        assert h.first_lines[-1] == f"webjobs: listening on http://127.0.0.1:{h.port}\n"
        assert h.get("/healthz").status == 200
        h.proc.send_signal(sig)
        assert h.proc.wait(15) == 0


def test_sigterm_to_the_process_group_is_the_hosts_to_handle(home):
    """`timeout`, `kill -TERM -PGID` and the like signal the host's whole
    process group, its spawn helper included: the host stops its jobs
    gracefully and the helper waits to be closed, rather than ending
    first (the host logged "spawn helper: it ended" as an error)."""
    h = Host(home, env={"WEBJOBS_RESTART_TIME": "1"})
    h.add_job("continuous", "c", files={"run.sh": "echo up\nwhile true; do sleep 0.2; done\n"})
    h.start(new_session=True)
    assert wait_for(lambda: h.get("/api/continuouswebjobs/c").json()["status"] == "Running",
                    timeout=5)
    os.killpg(h.proc.pid, signal.SIGTERM)
    assert h.proc.wait(15) == 0
    err = h.proc.stderr.read()
    assert "spawn helper" not in err, err
    log = (h.data_dir("continuous", "c") / "job_log.txt").read_text()
    assert "Status changed to Stopped" in log.splitlines()[-1], log


def test_listen_from_environment(home):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    h = Host(home, env={"WEBJOBS_LISTEN": f"127.0.0.1:{port}"})
    h.args = [a for a in h.args if a not in ("--listen", "127.0.0.1:0")]
    h.start()
    try:
        assert h.port == port
    finally:
        assert h.stop() == 0


def test_home_layout_created(home):
    h = Host(home / "new").start()
    try:
        for rel in ["site/wwwroot/App_Data/jobs/triggered",
                    "site/wwwroot/App_Data/jobs/continuous",
                    "data/jobs/triggered", "data/jobs/continuous"]:
            assert (home / "new" / rel).is_dir(), rel
    finally:
        assert h.stop() == 0


def test_sd_notify_ready(home, tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(sock_path)
    s.settimeout(10)
    h = Host(home, env={"NOTIFY_SOCKET": sock_path}).start()
    try:
        msg = s.recv(4096).decode()
        assert "READY=1" in msg
    finally:
        assert h.stop() == 0
        s.close()


def test_sighup_reopens_log_file(home, tmp_path):
    log = tmp_path / "host.log"
    h = Host(home, extra_args=["--log-file", str(log)]).start()
    try:
        assert "instance test-inst" in log.read_text()
        os.rename(log, tmp_path / "host.log.1")
        h.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert h.get("/healthz").status == 200
    finally:
        assert h.stop() == 0
    assert "shutting down" in log.read_text()


def test_started_with_its_standard_descriptors_closed(home):
    """Started with 0, 1 and 2 closed (`<&- >&- 2>&-`), the host puts
    /dev/null on them before it opens anything: else its first folders
    and files take those numbers, and the log (stderr) is written into
    whichever file took 2. Its jobs still get their own three."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    h = Host(home)
    h.add_job("triggered", "std", {"run.sh": "echo to-out\necho to-err >&2\n"})
    args = [a if a != "127.0.0.1:0" else f"127.0.0.1:{port}" for a in h.args]
    h.proc = subprocess.Popen(["sh", "-c", 'exec "$@" <&- >&- 2>&-', "sh", *args,
                               "--log-level", "info"], env=h.env)
    h.port = port
    try:
        def healthy():
            try:
                return h.get("/healthz").status == 200
            except OSError:
                return False

        assert wait_for(healthy, timeout=20)
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{h.proc.pid}/fd/{fd}") == "/dev/null"
        r = h.request("POST", "/api/triggeredwebjobs/std/run")
        assert r.status == 202
        rid = r.header("Location").rsplit("/", 1)[1]
        path = f"/api/triggeredwebjobs/std/history/{rid}"
        assert wait_for(lambda: h.get(path).json()["status"] == "Success", timeout=10)
        run = h.get(path).json()
        out = h.get(run["output_url"].split(str(port), 1)[1]).text()
        assert "to-out" in out and "to-err" in out
    finally:
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(15) == 0
    # No log line went into a file of the home.
    for d, _, files in os.walk(home):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                assert b" info: " not in fh.read(), os.path.join(d, f)
