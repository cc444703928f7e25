"""The file API (SPEC 10): VFS and zip endpoints, confined to the home."""
import base64
import ctypes
import io
import os
import socket
import time
import zipfile

import pytest

from conftest import PASSWORD, USER, wait_for
from test_runs import deploy, make_zip


def test_file_get_head_etag_ranges(host):
    (host.home / "site" / "a.txt").write_bytes(b"0123456789")
    (host.home / "site" / "b.json").write_text("{}")
    (host.home / "site" / "c.bin").write_bytes(b"\0\1")
    r = host.get("/api/vfs/site/a.txt")
    assert r.status == 200 and r.body == b"0123456789"
    assert r.header("Content-Type") == "text/plain"
    tag = r.header("ETag")
    assert tag and r.header("Last-Modified").endswith(" GMT")
    assert host.get("/vfs/site/b.json").header("Content-Type") == "application/json"
    assert host.get("/vfs/site/c.bin").header("Content-Type") == "application/octet-stream"
    h = host.request("HEAD", "/api/vfs/site/a.txt")
    assert h.status == 200 and h.body == b"" and h.header("Content-Length") == "10"
    assert host.get("/api/vfs/site/a.txt", headers={"If-None-Match": tag}).status == 304
    cases = [("bytes=0-3", 206, b"0123", "bytes 0-3/10"), ("bytes=7-", 206, b"789", "bytes 7-9/10"),
             ("bytes=-2", 206, b"89", "bytes 8-9/10"), ("bytes=5-100", 206, b"56789", "bytes 5-9/10"),
             ("bytes=10-", 416, None, "bytes */10"), ("bytes=0-0", 206, b"0", "bytes 0-0/10"),
             ("bytes=3-1", 200, b"0123456789", None), ("items=0-1", 200, b"0123456789", None)]
    for rng, status, body, cr in cases:
        r = host.get("/api/vfs/site/a.txt", headers={"Range": rng})
        assert r.status == status, rng
        if body is not None:
            assert r.body == body, rng
        assert r.header("Content-Range") == cr, rng
    r = host.get("/api/vfs/site/a.txt", headers={"Range": "bytes=0-1", "If-Range": tag})
    assert r.status == 206
    r = host.get("/api/vfs/site/a.txt", headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert r.status == 200 and r.body == b"0123456789"
    assert host.get("/api/vfs/site/missing.txt").status == 404


def test_folders_and_redirects(host):
    (host.home / "site" / "d").mkdir()
    (host.home / "site" / "d" / "f.log").write_text("x")
    r = host.get("/api/vfs/site/d")
    assert r.status == 307 and r.header("Location") == f"{host.prefix}/api/vfs/site/d/"
    r = host.get("/api/vfs/site/d/f.log/")
    assert r.status == 307 and r.header("Location") == f"{host.prefix}/api/vfs/site/d/f.log"
    entries = host.get("/api/vfs/site/").json()
    assert [e["name"] for e in entries] == ["d", "wwwroot"]
    d = entries[0]
    assert list(d) == ["name", "size", "mtime", "crtime", "mime", "href", "path"]
    assert d["mime"] == "inode/directory" and d["href"] == f"{host.prefix}/api/vfs/site/d/"
    assert d["path"] == "/site/d/" and d["mtime"].endswith("+00:00")
    f = host.get("/vfs/site/d/").json()[0]
    assert f == {**f, "name": "f.log", "size": 1, "mime": "text/plain",
                 "href": f"{host.prefix}/vfs/site/d/f.log", "path": "/site/d/f.log"}
    assert host.get("/api/vfs").status == 307
    names = [e["name"] for e in host.get("/api/vfs/").json()]
    assert "site" in names and "data" in names
    # The credentials folder is not listed.
    assert "webjobs" not in [e["name"] for e in host.get("/api/vfs/data/").json()]


def test_put_and_delete(host):
    r = host.request("PUT", "/api/vfs/site/new/deep/x.txt", body=b"one")
    assert r.status == 201 and r.header("ETag")
    assert (host.home / "site/new/deep/x.txt").read_bytes() == b"one"
    assert host.request("PUT", "/api/vfs/site/new/deep/x.txt", body=b"two").status == 412
    assert host.request("PUT", "/api/vfs/site/new/deep/x.txt", body=b"two",
                        headers={"If-Match": '"nope"'}).status == 412
    tag = host.get("/api/vfs/site/new/deep/x.txt").header("ETag")
    r = host.request("PUT", "/api/vfs/site/new/deep/x.txt", body=b"two", headers={"If-Match": tag})
    assert r.status == 204 and r.header("ETag") != tag
    assert (host.home / "site/new/deep/x.txt").read_bytes() == b"two"
    r = host.request("PUT", "/api/vfs/site/new/deep/x.txt", body=b"3", headers={"If-Match": "*"})
    assert r.status == 204
    assert host.request("PUT", "/api/vfs/site/new/deep", body=b"x").status == 409
    assert host.request("PUT", "/api/vfs/site/folder/", body=b"").status == 201
    assert (host.home / "site/folder").is_dir()
    # No temporary files are left behind.
    assert sorted(os.listdir(host.home / "site/new/deep")) == ["x.txt"]
    # DELETE
    assert host.request("DELETE", "/api/vfs/site/new/deep/x.txt").status == 412
    assert host.request("DELETE", "/api/vfs/site/new/deep/x.txt", headers={"If-Match": "*"}).status == 200
    assert not (host.home / "site/new/deep/x.txt").exists()
    (host.home / "site/new/deep/y.txt").write_text("y")
    assert host.request("DELETE", "/api/vfs/site/new/").status == 409
    assert host.request("DELETE", "/api/vfs/site/folder/").status == 200
    assert host.request("DELETE", "/api/vfs/site/new?recursive=true").status == 200
    assert not (host.home / "site/new").exists()
    assert host.request("DELETE", "/api/vfs/site/nothing").status == 404
    assert host.request("DELETE", "/api/vfs/").status == 403


def test_seed_examples_deploy_and_delete_through_files(host):
    body = make_zip({"run.sh": "echo from zip\n", "settings.job": '{"x": 1}'})
    r = host.request("PUT", "/api/zip/site/wwwroot/App_Data/jobs/triggered/zjob/", body=body,
                     headers={"Content-Type": "application/zip"})
    assert r.status == 200 and r.body == b""
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/zjob").status == 200, timeout=1.5)
    assert host.get("/api/triggeredwebjobs/zjob/settings").json() == {"x": 1}
    # Unpacked over the folder: files not in the zip stay.
    host.request("PUT", "/api/zip/site/wwwroot/App_Data/jobs/triggered/zjob/",
                 body=make_zip({"extra.txt": "e"}))
    assert sorted(os.listdir(host.bin_dir("triggered", "zjob"))) == ["extra.txt", "run.sh", "settings.job"]
    r = host.request("DELETE", "/api/vfs/site/wwwroot/App_Data/jobs/triggered/zjob?recursive=true")
    assert r.status == 200
    assert wait_for(lambda: host.get("/api/triggeredwebjobs/zjob").status == 404, timeout=1.5)


def test_zip_get_and_bad_zip(host):
    d = host.home / "site" / "z"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("a")
    (d / "sub" / "b.txt").write_text("b" * 100000)
    r = host.get("/api/zip/site/z/")
    assert r.status == 200 and r.header("Content-Type") == "application/zip"
    assert r.header("Content-Disposition") == "attachment; filename=z.zip"
    z = zipfile.ZipFile(io.BytesIO(r.body))
    assert sorted(z.namelist()) == ["a.txt", "sub/", "sub/b.txt"]
    assert z.read("sub/b.txt") == b"b" * 100000
    assert host.get("/api/zip/site/z/a.txt").status == 404
    # A bad or hostile zip changes nothing.
    before = sorted(os.listdir(d))
    for bad in [b"not a zip", make_zip([("ok.txt", "1"), ("../evil.txt", "x")])]:
        r = host.request("PUT", "/api/zip/site/z/", body=bad)
        assert r.status == 400, r.body
        assert sorted(os.listdir(d)) == before
    assert not (host.home / "site" / "evil.txt").exists()
    # The home's zip has no credentials in it.
    names = zipfile.ZipFile(io.BytesIO(host.get("/api/zip/").body)).namelist()
    assert not any(n.startswith("data/webjobs") for n in names)


@pytest.mark.parametrize("path", [
    "/api/vfs/..", "/api/vfs/../etc/passwd", "/api/vfs/%2e%2e/%2e%2e/etc/passwd",
    "/api/vfs/site/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/api/vfs/site/..%2F..%2F..%2Fetc/passwd",
    "/api/vfs/data/webjobs/users", "/api/vfs/data/webjobs/", "/api/vfs/data//webjobs/users",
    "/api/vfs/data/./webjobs/users", "/api/vfs/site/link-etc/passwd", "/api/vfs/site/link-users",
    "/api/vfs/site/link-data/webjobs/users", "/api/vfs/site/a%00b", "/api/vfs/site/a%01b",
    "/api/vfs/" + "a/" * 2000 + "x", "/vfs/%2E%2E/", "/api/zip/data/webjobs/", "/api/zip/site/link-etc/",
])
def test_attacks(make_host, path):
    h = make_host()
    h.start()
    os.symlink("/etc", h.home / "site" / "link-etc")
    os.symlink(h.home / "data" / "webjobs" / "users", h.home / "site" / "link-users")
    os.symlink("../data", h.home / "site" / "link-data")
    (h.home / "data" / "webjobs").mkdir(exist_ok=True)
    (h.home / "data" / "webjobs" / "users").write_text("secret:$y$hash\n")
    for method in ["GET", "PUT", "DELETE"]:
        r = h.request(method, path, body=b"owned" if method == "PUT" else None,
                      headers={"If-Match": "*"})
        allowed = {400, 403, 404, 405, 409, 414}
        if method == "DELETE" and path.endswith("link-users"):
            allowed.add(200)  # the link itself may go; its target stays (checked below)
        assert r.status in allowed, (method, path, r.status)
        assert b"root:" not in r.body and b"secret" not in r.body and b"$y$" not in r.body
    assert (h.home / "data" / "webjobs" / "users").read_text() == "secret:$y$hash\n"
    assert open("/etc/passwd").read().startswith("root:")
    assert not os.path.exists("/etc/owned")


def host_socket(pid, client_port):
    """The host's end of a loopback connection, duplicated into this
    process with pidfd_getfd (438 on every architecture)."""
    inode = None
    for line in open(f"/proc/{pid}/net/tcp").readlines()[1:]:
        f = line.split()
        if int(f[2].split(":")[1], 16) == client_port:
            inode = f[9]
    assert inode, "the host's socket is not in /proc/net/tcp"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
            pidfd = os.pidfd_open(pid)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                mine = libc.syscall(438, pidfd, int(fd), 0)
                assert mine >= 0, os.strerror(ctypes.get_errno())
                return socket.socket(fileno=mine)
            finally:
                os.close(pidfd)
    raise AssertionError("the host holds no such socket")


def test_a_large_file_is_not_sent_corked(host):
    """libmicrohttpd corks the socket for all of a file past its 128 KiB
    sendfile chunk; corked, loopback downloads ran at half speed. The host
    takes the cork off once it is on; the file and a next request on the
    same connection come whole."""
    data = os.urandom(256 * 1024) * 64  # 16 MiB, more than the socket buffers hold
    (host.home / "site" / "big.bin").write_bytes(data)
    (host.home / "site" / "small.txt").write_bytes(b"small")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    c = socket.create_connection(("127.0.0.1", host.port), timeout=10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    ask = (f"GET /vfs/site/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\r\n"
           .encode())
    c.sendall(ask)
    got = b""
    while len(got) < 256 * 1024:
        got += c.recv(65536)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 16777216" in head
    time.sleep(0.3)  # the client stopped reading: the host's sending stalls
    theirs = host_socket(host.proc.pid, c.getsockname()[1])
    try:
        assert theirs.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 0
    finally:
        theirs.close()
    while len(body) < len(data):
        body += c.recv(1 << 20)
    assert body == data
    c.sendall(ask.replace(b"big.bin", b"small.txt"))
    got = b""
    while not got.endswith(b"small"):
        got += c.recv(4096)
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\nsmall")
    c.close()
