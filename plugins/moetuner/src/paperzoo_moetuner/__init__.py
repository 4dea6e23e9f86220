"""MoETuner: Optimized Mixture of Expert Serving with Balanced Expert Placement and Token Routing (Go and
Mahajan, 2025), arXiv:2502.06643. Registration only: nothing heavy is imported here.

``moe_routing_trace`` counts a tinylm MoE's routing (tokens per expert per block, transitions between
consecutive blocks); ``ilp_expert_placement`` places the experts on devices by an integer linear program
balancing device load and inter-device transfers, beside round-robin and greedy placements.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="MoETuner: Optimized Mixture of Expert Serving with Balanced Expert Placement and Token Routing",
    year=2025,
    arxiv="2502.06643",
)

_TINY_MOE = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 20000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 3, "n_heads": 2, "max_seq_len": 32,
              "ffn": "moe", "n_experts": 4, "moe_top_k": 2, "d_ff": 16},
}  # fmt: skip


@hookimpl
def register_evaluators(register):
    register(
        "moe_routing_trace",
        "paperzoo_moetuner.evaluate:MoERoutingTrace",
        "Routing trace of a tinylm MoE: tokens per expert per block, transition counts between consecutive "
        "blocks' experts, expert imbalance and the mutual information of consecutive blocks' routing.",
        paper=PAPER,
        tags=("metric", "moe", "routing", "serving"),
        example={"batch_size": 4, "n_batches": 2},
        example_config=_TINY_MOE,
    )
    register(
        "ilp_expert_placement",
        "paperzoo_moetuner.evaluate:ILPExpertPlacement",
        "MoETuner's expert placement: an ILP (scipy milp, HiGHS) putting each block's experts on G devices "
        "to minimise the largest device loads plus inter-device transfers between blocks; vs round-robin "
        "and greedy placements.",
        paper=PAPER,
        tags=("metric", "moe", "placement", "serving", "ilp"),
        example={"n_devices": 2, "batch_size": 4, "n_batches": 2},
        example_config=_TINY_MOE,
    )
