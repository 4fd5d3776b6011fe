#!/usr/bin/env python3
"""Summarise `llvm-nm -S --size-sort -C --defined-only` output by crate.

Usage: symbols.py NM_OUTPUT_FILE [TOP_N]
Prints a by-crate table and the TOP_N biggest symbols. Crate attribution is a
heuristic on demangled names (like cargo-bloat's): the first path segment, the
self type's crate for `<T as Trait>::f`, and "[C] libc (musl + zig), crt" for
unmangled C symbols.
"""
import re
import sys
from collections import defaultdict

HASH = re.compile(r"::h[0-9a-f]{16}$")


def crate_of(name: str) -> str:
    n = HASH.sub("", name)
    if n.startswith("<"):
        inner = n[1:]
        inner = re.sub(r"^(&mut |&|\*const |\*mut |dyn |\[|\()+", "", inner)
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", inner)
        if m:
            return m.group(1)
        m = re.search(r" as ([A-Za-z_][A-Za-z0-9_]*)::", n)
        if m:
            return m.group(1)
        return "[generic]"
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", n)
    if m:
        return m.group(1)
    return "[C] libc (musl + zig), crt"


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    syms = []
    for line in open(path, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split(None, 3)
        if len(parts) < 4:
            continue
        _addr, size, kind, name = parts
        try:
            sz = int(size, 16)
        except ValueError:
            continue
        if sz == 0 or kind in ("U", "w", "v"):
            continue
        syms.append((sz, kind, name))
    by_crate = defaultdict(lambda: [0, 0])
    code = defaultdict(int)
    for sz, kind, name in syms:
        c = crate_of(name)
        by_crate[c][0] += sz
        by_crate[c][1] += 1
        if kind in "tT":
            code[c] += sz
    total = sum(v[0] for v in by_crate.values()) or 1
    print(f"{'crate':<28} {'bytes':>9} {'code':>9} {'share':>6} {'symbols':>8}")
    for c, (sz, cnt) in sorted(by_crate.items(), key=lambda kv: (-kv[1][0], kv[0])):
        print(f"{c:<28} {sz:>9} {code[c]:>9} {100.0 * sz / total:>5.1f}% {cnt:>8}")
    print(f"{'(all symbols)':<28} {total:>9}")
    print()
    print(f"Top {top} symbols (bytes, kind, demangled name):")
    for sz, kind, name in sorted(syms, key=lambda s: (-s[0], s[2]))[:top]:
        name = HASH.sub("", name)
        if len(name) > 110:
            name = name[:107] + "..."
        print(f"{sz:>9} {kind} {name}")


if __name__ == "__main__":
    main()
