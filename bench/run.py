#!/usr/bin/env python3
"""Side-by-side benchmark of rttpd against lighttpd, nginx and BusyBox httpd.

Python 3.11 standard library only.  See bench/README.md for what it measures and
how.  In short:

    python3 bench/run.py --quick      # ~1.5 min smoke run: 3 s per run, 1 rep, 4 scenarios
    python3 bench/run.py              # full run (~14 min): 10 s per run, 3 reps, 6 scenarios,
                                      # plus strace syscall counts; writes bench/RESULTS.md

Every server is started by this script, on 127.0.0.1 on a free port, one at a time,
pinned to one CPU (wrk on another).  Only processes this script started (their process
group, their descendants, their own cgroup) are ever signalled.
"""
from __future__ import annotations

import argparse
import datetime
import grp
import http.client
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
IS_ROOT = os.geteuid() == 0
SBIN_PATHS = ["/usr/local/sbin", "/usr/sbin", "/sbin"]

# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    path: str
    conns: int
    headers: tuple[str, ...] = ()
    conditional: bool = False  # add If-None-Match / If-Modified-Since fetched per server


# Run order inside one server launch.  c1000 is last so that the memory it takes does
# not show up as the peak of the other scenarios.
SCENARIOS = [
    Scenario("ka4k", "keep-alive 4 KiB, 64 connections", "/4k.html", 64),
    Scenario("100b", "keep-alive 100-byte file, 64 connections", "/100.html", 64),
    Scenario("304", "304 revalidation (If-None-Match), keep-alive, 64 connections", "/4k.html", 64,
             conditional=True),
    Scenario("1mib", "1 MiB file throughput, keep-alive, 8 connections", "/1m.bin", 8),
    Scenario("close", "Connection: close per request, 4 KiB, 64 connections", "/4k.html", 64,
             headers=("Connection: close",)),
    Scenario("c1000", "1000 concurrent keep-alive connections, 4 KiB", "/4k.html", 1000),
]
QUICK_SCENARIOS = ["ka4k", "304", "close", "c1000"]
SERVERS = ["rttpd", "lighttpd", "nginx", "busybox"]
STRACE_SERVERS = ["rttpd", "nginx", "lighttpd"]

# Per-launch and per-run overheads used for the up-front estimate (seconds).
LAUNCH_OVERHEAD = 3.0  # start, readiness, 1 s idle, validator fetch, stop
RUN_OVERHEAD = 0.9  # wrk start-up + settle pause between runs
SETTLE = 0.5  # pause between two wrk runs against the same server

WRK_LUA = r"""
-- Written by bench/run.py: print wrk's summary as one machine-readable line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHJSON {\"requests\": %.0f, \"duration_us\": %.0f, \"bytes\": %.0f, " ..
    "\"connect\": %.0f, \"read\": %.0f, \"write\": %.0f, \"status\": %.0f, \"timeout\": %.0f, " ..
    "\"p50_us\": %.0f, \"p90_us\": %.0f, \"p99_us\": %.0f, \"max_us\": %.0f, \"mean_us\": %.1f}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- tools


def which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_PATHS:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def run_text(cmd: list[str], timeout: float = 10) -> str:
    """Run a short command and return stdout+stderr (never raises)."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True, errors="replace",
                           start_new_session=True)
        return r.stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"({e})"


def ensure_tools(servers: list[str], want_strace: bool, no_install: bool) -> None:
    need = {"wrk": "wrk", "lighttpd": "lighttpd", "nginx": "nginx", "busybox": "busybox"}
    wanted = ["wrk"] + [s for s in servers if s in need]
    if want_strace:
        wanted.append("strace")
    missing = [t for t in wanted if not which(t)]
    if not missing:
        return
    if no_install:
        log(f"missing tools {missing}; --no-install given, servers without a binary will be reported as failed")
        return
    if not IS_ROOT or not which("apt-get"):
        why = "not root" if not IS_ROOT else "no apt-get"
        log(f"missing tools {missing} and cannot install them ({why}); "
            f"install them yourself (apt-get install wrk nginx-light lighttpd busybox strace). "
            f"Servers without a binary will be reported as failed.")
        return
    pkgs = []
    for t in missing:
        if t == "nginx":
            has_light = subprocess.run(["apt-cache", "show", "nginx-light"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL).returncode == 0
            pkgs.append("nginx-light" if has_light else "nginx")
        else:
            pkgs.append(t)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"installing {pkgs} with apt-get (missing: {missing})")
    subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
    r = subprocess.run(["apt-get", "install", "-y", "-q", *pkgs], env=env, check=False)
    if r.returncode != 0 and "nginx-light" in pkgs:
        pkgs = ["nginx" if p == "nginx-light" else p for p in pkgs]
        subprocess.run(["apt-get", "install", "-y", "-q", *pkgs], env=env, check=False)
    still = [t for t in wanted if not which(t)]
    if still:
        log(f"still missing after install: {still}")


def build_rttpd() -> tuple[str | None, str]:
    """cargo build --release; return (binary path or None, note)."""
    cargo = which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.access(cargo, os.X_OK):
        return None, "cargo not found: build failed (pass --rttpd PATH)"
    log("building rttpd: cargo build --release")
    t0 = time.monotonic()
    r = subprocess.run([cargo, "build", "--release"], cwd=REPO_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace")
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO_DIR / "target")
    binary = os.path.join(target, "release", "rttpd")
    if r.returncode != 0:
        tail = "\n".join(r.stdout.strip().splitlines()[-15:])
        log(f"cargo build failed:\n{tail}")
        return None, f"cargo build --release failed (exit {r.returncode})"
    if not os.access(binary, os.X_OK):
        return None, f"cargo build succeeded but {binary} is missing"
    log(f"built {binary} in {time.monotonic() - t0:.0f} s")
    return binary, "built with cargo build --release"


# --------------------------------------------------------------------------- /proc helpers


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


_HAS_CHILDREN_FILE = os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def tree_pids(root: int) -> list[int]:
    """root and all its descendants (live or zombie)."""
    if not _HAS_CHILDREN_FILE:  # kernel without CONFIG_PROC_CHILDREN: scan ppids
        kids: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                    kids.setdefault(ppid, []).append(int(d))
                except (OSError, IndexError, ValueError):
                    pass
        getkids = lambda p: kids.get(p, [])  # noqa: E731
    else:
        getkids = children_of
    seen: list[int] = []
    stack = [root]
    while stack:
        p = stack.pop()
        if p in seen or not os.path.exists(f"/proc/{p}"):
            continue
        seen.append(p)
        stack.extend(getkids(p))
    return seen


def proc_status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def proc_pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss_kb(root: int) -> tuple[int, int]:
    pids = tree_pids(root)
    return sum(proc_status_kb(p, "VmRSS") for p in pids), len(pids)


def proc_cpu_ticks(pid: int) -> int:
    """utime+stime+cutime+cstime: own time plus that of every reaped descendant."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[0] is state (field 3); utime is field 14 -> index 11
        return sum(int(x) for x in fields[11:15])
    except (OSError, ValueError, IndexError):
        return 0


# --------------------------------------------------------------------------- cgroups


class CgroupRoot:
    """Where per-run cgroups go: cgroup v2 (preferred) or v1 cpuacct, if writable."""

    def __init__(self, use: bool = True) -> None:
        self.kind: str | None = None
        self.base: str | None = None
        self.note = ""
        if use:
            self._probe()
        else:
            self.note = "--cpu-source proc"

    def _probe(self) -> None:
        if not IS_ROOT:
            self.note = "not root"
        mounts = []
        try:
            with open("/proc/self/mounts") as f:
                mounts = [line.split() for line in f]
        except OSError:
            pass
        v2 = [m[1] for m in mounts if len(m) > 2 and m[2] == "cgroup2"]
        v1 = [m[1] for m in mounts if len(m) > 3 and m[2] == "cgroup" and "cpuacct" in m[3].split(",")]
        own_v2 = "/"
        try:
            with open("/proc/self/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        own_v2 = line.strip()[3:] or "/"
        except OSError:
            pass
        candidates = []
        for mnt in v2:
            candidates.append(("v2", os.path.normpath(mnt + "/" + own_v2)))
            candidates.append(("v2", mnt))
        for mnt in v1:
            candidates.append(("v1", mnt))
        for kind, base in candidates:
            probe = os.path.join(base, f"rttpd-bench-probe-{os.getpid()}")
            try:
                os.mkdir(probe)
            except OSError:
                continue
            ok = os.path.exists(os.path.join(probe, "cpu.stat" if kind == "v2" else "cpuacct.usage"))
            try:
                os.rmdir(probe)
            except OSError:
                pass
            if ok:
                self.kind, self.base = kind, base
                return
        self.note = self.note or "no writable cgroup v2 or cpuacct hierarchy"

    @property
    def method(self) -> str:
        if self.kind == "v2":
            return f"cgroup v2 (`cpu.stat` usage_usec of a cgroup per server launch under {self.base})"
        if self.kind == "v1":
            return f"cgroup v1 cpuacct (`cpuacct.usage` of a cgroup per server launch under {self.base})"
        return ("/proc: sum over the server's process tree of utime+stime+cutime+cstime "
                f"(cgroup not used: {self.note}); children whose parent does not wait() for them are "
                "missed, so BusyBox httpd looks ~5x more efficient than it is")

    def create(self, name: str) -> str | None:
        if not self.base:
            return None
        path = os.path.join(self.base, name)
        try:
            os.mkdir(path)
            return path
        except OSError as e:
            log(f"cannot create cgroup {path}: {e}; using /proc sums for this launch")
            return None

    def usage_s(self, path: str) -> float | None:
        try:
            if self.kind == "v2":
                with open(os.path.join(path, "cpu.stat")) as f:
                    for line in f:
                        if line.startswith("usage_usec "):
                            return int(line.split()[1]) / 1e6
            else:
                with open(os.path.join(path, "cpuacct.usage")) as f:
                    return int(f.read()) / 1e9
        except (OSError, ValueError):
            pass
        return None

    def procs(self, path: str) -> list[int]:
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []

    def kill_all(self, path: str) -> None:
        """SIGKILL every process in our own cgroup (only processes we put there)."""
        kill_file = os.path.join(path, "cgroup.kill")
        if os.path.exists(kill_file):
            try:
                with open(kill_file, "w") as f:
                    f.write("1")
                return
            except OSError:
                pass
        for pid in self.procs(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self, path: str) -> None:
        for _ in range(50):
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        log(f"could not remove cgroup {path}")


# --------------------------------------------------------------------------- servers


@dataclass
class Env:
    tmp: Path
    docroot: Path
    confdir: Path
    logdir: Path
    server_cpu: int
    client_cpu: int
    binaries: dict[str, str | None]
    cg: CgroupRoot
    lua: Path
    nofile: int


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nobody_group() -> str:
    for g in ("nogroup", "nobody"):
        try:
            grp.getgrnam(g)
            return g
        except KeyError:
            pass
    return str(pwd.getpwnam("nobody").pw_gid)


def make_docroot(docroot: Path) -> None:
    docroot.mkdir(mode=0o755)
    os.chmod(docroot, 0o755)

    def text(n: int) -> bytes:
        line = b"rttpd benchmark payload 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
        return (line * (n // len(line) + 1))[:n]

    files = {
        "index.html": b"<!doctype html>\n<title>rttpd bench</title>\n<p>index</p>\n",
        "4k.html": text(4096),
        "100.html": text(100),
        "1m.bin": text(1024 * 1024),
    }
    for name, data in files.items():
        p = docroot / name
        p.write_bytes(data)
        os.chmod(p, 0o644)


def nginx_temp_paths(nginx: str, d: Path) -> str:
    """Point nginx's compiled-in temp dirs (those its build has) into our temp dir."""
    v = run_text([nginx, "-V"])
    names = {"client-body": "client_body_temp_path", "proxy": "proxy_temp_path",
             "fastcgi": "fastcgi_temp_path", "uwsgi": "uwsgi_temp_path", "scgi": "scgi_temp_path"}
    out = []
    for flag, directive in names.items():
        if f"--http-{flag}-temp-path" in v and f"--without-http_{flag}_module" not in v:
            out.append(f"    {directive} {d}/nginx-tmp/{flag};")
    return "\n".join(out)


def server_command(name: str, env: Env, port: int) -> tuple[list[str] | None, str]:
    """Write the server's config; return (argv, note) or (None, reason)."""
    binary = env.binaries.get(name)
    if not binary:
        return None, f"{name} binary not available"
    root = env.docroot
    c = env.confdir
    group = nobody_group()
    if name == "rttpd":
        conf = c / "rttpd.conf"
        conf.write_text(
            f"listen = 127.0.0.1:{port}\n"
            "listeners = 1\n"
            "access_log = off\n"
            "max_connections = 2048\n"
            "[vhost default]\n"
            f"root = {root}\n")
        return [binary, "-c", str(conf)], ""
    if name == "lighttpd":
        conf = c / "lighttpd.conf"
        user = f'server.username = "nobody"\nserver.groupname = "{group}"\n' if IS_ROOT else ""
        conf.write_text(
            f'server.document-root = "{root}"\n'
            'server.bind = "127.0.0.1"\n'
            f"server.port = {port}\n"
            f"{user}"
            f'server.errorlog = "{env.logdir}/lighttpd-error.log"\n'
            'index-file.names = ( "index.html" )\n'
            'mimetype.assign = ( ".html" => "text/html", ".bin" => "application/octet-stream" )\n'
            "server.max-fds = 8192\n"
            "server.max-connections = 4096\n"
            "server.max-keep-alive-requests = 65535\n"
            "server.max-keep-alive-idle = 60\n"
            "# no mod_accesslog, no mod_deflate: access log and compression off\n")
        return [binary, "-D", "-f", str(conf)], ""
    if name == "nginx":
        d = c / "nginx"
        (d / "nginx-tmp").mkdir(parents=True, exist_ok=True)
        user = f"user nobody {group};\n" if IS_ROOT else ""
        conf = d / "nginx.conf"
        conf.write_text(
            "daemon off;\n"
            "master_process on;\n"
            "worker_processes 1;\n"
            f"{user}"
            f"pid {d}/nginx.pid;\n"
            f"error_log {env.logdir}/nginx-error.log warn;\n"
            "worker_rlimit_nofile 8192;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "    access_log off;\n"
            "    sendfile on;\n"
            "    tcp_nopush on;\n"
            "    gzip off;\n"
            "    keepalive_timeout 60;\n"
            "    keepalive_requests 65535;\n"
            "    types { text/html html; application/octet-stream bin; }\n"
            "    default_type application/octet-stream;\n"
            f"{nginx_temp_paths(binary, d)}\n"
            "    server {\n"
            f"        listen 127.0.0.1:{port};\n"
            f"        root {root};\n"
            "        index index.html;\n"
            "    }\n"
            "}\n")
        return [binary, "-p", str(d), "-e", f"{env.logdir}/nginx-error.log", "-c", str(conf)], ""
    if name == "busybox":
        conf = c / "busybox-httpd.conf"
        conf.write_text("")  # empty: no /etc/httpd.conf or docroot httpd.conf is read
        argv = [binary, "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(root), "-c", str(conf)]
        if IS_ROOT:
            argv[2:2] = ["-u", f"nobody:{group}"]
        return argv, ""
    return None, f"unknown server {name}"


class Server:
    """One launch of a server: own process group, own cgroup, pinned to one CPU."""

    def __init__(self, name: str, env: Env, tag: str):
        self.name = name
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.cgroup: str | None = None
        self.failure: str | None = None
        self.logfile = env.logdir / f"{tag}.log"
        self.known_pids: set[int] = set()

    # -- lifecycle
    def start(self) -> bool:
        argv, why = server_command(self.name, self.env, self.port)
        if argv is None:
            self.failure = why
            return False
        self.cgroup = self.env.cg.create(f"rttpd-bench-{os.getpid()}-{self.logfile.stem}")
        cg_procs = os.path.join(self.cgroup, "cgroup.procs") if self.cgroup else None
        cpu, nofile = self.env.server_cpu, self.env.nofile

        def pre() -> None:  # runs in the child before exec: the server's first instruction
            if cg_procs:    # is already in its cgroup, so every process it forks is counted
                try:
                    with open(cg_procs, "w") as f:
                        f.write(str(os.getpid()))
                except OSError:
                    pass
            os.sched_setaffinity(0, {cpu})  # == taskset -c CPU; inherited by every child
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
            except (ValueError, OSError):
                pass

        out = open(self.logfile, "wb")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.env.tmp, start_new_session=True, preexec_fn=pre)
        except OSError as e:
            self.failure = f"cannot exec {argv[0]}: {e}"
            out.close()
            return False
        out.close()
        if self.cgroup and self.proc.pid not in self.env.cg.procs(self.cgroup) and self.proc.poll() is None:
            log(f"{self.name}: pid not in its cgroup; CPU from /proc sums for this launch")
            if not self.env.cg.procs(self.cgroup):
                self.env.cg.remove(self.cgroup)
                self.cgroup = None
        return self.wait_ready()

    def log_tail(self, n: int = 6) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])[:400]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                rc = self.proc.returncode if self.proc else None
                self.failure = f"exited with status {rc} before answering; output: {self.log_tail() or '(none)'}"
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.failure = f"port {self.port} did not answer within {timeout:.0f} s; output: {self.log_tail() or '(none)'}"
            return False
        # The port answers: check that it serves the docroot correctly.
        for path, size in (("/4k.html", 4096), ("/100.html", 100), ("/1m.bin", 1 << 20)):
            try:
                status, headers, body = http_get(self.port, path)
            except OSError as e:
                self.failure = f"GET {path} failed: {e}"
                return False
            if status != 200 or len(body) != size:
                self.failure = f"GET {path}: status {status}, {len(body)} bytes (want 200, {size})"
                return False
        self.remember_pids()
        return True

    def remember_pids(self) -> None:
        if self.proc:
            self.known_pids.update(tree_pids(self.proc.pid))

    def stop(self) -> None:
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads its own process group
        self.remember_pids()
        if self.cgroup:
            self.known_pids.update(self.env.cg.procs(self.cgroup))

        def signal_all(sig: int) -> None:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass
            for pid in list(self.known_pids):  # descendants that left the group (setsid)
                try:
                    os.kill(pid, sig)
                except OSError:
                    self.known_pids.discard(pid)

        def gone() -> bool:
            if self.proc.poll() is None:
                return False
            if self.cgroup and self.env.cg.procs(self.cgroup):
                return False
            return not any(os.path.exists(f"/proc/{p}") and not is_zombie(p) for p in self.known_pids)

        signal_all(signal.SIGTERM)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not gone():
            time.sleep(0.05)
        if not gone():
            signal_all(signal.SIGKILL)
            if self.cgroup:
                self.env.cg.kill_all(self.cgroup)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.wait()
        reap_orphans(keep=set())  # no other child of ours is running while a server stops
        if self.cgroup:
            deadline = time.monotonic() + 3
            while self.env.cg.procs(self.cgroup) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.env.cg.remove(self.cgroup)
            self.cgroup = None
        else:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and not all(is_zombie(p) for p in self.known_pids):
                time.sleep(0.05)
        reap_orphans(keep=set())
        self.proc = None

    # -- measurements
    def cpu_s(self) -> float:
        if self.cgroup:
            v = self.env.cg.usage_s(self.cgroup)
            if v is not None:
                return v
        if not self.proc:
            return 0.0
        return sum(proc_cpu_ticks(p) for p in tree_pids(self.proc.pid)) / CLK_TCK

    def mem(self) -> tuple[int, int, int]:
        """(RSS kB, PSS kB, process count) of the whole tree."""
        pids = tree_pids(self.proc.pid) if self.proc else []
        return (sum(proc_status_kb(p, "VmRSS") for p in pids),
                sum(proc_pss_kb(p) for p in pids), len(pids))


def cpu_busy_s(cpu: int) -> float:
    """Busy seconds of one CPU so far (user+nice+system+irq+softirq+steal, /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{cpu} "):
                    v = [int(x) for x in line.split()[1:9]]
                    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK
    except (OSError, ValueError):
        pass
    return 0.0


def become_subreaper() -> bool:
    """Orphans of the servers we start re-parent to us (not to PID 1), so we can reap them."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans(keep: set[int]) -> None:
    """waitpid() every zombie child of ours (orphaned server processes), except `keep`."""
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in keep:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == me and rest[0] == "Z":
                os.waitpid(int(d), os.WNOHANG)
        except (OSError, IndexError, ValueError, ChildProcessError):
            pass


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def conditional_header(port: int, path: str) -> tuple[str | None, str]:
    """Fetch the server's own validator; return (header line for wrk, note)."""
    try:
        _, h, _ = http_get(port, path)
    except OSError as e:
        return None, f"validator fetch failed: {e}"
    tries = []
    if "etag" in h:
        tries.append(("If-None-Match", h["etag"]))
    if "last-modified" in h:
        tries.append(("If-Modified-Since", h["last-modified"]))
    if not tries:
        return None, "no ETag and no Last-Modified: scenario skipped"
    got = []
    for name, value in tries:
        try:
            status, _, _ = http_get(port, path, {name: value})
        except OSError as e:
            got.append(f"{name}: {e}")
            continue
        if status == 304:
            return f"{name}: {value}", name
        got.append(f"{name} -> {status}")
    name, value = tries[0]
    return f"{name}: {value}", "no 304 (" + "; ".join(got) + ")"


# --------------------------------------------------------------------------- wrk


class PeakSampler(threading.Thread):
    def __init__(self, server: Server, interval: float = 0.2):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.stop_evt = threading.Event()
        self.peak_kb = 0
        self.peak_procs = 0

    def run(self) -> None:
        while not self.stop_evt.is_set():
            if self.server.proc:
                rss, n = tree_rss_kb(self.server.proc.pid)
                self.peak_kb = max(self.peak_kb, rss)
                self.peak_procs = max(self.peak_procs, n)
            self.stop_evt.wait(self.interval)

    def finish(self) -> None:
        self.stop_evt.set()
        self.join()


def run_wrk(server: Server, sc: Scenario, duration: int, env: Env, cond: str | None) -> dict:
    import json
    wrk = env.binaries["wrk"]
    argv = [wrk, "-t1", f"-c{sc.conns}", f"-d{duration}s", "--latency", "--timeout", "5s", "-s", str(env.lua)]
    for h in sc.headers:
        argv += ["-H", h]
    if sc.conditional and cond:
        argv += ["-H", cond]
    argv.append(f"http://127.0.0.1:{server.port}{sc.path}")
    cpu, nofile = env.client_cpu, env.nofile

    def pre() -> None:
        os.sched_setaffinity(0, {cpu})  # == taskset -c CPU
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        except (ValueError, OSError):
            pass

    sampler = PeakSampler(server)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = server.cpu_s()
    busy0 = cpu_busy_s(env.server_cpu)
    t0 = time.monotonic()
    # fork wrk before the sampler thread exists (preexec_fn and threads do not mix)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                         preexec_fn=pre, start_new_session=True)
    sampler.start()
    try:
        out, _ = p.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired:
        p.kill()  # our own wrk
        out, _ = p.communicate()
        out = (out or "") + "\n(wrk timed out)"
    finally:
        wall = time.monotonic() - t0
        cpu1 = server.cpu_s()
        busy1 = cpu_busy_s(env.server_cpu)
        sampler.finish()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server.remember_pids()
    m = re.search(r"^BENCHJSON (\{.*\})$", out, re.M)
    if not m:
        tail = " | ".join(out.strip().splitlines()[-4:])
        return {"ok": False, "reason": f"no wrk summary: {tail[:300]}"}
    w = json.loads(m.group(1))
    secs = w["duration_us"] / 1e6 or wall
    good = w["requests"] - w["status"]
    srv_cpu = max(cpu1 - cpu0, 0.0)
    res = {
        "ok": True,
        "requests": int(w["requests"]),
        "good": int(good),
        "rps": good / secs if secs else 0.0,
        "cpu_s": srv_cpu,
        "rpcpu": good / srv_cpu if srv_cpu > 0 else None,
        "p50_us": w["p50_us"], "p99_us": w["p99_us"],
        "sock_err": int(w["connect"] + w["read"] + w["write"] + w["timeout"]),
        "err_detail": {k: int(w[k]) for k in ("connect", "read", "write", "timeout")},
        "status_err": int(w["status"]),
        "mbps": w["bytes"] / secs / 1e6 if secs else 0.0,
        "srv_cpu_pct": 100 * srv_cpu / wall if wall else 0.0,
        # time the server's CPU spent on anything but the server (other tenants, kernel threads)
        "other_cpu_pct": max(0.0, 100 * ((busy1 - busy0) - srv_cpu) / wall) if wall else 0.0,
        "wrk_cpu_pct": 100 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall if wall else 0.0,
        "rss_peak_kb": sampler.peak_kb,
        "peak_procs": sampler.peak_procs,
    }
    if not server.alive():
        res["ok"] = False
        res["reason"] = f"server exited during the run; output: {server.log_tail()}"
    return res


# --------------------------------------------------------------------------- strace


def keepalive_requests(port: int, path: str, n: int, sock: socket.socket | None = None) -> tuple[socket.socket, int]:
    """Send n sequential GETs on one keep-alive connection; return (socket, reconnects).

    A server that closes the connection anyway gets a new one (counted in reconnects)."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    reconnects = 0
    buf = b""

    def recv_more() -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full response")
        return chunk

    if sock is None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    for _ in range(n):
        sock.sendall(req)
        while b"\r\n\r\n" not in buf:
            buf += recv_more()
        head, buf = buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else 0
        while len(buf) < length:
            buf += recv_more()
        buf = buf[length:]
        if re.search(rb"(?im)^connection:\s*close", head) or head.startswith(b"HTTP/1.0"):
            sock.close()
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            buf = b""
            reconnects += 1
    return sock, reconnects


def parse_strace_c(text: str) -> tuple[int, list[tuple[str, int, int]]]:
    """strace -c summary -> (total calls, [(syscall, calls, errors)] by calls)."""
    rows: list[tuple[str, int, int]] = []
    total = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or not re.match(r"^[\d.]+$", parts[0]):
            continue
        name = parts[-1]
        try:
            calls = int(parts[3])
            errors = int(parts[4]) if len(parts) >= 6 else 0
        except ValueError:
            continue
        if name == "total":
            total = calls
        else:
            rows.append((name, calls, errors))
    rows.sort(key=lambda r: -r[1])
    if not total:
        total = sum(r[1] for r in rows)
    return total, rows


def strace_one(name: str, env: Env, n: int) -> dict:
    strace = env.binaries.get("strace")
    if not strace:
        return {"ok": False, "reason": "strace not installed"}
    srv = Server(name, env, f"strace-{name}")
    try:
        if not srv.start():
            return {"ok": False, "reason": srv.failure}
        sock, _ = keepalive_requests(srv.port, "/4k.html", 20)  # warm-up: connection established
        pids = tree_pids(srv.proc.pid)
        out = env.logdir / f"strace-{name}.txt"
        err = env.logdir / f"strace-{name}.err"
        argv = [strace, "-f", "-c", "-o", str(out)]
        for p in pids:
            argv += ["-p", str(p)]
        cpu = env.client_cpu
        with open(err, "wb") as ef:
            st = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=ef, start_new_session=True,
                                  preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if st.poll() is not None:
                break
            attached = err.read_text(errors="replace").count("attached")
            if attached >= len(pids):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        if st.poll() is not None:
            return {"ok": False, "reason": f"strace exited: {err.read_text(errors='replace').strip()[:300]}"}
        t0 = time.monotonic()
        try:
            sock, reconnects = keepalive_requests(srv.port, "/4k.html", n, sock)
        finally:
            dt = time.monotonic() - t0
            time.sleep(0.3)
            st.send_signal(signal.SIGINT)
            try:
                st.wait(timeout=15)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        sock.close()
        total, rows = parse_strace_c(out.read_text(errors="replace") if out.exists() else "")
        if not total:
            return {"ok": False, "reason": f"strace produced no counts: {err.read_text(errors='replace')[:300]}"}
        return {"ok": True, "n": n, "procs": len(pids), "total": total, "per_req": total / n, "rows": rows,
                "reconnects": reconnects, "secs": dt}
    except OSError as e:
        return {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    finally:
        srv.stop()


# --------------------------------------------------------------------------- report


def fmt_num(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def fmt_ms(us: float | None) -> str:
    if us is None:
        return "—"
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"


def fmt_mib(kb: float | None) -> str:
    return "—" if kb is None else f"{kb / 1024:.2f} MiB"


def med(values: list) -> float | None:
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def versions(binaries: dict[str, str | None], rttpd_note: str) -> dict[str, str]:
    out: dict[str, str] = {}
    b = binaries
    if b.get("rttpd"):
        rev = run_text(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"])
        try:
            size = os.path.getsize(b["rttpd"])
            out["rttpd"] = f"{b['rttpd']} ({size:,} bytes; git {rev}; {rttpd_note})"
        except OSError:
            out["rttpd"] = f"{b['rttpd']} (git {rev})"
    else:
        out["rttpd"] = f"not available ({rttpd_note})"
    if b.get("nginx"):
        out["nginx"] = run_text([b["nginx"], "-v"]).replace("nginx version: ", "")
    if b.get("lighttpd"):
        out["lighttpd"] = run_text([b["lighttpd"], "-v"]).splitlines()[0]
    if b.get("busybox"):
        out["busybox"] = run_text([b["busybox"]]).splitlines()[0].replace(" multi-call binary.", "")
    if b.get("wrk"):
        out["wrk"] = run_text([b["wrk"], "-v"]).splitlines()[0].split(" Copyright")[0]
    if b.get("strace"):
        out["strace"] = run_text([b["strace"], "-V"]).splitlines()[0]
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def write_results(path: Path, ctx: dict) -> None:
    servers: list[str] = ctx["servers"]
    scen: list[Scenario] = ctx["scenarios"]
    runs: dict = ctx["runs"]  # runs[server][key] -> list of dicts
    launches: dict = ctx["launches"]  # launches[server] -> list of dicts
    peers = [s for s in servers if s != "rttpd"]
    L: list[str] = []
    a = L.append
    a("# rttpd benchmark results")
    a("")
    a(f"Generated by `{ctx['command']}` on {ctx['date']} in {ctx['elapsed'] / 60:.1f} min. "
      "How it works and the peers' configs: [README.md](README.md).")
    a("")
    a("## Conditions")
    a("")
    a(f"- CPU: {ctx['cpu']}, {os.cpu_count()} cores; every server process pinned to CPU {ctx['server_cpu']}, "
      f"`wrk -t1` pinned to CPU {ctx['client_cpu']} (sched_setaffinity, as `taskset -c`).")
    a(f"- Kernel: {platform.release()} ({platform.machine()}); load average before: {ctx['load_before']}, "
      f"after: {ctx['load_after']}.")
    a(f"- Server CPU time: {ctx['cpu_method']}.")
    a(f"- Runs: {ctx['duration']} s each, {ctx['reps']} repetition(s) with the servers' order rotated per "
      "repetition; each server is started once per repetition and runs every scenario in turn; "
      "figures are medians over repetitions (errors: sums).")
    a(f"- Running as {'root (servers drop to nobody)' if IS_ROOT else 'an unprivileged user'}; "
      "everything on 127.0.0.1; access logs off for every server; keep-alive on; no compression.")
    a("- Versions:")
    for k, v in ctx["versions"].items():
        a(f"  - {k}: {v}")
    a("")

    # server status
    a("## Servers")
    a("")
    a("| server | launches ok | idle RSS (all processes) | idle PSS | processes idle | failures |")
    a("|---|---|---|---|---|---|")
    for s in servers:
        ls = launches.get(s, [])
        ok = [x for x in ls if x["ok"]]
        fails = sorted({x["reason"] for x in ls if not x["ok"]})
        a(f"| {s} | {len(ok)}/{len(ls)} | {fmt_mib(med([x['rss_kb'] for x in ok]))} | "
          f"{fmt_mib(med([x['pss_kb'] for x in ok]))} | {fmt_num(med([x['procs'] for x in ok]))} | "
          f"{'; '.join(f.replace('|', '/') for f in fails) or '—'} |")
    a("")
    a("Idle = 1 s after the server first answered (three sanity GETs), summed over every process of the tree "
      "(VmRSS; PSS splits pages shared between the processes).")
    a("")

    def agg(s: str, key: str) -> dict | None:
        rs = [r for r in runs.get(s, {}).get(key, []) if r.get("ok")]
        if not rs:
            return None
        return {
            "n": len(rs), "total": len(runs[s][key]),
            "rps": med([r["rps"] for r in rs]), "rpcpu": med([r["rpcpu"] for r in rs]),
            "p50": med([r["p50_us"] for r in rs]), "p99": med([r["p99_us"] for r in rs]),
            "sock_err": sum(r["sock_err"] for r in rs), "status_err": sum(r["status_err"] for r in rs),
            "idle": med([r.get("rss_idle_kb") for r in rs]), "peak": med([r["rss_peak_kb"] for r in rs]),
            "srv_cpu": med([r["srv_cpu_pct"] for r in rs]),
            "other_cpu": med([r.get("other_cpu_pct") for r in rs]), "wrk_cpu": med([r["wrk_cpu_pct"] for r in rs]),
            "mbps": med([r["mbps"] for r in rs]), "peak_procs": med([r["peak_procs"] for r in rs]),
            "note": "; ".join(sorted({r["note"] for r in rs if r.get("note")})),
        }

    # ratios
    a("## rttpd / peer ratios")
    a("")
    if peers:
        head = "| scenario | " + " | ".join(f"vs {p}: req/s | vs {p}: req/CPU-s" for p in peers) + " |"
        a(head)
        a("|---" * (1 + 2 * len(peers)) + "|")
        for sc in scen:
            r = agg("rttpd", sc.key)
            cells = []
            for p in peers:
                q = agg(p, sc.key)
                for m in ("rps", "rpcpu"):
                    if r and q and r[m] and q[m]:
                        cells.append(f"{r[m] / q[m]:.2f}×")
                    else:
                        cells.append("—")
            a(f"| {sc.key} | " + " | ".join(cells) + " |")
        a("")
        a("`—`: rttpd (or the peer) failed or was not run. Targets (issue 5): req/CPU-s ≥ 1.0× lighttpd on "
          "ka4k, close, c1000, 304 and 1mib.")
        a("")

    a("## Scenarios")
    a("")
    a("req/s counts 2xx/3xx responses only. req/CPU-s = those responses / CPU seconds used by the whole server "
      "process tree during the run. Errors = wrk socket errors (connect/read/write/timeout) / non-2xx-3xx "
      "responses, summed over repetitions. CPU = the server tree's share of its CPU / the share of that CPU "
      "busy with anything else (other tenants of a shared machine, kernel threads) / wrk's CPU %: a server "
      "below 100 % with wrk near 100 % is limited by the client; a large 'other' share means a noisy run. "
      "req/CPU-s stays meaningful in both cases, req/s does not.")
    a("")
    for sc in scen:
        hdrs = "".join(f" -H '{h}'" for h in sc.headers) + (" -H '<validator>'" if sc.conditional else "")
        a(f"### {sc.key}: {sc.title}")
        a("")
        a(f"`wrk -t1 -c{sc.conns} -d{ctx['duration']}s --latency{hdrs} http://127.0.0.1:PORT{sc.path}`")
        a("")
        a("| server | req/s | req per CPU-s | p50 | p99 | errors | RSS idle | RSS peak | CPU srv/other/wrk | runs |")
        a("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        notes = []
        for s in servers:
            g = agg(s, sc.key)
            if not g:
                reasons = sorted({r.get("reason", "?") for r in runs.get(s, {}).get(sc.key, [])})
                a(f"| {s} | failed | — | — | — | — | — | — | — | {('; '.join(reasons) or 'not run').replace('|', '/')[:200]} |")
                continue
            extra = f" ({g['mbps'] / 1000:.2f} GB/s)" if sc.key == "1mib" else ""
            a(f"| {s} | {fmt_num(g['rps'])}{extra} | {fmt_num(g['rpcpu'])} | {fmt_ms(g['p50'])} | {fmt_ms(g['p99'])} | "
              f"{g['sock_err']:,} / {g['status_err']:,} | {fmt_mib(g['idle'])} | {fmt_mib(g['peak'])} | "
              f"{g['srv_cpu']:.0f}/{g['other_cpu'] or 0:.0f}/{g['wrk_cpu']:.0f} % | {g['n']}/{g['total']} |")
            if g["note"]:
                notes.append(f"{s}: {g['note']}")
        if notes:
            a("")
            for n in notes:
                a(f"- {n}")
        a("")

    st = ctx.get("strace")
    if st:
        a("## Syscalls per keep-alive request (strace)")
        a("")
        a(f"`strace -f -c -p` on every process of the server tree while one keep-alive connection (already "
          f"open and warmed with 20 requests) sends {ctx['strace_n']:,} sequential `GET /4k.html`; counts are "
          "totals over the whole tree divided by the number of requests (steady state: the connection's "
          "accept and close are not in the window). `(x failed)`: calls that returned an error, mostly "
          "EAGAIN from a read that found nothing yet.")
        a("")
        a("| server | processes traced | syscalls / request | top syscalls per request |")
        a("|---|---:|---:|---|")
        for s, r in st.items():
            if not r.get("ok"):
                a(f"| {s} | — | failed | {str(r.get('reason'))[:200].replace('|', '/')} |")
                continue
            top = ", ".join(f"{name} {calls / r['n']:.2f}" + (f" ({errs / r['n']:.2f} failed)" if errs else "")
                            for name, calls, errs in r["rows"][:10] if calls / r["n"] >= 0.005)
            rc = f" (reconnected {r['reconnects']}×)" if r["reconnects"] else ""
            a(f"| {s} | {r['procs']} | {r['per_req']:.2f}{rc} | {top} |")
        a("")

    a("<details><summary>Every run</summary>")
    a("")
    a("| rep | server | scenario | req/s | req/CPU-s | server CPU s | CPU srv/other/wrk | p50 | p99 | errors | RSS peak | note |")
    a("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in ctx["log"]:
        r = row["res"]
        if r.get("ok"):
            a(f"| {row['rep']} | {row['server']} | {row['scenario']} | {fmt_num(r['rps'])} | {fmt_num(r['rpcpu'])} | "
              f"{r['cpu_s']:.2f} | {r['srv_cpu_pct']:.0f}/{r.get('other_cpu_pct', 0):.0f}/{r['wrk_cpu_pct']:.0f} % | {fmt_ms(r['p50_us'])} | {fmt_ms(r['p99_us'])} | {r['sock_err']} / {r['status_err']} | "
              f"{fmt_mib(r['rss_peak_kb'])} | {r.get('note', '')} |")
        else:
            a(f"| {row['rep']} | {row['server']} | {row['scenario']} | failed | | | | | | | | "
              f"{str(r.get('reason'))[:160].replace('|', '/')} |")
    a("")
    a("</details>")
    a("")
    path.write_text("\n".join(L))


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 s per run, 1 repetition, scenarios " + ",".join(QUICK_SCENARIOS))
    ap.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 10; --quick: 3)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3; --quick: 1)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma list (default: %(default)s)")
    ap.add_argument("--scenarios", default=None,
                    help="comma list of " + ",".join(s.key for s in SCENARIOS) + " (default: all; --quick: fewer)")
    ap.add_argument("--rttpd", default=None, help="use this rttpd binary instead of cargo build --release")
    ap.add_argument("--strace", type=int, default=None, metavar="N",
                    help="syscalls per keep-alive request over N requests for " + ",".join(STRACE_SERVERS) +
                         " (default 2000; --quick: 0 = off)")
    ap.add_argument("--strace-servers", default=",".join(STRACE_SERVERS))
    ap.add_argument("--out", default=str(BENCH_DIR / "RESULTS.md"), help="results file (default: bench/RESULTS.md)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="hard limit: runs that would start after it are skipped (default: estimate × 1.3 + 2 min)")
    ap.add_argument("--cpu-source", choices=["auto", "proc"], default="auto",
                    help="auto: a cgroup per server launch when /sys/fs/cgroup is writable, else /proc sums; "
                         "proc: always /proc sums (to cross-check)")
    ap.add_argument("--no-install", action="store_true", help="never run apt-get")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (configs, logs, strace output)")
    args = ap.parse_args()

    duration = args.duration or (3 if args.quick else 10)
    reps = args.reps or (1 if args.quick else 3)
    strace_n = args.strace if args.strace is not None else (0 if args.quick else 2000)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in servers:
        if s not in SERVERS:
            ap.error(f"unknown server {s!r}")
    keys = args.scenarios.split(",") if args.scenarios else (QUICK_SCENARIOS if args.quick else [s.key for s in SCENARIOS])
    scen = [s for s in SCENARIOS if s.key in keys]
    if len(scen) != len(set(keys)):
        ap.error(f"unknown scenario in {keys}")
    strace_servers = [s for s in args.strace_servers.split(",") if s in servers] if strace_n > 0 else []

    ncpu = os.cpu_count() or 1
    allowed = os.sched_getaffinity(0)
    if args.server_cpu not in allowed or args.client_cpu not in allowed:
        log(f"CPUs {args.server_cpu}/{args.client_cpu} not available (allowed {sorted(allowed)}); using what there is")
        cpus = sorted(allowed)
        args.server_cpu = cpus[0]
        args.client_cpu = cpus[1] if len(cpus) > 1 else cpus[0]
    if args.server_cpu == args.client_cpu:
        log("WARNING: server and wrk share one CPU; req/s is meaningless, req/CPU-s still indicative")

    per_launch = LAUNCH_OVERHEAD + sum(duration + RUN_OVERHEAD for _ in scen)
    estimate = len(servers) * reps * per_launch + len(strace_servers) * (6 + strace_n * 0.002)
    limit = (args.max_minutes * 60) if args.max_minutes else estimate * 1.3 + 120
    log(f"plan: servers {servers}, scenarios {[s.key for s in scen]}, {duration} s per run, {reps} rep(s), "
        f"strace N={strace_n} for {strace_servers or 'none'}")
    log(f"estimated runtime: {estimate / 60:.1f} min (+ build and install); hard limit {limit / 60:.1f} min")

    ensure_tools(servers, bool(strace_servers), args.no_install)
    binaries: dict[str, str | None] = {
        "wrk": which("wrk"), "nginx": which("nginx"), "lighttpd": which("lighttpd"),
        "busybox": which("busybox"), "strace": which("strace"),
    }
    if not binaries["wrk"]:
        log("wrk is not installed and could not be installed: nothing to measure")
        return 2
    rttpd_note = ""
    if "rttpd" in servers:
        if args.rttpd:
            binaries["rttpd"] = os.path.abspath(args.rttpd) if os.access(args.rttpd, os.X_OK) else None
            rttpd_note = "given with --rttpd" if binaries["rttpd"] else f"--rttpd {args.rttpd} is not executable"
        else:
            binaries["rttpd"], rttpd_note = build_rttpd()

    t_start = time.monotonic()
    deadline = t_start + limit
    load_before = loadavg()
    cg = CgroupRoot(use=args.cpu_source == "auto")
    log(f"CPU time from: {cg.method}")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = hard if hard != resource.RLIM_INFINITY else 65536
    if IS_ROOT and nofile < 65536:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
            nofile = 65536
        except (ValueError, OSError):
            pass
    nofile = min(nofile, 1 << 20)

    tmp = Path(tempfile.mkdtemp(prefix="rttpd-bench-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    env = Env(tmp=tmp, docroot=tmp / "www", confdir=tmp / "conf", logdir=tmp / "logs",
              server_cpu=args.server_cpu, client_cpu=args.client_cpu, binaries=binaries, cg=cg,
              lua=tmp / "conf" / "summary.lua", nofile=nofile)
    make_docroot(env.docroot)
    env.confdir.mkdir()
    env.logdir.mkdir()
    os.chmod(env.confdir, 0o755)
    os.chmod(env.logdir, 0o777)
    env.lua.write_text(WRK_LUA)

    runs: dict = {s: {sc.key: [] for sc in scen} for s in servers}
    launches: dict = {s: [] for s in servers}
    runlog: list = []
    current: list[Server] = []
    strace_res: dict = {}

    def on_signal(signum, frame):  # turn SIGTERM into a clean unwind (servers stopped, cgroups removed)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    become_subreaper()
    # The harness itself stays off the server's CPU.
    try:
        os.sched_setaffinity(0, {args.client_cpu})
    except OSError:
        pass

    try:
        for rep in range(reps):
            k = rep % len(servers)
            order = servers[k:] + servers[:k]
            log(f"repetition {rep + 1}/{reps}: order {order}")
            for name in order:
                if time.monotonic() + per_launch > deadline:
                    for sc in scen:
                        runs[name][sc.key].append({"ok": False, "reason": "skipped: time limit"})
                    launches[name].append({"ok": False, "reason": "skipped: time limit"})
                    continue
                srv = Server(name, env, f"{name}-rep{rep + 1}")
                current.append(srv)
                try:
                    if not srv.start():
                        log(f"{name}: FAILED to start: {srv.failure}")
                        launches[name].append({"ok": False, "reason": srv.failure})
                        for sc in scen:
                            res = {"ok": False, "reason": f"failed to start: {srv.failure}"}
                            runs[name][sc.key].append(res)
                            runlog.append({"rep": rep + 1, "server": name, "scenario": sc.key, "res": res})
                        continue
                    time.sleep(1.0)
                    rss, pss, nprocs = srv.mem()
                    launches[name].append({"ok": True, "rss_kb": rss, "pss_kb": pss, "procs": nprocs})
                    log(f"{name}: port {srv.port}, idle RSS {rss / 1024:.2f} MiB (PSS {pss / 1024:.2f}) in {nprocs} process(es)")
                    cond, cond_note = (None, "")
                    if any(sc.conditional for sc in scen):
                        cond, cond_note = conditional_header(srv.port, "/4k.html")
                    for sc in scen:
                        if time.monotonic() + duration + RUN_OVERHEAD > deadline:
                            res = {"ok": False, "reason": "skipped: time limit"}
                        elif not srv.alive():
                            res = {"ok": False, "reason": f"server no longer running: {srv.log_tail()}"}
                        elif sc.conditional and not cond:
                            res = {"ok": False, "reason": cond_note}
                        else:
                            res = run_wrk(srv, sc, duration, env, cond)
                            res["rss_idle_kb"] = rss
                            if sc.conditional:
                                res["note"] = f"header {cond_note}" if cond_note.startswith("If-") else cond_note
                            time.sleep(SETTLE)
                        runs[name][sc.key].append(res)
                        runlog.append({"rep": rep + 1, "server": name, "scenario": sc.key, "res": res})
                        if res.get("ok"):
                            log(f"  {name:8s} {sc.key:6s} {res['rps']:>10,.0f} req/s  "
                                f"{(res['rpcpu'] or 0):>10,.0f} req/CPU-s  p50 {res['p50_us'] / 1000:.2f} ms  "
                                f"p99 {res['p99_us'] / 1000:.2f} ms  err {res['sock_err']}/{res['status_err']}  "
                                f"peak {res['rss_peak_kb'] / 1024:.1f} MiB  "
                                f"cpu srv/other/wrk {res['srv_cpu_pct']:.0f}/{res['other_cpu_pct']:.0f}/{res['wrk_cpu_pct']:.0f}%")
                        else:
                            log(f"  {name:8s} {sc.key:6s} FAILED: {res.get('reason')}")
                finally:
                    srv.stop()
                    current.remove(srv)
        for name in strace_servers:
            if time.monotonic() + 10 > deadline:
                strace_res[name] = {"ok": False, "reason": "skipped: time limit"}
                continue
            log(f"strace: {name}, {strace_n} keep-alive requests")
            strace_res[name] = strace_one(name, env, strace_n)
            r = strace_res[name]
            if r.get("ok"):
                top = ", ".join(f"{n} {c / r['n']:.2f}" for n, c, _ in r["rows"][:6])
                log(f"  {name}: {r['per_req']:.2f} syscalls/request ({top})")
            else:
                log(f"  {name}: FAILED: {r.get('reason')}")
    except KeyboardInterrupt:
        log("interrupted: stopping the server it started; RESULTS.md not written")
        for srv in list(current):
            srv.stop()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        return 130

    elapsed = time.monotonic() - t_start
    cmd = "python3 bench/run.py" + ("".join(f" {a}" for a in sys.argv[1:]) if sys.argv[1:] else "")
    ctx = {
        "servers": servers, "scenarios": scen, "runs": runs, "launches": launches, "log": runlog,
        "command": cmd, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed": elapsed, "cpu": cpu_model(), "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
        "load_before": load_before, "load_after": loadavg(), "cpu_method": cg.method, "duration": duration,
        "reps": reps, "versions": versions(binaries, rttpd_note), "strace": strace_res, "strace_n": strace_n,
    }
    out = Path(args.out)
    write_results(out, ctx)
    log(f"wrote {out} ({elapsed / 60:.1f} min)")
    if args.keep_tmp:
        log(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
