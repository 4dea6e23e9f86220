"""AdamP and SGDP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant Weights
(Heo, Chun, Oh, Han, Yun, Kim, Uh, Ha; ICLR 2021), arXiv:2006.08217.

Registration only: the implementation is imported when an optimizer is built.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant Weights",
    year=2021,
    arxiv="2006.08217",
)


@hookimpl
def register_optimizers(register):
    register(
        "adamp",
        "paperzoo_adamp.adamp:AdamP",
        "Adam that removes the radial component of the update of scale-invariant weights.",
        paper=PAPER,
        tags=("adaptive", "scale_invariance", "projection"),
        example={"lr": 1e-2},
    )
    register(
        "sgdp",
        "paperzoo_adamp.sgdp:SGDP",
        "SGD with momentum that removes the radial component of the update of scale-invariant weights.",
        paper=PAPER,
        tags=("momentum", "scale_invariance", "projection"),
        example={"lr": 0.1, "momentum": 0.9},
    )
