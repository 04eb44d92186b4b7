#!/bin/sh
# One thread's fp32 and int8 multiply-accumulate peaks on this x86 host (simd_peak.cpp):
#   native/tools/simd_peak.sh
# The numbers feed `python -m training.floor --host-gmacs FP32 INT8` (native/README.md, int8).
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"${CXX:-g++}" -O2 -std=c++17 "$(dirname "$0")/simd_peak.cpp" -o "$out/simd_peak"
grep -m1 'model name' /proc/cpuinfo || true
"$out/simd_peak"
