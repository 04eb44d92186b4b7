"""Criteria against brute-force definitions: per-example Taylor, L2 of maps, combination, baselines, DDP sums."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.fixtures_prune import SMALL
from training.model import build
from training.prune import criteria as C
from training.prune.group import LAYERS, activation, conv


def _setup(seed: int = 0, n: int = 6):
    torch.manual_seed(seed)
    model = build("squeezenet1_1", 10, SMALL)
    with torch.no_grad():
        for name in LAYERS:
            conv(model, name).bias.uniform_(0.0, 0.1)  # keep most ReLUs alive so every score is informative
    g = torch.Generator().manual_seed(seed + 1)
    return model, torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def _brute_force(model, x, y):
    """Per-example Taylor |mean_pos(z*dL/dz)| and ||z||_2, one example at a time, averaged."""
    model.eval()
    taylor = {n: torch.zeros(conv(model, n).out_channels, dtype=torch.float64) for n in LAYERS}
    l2 = {n: torch.zeros_like(v) for n, v in taylor.items()}
    signed = {n: torch.zeros_like(v) for n, v in taylor.items()}
    for i in range(len(x)):
        acts = {}

        def keep(name, acts=acts):
            def hook(_m, _a, out):
                out.retain_grad()
                acts[name] = out

            return hook

        hs = [activation(model, n).register_forward_hook(keep(n)) for n in LAYERS]
        loss = F.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        loss.backward()
        for h in hs:
            h.remove()
        for n, z in acts.items():
            prod = (z * z.grad).mean((2, 3))[0].detach().double()
            taylor[n] += prod.abs() / len(x)
            signed[n] += prod / len(x)
            l2[n] += z.detach()[0].flatten(1).norm(dim=1).double() / len(x)
        model.zero_grad()
    return taylor, l2, signed


def test_taylor_and_l2_match_their_per_example_definitions():
    model, x, y = _setup()
    taylor, l2, signed = _brute_force(model, x, y)
    for name, ref in (("taylor", taylor), ("l2", l2)):
        c = C.make(name)
        c.reset(model)
        c.accumulate(model, x[:4], y[:4])  # accumulates over batches of any size
        c.accumulate(model, x[4:], y[4:])
        got = c.scores(model)
        for n in LAYERS:
            torch.testing.assert_close(got[n], ref[n], rtol=1e-4, atol=1e-9, msg=f"{name} {n}")
    # the signed batch mean (|Σ_m …| instead of Σ_m |…|) is a different criterion, and it is not ours
    diff = max(float((taylor[n] - signed[n].abs()).abs().max()) for n in LAYERS)
    assert diff > 1e-6


def test_criteria_leave_the_model_and_its_gradients_alone():
    model, x, y = _setup()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    c = C.make("combined")
    c.reset(model)
    c.accumulate(model, x, y)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m._forward_hooks for m in model.modules())


def test_combined_is_the_weighted_sum_of_layer_normalised_scores():
    model, x, y = _setup()
    parts = {}
    for name in ("taylor", "l2"):
        c = C.make(name)
        c.reset(model)
        c.accumulate(model, x, y)
        parts[name] = c.scores(model)
    for alpha in (0.0, 0.3, 1.0):
        c = C.make("combined", alpha=alpha)
        c.reset(model)
        c.accumulate(model, x, y)
        got = c.scores(model)
        for n in LAYERS:
            t, l = parts["taylor"][n], parts["l2"][n]
            torch.testing.assert_close(got[n], alpha * t / t.norm() + (1 - alpha) * l / l.norm())
    with pytest.raises(ValueError, match="alpha"):
        C.Combined(1.5)


def test_data_free_baselines():
    model, _, _ = _setup()
    w = C.make("weight-l1").scores(model)
    for n in LAYERS:
        torch.testing.assert_close(w[n], conv(model, n).weight.abs().sum((1, 2, 3)).double())
    r = C.make("random", seed=3)
    r.reset(model, iteration=2)
    a = r.scores(model)
    r2 = C.make("random", seed=3)
    r2.reset(model, iteration=2)
    assert all(torch.equal(a[n], r2.scores(model)[n]) for n in LAYERS)  # reproducible from (seed, iteration)
    r2.reset(model, iteration=3)
    assert not torch.equal(a["conv1"], r2.scores(model)["conv1"])
    with pytest.raises(ValueError, match="unknown criterion"):
        C.make("oracle")
    with pytest.raises(ValueError, match="no batches"):
        c = C.make("l2")
        c.reset(model)
        c.scores(model)


def test_rank_scores_normalises_per_layer_and_applies_the_flops_penalty():
    raw = {"a": torch.tensor([3.0, 4.0], dtype=torch.float64), "b": torch.tensor([30.0, 0.0], dtype=torch.float64)}
    out = C.rank_scores(raw)
    torch.testing.assert_close(out["a"], torch.tensor([0.6, 0.8], dtype=torch.float64))
    torch.testing.assert_close(out["b"], torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert torch.equal(C.rank_scores(raw, normalise=False)["b"], raw["b"])
    pen = C.rank_scores(raw, flops_lambda=0.5, filter_macs={"a": 100.0, "b": 50.0})
    torch.testing.assert_close(pen["a"], out["a"] - 0.5)
    torch.testing.assert_close(pen["b"], out["b"] - 0.25)
    with pytest.raises(ValueError, match="MAC costs"):
        C.rank_scores(raw, flops_lambda=0.1)


def _ddp_worker(rank: int, world: int, init: str, path: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    model, x, y = _setup(n=8)
    c = C.make("taylor")
    c.reset(model)
    half = len(x) // world
    c.accumulate(model, x[rank * half : (rank + 1) * half], y[rank * half : (rank + 1) * half])
    scores = c.scores(model)
    if rank == 0:
        torch.save(scores, path)
    dist.destroy_process_group()


def test_scores_are_summed_across_ddp_ranks(tmp_path):
    import torch.multiprocessing as mp

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this build")
    init = f"file://{tmp_path / 'rendezvous'}"
    path = str(tmp_path / "scores.pt")
    mp.spawn(_ddp_worker, args=(2, init, path), nprocs=2, join=True)
    got = torch.load(path, weights_only=True)
    model, x, y = _setup(n=8)
    c = C.make("taylor")
    c.reset(model)
    c.accumulate(model, x, y)
    ref = c.scores(model)
    for n in LAYERS:
        torch.testing.assert_close(got[n], ref[n], rtol=1e-5, atol=1e-12)


def test_oracle_study_on_digits():
    import numpy as np

    from tests.fixtures_prune import digits_checkpoint
    from training.prune import oracle

    assert oracle.spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert oracle.spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    assert oracle.spearman(np.array([1, 1, 2, 2]), np.array([5, 5, 7, 7])) == pytest.approx(1.0)  # ties averaged
    model, x, y = _setup()
    with torch.no_grad():
        conv(model, "fire5.squeeze").weight[2] = 0
        conv(model, "fire5.squeeze").bias[2] = 0  # a dead filter: removing it costs nothing
    truth = oracle.oracle(model, x, y, [("fire5.squeeze", 2), ("conv1", 0)])
    assert truth[0] == 0.0 and truth[1] > 0.0
    res = oracle.study(str(digits_checkpoint()), per_layer=2, n_eval=60, rank_batches=1)
    assert res["filters"] == 50 and res["best_alpha_global"] in oracle.ALPHAS
    assert {"taylor", "l2", "weight-l1", "random", "combined@0.5"} <= set(res["rows"])
