#!/usr/bin/env bash
# The thread pool's cost per layer hand-off (native/tools/dispatch_cost.cpp): one run() with every
# worker held awake, 1-4 threads, medians of batches of 1000 jobs; then the wake-up of sleeping
# workers after idle gaps of 0.2-33 ms (frames at 30/s). Needs only g++.
#   native/tools/dispatch_cost.sh [BATCHES]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(mktemp -d)/dispatch_cost"
g++ -O2 -std=c++17 -pthread -Inative/include native/tools/dispatch_cost.cpp native/src/thread_pool.cpp -o "$bin"
echo "host: $(nproc) logical CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" "${1:-200}"
rm -rf "$(dirname "$bin")"
