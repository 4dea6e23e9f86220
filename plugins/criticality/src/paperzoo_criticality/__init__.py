"""The Principles of Deep Learning Theory (Roberts, Yaida and Hanin, 2021), arXiv:2106.10165: the
infinite-width kernel recursion, the criticality conditions and an evaluator that checks them on real
random MLPs. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="The Principles of Deep Learning Theory", year=2021, arxiv="2106.10165")


@hookimpl
def register_evaluators(register):
    register(
        "kernel_recursion_criticality",
        "paperzoo_criticality.evaluate:KernelRecursionCriticality",
        "Infinite-width kernel recursion K(l+1) = C_b + C_W <sigma(z)^2>_K(l) beside the preactivation "
        "variance measured layer by layer in random MLPs initialised with (C_b, C_W); susceptibilities "
        "chi_parallel and chi_perp (criticality: both 1).",
        paper=PAPER,
        tags=("metric", "initialization", "theory"),
        example={"activation": "relu", "c_b": 0.0, "c_w": 2.0, "width": 32, "depth": 4, "networks": 2},
    )
