#!/usr/bin/env bash
# Frames at a camera's pace through the native engine alone (native/tools/paced_frames.cpp): each
# run() after an idle gap, 1 thread against 2 (or THREADS) with no split, every split woken always,
# never, or as measured (BLUEFIRE_WAKE); one line per engine, medians, and JSON. Needs cmake and g++.
#   native/tools/paced_frames.sh [MODEL.onnx] [GAP_MS] [FRAMES] [THREADS] [JSON]
#   (defaults: the shipped baseline, 33, 150, 2, out/paced_frames.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
CMAKE=${CMAKE:-$(command -v cmake || echo .venv/bin/cmake)}
"$CMAKE" -S native -B build/tools -DCMAKE_BUILD_TYPE=Release >/dev/null
"$CMAKE" --build build/tools -j 2 --target bluefire_core >/dev/null
bin="$(mktemp -d)/paced_frames"
trap 'rm -rf "$(dirname "$bin")"' EXIT
g++ -O2 -std=c++17 -pthread -Inative/include native/tools/paced_frames.cpp build/tools/libbluefire_core.a -o "$bin"
echo "host: $(nproc) logical CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
json="${5:-out/paced_frames.json}"
mkdir -p "$(dirname "$json")"
"$bin" "${1:-models/squeezenet1_1_fmnist_baseline.onnx}" "${2:-33}" "${3:-150}" "${4:-2}" "$json"
