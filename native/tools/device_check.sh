#!/bin/bash
# The checks run on the 16-core Ubuntu 24.04 Xeon host (python3 there has torch and onnxruntime; the
# module is built in place with pip): thread scaling with the calibrated splits, int8 rows, pipeline split, x86 variants.
cd "$(dirname "$0")/../.."
OUT=${OUT:-${1:-out/device_check}}; mkdir -p "$OUT"
L=$OUT/log.txt; exec > >(tee -a $L) 2>&1
date -u; grep -m1 'model name' /proc/cpuinfo; nproc
python3 -m pip install --no-deps --no-build-isolation -e . > $OUT/pip.log 2>&1 || { tail -30 $OUT/pip.log; exit 1; }
echo "== fresh-process checks"
timeout 100 python3 -m pytest -q -p no:cacheprovider tests/test_reliability.py -k "fresh or export" 2>&1 | tail -2
echo "== threads 1,2,4 (native, ort), built-in cases + models/ (fp32 and int8)"
timeout 300 python3 -m training.cli bench --threads 1,2,4 --engines native,ort --runs 300 --json $OUT/thread_scaling.json 2> $OUT/threads.err | tee $OUT/thread_scaling.txt
tail -3 $OUT/threads.err
echo "== pipeline, 1 thread"
for b in native onnxruntime; do timeout 90 python3 -m training.cli bench --pipeline --backend $b 2>&1 | tail -14; done
echo "== x86 variants"
PY=python3 RUNS=300 BUILD=0 timeout 150 native/tools/x86_variants.sh $OUT/x86 2>&1 | tail -9
date -u
