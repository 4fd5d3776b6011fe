#!/usr/bin/env python3
"""Smoke test of a (cross-built) rttpd binary, driven from the host.

    cross/smoke.py --target T [--bin PATH] [--keep]

Starts the binary by its absolute path (an ARM/MIPS binary runs under
qemu-user through binfmt_misc: see cross/qemu-binfmt.sh; x86_64 runs natively)
with a generated config of two vhosts, then checks over raw sockets: GET/HEAD
of a file, 304, a byte range, 404, path traversal, a second vhost served by a
worker running as its own uid (root only), a 5 GiB sparse file (Content-Length
and ranges beyond 4 GiB: 64-bit offsets on 32-bit targets), and a clean
SIGTERM shutdown with no child left. One PASS/FAIL line per check; exit
status 1 if any check failed, 2 if the test could not run.

Python 3.11 standard library only. Kills only the processes it started.
"""

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

B_UID = B_GID = 40123
GIB = 1 << 30
BIG_SIZE = 5 * GIB + 123  # 5368709243
HIGH_OFF = 4 * GIB + 1000  # 4294968296
MARK_HIGH = b"HIGH>4GiB!"
MARK_LOW = b"LOW@zero!!"
MARK_TAIL = b"TAIL@end!!"
F_TXT = bytes(range(32, 127)) * 3 + b"\nend of f.txt\n"
A_INDEX = b"<h1>vhost A index</h1>\n"
B_INDEX = b"<h1>vhost B index (uid 40123)</h1>\n"
SECRET = b"TOP-SECRET-4f1c9e-do-not-serve\n"

# CPU model for the first process (children are exec'd with an empty
# environment by pmaster, so they get qemu's default CPU: see cross/README.md).
QEMU_CPU = {
    "armv7-unknown-linux-musleabihf": "cortex-a7",
    "arm-unknown-linux-musleabihf": "arm1176",
    "mipsel-unknown-linux-musl": "24Kc",
    "mips-unknown-linux-musl": "24Kc",
    "aarch64-unknown-linux-musl": "cortex-a53",
}

IO_TIMEOUT = 20.0  # every socket operation; qemu is slow


class Fatal(Exception):
    """The test cannot go on (server did not start, ...)."""


# ------------------------------------------------------------------ HTTP


class Resp:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def h(self, name):
        vals = [v for k, v in self.headers if k == name.lower()]
        return vals[0] if len(vals) == 1 else (None if not vals else "|".join(vals))

    def __repr__(self):
        return f"<{self.status} {self.reason} {dict(self.headers)} body={len(self.body)}B>"


def request(port, path, method="GET", host="a.test", headers=(), raw=None, max_body=1 << 20):
    """One request on a fresh connection (Connection: close); reads to EOF."""
    if raw is None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("Connection: close")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    deadline = time.monotonic() + IO_TIMEOUT
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as s:
        s.settimeout(IO_TIMEOUT)
        s.sendall(raw)
        buf = bytearray()
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"response not complete after {IO_TIMEOUT:.0f} s")
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) > max_body + 65536:
                raise ValueError(f"response larger than {max_body} bytes")
    head, sep, body = bytes(buf).partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"no complete response head: {bytes(buf[:200])!r}")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"bad status line {lines[0]!r}")
    hdrs = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs.append((k.strip().lower(), v.strip()))
    r = Resp(int(parts[1]), parts[2] if len(parts) > 2 else "", hdrs, body, head)
    cl = r.h("content-length")
    if method != "HEAD" and cl is not None and cl.isdigit() and int(cl) != len(body):
        raise ValueError(f"Content-Length {cl} but {len(body)} body bytes arrived")
    return r


# ------------------------------------------------------------------ results


class Checks:
    def __init__(self):
        self.failed = []
        self.n = 0

    def check(self, name, fn):
        """fn() returns None/"" (pass), a detail string (pass with detail), or
        raises AssertionError/other exceptions (fail)."""
        self.n += 1
        t0 = time.monotonic()
        try:
            detail = fn()
            ok = True
        except AssertionError as e:
            ok, detail = False, str(e) or "assertion failed"
        except Exception as e:  # noqa: BLE001 - every error is a failed check
            ok, detail = False, f"{type(e).__name__}: {e}"
        dt = time.monotonic() - t0
        line = f"{'PASS' if ok else 'FAIL'}  {name}"
        if detail:
            line += f"  ({detail})"
        print(f"{line}  [{dt:.2f}s]", flush=True)
        if not ok:
            self.failed.append(name)
        return ok

    def skip(self, name, why):
        print(f"SKIP  {name}  ({why})", flush=True)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ------------------------------------------------------------------ /proc


def proc_start(pid):
    """Start time of pid (field 22 of /proc/PID/stat), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(b")") + 2 :].split()
    if rest[0] == b"Z":
        return None  # a zombie is dead (its parent has not reaped it yet)
    return int(rest[19])


def proc_children(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def proc_info(pid):
    info = {"pid": pid}
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            info["cmdline"] = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        with open(f"/proc/{pid}/comm") as f:
            info["comm"] = f.read().strip()
        with open(f"/proc/{pid}/status") as f:
            for ln in f:
                k, _, v = ln.partition(":")
                if k in ("Uid", "Gid"):
                    info[k] = [int(x) for x in v.split()]
    except OSError:
        return None
    info["start"] = proc_start(pid)
    return info


def descendants(pid):
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in proc_children(p):
            if c not in seen:
                seen.append(c)
                todo.append(c)
    return seen


def role_of(info):
    """'vhost b.test', 'listener 0', 'umaster', ... from argv[0] ('rttpd: ...')
    as pmaster sets it; under binfmt_misc qemu's own argv comes first."""
    for a in info.get("cmdline", []):
        if a.startswith("rttpd: "):
            return a[len("rttpd: ") :]
    c = info.get("comm", "")
    return c[len("rttpd: ") :] if c.startswith("rttpd: ") else "?" + c


# ------------------------------------------------------------------ setup


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_tree(tmp, as_root):
    """Docroots, secret, sparse file; returns (conf path, notes)."""
    notes = []
    os.chmod(tmp, 0o755)
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    os.mkdir(a, 0o755)
    os.mkdir(b, 0o755)
    write(os.path.join(tmp, "secret"), SECRET)  # outside both roots, world-readable
    write(os.path.join(a, "secret"), b"decoy\n")  # not what traversal must reach
    write(os.path.join(a, "index.html"), A_INDEX)
    write(os.path.join(a, "f.txt"), F_TXT)
    write(os.path.join(b, "index.html"), B_INDEX, 0o600)

    big = os.path.join(a, "big.bin")
    free0 = shutil.disk_usage(tmp).free
    with open(big, "wb") as f:
        f.write(MARK_LOW)
        f.seek(HIGH_OFF)
        f.write(MARK_HIGH)
        f.truncate(BIG_SIZE)
        f.seek(BIG_SIZE - len(MARK_TAIL))
        f.write(MARK_TAIL)
    os.chmod(big, 0o644)
    st = os.stat(big)
    used = st.st_blocks * 512
    if st.st_size != BIG_SIZE:
        raise Fatal(f"big.bin is {st.st_size} bytes, wanted {BIG_SIZE}")
    if used > 64 << 20 or free0 - shutil.disk_usage(tmp).free > GIB:
        raise Fatal(f"{tmp}: filesystem does not keep big.bin sparse ({used} bytes allocated)")
    notes.append(f"big.bin {BIG_SIZE} bytes, {used} allocated")

    b_user = ""
    if as_root:
        os.chown(os.path.join(b, "index.html"), B_UID, B_GID)
        os.chown(b, B_UID, B_GID)
        os.chmod(b, 0o700)
        b_user = f"user = {B_UID}\ngroup = {B_GID}\n"
    else:
        notes.append("not root: vhost B runs as the current user (uid checks skipped)")

    port = free_port()
    conf = os.path.join(tmp, "rttpd.conf")
    with open(conf, "w") as f:
        f.write(
            f"# generated by cross/smoke.py\n"
            f"listen = 127.0.0.1:{port}\n"
            f"listeners = 1\n"
            f"access_log = off\n"
            f"log_level = info\n"
            f"\n[vhost a.test]\nroot = {a}\ndefault = yes\n"
            f"\n[vhost b.test]\nroot = {b}\n{b_user}"
        )
    return conf, port, notes


# ------------------------------------------------------------------ main


def _stop(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds through the cleanup


def main():
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--bin", help="binary (default: target/cross/TARGET/rttpd)")
    ap.add_argument(
        "--tmpdir",
        default=os.path.join(REPO, "target", "cross", "smoke-tmp"),
        help="parent of the temp dir: a filesystem with sparse files (default: %(default)s)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()

    binary = os.path.abspath(args.bin or os.path.join(REPO, "target", "cross", args.target, "rttpd"))
    if not os.path.isfile(binary):
        print(f"smoke: {binary}: missing (run cross/build.sh {args.target} first)", file=sys.stderr)
        return 2
    as_root = os.geteuid() == 0
    t_start = time.monotonic()
    print(f"== smoke {args.target}: {binary}", flush=True)

    os.makedirs(args.tmpdir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{args.target}.", dir=args.tmpdir)
    # Every component up to tmp must be traversable by nobody and uid 40123.
    p = tmp
    while p != "/":
        if not os.stat(p).st_mode & 0o001:
            if p.startswith(os.path.abspath(args.tmpdir)):
                os.chmod(p, os.stat(p).st_mode | 0o011)
            else:
                print(f"smoke: warning: {p} is not world-traversable", file=sys.stderr)
        p = os.path.dirname(p)

    proc = None
    log_path = os.path.join(tmp, "rttpd.log")
    known = {}  # pid -> start time of every process we saw in the tree
    checks = Checks()
    try:
        try:
            conf, port, notes = make_tree(tmp, as_root)
        except Fatal as e:
            print(f"FAIL  setup  ({e})", flush=True)
            return 2
        for n in notes:
            print(f"note: {n}", flush=True)

        env = dict(os.environ)
        if args.target in QEMU_CPU:
            env.setdefault("QEMU_CPU", QEMU_CPU[args.target])
        with open(log_path, "wb") as log:
            proc = subprocess_popen([binary, "-c", conf], env, log)
        known[proc.pid] = proc_start(proc.pid)
        try:  # under binfmt_misc the kernel runs qemu-<arch>-static in our child
            print(f"note: pmaster pid {proc.pid} runs {os.readlink(f'/proc/{proc.pid}/exe')}", flush=True)
        except OSError:
            pass

        # ---- wait until it answers
        t0 = time.monotonic()
        up = None
        while time.monotonic() - t0 < 60:
            if proc.poll() is not None:
                break
            try:
                up = request(port, "/", "HEAD")
                break
            except OSError:
                time.sleep(0.2)
            except ValueError:
                time.sleep(0.2)
        ok = checks.check(
            "server answers HEAD / within 60 s",
            lambda: expect(up is not None, f"exit status {proc.poll()}" if proc.poll() is not None else "no answer")
            or f"{time.monotonic() - t0:.2f}s",
        )
        if not ok:
            raise Fatal("server did not start")

        # ---- basic files
        def get_root():
            r = request(port, "/")
            expect(r.status == 200, f"status {r.status}")
            expect(r.body == A_INDEX, f"body {r.body[:80]!r}")

        checks.check("GET / -> 200 + vhost A index", get_root)

        def head_f():
            r = request(port, "/f.txt", "HEAD")
            expect(r.status == 200, f"status {r.status}")
            expect(r.h("content-length") == str(len(F_TXT)), f"Content-Length {r.h('content-length')}, wanted {len(F_TXT)}")
            expect(r.body == b"", f"HEAD has a body of {len(r.body)} bytes")
            expect(r.h("etag") and r.h("last-modified"), "no ETag/Last-Modified")

        checks.check("HEAD /f.txt -> 200, Content-Length, no body", head_f)

        etag = [None]

        def get_f():
            r = request(port, "/f.txt")
            expect(r.status == 200, f"status {r.status}")
            expect(r.body == F_TXT, "body differs from f.txt")
            etag[0] = r.h("etag")
            expect(etag[0], "no ETag")
            return f"ETag {etag[0]}"

        checks.check("GET /f.txt -> 200 + exact bytes", get_f)

        def cond_f():
            expect(etag[0], "no ETag from the previous check")
            r = request(port, "/f.txt", headers=[("If-None-Match", etag[0])])
            expect(r.status == 304, f"status {r.status}")
            expect(r.body == b"", f"304 with a {len(r.body)}-byte body")

        checks.check("GET /f.txt If-None-Match: ETag -> 304", cond_f)

        def range_f():
            r = request(port, "/f.txt", headers=[("Range", "bytes=2-5")])
            expect(r.status == 206, f"status {r.status}")
            expect(r.body == F_TXT[2:6], f"body {r.body!r}, wanted {F_TXT[2:6]!r}")
            want = f"bytes 2-5/{len(F_TXT)}"
            expect(r.h("content-range") == want, f"Content-Range {r.h('content-range')!r}, wanted {want!r}")

        checks.check("GET /f.txt Range: bytes=2-5 -> 206", range_f)

        def nope():
            r = request(port, "/nope")
            expect(r.status == 404, f"status {r.status}")

        checks.check("GET /nope -> 404", nope)

        # ---- traversal: raw request lines, never normalised by a client library
        for target in ("/../secret", "/%2e%2e/secret", "/..%2fsecret", "/a/../../secret", "/%2E%2E/%2e%2e/secret"):

            def trav(target=target):
                r = request(port, None, raw=f"GET {target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n".encode())
                expect(r.status in (400, 403, 404), f"status {r.status}")
                expect(SECRET not in r.body and b"TOP-SECRET" not in r.body, "the secret leaked")
                return f"{r.status}"

            checks.check(f"traversal GET {target} -> 400/403/404, no secret", trav)

        # ---- second vhost
        def vhost_b():
            r = request(port, "/", host="b.test")
            expect(r.status == 200, f"status {r.status}")
            expect(r.body == B_INDEX, f"body {r.body[:80]!r}")
            r = request(port, "/", host="B.TEST.:80")
            expect(r.status == 200 and r.body == B_INDEX, f"Host B.TEST.:80: {r.status} {r.body[:40]!r}")

        checks.check("Host: b.test -> 200 + vhost B index", vhost_b)

        def vhost_default():
            r = request(port, "/", host="unknown.example")
            expect(r.status == 200 and r.body == A_INDEX, f"{r.status} {r.body[:40]!r}")

        checks.check("Host: unknown.example -> default vhost A", vhost_default)

        # ---- process tree
        tree = [proc_info(p) for p in descendants(proc.pid)]
        tree = [i for i in tree if i]
        for i in tree:
            known[i["pid"]] = i["start"]
        summary = ", ".join(f"{role_of(i)}={i.get('Uid', ['?'])[0]}" for i in tree)

        def tree_shape():
            roles = sorted(role_of(i) for i in tree)
            want = sorted(["umaster", "listener 0", "vhost a.test", "vhost b.test"])
            expect(roles == want, f"children {roles}, wanted {want}")
            return summary

        checks.check("pmaster has umaster, 1 listener, 2 vhost workers", tree_shape)
        if as_root:

            def b_uid():
                b = [i for i in tree if role_of(i) == "vhost b.test"]
                expect(len(b) == 1, f"{len(b)} 'vhost b.test' processes")
                uid, gid = b[0].get("Uid"), b[0].get("Gid")
                expect(uid == [B_UID] * 4, f"Uid {uid}")
                expect(gid == [B_GID] * 4, f"Gid {gid}")
                return f"pid {b[0]['pid']} uid/gid {B_UID}"

            checks.check("vhost b.test worker runs as uid/gid 40123 (real, effective, saved, fs)", b_uid)

            def no_root_child():
                bad = [f"{role_of(i)} (pid {i['pid']})" for i in tree if 0 in i.get("Uid", [0]) or 0 in i.get("Gid", [0])]
                expect(not bad, f"root ids left in {bad}")
                nob = [role_of(i) for i in tree if role_of(i) != "vhost b.test" and i.get("Uid") != [65534] * 4]
                expect(not nob, f"not nobody: {nob}")

            checks.check("every other child runs as nobody, none keeps root ids", no_root_child)
        else:
            checks.skip("vhost b.test worker runs as uid 40123", "not root: privileges are not separated")

        # ---- >4 GiB sparse file
        def big_head():
            r = request(port, "/big.bin", "HEAD")
            expect(r.status == 200, f"status {r.status}")
            expect(r.h("content-length") == str(BIG_SIZE), f"Content-Length {r.h('content-length')!r}, wanted {BIG_SIZE}")
            expect(r.body == b"", "HEAD has a body")

        checks.check(f"HEAD /big.bin -> Content-Length {BIG_SIZE}", big_head)

        def big_range(first, last, mark, what):
            def run():
                rng = f"bytes={first}-{last}" if first is not None else f"bytes=-{last}"
                r = request(port, "/big.bin", headers=[("Range", rng)])
                expect(r.status == 206, f"status {r.status} for {rng}")
                lo = first if first is not None else BIG_SIZE - last
                hi = last if first is not None else BIG_SIZE - 1
                want = f"bytes {lo}-{hi}/{BIG_SIZE}"
                expect(r.h("content-range") == want, f"Content-Range {r.h('content-range')!r}, wanted {want!r}")
                expect(r.h("content-length") == str(len(mark)), f"Content-Length {r.h('content-length')!r}")
                expect(r.body == mark, f"body {r.body!r}, wanted {mark!r}")

            checks.check(what, run)

        h = HIGH_OFF
        big_range(h, h + 9, MARK_HIGH, f"GET /big.bin Range: bytes={h}-{h + 9} -> 206 + marker past 4 GiB")
        # The same again: now answered by the listener from its fd cache.
        big_range(h, h + 9, MARK_HIGH, "same range again (listener fd cache) -> 206 + marker")
        big_range(0, 9, MARK_LOW, "GET /big.bin Range: bytes=0-9 -> 206 + first marker")
        big_range(None, 10, MARK_TAIL, "GET /big.bin Range: bytes=-10 -> 206 + last 10 bytes")

        def big_416():
            r = request(port, "/big.bin", headers=[("Range", f"bytes={BIG_SIZE}-")])
            expect(r.status == 416, f"status {r.status}")
            want = f"bytes */{BIG_SIZE}"
            expect(r.h("content-range") == want, f"Content-Range {r.h('content-range')!r}, wanted {want!r}")

        checks.check(f"GET /big.bin Range: bytes={BIG_SIZE}- -> 416", big_416)

        # ---- shutdown
        for p in descendants(proc.pid):
            if p not in known:
                known[p] = proc_start(p)

        def shutdown():
            t0 = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)
            try:
                rc = proc.wait(timeout=15)
            except Exception:  # subprocess.TimeoutExpired
                raise AssertionError("pmaster still running 15 s after SIGTERM")
            dt = time.monotonic() - t0
            expect(rc == 0, f"exit status {rc}")
            left = []
            end = time.monotonic() + 3
            while True:
                left = [p for p, st in known.items() if p != proc.pid and st is not None and proc_start(p) == st]
                if not left or time.monotonic() > end:
                    break
                time.sleep(0.1)
            expect(not left, f"children still alive: {left}")
            return f"exit 0 after {dt:.2f}s"

        checks.check("SIGTERM -> pmaster exits 0 within 15 s, no child left", shutdown)
    except Fatal as e:
        if not checks.failed:
            print(f"FAIL  {e}", flush=True)
            checks.failed.append(str(e))
        else:
            print(f"stop: {e}", flush=True)
    finally:
        cleanup(proc, known)
        if checks.failed and os.path.exists(log_path):
            with open(log_path, "rb") as f:
                tail = f.read()[-4000:].decode("utf-8", "replace")
            print(f"---- server log ({log_path}):\n{tail}----", flush=True)
        if args.keep or (checks.failed and os.environ.get("SMOKE_KEEP_ON_FAIL")):
            print(f"note: kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                os.rmdir(args.tmpdir)  # only when empty (other runs may share it)
            except OSError:
                pass

    dt = time.monotonic() - t_start
    if checks.failed:
        print(f"== {args.target}: FAIL ({len(checks.failed)} of {checks.n} checks failed) in {dt:.2f}s", flush=True)
        return 1
    print(f"== {args.target}: PASS ({checks.n} checks) in {dt:.2f}s", flush=True)
    return 0


def subprocess_popen(argv, env, log):
    import subprocess

    # Own session: a ^C on the terminal reaches only us; we stop the server.
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", start_new_session=True)


def cleanup(proc, known):
    """Stops what this run started, and only that: pmaster (our Popen) and the
    processes seen in its tree, each checked against its recorded start time."""
    if proc is None:
        return
    if proc.poll() is None:
        for p in descendants(proc.pid):
            known.setdefault(p, proc_start(p))
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait(timeout=10)
    for p, st in known.items():
        if p != proc.pid and st is not None and proc_start(p) == st:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
