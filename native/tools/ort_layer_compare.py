"""Per-layer times of the native engine beside ONNX Runtime's node profiler, on one ONNX file, one thread.

    .venv/bin/python native/tools/ort_layer_compare.py squeezenet1_1-224-1000 --variant avx2,avx512 \
        [--baseline OLD/_native*.so] [--runs 200] [--json out/ort_layers.json]

MODEL is an .onnx file or a built-in case of `bluefire bench` (exported as the bench exports it,
`training.bench_cases.export_builtin`, random weights, seeded). Each round runs, in turn, one
`Engine.profile` pass per native column (variant, and build with --baseline) and one ONNX Runtime
run with `SessionOptions.enable_profiling` (intra_op_num_threads=1), whose JSON trace gives each
node's kernel time; the table shows medians over the rounds after a warm-up. Alongside, the same
engines are timed end to end (native `run`, a second ONNX Runtime session without profiling,
interleaved), because both profilers add their own overhead per layer.

How ONNX Runtime's nodes map to native layers (the native engine names a layer after its ONNX node):
* ORT fuses Conv + Relu and, with its NCHWc layout (x86), names the fused node after the Relu's
  output tensor plus `_nchwc` (`relu_3_nchwc`); a MaxPool likewise (`max_pool2d_1_nchwc`). A node
  name, or a tensor name with that suffix removed, is looked up in the original graph and followed
  back through Relu to the Conv (or MaxPool) that is a native layer.
* The native engine fuses the stem's max-pool into the stem (its MaxPool row is ~0) and runs no
  layer for Concat (each expand writes its half in place) or Reshape; ORT's Concat copies, its
  ReorderInput/ReorderOutput (NCHWc <-> NCHW) and Reshape are listed as "ORT only" rows.
* ORT may reorder independent nodes (expand3x3 before expand1x1): rows follow the native order.
Only ratios within one run mean anything on a shared host.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rtmaps_components.bench_runners import cpu_info, interleaved, native_builds, native_variants, timed

FUSED_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "Sigmoid")
SUFFIXES = ("_nchwc",)


def model_path(spec: str, export_dir: Path) -> Path:
    """An .onnx file as given, or a built-in bench case exported into export_dir."""
    if spec.endswith(".onnx") or Path(spec).is_file():
        p = Path(spec)
        if not p.is_file():
            raise SystemExit(f"{spec}: no such file")
        return p
    from training.bench_cases import BUILTIN, export_builtin

    if spec not in BUILTIN:
        raise SystemExit(f"{spec}: neither an .onnx file nor a built-in case ({', '.join(BUILTIN)})")
    return export_builtin(export_dir, spec)[0]


def ort_to_layer(path: Path, layer_names: set[str]) -> Callable[[str], str | None]:
    """A function from an ORT node name to the native layer it computes (None: ORT only)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    by_name = {n.name: n for n in graph.node}
    cache: dict[str, str | None] = {}

    def lookup(name: str) -> str | None:
        if name in cache:
            return cache[name]
        base = name
        for s in SUFFIXES:
            if base.endswith(s):
                base = base[: -len(s)]
        node = by_name.get(base) or producer.get(base)
        # A fused activation's time belongs to the layer that produced its input.
        while node is not None and node.name not in layer_names and node.op_type in FUSED_ACTIVATIONS:
            node = producer.get(node.input[0])
        cache[name] = node.name if node is not None and node.name in layer_names else None
        return cache[name]

    return lookup


class OrtProfiled:
    """An ONNX Runtime session with its node profiler on; `run()` once per round, `node_times()` at the end."""

    def __init__(self, path: Path, prefix: str) -> None:
        import onnxruntime as ort

        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        o.inter_op_num_threads = 1
        o.log_severity_level = 3
        o.enable_profiling = True
        o.profile_file_prefix = prefix
        self.sess = ort.InferenceSession(str(path), sess_options=o, providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name
        self.version = ort.__version__

    def run(self, x: np.ndarray) -> None:
        self.sess.run(None, {self.input: x})

    def node_times(self, skip: int) -> tuple[list[str], dict[str, dict]]:
        """Node names in execution order and, per node, its op and kernel seconds per run (first `skip` runs dropped)."""
        trace = self.sess.end_profiling()
        with open(trace, encoding="utf-8") as f:
            events = json.load(f)
        os.unlink(trace)
        order: list[str] = []
        nodes: dict[str, dict] = {}
        for e in events:
            if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
                continue
            name = e["name"][: -len("_kernel_time")]
            if name not in nodes:
                order.append(name)
                nodes[name] = {"op": e.get("args", {}).get("op_name", "?"), "s": []}
            nodes[name]["s"].append(e["dur"] * 1e-6)
        for v in nodes.values():
            v["s"] = v["s"][skip:]
        return order, nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="an .onnx file, or a built-in bench case such as squeezenet1_1-224-1000")
    ap.add_argument("--variant", default="avx2", help="native variant(s), comma list")
    ap.add_argument("--baseline", help="another build's _native*.so: its columns too, interleaved")
    ap.add_argument("--runs", type=int, default=200, help="timed rounds (medians over these)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--json", help="write the table as JSON here")
    ap.add_argument("--export-dir", help="where a built-in case is exported (default: a temporary folder)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="ort_layers_")
    path = model_path(args.model, Path(args.export_dir or tmp.name))
    try:
        builds = native_builds(args.baseline, alone="native")
    except ValueError as e:
        raise SystemExit(f"--baseline {e}") from None
    engines = {}
    for label, mod in builds:
        for v in native_variants(args.variant, mod):
            engines[f"{label}:{v}" if len(builds) > 1 else v] = mod.Engine(str(path), threads=1, variant=v)
    first = next(iter(engines.values()))
    h, w = first.input_size
    x = np.random.default_rng(0).random((1, first.input_channels, h, w), dtype=np.float32)
    layers = [(r[0], r[1], r[2]) for r in first.profile(x)]
    ort = OrtProfiled(path, os.path.join(tmp.name, "ort"))
    from rtmaps_components.backends import ort_session

    plain = ort_session(path, 1)
    plain_in = plain.get_inputs()[0].name

    calls = {k: (lambda e=e: [r[3] for r in e.profile(x)]) for k, e in engines.items()}
    calls["ort"] = lambda: ort.run(x)
    total = args.warmup + args.runs
    passes = interleaved(calls, total)
    e2e_calls = {k: timed(lambda e=e: e.run(x)) for k, e in engines.items()}
    e2e_calls["ort"] = timed(lambda: plain.run(None, {plain_in: x}))
    e2e = {k: v[args.warmup :] for k, v in interleaved(e2e_calls, total).items()}

    cols = list(engines)
    native_med = {k: np.median(np.asarray(passes[k][args.warmup :]), axis=0) for k in cols}
    order, nodes = ort.node_times(args.warmup)
    lookup = ort_to_layer(path, {n for n, _, _ in layers})
    ort_of_layer: dict[str, list[str]] = {}
    ort_only = []
    for name in order:
        layer = lookup(name)
        if layer is None:
            ort_only.append(name)
        else:
            ort_of_layer.setdefault(layer, []).append(name)
    med = {n: float(np.median(v["s"])) for n, v in nodes.items()}

    rows = []
    for j, (name, kind, macs) in enumerate(layers):
        ort_nodes = ort_of_layer.get(name, [])
        rows.append(
            {
                "layer": name,
                "kind": kind,
                "macs": int(macs),
                "native_us": {k: float(native_med[k][j]) * 1e6 for k in cols},
                "ort_nodes": ort_nodes,
                "ort_us": sum(med[n] for n in ort_nodes) * 1e6 if ort_nodes else None,
            }
        )
    for name in ort_only:
        rows.append(
            {
                "layer": f"(ORT only) {name}",
                "kind": nodes[name]["op"],
                "macs": 0,
                "native_us": dict.fromkeys(cols),
                "ort_nodes": [name],
                "ort_us": med[name] * 1e6,
            }
        )

    def fmt(v: float | None, width: int = 9) -> str:
        return f"{v:{width}.1f}" if v is not None else f"{'-':>{width}s}"

    head = f"{'layer':28s} {'kind':18s} {'MMACs':>7s} " + " ".join(f"{k:>14s}" for k in cols)
    print(f"{path.name}, 1 thread, medians of {args.runs} rounds; {cpu_info()['model']}; ORT {ort.version}")
    print(head + f" {'ORT us':>9s} " + " ".join(f"{'x ORT ' + k:>14s}" for k in cols))
    for r in rows:
        print(
            f"{r['layer'][:28]:28s} {r['kind'][:18]:18s} {r['macs'] / 1e6:7.1f} "
            + " ".join(fmt(r["native_us"][k], 14) for k in cols)
            + f" {fmt(r['ort_us'])} "
            + " ".join(
                f"{r['native_us'][k] / r['ort_us']:14.2f}"
                if r["native_us"][k] is not None and r["ort_us"]
                else f"{'-':>14s}"
                for k in cols
            )
        )
    totals = {k: sum(r["native_us"][k] or 0.0 for r in rows) for k in cols}
    ort_total = sum(r["ort_us"] or 0.0 for r in rows)
    print(
        f"{'sum of layers':55s} "
        + " ".join(fmt(totals[k], 14) for k in cols)
        + f" {fmt(ort_total)} "
        + " ".join(f"{totals[k] / ort_total:14.2f}" for k in cols)
    )
    e2e_med = {k: float(np.median(v)) * 1e6 for k, v in e2e.items()}
    print(
        f"{'end to end (no profiler)':55s} "
        + " ".join(fmt(e2e_med[k], 14) for k in cols)
        + f" {fmt(e2e_med['ort'])} "
        + " ".join(f"{e2e_med[k] / e2e_med['ort']:14.2f}" for k in cols)
    )
    if args.json:
        out = {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_info(),
            "onnxruntime": ort.version,
            "model": str(path.name),
            "runs": args.runs,
            "columns": cols,
            "rows": rows,
            "sum_us": {**totals, "ort": ort_total},
            "end_to_end_us": e2e_med,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
