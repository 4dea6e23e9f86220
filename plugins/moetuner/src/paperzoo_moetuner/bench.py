"""MoETuner's placement ILPs: solve time against problem size, and the routing-trace collection overhead.

Part 1: on synthetic traces (4 blocks; loads and transitions with a planted block-to-block dependency),
the wall time of the sequential ILP (one small ILP per block) and of the joint ILP (one ILP over all
blocks, stopped at ``--time-limit`` seconds), experts 8/16/32 on 2/4 devices, with the cost of each
placement as a ratio to round-robin's. Part 2: one forward pass of a tinylm MoE decoder with the trace
counting (``collect_traces``) against the plain forward pass: time and peak memory ratios.

Run: ``registry bench moetuner [--threads 2] [--rounds 20] [--time-limit 10]`` (or ``python -m
paperzoo_moetuner.bench``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_moetuner.placement import placement_cost, round_robin, solve_ilp, solve_sequential
from paperzoo_moetuner.traces import collect_traces


def synthetic(n_layers: int, n_experts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Loads and transitions of ``n_experts`` experts whose tokens mostly move to a preferred expert."""
    rng = np.random.default_rng(seed)
    trans = rng.integers(0, 20, (n_layers - 1, n_experts, n_experts))
    for b in range(n_layers - 1):
        trans[b, np.arange(n_experts), rng.permutation(n_experts)] += 200
    loads = np.concatenate([trans.sum(2), trans[-1:].sum(1)]) // 2
    return loads, trans


def _solve_times(time_limit: float) -> None:
    print(
        f"{'experts':>7} {'devices':>7} {'method':>10} {'seconds':>8} {'optimal':>7} {'cost / round-robin':>18}"
    )
    for n_experts in (8, 16, 32):
        for n_devices in (2, 4):
            loads, trans = synthetic(4, n_experts)
            base = placement_cost(round_robin(4, n_experts, n_devices), loads, trans, n_devices).cost
            for name, solve in (("sequential", solve_sequential), ("joint", solve_ilp)):
                kwargs = {"time_limit": time_limit} if name == "joint" else {}
                start = time.perf_counter()
                res = solve(loads, trans, n_devices, **kwargs)
                secs = time.perf_counter() - start
                print(f"{n_experts:>7} {n_devices:>7} {name:>10} {secs:8.3f} {res.optimal!s:>7} "
                      f"{res.objective / base:18.3f}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print solve times and the trace overhead."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds for the joint ILP")
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        "ILP wall time per placement (HiGHS); trace overhead: median of interleaved rounds, ratios are "
        "forward + trace counting / plain forward",
    )
    _solve_times(args.time_limit)
    print(compare_header(f"{'d_model, E, (B, T)':>22}", "work", (22, 8)))
    for d_model, n_experts, (b, t) in ((32, 8, (16, 32)), (128, 16, (8, 128))):
        model = TinyLMDecoder(d_model=d_model, n_layers=4, n_heads=4, max_seq_len=t, ffn="moe",
                              n_experts=n_experts, moe_top_k=2).to(device).eval()  # fmt: skip
        ids = torch.randint(363, (b, t), device=device)

        def plain(model=model, ids=ids) -> None:
            with torch.no_grad():
                model(ids)

        works = {"forward": plain, "traced": lambda model=model, ids=ids: collect_traces(model, [ids])}
        label = f"{d_model}, {n_experts}, {(b, t)}"
        compare(works, "forward", device, args.rounds, warmup=2, label=label, widths=(22, 8))


if __name__ == "__main__":
    main()
