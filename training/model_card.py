"""Model cards (Markdown + JSON) and models/index.json, computed from the shipped files themselves.

Every number comes from an artifact: accuracy from running the ONNX file on the test split,
parameters and MACs from its width table, size from the file, latency from `bluefire bench`
JSON, schedule and timing from the run's own metrics/report files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from rtmaps_components.atomic import atomic_write
from rtmaps_components.model_meta import ModelMeta, read_metadata

from . import data as data_mod
from .model import _STEM_KERNEL, FIRE_NAMES, Widths, count_macs, count_params, feature_sizes

CARD_KIND = "bluefire-model-card"


def _onnx_meta(path: Path) -> ModelMeta:
    return read_metadata(path)


def _latency(bench: list[dict], onnx_path: Path) -> dict[str, Any]:
    """Median/p99 per engine for this model, from `bluefire bench --json` rows (1 thread)."""
    out: dict[str, Any] = {}
    for row in bench:
        if Path(str(row.get("model", ""))).stem != onnx_path.stem or int(row.get("threads", 1)) != 1:
            continue
        out[row["engine"]] = {k: row[k] for k in ("median_ms", "p99_ms", "variant") if k in row}
    return out


def _latency_source(bench_json: Path) -> dict[str, Any]:
    """Which benchmark run a card's latency comes from: the file and the CPU it ran on."""
    cpu = json.loads(bench_json.read_text()).get("cpu") or {}
    return {"bench": bench_json.as_posix(), "cpu": cpu.get("model", "unknown")}


def retime(onnx_path: Path, bench_json: Path) -> dict[str, Any]:
    """An existing card with its latency, and every latency ratio, taken from another `bluefire bench --json`
    run; nothing else changes. One run of every shipped model (models/reproduce.sh step 7) then gives the
    headline numbers that compare like with like: cards timed in different runs on a shared host do not.
    The ratios use the reference model's rows of the same run (the baseline's, the fp32 model's)."""
    card_path = onnx_path.with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path}: no card to retime (write it first without --retime)")
    card = json.loads(card_path.read_text())
    rows = json.loads(bench_json.read_text()).get("rows", [])
    lat = _latency(rows, onnx_path)
    if not lat:
        raise ValueError(f"{bench_json}: no 1-thread rows for {onnx_path.name} (time it with --models-dir)")
    card["latency_ms"] = lat
    card["latency_source"] = _latency_source(bench_json)
    for key, ref_key, label in (("vs_baseline", "baseline", "baseline"), ("vs_fp32", "fp32", "fp32 model")):
        vs = card.get(key)
        if not vs:
            continue
        for k in [k for k in vs if k.endswith("_latency_ratio")]:
            del vs[k]
        ref = _latency(rows, onnx_path.parent / f"{vs[ref_key]}.onnx")
        if not ref:
            raise ValueError(f"{bench_json}: no 1-thread rows for the {label} {vs[ref_key]} of {onnx_path.name}")
        for eng in sorted(set(lat) & set(ref)):
            vs[f"{eng}_latency_ratio"] = lat[eng]["median_ms"] / ref[eng]["median_ms"]
    return card


def _time(
    train_metrics: Path | None,
    prune_report: Path | None,
    size_study: Path | None,
    made_on: str,
    extra: dict[str, float],
) -> dict[str, Any]:
    """How long the model took to make, from the runs' own records, and what training costs on this machine."""
    out: dict[str, Any] = {"made_on": made_on, "seconds": dict(extra)}
    m = json.loads(train_metrics.read_text()) if train_metrics else None
    if m:
        out["seconds"]["training"] = sum(h["seconds"] for h in m["history"])
    if prune_report:
        out["seconds"]["pruning"] = json.loads(prune_report.read_text()).get("seconds", 0.0)
    if size_study and size_study.is_file() and m:
        study = json.loads(size_study.read_text())
        size = m["config"]["input_size"]
        row = next((r for r in study["rows"] if r["input_size"] == size), None)
        if row:
            out["training_here_estimate_s"] = row["cpu_seconds_per_epoch_here"] * m["config"]["epochs"]
            out["here"] = f"this development machine, {study['threads']} CPU threads (measured s/epoch x epochs)"
    return out


def _quantization(path: Path) -> dict[str, Any] | None:
    """The 'bluefire.quantization' record of an int8 file (training/quantize.py), else None."""
    import onnx

    from .quantize import QUANT_KEY

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(props[QUANT_KEY]) if QUANT_KEY in props else None


def build_card(
    onnx_path: Path,
    data_spec: str,
    train_metrics: Path | None,
    prune_report: Path | None,
    bench_json: Path | None,
    baseline: Path | None,
    seconds: dict[str, float],
    size_study: Path | None = None,
    made_on: str = "this machine",
    fp32: Path | None = None,
) -> dict[str, Any]:
    """Measure one shipped model and return its card as a dict."""
    from .evaluate import evaluate_onnx

    meta = _onnx_meta(onnx_path)
    prep = meta.preprocessing
    widths = Widths.from_dict(meta.widths, f"{onnx_path}: widths")
    ncls = prep.num_classes
    size = prep.input_size[0]
    cfg = json.loads(train_metrics.read_text())["config"] if train_metrics else {}
    ds = data_mod.load(data_spec, int(cfg.get("seed", 0)), float(cfg.get("val_fraction", 0.1)))
    test = evaluate_onnx(onnx_path, ds.test.images, ds.test.labels, "GRAY" if ds.color == "gray" else "RGB")
    card: dict[str, Any] = {
        "kind": CARD_KIND,
        "name": onnx_path.stem,
        "file": onnx_path.name,
        "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "file_bytes": onnx_path.stat().st_size,
        "arch": meta.arch,
        "classes": list(prep.class_names),
        "data": {
            "spec": data_spec,
            "train": len(ds.train),
            "val": len(ds.val),
            "test": len(ds.test),
            "split": f"validation carved from train with seed {cfg.get('seed', 0)}, "
            f"fraction {cfg.get('val_fraction', 0.1)}; test split never used for choices",
        },
        "preprocessing": json.loads(prep.to_json()),
        "test_top1": test["top1"],
        "test_per_class": test.get("per_class"),
        "params": count_params(widths, meta.arch, ncls),
        # the file's own count: a folded gray stem has 2 of its 3 input planes' weights fewer
        "params_file": count_params(widths, meta.arch, ncls)
        - widths.conv1 * (3 - meta.preprocessing.channels) * _STEM_KERNEL[meta.arch] ** 2,
        "macs": count_macs(widths, meta.arch, ncls, size),
        "macs_run": count_macs(widths, meta.arch, ncls, size, meta.preprocessing.channels),
        "widths": widths.to_dict(),
        "feature_sizes": feature_sizes(meta.arch, size),
        "training": {
            k: cfg.get(k)
            for k in (
                "epochs",
                "optimizer",
                "lr",
                "weight_decay",
                "batch_size",
                "augment",
                "label_smoothing",
                "seed",
                "input_size",
            )
        }
        if cfg
        else None,
        "time": _time(train_metrics, prune_report, size_study, made_on, seconds),
    }
    if size_study and size_study.is_file():
        study = json.loads(size_study.read_text())
        card["input_size_choice"] = {
            "rule": study["rule"],
            "chosen": study["chosen"],
            "val_acc": {str(r["input_size"]): r["best_val_acc"] for r in study["rows"]},
            "evidence": "evidence/input_size_study.md",
        }
    if prune_report:
        rep = json.loads(prune_report.read_text())
        card["pruning"] = {
            k: rep.get(k)
            for k in ("criterion", "config", "depth_share", "iterations_done", "params_removed", "macs_removed")
            if k in rep
        }
    if bench_json and bench_json.is_file():
        card["latency_ms"] = _latency(json.loads(bench_json.read_text()).get("rows", []), onnx_path)
        card["latency_source"] = _latency_source(bench_json)
    quant = _quantization(onnx_path)
    if quant:
        card["quantization"] = quant
    if fp32:
        ref = json.loads(fp32.with_suffix(".json").read_text())
        card["vs_fp32"] = {
            "fp32": ref["name"],
            "top1_delta_points": 100 * (card["test_top1"] - ref["test_top1"]),
            "file_bytes_ratio": card["file_bytes"] / ref["file_bytes"],
        }
        # ratios within one run: the fp32 model's rows of the same bench JSON, not its card's
        rows = json.loads(bench_json.read_text()).get("rows", []) if bench_json and bench_json.is_file() else []
        lat, rlat = card.get("latency_ms", {}), _latency(rows, fp32)
        for eng in sorted(set(lat) & set(rlat)):
            card["vs_fp32"][f"{eng}_latency_ratio"] = lat[eng]["median_ms"] / rlat[eng]["median_ms"]
    if baseline:
        base = json.loads(baseline.with_suffix(".json").read_text())
        card["vs_baseline"] = {
            "baseline": base["name"],
            "params_removed": 1 - card["params"] / base["params"],
            "macs_removed": 1 - card["macs"] / base["macs"],
            "file_bytes_removed": 1 - card["file_bytes"] / base["file_bytes"],
            "top1_delta_points": 100 * (card["test_top1"] - base["test_top1"]),
        }
        lat, blat = card.get("latency_ms", {}), base.get("latency_ms", {})
        if bench_json and bench_json.is_file():  # the same run's rows for the baseline, where it was timed too
            blat = _latency(json.loads(bench_json.read_text()).get("rows", []), baseline) or blat
        for eng in sorted(set(lat) & set(blat)):  # a stable order keeps regenerated files diffable
            card["vs_baseline"][f"{eng}_latency_ratio"] = lat[eng]["median_ms"] / blat[eng]["median_ms"]
    return card


def markdown(card: dict[str, Any]) -> str:
    """Human-readable card."""
    p = card["preprocessing"]
    lines = [
        f"# Model card: `{card['file']}`",
        "",
        f"SqueezeNet ({card['arch']}) classifying the ten Fashion-MNIST classes: {', '.join(card['classes'])}.",
        "",
        "| | |",
        "|---|---|",
        f"| test top-1 ({card['data']['test']} test images) | **{100 * card['test_top1']:.2f} %** |",
        f"| parameters | {card['params']:,}"
        + (
            f" (the trained network; {card['params_file']:,} in the file)"
            if card.get("params_file", card["params"]) != card["params"]
            else ""
        )
        + " |",
        f"| MACs per image | {card['macs']:,} (the trained network; "
        + (
            f"the file's stem takes one gray plane: {card['macs_run']:,} run)"
            if card.get("macs_run", card["macs"]) != card["macs"]
            else "as run)"
        )
        + " |",
        f"| ONNX file | {card['file_bytes']:,} bytes (sha256 `{card['sha256'][:16]}…`) |",
        f"| input | {p.get('channels', 3)} × {p['input_size'][0]}×{p['input_size'][1]} {p['color']} "
        f"({p['resize']} resize, mean {p['mean'][0]:.4f}, std {p['std'][0]:.4f}) |",
    ]
    for eng, v in sorted(card.get("latency_ms", {}).items()):
        lines.append(f"| latency, {eng}, 1 thread | median {v['median_ms']:.4f} ms, p99 {v['p99_ms']:.4f} ms |")
    src = card.get("latency_source")
    if src:
        lines.append(f"| latency measured by | `{src['bench']}` (`bluefire bench --json`), on {src['cpu']} |")
    vb = card.get("vs_baseline")
    if vb:
        lines += [
            f"| vs `{vb['baseline']}` | {100 * vb['params_removed']:.1f} % fewer parameters, "
            f"{100 * vb['macs_removed']:.1f} % fewer MACs, top-1 {vb['top1_delta_points']:+.2f} points |"
        ]
        for k, v in sorted(vb.items()):
            if k.endswith("_latency_ratio"):
                lines.append(f"| latency ratio ({k[:-14]}) | {v:.3f}× the baseline |")
    vf = card.get("vs_fp32")
    if vf:
        lines.append(
            f"| vs `{vf['fp32']}` (fp32) | top-1 {vf['top1_delta_points']:+.2f} points, "
            f"file {vf['file_bytes_ratio']:.2f}× |"
        )
        for k, v in sorted(vf.items()):
            if k.endswith("_latency_ratio"):
                lines.append(f"| latency ratio ({k[:-14]}) | {v:.3f}× the fp32 model (same benchmark run) |")
    d = card["data"]
    lines += [
        "",
        "## Data",
        f"`{d['spec']}`: {d['train']} training, {d['val']} validation, {d['test']} test images; {d['split']}.",
        "",
        "## Widths (output channels)",
        "",
        "| layer | squeeze | expand1x1 | expand3x3 | map |",
        "|---|---|---|---|---|",
        f"| conv1 | {card['widths']['conv1']} | | | {card['feature_sizes']['conv1']}² |",
    ]
    for name, (s, e1, e3) in zip(FIRE_NAMES, card["widths"]["fires"]):
        lines.append(f"| {name} | {s} | {e1} | {e3} | {card['feature_sizes'][name]}² |")
    ch = card.get("input_size_choice")
    if ch:
        vals = ", ".join(f"{s}×{s}: {100 * v:.2f} %" for s, v in ch["val_acc"].items())
        lines += [
            "",
            "## Why this input size",
            "",
            f"Fashion-MNIST is 28×28; the network sees it upscaled. One full baseline per size, same recipe "
            f"(best validation top-1: {vals}). Rule: {ch['rule']}; chosen {ch['chosen']}×{ch['chosen']}. "
            f"At 32×32 (CIFAR's size) fire6-9 run on 1×1 maps; each step up costs MACs on the car. Details: [{ch['evidence']}]({ch['evidence']}).",
        ]
    q = card.get("quantization")
    if q:
        cands = ", ".join(f"{m} {100 * a:.2f} %" for m, a in q["candidates_val_top1"].items())
        c = q["calibration"]
        lines += [
            "",
            "## Quantization",
            "",
            f"{q['format']} ONNX (`bluefire quantize`): weights {q['weights']}; biases {q['bias']}; "
            f"activations {q['activations']}. Activation ranges calibrated on {c['images']} images of "
            f"the {c['split']} split of `{c['data']}` (seed {c['seed']}); method chosen by {c['chosen_by']}: {cands} "
            f"(fp32 {100 * q['fp32_val_top1']:.2f} %); chosen **{q['method']}**. "
            f"Quantized from `{q['source']['file']}` (sha256 `{q['source']['sha256'][:16]}…`).",
        ]
    if card.get("training"):
        lines += ["", "## Training", "```json", json.dumps(card["training"], indent=1), "```"]
    if card.get("pruning"):
        lines += ["", "## Pruning", "```json", json.dumps(card["pruning"], indent=1, default=str), "```"]
    t = card.get("time") or {}
    if t.get("seconds"):
        lines += ["", "## How long it took", "", f"Made on {t['made_on']}:", ""]
        lines += [f"- {k}: {v / 60:.1f} min" for k, v in t["seconds"].items()]
        if "training_here_estimate_s" in t:
            lines += [f"- training on {t['here']}: about {t['training_here_estimate_s'] / 3600:.1f} h"]
    lines += [
        "",
        "Regenerate with `make models` (see `models/reproduce.sh`); every figure above is measured by it.",
        "",
    ]
    return "\n".join(lines)


def write_index(folder: Path) -> dict[str, Any]:
    """models/index.json: every card in the folder, the fields a tool needs to verify the claims."""
    keys = (
        "name",
        "file",
        "sha256",
        "file_bytes",
        "arch",
        "test_top1",
        "params",
        "macs",
        "latency_ms",
        "vs_baseline",
        "preprocessing",
    )
    cards = []
    for f in sorted(folder.glob("*.json")):
        try:
            c = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(c, dict) and c.get("kind") == CARD_KIND:
            cards.append({k: c.get(k) for k in keys} | {"card": f.with_suffix(".md").name})
    index = {"models": cards}
    atomic_write(folder / "index.json", json.dumps(index, indent=1) + "\n")
    return index


README_BEGIN, README_END = "<!-- headline:begin (training/model_card.py --readme) -->", "<!-- headline:end -->"


def headline(index: dict[str, Any]) -> str:
    """The README's baseline-vs-pruned table, from models/index.json."""
    rows = [
        "| model | test top-1 | parameters | MACs | ONNX size | native, 1 thread | ONNX Runtime, 1 thread |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in index["models"]:
        lat = c.get("latency_ms") or {}

        def cell(e: str, lat: dict = lat) -> str:
            return f"{lat[e]['median_ms']:.3f} ms" if e in lat else "n/a"

        rows.append(
            f"| [`{c['file']}`](models/{c['card']}) | {100 * c['test_top1']:.2f} % | {c['params']:,} | "
            f"{c['macs'] / 1e6:.2f} M | {c['file_bytes'] / 1024:.0f} KiB | {cell('native')} | {cell('ort')} |"
        )
    for c in index["models"]:
        vb = c.get("vs_baseline")
        if vb:
            rows.append("")
            rows.append(
                f"`{c['file']}`: **{100 * vb['params_removed']:.1f} % fewer parameters** "
                f"({100 * vb['macs_removed']:.1f} % fewer MACs) than `{vb['baseline']}`, "
                f"top-1 {vb['top1_delta_points']:+.2f} points"
                + (
                    f", native latency {vb['native_latency_ratio']:.2f}× the baseline's"
                    if "native_latency_ratio" in vb
                    else ""
                )
                + "."
            )
    return "\n".join(rows)


def update_readme(readme: Path, index: dict[str, Any]) -> None:
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{readme}: no headline markers ({README_BEGIN} ... {README_END})")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    atomic_write(readme, f"{head}{README_BEGIN}\n{headline(index)}\n{README_END}{tail}")


def _write_card(onnx_path: Path, card: dict[str, Any], readme: Path | None) -> None:
    """The card's JSON and Markdown beside the model, then models/index.json (and the README's headline)."""
    atomic_write(onnx_path.with_suffix(".json"), json.dumps(card, indent=1, default=str) + "\n")
    atomic_write(onnx_path.with_suffix(".md"), markdown(card))
    index = write_index(onnx_path.parent)
    if readme:
        update_readme(readme, index)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Write a model card (Markdown + JSON) for a shipped ONNX model and refresh models/index.json."
    )
    ap.add_argument("onnx", type=Path, nargs="?", help="the ONNX model to describe (omit with --readme only)")
    ap.add_argument("--readme", type=Path, help="rewrite the headline table in this README from models/index.json")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--train-metrics", type=Path, help="metrics.json of the training run")
    ap.add_argument("--prune-report", type=Path, help="report.json of the pruning run")
    ap.add_argument("--bench", type=Path, help="`bluefire bench --json` output")
    ap.add_argument("--baseline", type=Path, help="the baseline's ONNX file (its card must exist)")
    ap.add_argument(
        "--fp32", type=Path, help="for an int8 file: the float ONNX file it was quantized from (its card must exist)"
    )
    ap.add_argument(
        "--seconds",
        action="append",
        default=[],
        metavar="STEP=SECONDS",
        help="wall time of a further step that made this model (repeatable)",
    )
    ap.add_argument("--size-study", type=Path, help="models/evidence/input_size_study.json (why this input size)")
    ap.add_argument("--made-on", default="this machine", help="where the training and pruning ran, in words")
    ap.add_argument(
        "--retime",
        action="store_true",
        help="only replace the existing card's latency (and its latency ratios) from --bench; nothing else is recomputed",
    )
    a = ap.parse_args(argv)
    if a.onnx is None:
        if not a.readme:
            ap.error("give an ONNX model, or --readme")
        update_readme(a.readme, json.loads(Path("models/index.json").read_text()))
        return 0
    if a.retime:
        if not a.bench:
            ap.error("--retime needs --bench")
        _write_card(a.onnx, retime(a.onnx, a.bench), a.readme)
        print(f"{a.onnx.with_suffix('.md')}: latency from {a.bench}")
        return 0
    secs = {}
    for item in a.seconds:
        k, _, v = item.partition("=")
        secs[k] = float(v)
    card = build_card(
        a.onnx, a.data, a.train_metrics, a.prune_report, a.bench, a.baseline, secs, a.size_study, a.made_on, a.fp32
    )
    _write_card(a.onnx, card, a.readme)
    print(f"{a.onnx.with_suffix('.md')}: test top-1 {100 * card['test_top1']:.2f} %, {card['params']:,} params")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
