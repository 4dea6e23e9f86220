"""nested: pieces shared by methods that train or read nested prefixes of one representation or one
weight (Matryoshka embeddings, elastic widths): a weighted loss over prefix dims, slicing views that
share the parent's storage, and a metric evaluated at each truncation dim.

Registration only: nothing heavy is imported here.
"""

from paperzoo import hookimpl


@hookimpl
def register_layers(register):
    register(
        "nested_prefix_linear",
        "paperzoo_nested.views:PrefixLinear",
        "A linear layer usable at any input prefix width and a settable output prefix width, through "
        "views of one weight (no copies).",
        tags=("elastic", "nested", "linear"),
        example={"in_features": 8, "out_features": 6},
        example_input=[4, 8],
    )
