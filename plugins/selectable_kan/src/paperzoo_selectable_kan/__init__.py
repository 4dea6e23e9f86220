"""Activation Space Selectable Kolmogorov-Arnold Networks (Yang, Zhang, Luo, Lu and Shen, 2024),
arXiv:2408.08338. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Activation Space Selectable Kolmogorov-Arnold Networks", year=2024, arxiv="2408.08338")


@hookimpl
def register_layers(register):
    register(
        "s_kan_linear",
        "paperzoo_selectable_kan.layer:SKANLinear",
        "Selectable KAN layer: every output node mixes B-spline, RBF, Chebyshev and Fourier KAN edge "
        "functions by softmax selection weights (select_() keeps each node's best space); replaces a Linear.",
        paper=PAPER,
        tags=("kan", "linear"),
        example={"grid_size": 3, "rbf_centers": 4, "chebyshev_degree": 3, "fourier_frequencies": 2},
        example_input=[2, 3, 8],
        example_base={"type": "Linear", "args": [8, 16]},
    )
    register(
        "s_convkan",
        "paperzoo_selectable_kan.layer:SConvKAN",
        "Selectable convolutional KAN: one S-KAN layer applied to every unfolded image patch (conv output "
        "shapes); replaces a Conv2d.",
        paper=PAPER,
        tags=("kan", "conv"),
        example={"grid_size": 3, "rbf_centers": 4, "chebyshev_degree": 3, "fourier_frequencies": 2},
        example_input=[2, 3, 8, 8],
        example_base={"type": "Conv2d", "args": [3, 4, 3]},
    )
