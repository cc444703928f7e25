"""What jobs run as and what they can see (docs/SECURITY.md)."""
import os
import pwd

import pytest

from conftest import PASSWORD, Host
from test_runs import deploy, log_lines, start_run, wait_run
from test_serve import run

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the host must run as root")


@root_only
def test_root_host_runs_jobs_as_nobody(home):
    h = Host(home)
    # No --run-as at all: the default for a root host.
    i = h.args.index("--run-as")
    del h.args[i:i + 2]
    h.start()
    try:
        users = home / "data" / "webjobs"
        users.mkdir(parents=True, exist_ok=True)
        (users / "users").write_text("x:$y$secret\n")
        os.chmod(users / "users", 0o600)
        deploy(h, "who", "id -u\ntouch written-here && echo wrote\n"
                         f"cat {users}/users || echo cannot-read\n")
        rid = start_run(h, "who")
        assert wait_run(h, "who", rid)["status"] == "Success"
        out = [t for lvl, t in log_lines(h, "who", rid) if lvl in ("INFO", "ERR ")]
        assert out[0] == str(pwd.getpwnam("nobody").pw_uid)
        assert "wrote" in out  # its working copy is its own
        assert "cannot-read" in out and not any("secret" in t for t in out)
    finally:
        assert h.stop() == 0


@root_only
def test_run_as_named_user_and_root(home):
    h = Host(home, extra_args=["--run-as", "daemon"]).start()
    try:
        deploy(h, "who", "id -un\n")
        rid = start_run(h, "who")
        wait_run(h, "who", rid)
        assert ("INFO", "daemon") in log_lines(h, "who", rid)
    finally:
        assert h.stop() == 0
    h = Host(home, extra_args=["--run-as", "root"]).start()
    try:
        rid = start_run(h, "who")
        wait_run(h, "who", rid)
        assert ("INFO", "root") in log_lines(h, "who", rid)
    finally:
        assert h.stop() == 0


def test_bad_run_as(home):
    r = run("serve", "--home", str(home), "--listen", "127.0.0.1:0", "--run-as", "no-such-user-x",
            env={"WEBJOBS_USERNAME": "u", "WEBJOBS_PASSWORD": PASSWORD})
    assert r.returncode == 2 and "run-as" in r.stderr
