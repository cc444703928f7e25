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


def test_sources_stay_within_a_readers_reach():
    """No source file over 800 lines, no function over 80, and every
    document a comment cites is in the repository (docs/, not the
    steering notes the code was first written from)."""
    problems = []
    for f in sorted((ROOT / "src").glob("*.[ch]")):
        lines = f.read_text().split("\n")
        if len(lines) > 800:
            problems.append(f"{f.name}: {len(lines)} lines")
        start = None
        for i, line in enumerate(lines):
            if line == "{":
                start = i
            elif line == "}" and start is not None:
                if i - start + 1 > 80:
                    problems.append(f"{f.name}:{start}: a function of {i - start + 1} lines")
                start = None
        for i, line in enumerate(lines):
            if re.search(r"\b(SPEC|STACK)(\.md)?\b", line):
                problems.append(f"{f.name}:{i + 1}: cites a document outside the repository")
            for doc in re.findall(r"docs/([A-Z-]+\.md)", line):
                if not (ROOT / "docs" / doc).exists():
                    problems.append(f"{f.name}:{i + 1}: docs/{doc} does not exist")
        # A section cited as docs/X.md, "Title" (or docs/X.md ("Title"))
        # is a heading of that document.
        text = re.sub(r"\s*\n\s*\*\s*", " ", f.read_text())
        for doc, title in re.findall(r'docs/([A-Z-]+\.md)[,:]? \(?"([^"]+)"', text):
            headings = re.findall(r"^#+ (.+)$", (ROOT / "docs" / doc).read_text(), re.M)
            if title not in headings:
                problems.append(f"{f.name}: cites docs/{doc}, \"{title}\", which has no such section")
    assert problems == []


def test_every_module_is_in_the_module_map():
    """docs/ARCHITECTURE.md's module map names every src/*.c."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    mapped = set(re.findall(r"^\| `([a-z_0-9]+)` \|", text, re.M))
    modules = {f.stem for f in (ROOT / "src").glob("*.c")}
    assert modules - mapped == set()
