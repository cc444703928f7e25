"""Deploys cut short on a file system without RENAME_EXCHANGE (src/swap.c,
docs/SCALE-OUT.md): whatever step a crash stopped at, the next start
finishes or undoes it. The states are made by hand on a local home, as the
three renames of the fallback leave them (the fallback itself runs on the
GlusterFS rig, tests/scaleout)."""
import os
import time

from conftest import Host
from test_runs import deploy

ASIDE = ".swap-{}.0123456789abcdef"


def jobs_dir(home):
    return home / "site/wwwroot/App_Data/jobs/triggered"


def test_an_aside_without_its_job_goes_back(home):
    h = Host(home).start()
    assert deploy(h, "cut", "echo old\n").status == 200
    assert h.stop() == 0
    d = jobs_dir(home)
    os.rename(d / "cut", d / ASIDE.format("cut"))
    h = Host(home).start()
    try:
        assert (d / "cut" / "run.sh").read_text() == "echo old\n"
        assert not (d / ASIDE.format("cut")).exists()
        assert h.get("/api/triggeredwebjobs/cut").status == 200
    finally:
        assert h.stop() == 0


def test_an_aside_beside_its_new_job_is_removed(home):
    h = Host(home).start()
    assert deploy(h, "cut", "echo new\n").status == 200
    assert h.stop() == 0
    d = jobs_dir(home)
    (d / ASIDE.format("cut")).mkdir()
    (d / ASIDE.format("cut") / "run.sh").write_text("echo old\n")
    h = Host(home).start()
    try:
        assert not (d / ASIDE.format("cut")).exists()
        assert (d / "cut" / "run.sh").read_text() == "echo new\n"
    finally:
        assert h.stop() == 0


def test_stale_uploads_and_staging_folders_are_removed(home):
    d = jobs_dir(home)
    d.mkdir(parents=True)
    old = time.time() - 7200
    for name in (".staging-00112233aabbccdd", ".upload-00112233aabbccdd"):
        p = d / name
        if name.startswith(".staging"):
            p.mkdir()
        else:
            p.write_text("half an upload")
        os.utime(p, (old, old))
    (d / ".upload-ffeeddccbbaa9988").write_text("an upload under way")
    h = Host(home).start()
    try:
        assert sorted(p.name for p in d.iterdir()) == [".upload-ffeeddccbbaa9988"]
    finally:
        assert h.stop() == 0
