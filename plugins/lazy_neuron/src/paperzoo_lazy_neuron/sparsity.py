"""The "lazy neuron" measure (Li et al., 2023, Section 2): the fraction of nonzero entries of the MLP
activation map, per layer, over every token of a dataset.

For a layer with activation map ``a`` of width ``d_ff`` at token ``t``, the paper's percentage of
nonzero entries is ``nnz(a_t) / d_ff``; over a dataset it is averaged over the tokens. Since every token
of a layer has the same width, this mean equals the layer's total nonzero count divided by
``tokens * d_ff``, which is what is accumulated here (exact integer counts, batch by batch).

The activation map is read at the tinylm kit's hook ``blocks.<i>.mlp.post`` (the down projection's
input: for a ``mlp`` ffn with ReLU, the post-ReLU activations) through its ``capture``, so any tinylm
model is measured without reaching into its modules.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from paperzoo.data import DataBundle, batches
from paperzoo_tinylm.hooks import capture

DEFAULT_HOOK = "blocks.*.mlp.post"


def count_nonzero(activations: torch.Tensor) -> tuple[int, int]:
    """``(nonzero entries, all entries)`` of an activation map ``[..., width]``."""
    return int(torch.count_nonzero(activations)), activations.numel()


def nonzero_fractions(
    model: torch.nn.Module, inputs: Iterable[torch.Tensor], hook: str = DEFAULT_HOOK
) -> dict[str, float]:
    """Fraction of nonzero activations at each hook matching ``hook``, over every token of ``inputs``
    (an iterable of input-id batches), in forward order."""
    counts: dict[str, list[int]] = {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for x in inputs:
                with capture(model, hook) as got:  # one batch at a time: no history is kept
                    model(x)
                for name, tensor in got.items():
                    nnz, total = count_nonzero(tensor)
                    c = counts.setdefault(name, [0, 0])
                    c[0] += nnz
                    c[1] += total
    finally:
        model.train(was_training)
    return {name: nnz / total for name, (nnz, total) in counts.items()}


class LazyNeuronSparsity:
    """Evaluator: fraction of nonzero MLP activations, per layer and averaged over layers.

    :param layers: how many layers to report one by one (keys ``nonzero_fraction_layer<i>``; 0: only
        the mean over layers). A model with a different number of matching hooks is an error.
    :param hook: tinylm hook name (a glob) of the activation map; default ``blocks.*.mlp.post``.
    :param split: ``val`` or ``train``.
    :param batch_size: sequences per forward pass.
    """

    def __init__(self, layers: int = 0, hook: str = DEFAULT_HOOK, split: str = "val", batch_size: int = 256):
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
            raise ValueError(f"layers: got {layers!r}; accepted: an integer >= 0")
        if split not in ("val", "train"):
            raise ValueError(f"split: got {split!r}; accepted: 'val' or 'train'")
        if batch_size < 1:
            raise ValueError(f"batch_size: got {batch_size!r}; accepted: an integer >= 1")
        self.layers, self.hook, self.split, self.batch_size = layers, hook, split, batch_size
        self.keys = ("nonzero_fraction", *(f"nonzero_fraction_layer{i}" for i in range(layers)))

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        inputs = (x.to(device) for x, _ in batches(getattr(data, self.split), self.batch_size))
        per_hook = list(nonzero_fractions(model, inputs, self.hook).values())
        if self.layers and len(per_hook) != self.layers:
            raise ValueError(
                f"layers: got {self.layers}, but the model has {len(per_hook)} hooks matching {self.hook!r}"
            )
        out = {"nonzero_fraction": sum(per_hook) / len(per_hook)}
        out.update({f"nonzero_fraction_layer{i}": per_hook[i] for i in range(self.layers)})
        return out
