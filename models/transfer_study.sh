#!/usr/bin/env bash
# Transfer learning evidence (issue 6): the Fashion-MNIST baseline fine-tuned on scikit-learn's digits with
# 10, 30 and 100 labelled images per class (full fine-tuning and a frozen-feature probe), against the same
# runs from scratch (same schedule, 3 seeds).
# Resumable: finished runs under runs/transfer_study are reused. Writes models/evidence/transfer_study.{json,md,png}.
# Usage: models/transfer_study.sh [PRETRAINED_CKPT] [extra flags for python -m training.transfer_study]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CKPT=${1:-runs/baseline/best.pt}
shift || true
if [ ! -f "$CKPT" ]; then
  echo "transfer_study.sh: $CKPT not found; train the baseline first (or pass a checkpoint)" >&2
  exit 1
fi
exec $PY -m training.transfer_study --pretrained "$CKPT" --data digits --per-class 10,30,100 --seeds 0,1,2 \
  --epochs 30 --head-epochs 2 --batch-size 32 --lr 3e-4 --threads 1 "$@"
