"""The scale-out rig (issue [5/6], docs/SCALE-OUT.md): a GlusterFS replicated
volume on this machine and 2-3 "machines" that share it, each a network
namespace with its own address, its own FUSE mount of the volume and its
own `webjobs serve` on that mount.

    10.77.0.1  (on the host's lo)    glusterd and the two bricks
    10.77.N.2  (netns wjmN)          machine N: its gluster client and host
    10.77.N.1  (veth, host side)     machine N's way to the bricks

A partition of machine N takes its veth link down: its client and its
host lose the storage (and the other machines) while the rest go on.
Everything is started here and stopped here, by pid; nothing leaves the
machine. Needs root, /dev/fuse and Debian's glusterfs-server and
glusterfs-client (scripts/install-deps --scaleout)."""
import base64
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("WEBJOBS_BIN", str(ROOT / "build" / "webjobs"))
USER, PASSWORD = "rig", "rig-password"
VOLUME = "wjvol"
BRICK_HOST = "10.77.0.1"


def why_not():
    """Why the rig cannot run here, or None."""
    if os.geteuid() != 0:
        return "the scale-out rig needs root (network namespaces, FUSE mounts, glusterd)"
    if not os.path.exists("/dev/fuse"):
        return "the scale-out rig needs /dev/fuse"
    for tool in ("glusterd", "gluster", "mount.glusterfs", "nsenter", "ip"):
        if not shutil.which(tool):
            return f"the scale-out rig needs {tool} (scripts/install-deps --scaleout)"
    if subprocess.run(["pgrep", "-x", "glusterd"], capture_output=True).returncode == 0:
        return "a glusterd not started by the rig is running; the rig needs its own"
    return None


def sh(*args, check=True, ns=None, timeout=60):
    cmd = list(args)
    if ns:
        cmd = ["nsenter", f"--net=/run/netns/{ns}", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.returncode} {r.stdout} {r.stderr}")
    return r


class Machine:
    def __init__(self, rig, n):
        self.rig, self.n = rig, n
        self.ns = f"wjm{n}"
        self.addr = f"10.77.{n}.2"
        self.mount = rig.tmp / f"m{n}"
        self.temp = rig.tmp / f"t{n}"
        self.proc = None
        self.port = None
        self.instance = f"machine{n}"

    # ---- the network ----
    def net_up(self):
        n = self.n
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", f"wjv{n}h", "type", "veth", "peer", "name", f"wjv{n}n")
        sh("ip", "link", "set", f"wjv{n}n", "netns", self.ns)
        sh("ip", "addr", "add", f"10.77.{n}.1/24", "dev", f"wjv{n}h")
        sh("ip", "link", "set", f"wjv{n}h", "up")
        sh("ip", "addr", "add", f"{self.addr}/24", "dev", f"wjv{n}n", ns=self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        self.link(True)

    def link(self, up):
        """Connects or partitions the machine."""
        n = self.n
        sh("ip", "link", "set", f"wjv{n}n", "up" if up else "down", ns=self.ns)
        if up:
            sh("ip", "route", "replace", "default", "via", f"10.77.{n}.1", ns=self.ns)

    # ---- the storage ----
    def mount_up(self):
        self.mount.mkdir(exist_ok=True)
        sh("mount", "-t", "glusterfs", "-o", "log-file=" + str(self.rig.tmp / f"client{self.n}.log"),
           f"{BRICK_HOST}:/{VOLUME}", str(self.mount), ns=self.ns, timeout=120)

    # ---- the host ----
    def start(self, extra=()):
        self.temp.mkdir(exist_ok=True)
        env = dict(os.environ, WEBJOBS_USERNAME=USER, WEBJOBS_PASSWORD=PASSWORD)
        env.update(self.rig.env)
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{self.ns}", BIN, "serve", "--home", str(self.mount),
             "--listen", f"{self.addr}:0", "--instance-id", self.instance,
             "--temp", str(self.temp), "--run-as", "root", *extra],
            stdout=subprocess.PIPE, stderr=open(self.rig.tmp / f"host{self.n}.log", "a"),
            env=env, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"host {self.n} exited: see {self.rig.tmp}/host{self.n}.log")
            m = re.search(r"listening on http://\S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return self
        raise RuntimeError(f"host {self.n} did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode if self.proc else None

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection(self.addr, self.port, timeout=timeout)
        h = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict(r.getheaders()), data

    def get_json(self, path):
        s, _, b = self.request("GET", path)
        return s, (json.loads(b) if b else None)

    def deploy(self, name, script, kind="triggered"):
        return self.request("PUT", f"/api/{kind}webjobs/{name}", script.encode(),
                            {"Content-Disposition": "attachment; filename=run.sh"})


class Rig:
    def __init__(self, machines=2, env=None, ping_timeout=None):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="webjobs-rig-"))
        self.env = env or {}
        self.machines = [Machine(self, n) for n in range(1, machines + 1)]
        self.glusterd = None
        self.ping_timeout = ping_timeout

    def up(self):
        try:
            self._up()
        except BaseException:
            self.down()
            raise
        return self

    def _up(self):
        self._clean_stale()
        # The bricks' address: on the loopback device of the host, reached
        # from the machines through their veth links.
        sh("ip", "addr", "add", f"{BRICK_HOST}/32", "dev", "lo")
        for m in self.machines:
            m.net_up()
        self.glusterd = subprocess.Popen(
            ["glusterd", "-N", "--log-file", str(self.tmp / "glusterd.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while sh("gluster", "--mode=script", "volume", "list", check=False).returncode != 0:
            if time.time() > deadline or self.glusterd.poll() is not None:
                raise RuntimeError("glusterd did not come up: " +
                                   (self.tmp / "glusterd.log").read_text()[-2000:])
            time.sleep(0.3)
        bricks = [f"{BRICK_HOST}:{self.tmp}/brick{k}" for k in (1, 2)]
        sh("gluster", "--mode=script", "volume", "create", VOLUME, "replica", "2", *bricks, "force")
        if self.ping_timeout:
            sh("gluster", "--mode=script", "volume", "set", VOLUME, "network.ping-timeout",
               str(self.ping_timeout))
        sh("gluster", "--mode=script", "volume", "start", VOLUME, "force", timeout=120)
        for m in self.machines:
            m.mount_up()

    def _clean_stale(self):
        """What an earlier rig killed with -9 may have left."""
        for n in range(1, 4):
            sh("ip", "netns", "del", f"wjm{n}", check=False)
            sh("ip", "link", "del", f"wjv{n}h", check=False)
        sh("ip", "addr", "del", f"{BRICK_HOST}/32", "dev", "lo", check=False)
        if (pathlib.Path("/var/lib/glusterd/vols") / VOLUME).exists():
            shutil.rmtree(pathlib.Path("/var/lib/glusterd/vols") / VOLUME, ignore_errors=True)

    def brick_pids(self):
        pids = []
        for p in pathlib.Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"glusterfsd") and str(self.tmp).encode() in b" ".join(cmd):
                pids.append(int(p.name))
        return pids

    def down(self):
        for m in self.machines:
            try:
                m.stop(signal.SIGKILL)
            except Exception:
                pass
            # A host killed with -9 leaves its jobs to its next start,
            # which never comes here: they run from its --temp.
            sh("pkill", "-9", "-f", f"{m.temp}/", check=False)
        for m in self.machines:
            # (A partitioned mount answers ENOTCONN even to a stat.)
            sh("umount", "-l", str(m.mount), check=False)
        if self.glusterd and self.glusterd.poll() is None:
            sh("gluster", "--mode=script", "volume", "stop", VOLUME, "force", check=False,
               timeout=120)
            sh("gluster", "--mode=script", "volume", "delete", VOLUME, check=False, timeout=120)
        for pid in self.brick_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # The clients of the mounts (one glusterfs per mount).
        for p in pathlib.Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    cmd = (p / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"glusterfs" in cmd.split(b"\0")[0] and (str(self.tmp).encode() in cmd or
                                                           f"shd/{VOLUME}".encode() in cmd):
                    try:
                        os.kill(int(p.name), signal.SIGKILL)
                    except OSError:
                        pass
        if self.glusterd and self.glusterd.poll() is None:
            self.glusterd.kill()
            self.glusterd.wait()
        for m in self.machines:
            sh("ip", "netns", "del", m.ns, check=False)
            sh("ip", "link", "del", f"wjv{m.n}h", check=False)
        sh("ip", "addr", "del", f"{BRICK_HOST}/32", "dev", "lo", check=False)
        shutil.rmtree(pathlib.Path("/var/lib/glusterd/vols") / VOLUME, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
