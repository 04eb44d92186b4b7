#!/usr/bin/env bash
# Input-size study for the shipped model: one full baseline per size (same recipe and seed), then the
# choice (models/choose.py size: the smallest size within SIZE_TOL of the best validation accuracy) and
# what each size costs on this machine (training seconds per epoch, measured here; MACs per image).
# Resumable: finished sizes are kept. Writes runs/size_study/<size>/, runs/size_study/choice.json and
# models/evidence/input_size_study.{json,md,png}.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-60}
THREADS=${THREADS:-2}
SIZES=${SIZES:-32 40 48 64}
mkdir -p runs/timings
for s in $SIZES; do
  if [ ! -f runs/size_study/$s/metrics.json ]; then
    t0=$(date +%s)
    $PY -m training.cli train --data fashion-mnist --input-size "$s" --epochs "$EPOCHS" --threads "$THREADS" \
      --out runs/size_study/$s $([ -e runs/size_study/$s/checkpoint.pt ] && echo --resume)
    echo $(( $(date +%s) - t0 )) >> runs/timings/train_$s
  fi
done
$PY models/choose.py size runs "${SIZE_TOL:-0.003}" >/dev/null
$PY -m training.size_study runs/size_study --threads "$THREADS" --out models/evidence/input_size_study
