"""TIES-Merging: merge time and peak memory of paperzoo_ties_merging against PEFT's merge utilities.

Three task vectors of a ~10M-parameter transformer-shaped state dict, merged with k (density) = 0.2.
PEFT merges one tensor at a time (``peft.utils.merge_utils.ties`` per weight), which is our
``scope="tensor"``; ``scope="model"`` is the paper's trim over the whole flattened task vector. The
last pair adds per-task weights and the ``frequency`` sign election on both sides. Measured on one
CPU thread with ``paperzoo.bench``: time is ``best_time`` (the best of ``--repeats`` merges after a
warm-up, process CPU time); memory is ``peak_memory`` of one merge (the peak of tensor memory it
allocates, the merged output included, the inputs built before it not).

Run: ``registry bench ties_merging [--width 384 --layers 5 --vocab 3000 --repeats 3]`` (or
``python -m paperzoo_ties_merging.bench``). Needs peft, which only the plugin's ``test`` extra
installs; its ``merge_utils`` module is loaded inside ``main()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch
from paperzoo.bench import best_time, peak_memory

DENSITY, N_TASKS = 0.2, 3
WEIGHTS = [0.5, 1.0, 1.5]
TaskVector = dict[str, torch.Tensor]


def peft_merge_utils() -> ModuleType:
    """``peft/utils/merge_utils.py`` on its own (pure torch; importing ``peft`` pulls in transformers)."""
    spec = importlib.util.find_spec("peft")
    if spec is None:
        raise SystemExit("the benchmark compares against peft: install paperzoo-ties_merging[test]")
    path = Path(spec.submodule_search_locations[0]) / "utils" / "merge_utils.py"
    module_spec = importlib.util.spec_from_file_location("peft_merge_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def task_vectors(d: int = 384, layers: int = 5, vocab: int = 3000, seed: int = 0) -> list[TaskVector]:
    """Shapes of a transformer (default: 5 layers, width 384, a 3,000-token embedding: ~10.0M
    parameters)."""
    shapes = {"embed": (vocab, d), "final_norm.weight": (d,), "final_norm.bias": (d,)}
    for i in range(layers):
        for name in ("q", "k", "v", "o"):
            shapes[f"{i}.attn.{name}.weight"] = (d, d)
            shapes[f"{i}.attn.{name}.bias"] = (d,)
        shapes[f"{i}.mlp.up.weight"], shapes[f"{i}.mlp.up.bias"] = (4 * d, d), (4 * d,)
        shapes[f"{i}.mlp.down.weight"], shapes[f"{i}.mlp.down.bias"] = (d, 4 * d), (d,)
        shapes[f"{i}.norm1.weight"], shapes[f"{i}.norm2.weight"] = (d,), (d,)
    g = torch.Generator().manual_seed(seed)
    return [
        {n: torch.empty(s).normal_(0.0, 1e-3, generator=g) for n, s in shapes.items()} for _ in range(N_TASKS)
    ]


def methods() -> dict[str, Callable[[list[TaskVector]], object]]:
    from paperzoo_ties_merging.merge import task_arithmetic, ties_merge

    peft = peft_merge_utils()
    ones, weights = torch.ones(N_TASKS), torch.tensor(WEIGHTS)
    return {
        "peft_ties": lambda tvs: {n: peft.ties([tv[n] for tv in tvs], ones, DENSITY) for n in tvs[0]},
        "ours_ties_tensor": lambda tvs: ties_merge(tvs, k=DENSITY, scope="tensor"),
        "ours_ties_model": lambda tvs: ties_merge(tvs, k=DENSITY, scope="model"),
        "peft_ties_weighted_freq": lambda tvs: {
            n: peft.ties([tv[n] for tv in tvs], weights, DENSITY, majority_sign_method="frequency")
            for n in tvs[0]
        },
        "ours_ties_weighted_freq": lambda tvs: ties_merge(
            tvs, k=DENSITY, scope="tensor", weights=WEIGHTS, majority_sign_method="frequency"
        ),
        "peft_task_arithmetic": lambda tvs: {
            n: peft.task_arithmetic([tv[n] for tv in tvs], ones) for n in tvs[0]
        },
        "ours_task_arithmetic": lambda tvs: task_arithmetic(tvs, lam=1.0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=384, help="model width d")
    parser.add_argument("--layers", type=int, default=5, help="transformer layers")
    parser.add_argument("--vocab", type=int, default=3000, help="embedding rows")
    parser.add_argument("--repeats", type=int, default=3, help="timed merges (the best is kept)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device("cpu")
    tvs = task_vectors(args.width, args.layers, args.vocab)
    n_params = sum(v.numel() for v in tvs[0].values())
    print(
        f"{N_TASKS} task vectors of {n_params / 1e6:.1f}M parameters ({len(tvs[0])} tensors), k = {DENSITY}"
    )
    seconds, memory = {}, {}
    for name, fn in methods().items():
        seconds[name] = best_time(lambda f=fn: f(tvs), device, args.repeats)
        memory[name] = peak_memory(lambda f=fn: f(tvs), device) / 2**20
        print(f"  {name:24s} {seconds[name] * 1e3:8.1f} ms   peak +{memory[name]:7.1f} MiB")
    pairs = [
        ("ours_ties_tensor", "peft_ties"),
        ("ours_ties_model", "peft_ties"),
        ("ours_ties_weighted_freq", "peft_ties_weighted_freq"),
        ("ours_task_arithmetic", "peft_task_arithmetic"),
    ]
    ratios = {
        f"{a} / {b}": {"time": seconds[a] / seconds[b], "peak_memory": memory[a] / memory[b]}
        for a, b in pairs
    }
    for key, r in ratios.items():
        print(f"{key:50s} time x{r['time']:.2f}   peak memory x{r['peak_memory']:.2f}")
    print(json.dumps({"input_mib": n_params * 4 * N_TASKS / 2**20, "ratios": ratios}))


if __name__ == "__main__":
    main()
