#!/usr/bin/env bash
# Input-size study for the shipped model: short identical runs at several sizes, on this machine.
# Writes runs/size_study/<size>/metrics.json and models/evidence/input_size_study.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-3}
for s in ${SIZES:-32 40 48}; do
  if [ ! -f runs/size_study/$s/metrics.json ]; then
    $PY -m training.cli train --data fashion-mnist --input-size $s --epochs $EPOCHS --out runs/size_study/$s --threads 2
  fi
done
$PY - <<'PY'
import json, pathlib
from training.model import Widths, count_macs
rows = []
for d in sorted(pathlib.Path("runs/size_study").iterdir(), key=lambda p: int(p.name)):
    m = json.loads((d / "metrics.json").read_text())
    s = int(d.name)
    rows.append({"input_size": s, "epochs": len(m["history"]), "val_acc": m["best_val_acc"],
                 "seconds_per_epoch": sum(h["seconds"] for h in m["history"]) / len(m["history"]),
                 "macs": count_macs(Widths.default("squeezenet1_1"), "squeezenet1_1", 10, s)})
out = pathlib.Path("models/evidence"); out.mkdir(parents=True, exist_ok=True)
(out / "input_size_study.json").write_text(json.dumps(rows, indent=1))
print(f"{'size':>5} {'val acc':>8} {'s/epoch':>8} {'MMACs':>7}")
for r in rows:
    print(f"{r['input_size']:>5} {r['val_acc']:>8.4f} {r['seconds_per_epoch']:>8.1f} {r['macs'] / 1e6:>7.2f}")
PY
