"""Layerwise Recurrent Router for Mixture-of-Experts (Qiu et al., 2024), arXiv:2408.06793. Registration
only: nothing heavy is imported here.

``recurrent_router_moe`` is a router for tinylm's ``moe`` ffn (``ffn_params: {router:
recurrent_router_moe, router_params: {...}}``): a GRU cell shared by the blocks carries the routing state
from block to block (``paperzoo_rmoe.router``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Layerwise Recurrent Router for Mixture-of-Experts", year=2024, arxiv="2408.06793")


@hookimpl
def register_layers(register):
    register(
        "recurrent_router_moe",
        "paperzoo_rmoe.router:RecurrentRouter",
        "RMoE's MoE router: logits = W GRU(proj(x_l), h_{l-1}), a GRU state shared along the blocks; "
        "a router for tinylm's moe ffn (ffn_params.router).",
        paper=PAPER,
        tags=("moe", "router", "recurrent"),
        example={"d_model": 16, "n_experts": 4, "hidden_size": 8},
        example_input=[6, 16],
    )
