#!/usr/bin/env bash
# Native avx2 / native avx512 / ONNX Runtime on one x86 host, one thread, interleaved call by call:
# SqueezeNet 1.1 at 224x224 (random weights) and every shipped model in models/. Builds the extension
# from this checkout first (Release, into build/x86-variants, copied next to rtmaps_components/ so the
# checkout imports it), prints the CPU and the table, and writes JSON.
#
#   native/tools/x86_variants.sh [OUT_DIR]        # default out/x86-variants
#   PY=/path/to/python RUNS=300 CASES=squeezenet1_1-224-1000 BUILD=1 native/tools/x86_variants.sh
#
# Needs python with numpy, onnx, onnxruntime, torch (the 224 case's export and the peak), pybind11,
# and cmake + a C++17 compiler. BUILD=0 uses the rtmaps_components._native already importable.
# Output: OUT_DIR/cpu.txt (lscpu), OUT_DIR/bench.json (bluefire bench --json: rows with engine,
# variant, median_ms, x_ort ...), OUT_DIR/bench.txt (the printed table).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
RUNS=${RUNS:-300}
CASES=${CASES:-squeezenet1_1-224-1000}
BUILD=${BUILD:-1}
OUT=${1:-out/x86-variants}
mkdir -p "$OUT"

missing=$("$PY" - <<'EOF'
import importlib.util
need = ["numpy", "onnx", "onnxruntime", "torch"] + (["pybind11"] if __import__("os").environ.get("BUILD", "1") != "0" else [])
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
EOF
)
if [ -n "$missing" ]; then
  echo "x86_variants.sh: $PY lacks: $missing (pip install them, or PY=another python)" >&2
  exit 2
fi

if [ "$BUILD" != 0 ]; then
  CMAKE=${CMAKE:-$(command -v cmake || true)}
  [ -n "$CMAKE" ] || { echo "x86_variants.sh: cmake not found (pip install cmake, or CMAKE=...)" >&2; exit 2; }
  "$CMAKE" -S . -B build/x86-variants -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PY")" \
    -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; exit 1; }
  "$CMAKE" --build build/x86-variants -j "$(nproc)" >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  cp build/x86-variants/_native*.so rtmaps_components/
fi

export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'from rtmaps_components import _native as n; import sys
v = n.available_variants()
print("module:", n.__file__, "variants:", v, "version:", n.version())
sys.exit(0 if "avx2" in v and "avx512" in v else "x86_variants.sh: this CPU lacks avx2 or avx512: %s" % v)'
{ lscpu | grep -E 'Model name|^CPU\(s\)|Thread|MHz|L2|L3'; grep -o -w -E 'avx2|fma|avx512f|avx512vnni|avx512bw' /proc/cpuinfo | sort | uniq -c; } | tee "$OUT/cpu.txt"

# One interleaved run: native avx2, native avx512 and ORT call by call, 1 thread, warmed, medians.
"$PY" -m training.cli bench --engines native,ort --variant avx2,avx512 --threads 1 --runs "$RUNS" \
  --cases "$CASES" --json "$OUT/bench.json" | tee "$OUT/bench.txt"
"$PY" - "$OUT/bench.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
print("\nnative / ORT (median ratio), one thread:")
for r in rows:
    if r["engine"] == "native":
        print(f"  {r['model']:<34} {r['variant']:<7} {r['median_ms']:8.3f} ms  x ORT {r['vs_ort']:.2f}")
EOF
echo "JSON: $OUT/bench.json"
