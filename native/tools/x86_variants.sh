#!/usr/bin/env bash
# Native avx2 / native avx512 / ONNX Runtime on one x86 host, one thread, interleaved call by call:
# SqueezeNet 1.1 at 224x224 (random weights) and every shipped model in models/. Builds the extension
# from this checkout first (Release, into build/x86-variants, timed from that file: engine
# 'native-base' in the table, so an installed bluefire cannot shadow it), prints the CPU and the
# table, and writes JSON.
#
#   native/tools/x86_variants.sh [OUT_DIR]        # default out/x86-variants
#   PY=/path/to/python RUNS=300 CASES=squeezenet1_1-224-1000 BUILD=1 native/tools/x86_variants.sh
#
# Needs python with numpy, onnx, onnxruntime, torch (the 224 case's export and the peak), pybind11,
# and cmake + a C++17 compiler. BUILD=0 times the rtmaps_components._native already importable.
# Output: OUT_DIR/cpu.txt (lscpu, SIMD flags), OUT_DIR/bench.json (bluefire bench --json: rows with
# engine, variant, median_ms, vs_ort ...), OUT_DIR/bench.txt (the printed table).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
RUNS=${RUNS:-300}
CASES=${CASES:-squeezenet1_1-224-1000}
BUILD=${BUILD:-1}
OUT=${1:-out/x86-variants}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

need="numpy onnx onnxruntime torch"
[ "$BUILD" != 0 ] && need="$need pybind11"
missing=$("$PY" -c 'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' $need)
if [ -n "$missing" ]; then
  echo "x86_variants.sh: $PY lacks: $missing (pip install them, or PY=another python)" >&2
  exit 2
fi

SO=""
ENGINES=(--engines native,ort)
if [ "$BUILD" != 0 ]; then
  CMAKE=${CMAKE:-$(command -v cmake || true)}
  [ -n "$CMAKE" ] || { echo "x86_variants.sh: cmake not found (pip install cmake, or CMAKE=...)" >&2; exit 2; }
  "$CMAKE" -S . -B build/x86-variants -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PY")" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  "$CMAKE" --build build/x86-variants -j "$(nproc)" >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  SO=$(ls "$PWD"/build/x86-variants/_native*.so)
  # bench itself imports rtmaps_components._native (for the variant list); without an installed
  # one, the fresh build is copied in for the run and removed after it.
  if ! "$PY" -c 'import rtmaps_components._native' 2>/dev/null; then
    cp "$SO" rtmaps_components/
    trap 'rm -f "rtmaps_components/$(basename "$SO")"' EXIT
  fi
  ENGINES=(--engines ort --native-baseline "$SO")
fi

"$PY" -c '
import sys
if sys.argv[1]:
    from rtmaps_components.bench_runners import load_native_build
    n = load_native_build(sys.argv[1])
else:
    from rtmaps_components import _native as n
v = n.available_variants()
print("module:", n.__file__, "variants:", v, "version:", n.version())
sys.exit(0 if "avx2" in v and "avx512" in v else "x86_variants.sh: this CPU lacks avx2 or avx512: %s" % v)
' "$SO"
{ lscpu | grep -E 'Model name|^CPU\(s\)|Thread|MHz|L2|L3'; grep -o -w -E 'avx2|fma|avx512f|avx512vnni|avx512bw' /proc/cpuinfo | sort | uniq -c; } | tee "$OUT/cpu.txt"

# One interleaved run: native avx2, native avx512 and ORT call by call, 1 thread, warmed, medians.
"$PY" -m training.cli bench "${ENGINES[@]}" --variant avx2,avx512 --threads 1 --runs "$RUNS" \
  --cases "$CASES" --json "$OUT/bench.json" | tee "$OUT/bench.txt"
"$PY" -c '
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
print("\nnative / ORT (median ratio), one thread:")
for r in rows:
    if r["engine"].startswith("native"):
        print("  {:<34} {:<7} {:8.3f} ms  x ORT {:.2f}".format(r["model"], r["variant"], r["median_ms"], r["vs_ort"]))
' "$OUT/bench.json"
echo "JSON: $OUT/bench.json"
