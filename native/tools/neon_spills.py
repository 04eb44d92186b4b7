"""Stack traffic of q registers in a NEON kernel, as the Cortex-A53 build compiles it.

    python native/tools/neon_spills.py [FILE.cpp ...] [--asm OUT.s]

Compiles each file (default: native/src/arm/winograd4_channels_neon.cpp) with aarch64-linux-gnu-g++ and
the flags of the aarch64 build (native/CMakeLists.txt's -O3 -ffp-contract=off, the toolchain's
-mcpu=cortex-a53, C++17, PIC as the wheel) to assembly, and prints per function the sp-relative q
loads/stores (ldr/str/ldp/stp/ldur/stur of q registers at [sp...]): in all, and inside the product
loops, i.e. the innermost loops (a label and a later branch back to it) that hold a by-element FMLA
(`fmla vA.4s, vB.4s, vC.s[l]`). A product loop with 0 keeps its accumulators, tile vectors and weights
in registers: no spills. Exit status 1 if any product loop has one, 2 if the compiler is missing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "native/src/arm/winograd4_channels_neon.cpp"
FLAGS = ["-std=c++17", "-O3", "-mcpu=cortex-a53", "-fPIC", "-ffp-contract=off", "-DBLUEFIRE_HAVE_NEON"]

SPILL = re.compile(r"^\s*(ldr|str|ldp|stp|ldur|stur)\s+q\d+.*\[sp\b")
LANE_FMLA = re.compile(r"^\s*fmla\s+v\d+\.4s,\s*v\d+\.4s,\s*v\d+\.s\[\d\]")
LABEL = re.compile(r"^(\.L\w+):")
COND = r"(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)"
BRANCH = re.compile(rf"^\s*(?:b(?:\.?{COND})?|cbn?z\s+\w+,|tbn?z\s+\w+,\s*#?\d+,)\s+(\.L\w+)\s*$")


def compile_asm(src: Path, cxx: str) -> str:
    cmd = [cxx, *FLAGS, f"-I{ROOT / 'native/include'}", f"-I{ROOT / 'native/src'}", "-S", "-o", "-", str(src)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr[-4000:]}")
    return p.stdout


def functions(asm: str) -> dict[str, list[str]]:
    """Mangled name -> its lines, from `name:` to `.size name`."""
    out: dict[str, list[str]] = {}
    lines = asm.splitlines()
    names = {m.group(1) for m in re.finditer(r"^\s*\.type\s+([^,]+),\s*%function", asm, re.M)}
    cur = None
    for line in lines:
        if cur is None:
            name = line[:-1] if line.endswith(":") else None
            if name in names:
                cur, out[name] = name, []
            continue
        if re.match(rf"^\s*\.size\s+{re.escape(cur)},", line):
            cur = None
            continue
        out[cur].append(line)
    return out


def blocks(body: list[str]) -> tuple[list[tuple[int, int]], list[set[int]]]:
    """Basic blocks ([first, last] line) and their successors (fallthrough, branch targets, a jump
    table's labels after an indirect `br`)."""
    starts = {0}
    for i, line in enumerate(body):
        if LABEL.match(line):
            starts.add(i)
        if BRANCH.match(line) or re.match(r"^\s*(br|ret)\b", line):
            starts.add(i + 1)
    starts = sorted(s for s in starts if s < len(body))
    spans = [(a, (starts[k + 1] if k + 1 < len(starts) else len(body)) - 1) for k, a in enumerate(starts)]
    at = {}
    for k, (a, b) in enumerate(spans):
        for i in range(a, b + 1):
            if m := LABEL.match(body[i]):
                at[m.group(1)] = k
    table = {
        at[x]
        for line in body
        if re.match(r"^\s*\.(byte|hword|word|xword)", line)
        for x in re.findall(r"\.L\w+", line)
        if x in at
    }
    succ: list[set[int]] = []
    for k, (_, b) in enumerate(spans):
        last = next((body[i] for i in range(b, spans[k][0] - 1, -1) if body[i].strip()), "")
        out = set()
        if m := BRANCH.match(last):
            if m.group(1) in at:
                out.add(at[m.group(1)])
            if re.match(r"^\s*b\s", last):
                succ.append(out)
                continue
        if re.match(r"^\s*br\b", last):
            succ.append(out | table)
            continue
        if re.match(r"^\s*ret\b", last):
            succ.append(out)
            continue
        if k + 1 < len(spans):
            out.add(k + 1)
        succ.append(out)
    return spans, succ


def product_loops(body: list[str]) -> tuple[list[tuple[int, int]], int]:
    """The line ranges of the blocks of the innermost natural loops (a back edge to a block that
    dominates it) that hold a by-element FMLA, and how many such loops."""
    spans, succ = blocks(body)
    n = len(spans)
    pred: list[set[int]] = [set() for _ in range(n)]
    for k, out in enumerate(succ):
        for j in out:
            pred[j].add(k)
    everything = set(range(n))
    dom = [everything.copy() for _ in range(n)]
    dom[0] = {0}
    changed = True
    while changed:
        changed = False
        for k in range(1, n):
            new = set.intersection(*(dom[j] for j in pred[k])) | {k} if pred[k] else {k}
            if new != dom[k]:
                dom[k], changed = new, True
    loops = []
    for u in range(n):
        for h in succ[u]:
            if h in dom[u]:  # back edge u -> h
                body_set, stack = {h, u}, ([u] if u != h else [])
                while stack:
                    x = stack.pop()
                    for y in pred[x]:
                        if y not in body_set:
                            body_set.add(y)
                            stack.append(y)
                loops.append(frozenset(body_set))

    def has_fmla(ks):
        return any(LANE_FMLA.match(x) for k in ks for x in body[spans[k][0] : spans[k][1] + 1])

    hot = [s for s in set(loops) if has_fmla(s)]
    inner = [s for s in hot if not any(t < s for t in hot)]
    return [spans[k] for s in inner for k in sorted(s)], len(inner)


def demangle(names: list[str]) -> list[str]:
    filt = shutil.which("c++filt")
    if not filt:
        return names
    return subprocess.run([filt], input="\n".join(names), stdout=subprocess.PIPE, text=True).stdout.splitlines()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=[DEFAULT])
    ap.add_argument("--asm", type=Path, help="also write the (last file's) assembly here")
    ap.add_argument("--cxx", default="aarch64-linux-gnu-g++")
    args = ap.parse_args()
    if not shutil.which(args.cxx):
        print(f"neon_spills: {args.cxx} not found (apt-get install g++-aarch64-linux-gnu)")
        return 2
    bad = 0
    for src in args.files:
        asm = compile_asm(src, args.cxx)
        if args.asm:
            args.asm.write_text(asm)
        funcs = functions(asm)
        rows = []
        for name, body in funcs.items():
            total = sum(bool(SPILL.match(x)) for x in body)
            loops, nloops = product_loops(body)
            in_loops = sum(bool(SPILL.match(x)) for a, b in loops for x in body[a : b + 1])
            fmla = sum(bool(LANE_FMLA.match(x)) for a, b in loops for x in body[a : b + 1])
            rows.append((name, total, nloops, fmla, in_loops))
        print(f"{src.relative_to(ROOT) if src.is_relative_to(ROOT) else src} ({args.cxx} {' '.join(FLAGS)})")
        print(f"{'sp q ld/st':>10} {'prod loops':>10} {'lane FMLA':>9} {'in loops':>8}  function")
        for (_, total, n, fmla, in_loops), shown in zip(rows, demangle([r[0] for r in rows])):
            print(f"{total:>10} {n:>10} {fmla:>9} {in_loops:>8}  {shown}")
        print(
            f"{sum(r[1] for r in rows):>10} {sum(r[2] for r in rows):>10} {sum(r[3] for r in rows):>9} "
            f"{sum(r[4] for r in rows):>8}  total"
        )
        bad += sum(r[4] for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
