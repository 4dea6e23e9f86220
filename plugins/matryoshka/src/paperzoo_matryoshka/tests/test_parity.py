"""Parity: (1) sentence-transformers' ``MatryoshkaLoss`` against the nested-prefix loss of the
``nested`` kit wrapping the same inner loss, on identical embeddings; (2) golden outputs of the
official ``MRL_Linear_Layer`` and ``Matryoshka_CE_Loss`` (RAIVNLab/MRL, see ``data/*.json``)."""

from __future__ import annotations

import warnings
from importlib.resources import files

import pytest
import torch
from paperzoo_nested.loss import nested_prefix_loss
from safetensors.torch import load_file
from torch import nn

from paperzoo_matryoshka.head import MatryoshkaHead
from paperzoo_matryoshka.loss import matryoshka_ce_loss

DIMS = [64, 32, 16, 8]  # sentence-transformers expects them largest first
WEIGHTS = [1.0, 0.5, 2.0, 0.25]


def _st_losses():
    from paperzoo.compat import import_transformers

    import_transformers()  # transformers imports torchvision when present: make that import work first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers.sentence_transformer import losses
    return losses


class _FixedEmbeddings(nn.Module):
    """Stands in for a SentenceTransformer: the "features" already hold the embedding."""

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"sentence_embedding": features["embedding"]}

    def get_embedding_dimension(self) -> int:
        return 64


@pytest.mark.parametrize("inner", ["CoSENTLoss", "MultipleNegativesRankingLoss"])
def test_sentence_transformers_matryoshka_loss(inner, record_property):
    losses = _st_losses()
    g = torch.Generator().manual_seed(0)
    a = torch.randn(12, 64, generator=g, dtype=torch.float64)
    b = a + 0.8 * torch.randn(12, 64, generator=g, dtype=torch.float64)
    labels = torch.rand(12, generator=g, dtype=torch.float64)
    model = _FixedEmbeddings()
    inner_loss = getattr(losses, inner)(model)
    theirs = losses.MatryoshkaLoss(model, inner_loss, matryoshka_dims=DIMS, matryoshka_weights=WEIGHTS)
    a_ref, b_ref = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ref = theirs([{"embedding": a_ref}, {"embedding": b_ref}], labels)
    ref.backward()

    def per_prefix(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return inner_loss.compute_loss_from_embeddings([u, v], labels)

    a_our, b_our = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ours = nested_prefix_loss(per_prefix, (a_our, b_our), DIMS[::-1], WEIGHTS[::-1], normalize=True)
    ours.backward()
    ref_v = float(ref.detach())
    err = abs(float(ours.detach()) - ref_v) / abs(ref_v)
    gerr = max(float((a_our.grad - a_ref.grad).abs().max()), float((b_our.grad - b_ref.grad).abs().max()))
    record_property(f"st_{inner}_rel_diff_float64", err)
    record_property(f"st_{inner}_grad_max_abs_diff_float64", gerr)
    # float64; they normalise the already normalised larger prefix again, we normalise the prefix of z
    # once, and sum the dims in the other order: rounding only.
    assert err < 1e-14, err
    assert gerr < 1e-12, gerr
    # the check can fail: unit weights, or the full embedding alone, are far off
    assert abs(float(nested_prefix_loss(per_prefix, (a, b), DIMS[::-1], normalize=True)) - ref_v) > 1e-3
    assert abs(float(nested_prefix_loss(per_prefix, (a, b), [64], normalize=True)) - ref_v) > 1e-3


def _golden() -> dict[str, torch.Tensor]:
    return load_file(str(files("paperzoo_matryoshka.tests") / "data" / "mrl_head_golden.safetensors"))


@pytest.mark.parametrize("efficient", [True, False])
def test_official_mrl_head_golden(efficient, record_property):
    gold, tag = _golden(), "mrle" if efficient else "mrl"
    head = MatryoshkaHead(64, 10, dims=[8, 16, 32, 64], efficient=efficient)
    state = {}
    for k, v in gold.items():
        if k.startswith(f"{tag}.nesting_classifier_"):
            index, param = k[len(f"{tag}.nesting_classifier_") :].split(".")
            state[f"classifier.{param}" if efficient else f"classifiers.{index}.{param}"] = v
    head.load_state_dict(state)
    x, y = gold["x"], gold["y"]
    with torch.no_grad():
        logit_err = max(
            float((head.logits_at(x, m) - gold[f"{tag}.logits_{m}"]).abs().max()) for m in head.dims
        )
        loss = matryoshka_ce_loss(head, x, y)
        weighted = matryoshka_ce_loss(head, x, y, weights=[0.5, 1.0, 2.0, 4.0])
    loss_err = max(
        abs(float(loss) - float(gold[f"{tag}.loss"])),
        abs(float(weighted) - float(gold[f"{tag}.loss_weighted"])),
    )
    record_property(f"official_{tag}_logits_max_abs_diff_float32", logit_err)
    record_property(f"official_{tag}_loss_abs_diff_float32", loss_err)
    # float32 (the official dtype): their MRL-E is matmul(x, W^T) + b, ours addmm: about one ulp of the logits
    assert logit_err < 1e-6, logit_err
    assert loss_err < 1e-6, loss_err
