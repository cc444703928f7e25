"""The command-line client against a real host."""
import json
import os
import subprocess
import time

from conftest import BIN, PASSWORD, USER, wait_for
from test_runs import make_zip


def cli(h, *args, env=None, timeout=30, input=None):
    e = dict(os.environ, WEBJOBS_URL=h.prefix, WEBJOBS_USERNAME=USER, WEBJOBS_PASSWORD=PASSWORD)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e, timeout=timeout,
                          input=input)


def test_deploy_list_show_run_history_logs(host, tmp_path):
    script = tmp_path / "run.sh"
    script.write_text('echo "hello $1"\necho to-err >&2\n')
    r = cli(host, "deploy", "hello", str(script))
    assert r.returncode == 0 and "deployed triggered job hello" in r.stdout
    z = tmp_path / "job.zip"
    z.write_bytes(make_zip({"run.sh": "exit 3\n"}))
    assert cli(host, "deploy", "bad", str(z)).returncode == 0
    folder = tmp_path / "folder"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "run.sh").write_text("while true; do echo tick; sleep 0.2; done\n")
    assert cli(host, "deploy", "daemon", str(folder), "--continuous").returncode == 0
    r = cli(host, "list")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "STATUS", "LAST", "RUN", "NEXT", "RUN"]
    assert [l.split()[0] for l in lines[1:]] == ["bad", "hello", "daemon"]
    r = cli(host, "list", "--json", "--type", "continuous")
    assert [j["name"] for j in json.loads(r.stdout)] == ["daemon"]
    assert json.loads(cli(host, "show", "daemon").stdout)["run_command"] == "inner/run.sh"
    # run --wait: the exit code is the run's result.
    r = cli(host, "run", "hello", "--wait", "--", "big world", "it's")
    assert r.returncode == 0 and r.stdout.split()[1] == "Success"
    assert cli(host, "run", "bad", "--wait").returncode == 1
    r = cli(host, "run", "hello", "--follow", "--", "followed")
    assert r.returncode == 0 and "INFO] hello followed" in r.stdout
    assert "Status changed to Success" in r.stdout
    r = cli(host, "history", "hello", "-n", "1")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2
    assert "Success" in r.stdout.splitlines()[1]
    # -n holds with --json too: the newest runs, newest first.
    every = json.loads(cli(host, "history", "hello", "--json").stdout)["runs"]
    assert len(every) == 2
    one = json.loads(cli(host, "history", "hello", "-n", "1", "--json").stdout)["runs"]
    assert [r["id"] for r in one] == [every[0]["id"]]
    assert cli(host, "history", "hello", "-n", "x").returncode == 2
    r = cli(host, "logs", "hello")
    assert "INFO] hello followed" in r.stdout and "ERR ] to-err" in r.stdout
    # A run with arguments quoted for the shell-like split on the host.
    first = json.loads(cli(host, "history", "hello", "--json").stdout)["runs"][-1]["id"]
    assert "hello big world" in cli(host, "logs", "hello", first).stdout


def test_start_stop_settings_delete(host, tmp_path):
    (tmp_path / "run.sh").write_text("while true; do echo tick; sleep 0.2; done\n")
    cli(host, "deploy", "d", str(tmp_path / "run.sh"), "--continuous")
    assert wait_for(lambda: host.get("/api/continuouswebjobs/d").json()["status"] == "Running")
    assert cli(host, "stop", "d").returncode == 0
    assert wait_for(lambda: host.get("/api/continuouswebjobs/d").json()["status"] == "Stopped",
                    timeout=10)
    assert cli(host, "start", "d").returncode == 0
    r = cli(host, "settings", "d", "is_singleton=true", "note=hi", "n=5")
    assert r.returncode == 0
    assert host.get("/api/continuouswebjobs/d/settings").json() == {
        "is_singleton": True, "note": "hi", "n": 5}
    assert json.loads(cli(host, "settings", "d").stdout)["n"] == 5
    # logs -f follows until stopped by the caller.
    p = subprocess.Popen([BIN, "logs", "d", "-f"], stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, WEBJOBS_URL=host.prefix, WEBJOBS_USERNAME=USER,
                                  WEBJOBS_PASSWORD=PASSWORD))
    got = [p.stdout.readline() for _ in range(3)]
    p.kill()
    p.wait()
    assert all(l.startswith("[") for l in got)
    assert cli(host, "delete", "d").returncode == 0
    assert host.get("/api/continuouswebjobs/d").status == 404
    r = cli(host, "delete", "d")
    assert r.returncode == 3 and r.stderr == "webjobs: 404 Not Found: no job named 'd'\n"


def test_errors_and_credentials(host, tmp_path):
    # Every HTTP error starts with its status, for scripts to grep.
    r = cli(host, "run", "nope", "--wait")
    assert r.returncode == 3
    assert r.stderr == "webjobs: 404 Not Found: No triggered job named 'nope' was found.\n"
    r = cli(host, "show", "nosuch")
    assert r.returncode == 3 and r.stderr == "webjobs: 404 Not Found: no job named 'nosuch'\n"
    r = cli(host, "list", env={"WEBJOBS_PASSWORD": "wrong"})
    assert r.returncode == 3 and r.stderr.startswith("webjobs: 401 Unauthorized: ")
    r = cli(host, "show", "x", env={"WEBJOBS_PASSWORD": "wrong"})
    assert r.returncode == 3 and r.stderr.startswith("webjobs: 401 Unauthorized: ")
    assert cli(host, "list", "--password", "x").returncode == 2
    r = cli(host, "list", env={"WEBJOBS_URL": "http://127.0.0.1:1"})
    assert r.returncode == 3 and "cannot reach" in r.stderr
    assert cli(host, "deploy", "x").returncode == 2
    # The config file is used, and refused when others can read it.
    cfg = tmp_path / ".config" / "webjobs"
    cfg.mkdir(parents=True)
    (cfg / "config").write_text(f"url={host.prefix}\nuser={USER}\npassword={PASSWORD}\n")
    os.chmod(cfg / "config", 0o644)
    env = {"HOME": str(tmp_path), "WEBJOBS_URL": "", "WEBJOBS_USERNAME": "", "WEBJOBS_PASSWORD": ""}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WEBJOBS_")}
    clean["HOME"] = str(tmp_path)
    r = subprocess.run([BIN, "list"], capture_output=True, text=True, env=clean)
    assert r.returncode == 2 and "chmod 600" in r.stderr
    os.chmod(cfg / "config", 0o600)
    r = subprocess.run([BIN, "list"], capture_output=True, text=True, env=clean)
    assert r.returncode == 0 and r.stdout.startswith("NAME")
    # help of one client command is that command's.
    r = subprocess.run([BIN, "help", "run"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Usage: webjobs run NAME")
    assert "webjobs history" not in r.stdout and "--wait" in r.stdout
    for cmd in ["list", "show", "deploy", "history", "logs", "start", "stop", "settings",
                "delete"]:
        r = subprocess.run([BIN, "help", cmd], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith(f"Usage: webjobs {cmd}"), cmd
