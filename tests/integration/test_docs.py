"""The man page and the install target."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT


@pytest.mark.skipif(not shutil.which("groff"), reason="groff is not installed")
def test_man_page_renders_without_warnings():
    r = subprocess.run(["groff", "-ww", "-man", "-Tutf8", str(ROOT / "doc" / "webjobs.1")],
                       capture_output=True, text=True, env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == ""
    assert "webjobs serve" in re.sub(r".\x08", "", r.stdout)


def test_man_page_covers_every_flag_and_subcommand():
    page = (ROOT / "doc" / "webjobs.1").read_text().replace("\\-", "-")
    flags = re.findall(r"^  (--[a-z-]+)", subprocess.run([BIN, "help", "serve"], capture_output=True,
                                                         text=True).stdout, re.M)
    assert len(flags) >= 12
    for flag in flags:
        assert flag in page, flag
    for sub in ["serve", "passwd", "cron", "version", "help"]:
        assert f"webjobs {sub}" in page.replace("\\fB", "").replace(".B ", "webjobs ") or \
            f".B {sub}" in page, sub
    for var in ["WEBJOBS_HISTORY_SIZE", "WEBJOBS_IDLE_TIMEOUT", "WEBJOBS_RESTART_TIME",
                "WEBJOBS_STOPPED", "WEBJOBS_DISABLE_SCHEDULE", "WEBJOBS_LOG_MAX_SIZE",
                "WEBSITE_TIME_ZONE", "WEBJOBS_USERNAME", "WEBJOBS_RUN_AS"]:
        assert var in page, var


def test_make_install(tmp_path):
    r = subprocess.run(["make", "-s", "install", f"DESTDIR={tmp_path}", "PREFIX=/usr"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(tmp_path / "usr/bin/webjobs", os.X_OK)
    assert (tmp_path / "usr/share/man/man1/webjobs.1").exists()
    unit = (tmp_path / "lib/systemd/system/webjobs.service").read_text()
    assert "Type=notify" in unit and "User=webjobs" in unit
