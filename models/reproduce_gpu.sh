#!/usr/bin/env bash
# The training side of models/reproduce.sh run side by side on one CUDA GPU: the input-size study
# (one full baseline per size), then, on the chosen baseline, the combined-criterion prunes at several
# targets, the five-criterion ablation and the transfer study, all at once. Same commands and flags as
# the CPU path; only where they run differs. Every run checkpoints, so a cut-short run resumes on any
# machine with the same command plus --resume. Export, benchmark and model cards stay on the CPU host
# (models/reproduce.sh steps 3-4), since latency is measured where it is claimed.
#
# Choices are fixed here, before any result is seen, and use validation accuracy only:
#   input size: the smallest size whose best validation accuracy is within SIZE_TOL of the best size's;
#   shipped target: the largest reduction whose validation drop is <= 0.5 points (models/choose.py pruned).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
BF="$PY -m training.cli"
R=${RUNS:-runs}
EPOCHS=${EPOCHS:-60}
SIZES=${SIZES:-32 40 48 64}
SIZE_TOL=${SIZE_TOL:-0.003}
TARGETS=${TARGETS:-0.8 0.85}
CRITERIA="taylor l2 combined weight-l1 random"
ABLATION_TARGET=${ABLATION_TARGET:-0.8}
PRUNE_FLAGS=${PRUNE_FLAGS:-}         # extra `bluefire prune` flags for every prune (tests make runs tiny)
ABLATION_FLAGS=${ABLATION_FLAGS:---filters-per-step 64 --final-epochs 1}  # the same for every criterion
TRANSFER_FLAGS=${TRANSFER_FLAGS:-}
TRANSFER=${TRANSFER:-1}              # 0: leave the transfer study to models/transfer_study.sh
DEADLINE=$(( $(date +%s) + ${BUDGET_S:-100000} ))  # jobs still running then are stopped (they resume later)
left() { local l=$(( DEADLINE - $(date +%s) - ${1:-0} )); echo $(( l > 1 ? l : 1 )); }
mkdir -p "$R/logs"
resume_flag() { [ -e "$1" ] && echo --resume || true; }

echo "== 1. input-size study: SqueezeNet 1.1 baselines, ${EPOCHS} epochs at ${SIZES}"
for s in $SIZES; do
  [ -f "$R/size_study/$s/metrics.json" ] && continue
  timeout "$(left "${STAGE2_S:-0}")" $BF train --data fashion-mnist --input-size "$s" --epochs "$EPOCHS" --threads 3 \
    --out "$R/size_study/$s" $(resume_flag "$R/size_study/$s/checkpoint.pt") >"$R/logs/train_$s.log" 2>&1 &
done
wait
tail -n 2 "$R"/logs/train_*.log
SIZE=$($PY models/choose.py size "$R" "$SIZE_TOL") || exit 1
echo "chosen input size: $SIZE"
mkdir -p "$R/baseline"
cp "$R/size_study/$SIZE/best.pt" "$R/size_study/$SIZE/metrics.json" "$R/baseline/"

echo "== 2. prunes (combined at ${TARGETS}), ablation (${CRITERIA} at ${ABLATION_TARGET}) and transfer study, side by side"
for t in $TARGETS; do
  timeout "$(left)" $BF prune "$R/baseline/best.pt" --criterion combined --target-params "$t" --threads 1 $PRUNE_FLAGS \
    --out "$R/prune_targets/$t" $(resume_flag "$R/prune_targets/$t/state.pt") >"$R/logs/prune_$t.log" 2>&1 &
done
for c in $CRITERIA; do
  timeout "$(left)" $BF prune "$R/baseline/best.pt" --criterion "$c" --target-params "$ABLATION_TARGET" --threads 1 $PRUNE_FLAGS $ABLATION_FLAGS \
    --out "$R/ablation/$c" $(resume_flag "$R/ablation/$c/state.pt") >"$R/logs/ablation_$c.log" 2>&1 &
done
[ "$TRANSFER" = 1 ] && timeout "$(left)" env PY="$PY" bash models/transfer_study.sh "$R/baseline/best.pt" --out "$R/transfer_study" $TRANSFER_FLAGS >"$R/logs/transfer.log" 2>&1 &
wait
tail -n 3 "$R"/logs/prune_*.log "$R"/logs/ablation_*.log
[ "$TRANSFER" = 1 ] && tail -n 3 "$R"/logs/transfer.log
# the comparison table and overlay plot (every run is finished by now, or this says which is not)
timeout "$(left)" $BF prune "$R/baseline/best.pt" --compare "${CRITERIA// /,}" --target-params "$ABLATION_TARGET" --threads 1 $PRUNE_FLAGS $ABLATION_FLAGS --resume \
  --out "$R/ablation" >"$R/logs/compare.log" 2>&1 || echo "comparison not written: see $R/logs/compare.log"
tail -n 12 "$R/logs/compare.log"
$PY models/choose.py pruned "$R" || true
