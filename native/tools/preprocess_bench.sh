#!/usr/bin/env bash
# The preprocessing's optimized Preprocessor against its scalar reference (native/tools/preprocess_bench.cpp):
# one thread, interleaved batches, medians over ROUNDS rounds, a table and JSON. Compiled with the
# core's flags (-O3 -ffp-contract=off, no ISA flag: SSE2 is the x86_64 baseline). Needs only g++.
#   native/tools/preprocess_bench.sh [ROUNDS] [JSON]     (defaults: 201, out/preprocess_bench.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
json="${2:-out/preprocess_bench.json}"
mkdir -p "$(dirname "$json")"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
g++ -O3 -std=c++17 -ffp-contract=off -Inative/include -Inative/src native/tools/preprocess_bench.cpp \
  native/src/preprocess.cpp native/src/ref/preprocess_ref.cpp -o "$dir/preprocess_bench"
host="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' | tr -d '"\\'), $(nproc) logical CPUs; $(date -u '+%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "host: $host"
"$dir/preprocess_bench" "${1:-201}" "$json" "$host"
echo "JSON: $json"
