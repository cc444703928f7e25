"""Deploys cut short on a file system without RENAME_EXCHANGE (src/swap.c,
docs/SCALE-OUT.md): whatever step a crash stopped at, the next start
finishes or undoes it. The states are made by hand on a local home, as the
three renames of the fallback leave them (the fallback itself runs on the
GlusterFS rig, tests/scaleout)."""
import os
import shutil
import time

from conftest import Host, wait_for
from test_runs import deploy, make_zip

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


def test_a_binaries_folder_being_removed_is_not_read(home):
    """A deploy marks the old binaries before it removes them (another
    machine's client may still lead the job's name there): a job whose
    folder holds the mark keeps what was known of it, and a folder found
    marked at start is no job's."""
    h = Host(home).start()
    try:
        assert deploy(h, "going", "echo old\n").status == 200
        before = h.get("/api/triggeredwebjobs/going").json()
        d = h.bin_dir("triggered", "going")
        (d / ".deleted").write_text("")
        (d / "run.sh").unlink()
        (d / "settings.job").write_text('{"retries": 3}')
        r = h.get("/api/triggeredwebjobs/going")
        assert r.status == 200, r.body
        assert r.json() == before
        # The mark gone and the folder whole again: read as before.
        (d / "run.sh").write_text("echo back\n")
        (d / ".deleted").unlink()
        r = h.get("/api/triggeredwebjobs/going")
        assert r.status == 200 and r.json()["settings"] == {"retries": 3}, r.body
        (d / ".deleted").write_text("")
    finally:
        assert h.stop() == 0
    h = Host(home).start()
    try:
        assert h.get("/api/triggeredwebjobs/going").status == 404
        assert [j["name"] for j in h.get("/api/triggeredwebjobs").json()] == []
    finally:
        assert h.stop() == 0


def test_a_deploy_that_brings_the_mark_is_refused(host):
    assert deploy(host, "marked", "echo kept\n").status == 200
    r = deploy(host, "marked", make_zip({".deleted": "", "run.sh": "echo new\n"}),
               filename="a.zip", zip_=True)
    assert r.status == 400, r.body
    assert r.json() == {"Message": "The name .deleted is reserved at the top of a job's folder."}
    assert (host.bin_dir("triggered", "marked") / "run.sh").read_text() == "echo kept\n"
    # (The upload goes just after the reply.)
    deadline = time.time() + 5
    while [p for p in jobs_dir(host.home).iterdir() if p.name.startswith(".")] and \
            time.time() < deadline:
        time.sleep(0.01)
    assert [p.name for p in jobs_dir(host.home).iterdir() if p.name.startswith(".")] == []
    # Below the top it is a file like any other.
    r = deploy(host, "marked", make_zip({"app/.deleted": "", "app/run.sh": "echo new\n"}),
               filename="a.zip", zip_=True)
    assert r.status == 200, r.body


def test_a_job_folder_replaced_by_a_link_or_a_file_is_gone(host):
    """A reader that finds the job's folder gone keeps the job only while
    a swap is under way or a folder is there after all: a link or a file
    by the name is no job's folder."""
    for kind in ("link", "file"):
        name = f"by-{kind}"
        assert deploy(host, name, "echo hi\n").status == 200
        d = host.bin_dir("triggered", name)
        shutil.rmtree(d)
        if kind == "link":
            os.symlink("/tmp", d)
        else:
            d.write_text("not a folder")
        assert wait_for(lambda: host.get(f"/api/triggeredwebjobs/{name}").status == 404,
                        timeout=5), kind
