"""Hostile clients and a full disk (issue [6/7]): limits hold, other
clients keep being served, memory stays bounded, nothing half-written."""
import base64
import os
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import PASSWORD, USER, Host, wait_for
from test_runs import deploy


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_slowloris_and_half_bodies(home):
    h = Host(home, extra_args=["--idle-timeout", "3", "--max-connections", "300"]).start()
    socks = []
    try:
        rss0 = rss_kb(h.proc.pid)
        # 100 connections that send headers a byte at a time, never finishing.
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", h.port))
            s.sendall(b"GET /api/webjobs HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        # 50 uploads that promise a body and stop half way.
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode())
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", h.port))
            s.sendall(b"PUT /api/vfs/site/x.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + auth +
                      b"\r\nContent-Length: 100000\r\n\r\n" + b"a" * 10)
            socks.append(s)
        for _ in range(10):
            for s in socks[:100]:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
            t0 = time.time()
            assert h.get("/healthz").status == 200
            assert h.get("/api/webjobs").status == 200
            assert time.time() - t0 < 2
            time.sleep(0.1)
        assert rss_kb(h.proc.pid) - rss0 < 50 * 1024
        # Idle ones are closed after the idle timeout, with a 408 (HTTP/1.1).
        time.sleep(4)
        closed = 0
        for s in socks[100:]:
            s.settimeout(1)
            got = b""
            try:
                while True:
                    c = s.recv(4096)
                    if not c:
                        break
                    got += c
                if got == b"" or got.startswith(b"HTTP/1.1 408 "):
                    closed += 1
            except (OSError, socket.timeout):
                closed += 1
        assert closed == 50
        assert not (h.home / "site" / "x.txt").exists()
    finally:
        for s in socks:
            s.close()
        assert h.stop() == 0


def test_many_connections_attempted(home):
    h = Host(home, extra_args=["--max-connections", "200"]).start()
    socks = []
    try:
        rss0 = rss_kb(h.proc.pid)
        for _ in range(1500):
            try:
                socks.append(socket.create_connection(("127.0.0.1", h.port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        for s in socks:
            s.close()
        socks = []
        assert wait_for(lambda: h.get("/healthz").status == 200, timeout=5)
        assert rss_kb(h.proc.pid) - rss0 < 60 * 1024
    finally:
        for s in socks:
            s.close()
        assert h.stop() == 0


def test_disk_full(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here ({r.stderr.strip()}): disk-full not tested")
    h = None
    try:
        h = Host(mnt / "home", extra_args=["--temp", str(tmp_path / "temp")]).start()
        assert deploy(h, "keep", "echo kept\nsleep 30\n").status == 200
        run = h.request("POST", "/api/triggeredwebjobs/keep/run")
        assert run.status == 202
        # An upload larger than the free space fails clearly, changes nothing.
        big = os.urandom(4 * 1024 * 1024)
        r = deploy(h, "keep", big, filename="big.bin")
        assert r.status == 507, r.body
        assert "space" in r.json()["Message"].lower()
        assert os.listdir(h.bin_dir("triggered", "keep")) == ["run.sh"]
        r = h.request("PUT", "/api/vfs/site/big.bin", body=big)
        assert r.status == 507
        assert not (h.home / "site" / "big.bin").exists()
        # The host keeps answering; the running job keeps running.
        assert h.get("/api/triggeredwebjobs/keep").json()["latest_run"]["status"] == "Running"
        assert h.get("/healthz").status == 200
        leftovers = [n for n in os.listdir(h.home / "site/wwwroot/App_Data/jobs/triggered")
                     if n.startswith(".")]
        assert leftovers == []
        # Log lines that cannot be written are counted and reported once,
        # when space comes back.
        assert deploy(h, "chatty", "for i in $(seq 1 60); do printf 'line-%s %02000d\\n' $i 0; "
                                   "sleep 0.05; done\n").status == 200
        rid = h.request("POST", "/api/triggeredwebjobs/chatty/run").header("Location").rsplit("/", 1)[1]
        out = h.data_dir("triggered", "chatty") / rid / "output_log.txt"
        assert wait_for(lambda: out.exists() and "line-3" in out.read_text(), timeout=5)
        fill = h.home / "site" / "fill.bin"
        with open(fill, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        time.sleep(1.0)
        fill.unlink()
        log = h.data_dir("triggered", "chatty") / rid / "output_log.txt"
        assert wait_for(lambda: "Status changed to" in log.read_text().splitlines()[-1] and
                        "Success" in log.read_text(), timeout=10)
        assert "bytes of log could not be written" in log.read_text()
    finally:
        if h:
            h.stop()
        subprocess.run(["umount", "-l", str(mnt)])
