#!/usr/bin/env bash
# `make models`: reproduce everything in models/ from real Fashion-MNIST, resumably.
# Each step checkpoints; rerunning this script after a kill continues where it stopped and
# skips finished steps. Wall time per step is appended to runs/timings/<step>.
# On a CUDA machine, models/reproduce_gpu.sh runs steps 1, 2 and 5 side by side (same commands);
# the shipped models were made that way (see their cards), then steps 3-4 ran here.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BF="$PY -m training.cli"
export EPOCHS=${EPOCHS:-60} THREADS=${THREADS:-2} SIZES=${SIZES:-32 40 48 64}
TARGETS=${TARGETS:-0.8 0.85}                    # combined-criterion prunes; models/choose.py picks one
ABLATION_FLAGS=${ABLATION_FLAGS:---filters-per-step 64 --final-epochs 1}
BASE=models/squeezenet1_1_fmnist_baseline.onnx
PRUNED=models/squeezenet1_1_fmnist_pruned.onnx
mkdir -p runs/timings models/evidence

timed() {  # timed NAME CMD...: run, and add its wall seconds to runs/timings/NAME
  local name=$1 t0; shift; t0=$(date +%s)
  "$@"
  echo $(( $(date +%s) - t0 )) >> "runs/timings/$name"
}
resume_flag() { [ -e "$1" ] && echo --resume || true; }

echo "== 1. input-size study (${SIZES}, ${EPOCHS} epochs each); the chosen size's run is the baseline"
bash models/input_size_study.sh
SIZE=$($PY models/choose.py size runs)
mkdir -p runs/baseline
cp "runs/size_study/$SIZE/best.pt" "runs/size_study/$SIZE/metrics.json" runs/baseline/
[ -f "$BASE" ] || $BF export runs/baseline/best.pt -o "$BASE"

echo "== 2. prune with the combined criterion to ${TARGETS} of the parameters removed; keep the best within 0.5 points"
for t in $TARGETS; do
  if [ ! -f "runs/prune_targets/$t/report.json" ]; then
    timed "prune_$t" $BF prune runs/baseline/best.pt --criterion combined --target-params "$t" --threads 1 \
      --out "runs/prune_targets/$t" $(resume_flag "runs/prune_targets/$t/state.pt")
  fi
done
CHOSEN=$($PY models/choose.py pruned runs)
[ -f "$PRUNED" ] || $BF export "$CHOSEN/model.pt" -o "$PRUNED"

echo "== 3. latency: native engine vs ONNX Runtime vs torch (1 thread)"
$BF bench --json models/evidence/bench.json

echo "== 4. model cards, models/index.json and the README's headline table"
$PY -m training.model_card "$BASE" --train-metrics runs/baseline/metrics.json --bench models/evidence/bench.json \
  --size-study models/evidence/input_size_study.json ${MADE_ON:+--made-on "$MADE_ON"}
$PY -m training.model_card "$PRUNED" --train-metrics runs/baseline/metrics.json --prune-report "$CHOSEN/report.json" \
  --bench models/evidence/bench.json --baseline "$BASE" --size-study models/evidence/input_size_study.json \
  ${MADE_ON:+--made-on "$MADE_ON"} --readme README.md
cp runs/prune_targets/choice.json models/evidence/prune_targets.json
cp "$CHOSEN"/report.md models/evidence/prune_report.md
for t in $TARGETS; do  # the targets not shipped, for the record
  [ "runs/prune_targets/$t" = "$CHOSEN" ] || cp "runs/prune_targets/$t/report.md" "models/evidence/prune_report_$t.md"
done
cp "$CHOSEN"/accuracy_vs_params.png models/evidence/prune_accuracy_vs_params.png
cp "$CHOSEN"/widths.png models/evidence/prune_widths.png

echo "== 5. ablation: five criteria, same budget, seed and data (${ABLATION_FLAGS})"
timed ablation $BF prune runs/baseline/best.pt --compare taylor,l2,combined,weight-l1,random \
  --target-params 0.8 --threads 1 $ABLATION_FLAGS --out runs/ablation $(resume_flag runs/ablation/taylor/state.pt)
cp runs/ablation/comparison.{json,md,png} models/evidence/

echo "== 6. transfer learning: Fashion-MNIST-pretrained vs scratch on few-label digits"
timed transfer bash models/transfer_study.sh runs/baseline/best.pt

echo "== 7. int8: quantize both models (bluefire quantize, QDQ); every shipped model timed in one run; cards"
for m in baseline pruned; do
  f="models/squeezenet1_1_fmnist_${m}.onnx"
  [ -f "${f%.onnx}_int8.onnx" ] || $BF quantize "$f" --data fashion-mnist --threads 1 -o "${f%.onnx}_int8.onnx"
done
# One interleaved run of every shipped model (torch skips the int8 files): every card's latency, and so
# the README's headline, from the same run; cards timed in different runs on a shared host do not compare.
$BF bench --no-builtin --runs 300 --json models/evidence/bench_models.json
for m in baseline pruned; do
  $PY -m training.model_card "models/squeezenet1_1_fmnist_${m}.onnx" --bench models/evidence/bench_models.json --retime
done
for m in baseline pruned; do
  $PY -m training.model_card "models/squeezenet1_1_fmnist_${m}_int8.onnx" --bench models/evidence/bench_models.json \
    --fp32 "models/squeezenet1_1_fmnist_${m}.onnx"
done
$PY -m training.model_card --readme README.md
$PY -m training.int8_check models/squeezenet1_1_fmnist_pruned_int8.onnx models/squeezenet1_1_fmnist_baseline_int8.onnx \
  --json models/evidence/int8_agreement.json   # native vs ONNX Runtime on the same QDQ files

echo "done: models/index.json, models/*.md, models/evidence/"
