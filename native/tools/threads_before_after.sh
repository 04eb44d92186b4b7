#!/usr/bin/env bash
# Thread scaling before/after in one interleaved run, for a host with at least 4 idle cores: the
# module built from this checkout (engine 'native': a Release build of the working tree in a
# temporary folder, timed with `bench --native-build`) against the same module built from commit REV
# (engine 'native-base', a Release build of `git archive REV` made the same way), with ONNX Runtime,
# at 1, 2 and 4 threads: the 224x224 built-in case and every model in models/; once with the
# splits measured at build (auto) and once with every layer split (BLUEFIRE_SPLIT=always: what the
# cuts themselves give, independent of the build-time snapshot); then the pool's hand-off cost
# (dispatch_cost.sh).
#
#   native/tools/threads_before_after.sh REV [OUT_DIR]        # e.g. REV = the merge base
#   PY=python3 RUNS=300 BUILD=0 THREADS=1,2,4 native/tools/threads_before_after.sh 5ef90d1 out/threads
#   FRAME_GAP_MS=33 PACED_RUNS=100 ...   # also paced frames (bluefire bench --frame-gap-ms): paced.txt/.json
#
# Needs python with numpy, onnx, onnxruntime, torch, pybind11; cmake; g++. Output: OUT_DIR/
# {auto,always}.txt and .json (bluefire bench tables), paced.* with FRAME_GAP_MS, dispatch.txt, build logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
REV=${1:?usage: threads_before_after.sh REV [OUT_DIR]}
OUT=${2:-out/threads-before-after}
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-300}
THREADS=${THREADS:-1,2,4}
CMAKE=${CMAKE:-$(command -v cmake || echo .venv/bin/cmake)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
[ "${BUILD:-1}" != 0 ] && make build >"$OUT/build.log" 2>&1
old=$(mktemp -d) new=$(mktemp -d)
trap 'rm -rf "$old" "$new"' EXIT
mkdir -p "$old/src" && git archive "$REV" | tar -x -C "$old/src"
"$CMAKE" -S "$old/src" -B "$old/build" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >"$OUT/build_old.log" 2>&1 || { tail -30 "$OUT/build_old.log"; exit 1; }
"$CMAKE" --build "$old/build" -j "$(nproc)" >>"$OUT/build_old.log" 2>&1 || { tail -30 "$OUT/build_old.log"; exit 1; }
SO=$(ls "$old"/build/_native*.so)
# This checkout, built the same way as REV (not the installed editable build: on the 2-core host the
# two builds of one commit timed apart at 2 threads by more than the changes being measured).
mkdir -p "$new/src"  # tracked and untracked files that exist (a deleted tracked file is left out)
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  xargs -0 cp --parents -t "$new/src"
"$CMAKE" -S "$new/src" -B "$new/build" -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >"$OUT/build_new.log" 2>&1 || { tail -30 "$OUT/build_new.log"; exit 1; }
"$CMAKE" --build "$new/build" -j "$(nproc)" >>"$OUT/build_new.log" 2>&1 || { tail -30 "$OUT/build_new.log"; exit 1; }
NEW_SO=$(ls "$new"/build/_native*.so)
echo "host: $(nproc) logical CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); old = $REV" | tee "$OUT/host.txt"
for mode in auto always; do
  echo "== BLUEFIRE_SPLIT=$mode, $(date -u), load $(cut -d' ' -f1-3 /proc/loadavg)"
  BLUEFIRE_SPLIT=$mode "$PY" -m training.cli bench --threads "$THREADS" --engines native,ort --native-baseline "$SO" \
    --native-build "$NEW_SO" --cases squeezenet1_1-224-1000 --runs "$RUNS" --json "$OUT/$mode.json" 2>"$OUT/$mode.err" | tee "$OUT/$mode.txt"
done
if [ "${FRAME_GAP_MS:-0}" != 0 ]; then  # frames at a camera's pace: every call after an idle gap, workers asleep
  echo "== paced frames, one every ${FRAME_GAP_MS} ms per engine, $(date -u), load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$PY" -m training.cli bench --threads "$THREADS" --engines native,ort --native-baseline "$SO" \
    --native-build "$NEW_SO" --cases squeezenet1_1-224-1000 --runs "${PACED_RUNS:-100}" --frame-gap-ms "$FRAME_GAP_MS" \
    --json "$OUT/paced.json" 2>"$OUT/paced.err" | tee "$OUT/paced.txt"
fi
echo "== dispatch cost"
native/tools/dispatch_cost.sh | tee "$OUT/dispatch.txt"
