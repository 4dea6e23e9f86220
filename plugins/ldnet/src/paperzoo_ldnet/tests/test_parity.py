"""Parity: the official code (Lu-Yang666/LDNet) could not be obtained here, so there are no golden outputs
of it. Instead the vectorised pieces are checked against direct, loop-by-loop transcriptions of the
method's definition (independent code paths; exact for integers, float64 for the head)."""

from __future__ import annotations

import torch
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import IGNORE

from paperzoo_ldnet.drop import LabelDrop
from paperzoo_ldnet.heads import MultiAspectRelationHead
from paperzoo_ldnet.relations import NULL, relation_task


def loop_drop(ids, targets, u, p):
    """Label drop row by row with the same uniform draws ``u``: delete negative labels with u < p."""
    out_ids, out_t = [], []
    for row, trow, urow in zip(ids.tolist(), targets.tolist(), u.tolist()):
        keep = [not (184 <= tok < 256 and tt[0] == NULL and uu < p) for tok, tt, uu in zip(row, trow, urow)]
        new_pos = {old: new for new, old in enumerate(i for i, k in enumerate(keep) if k)}
        ids_k = [tok for tok, k in zip(row, keep) if k]
        t_k = [[new_pos[v] if v >= 0 else v for v in tt] for tt, k in zip(trow, keep) if k]
        pad = len(row) - len(ids_k)
        out_ids.append(ids_k + [PAD] * pad)
        out_t.append(t_k + [[IGNORE, IGNORE]] * pad)
    return torch.tensor(out_ids), torch.tensor(out_t)


def test_label_drop_matches_loop_transcription(record_property):
    x, y = relation_task(n_train=128, n_val=1, seed=3).train.tensors
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
    out = LabelDrop(0.6)(x, y, torch.Generator().manual_seed(5))
    ids, t = loop_drop(x, y, u, 0.6)
    mismatches = int((out.inputs != ids).sum() + (out.targets != t).sum())
    record_property("label_drop_mismatched_ids", mismatches)
    assert mismatches == 0


def test_label_drop_remaps_pointers_after_removed_tokens():
    ids = torch.tensor([[257, 190, 191, 10, 130, 11, 258, PAD]])  # labels before the sentence
    targets = torch.full((1, 8, 2), IGNORE)
    targets[0, 1] = torch.tensor([NULL, NULL])  # negative label
    targets[0, 2] = torch.tensor([3, 5])  # gold label
    out = LabelDrop(1.0)(ids, targets)
    assert out.inputs.tolist() == [[257, 191, 10, 130, 11, 258, PAD, PAD]]
    assert out.targets[0, 1].tolist() == [2, 4]  # the same tokens (10, 11) at their new positions


def loop_head(head, h, rel):
    """Scores one query at a time with its level's matrices (float64)."""
    b, t, _ = h.shape
    out = torch.empty(b, t, 2, t, dtype=h.dtype)
    for i in range(b):
        for q in range(t):
            lvl = int(head.levels[rel[i, q]]) if rel[i, q] >= 0 else 0
            w, bias = head.proj[lvl], head.bias[lvl]
            query = h[i, q] @ w[0] + bias[0]
            for k in (0, 1):
                out[i, q, k] = (h[i] @ w[k + 1] + bias[k + 1]) @ query / head.d_head**0.5
    return out


def test_head_matches_loop_transcription(record_property):
    torch.manual_seed(0)
    head = MultiAspectRelationHead(6, n_levels=3, n_relations=5, levels=[2, 0, 1, 1, 2]).double()
    with torch.no_grad():
        head.bias.normal_()
    h = torch.randn(3, 7, 6, dtype=torch.float64)
    rel = torch.randint(-1, 5, (3, 7), generator=torch.Generator().manual_seed(1))
    err = (head(h, rel) - loop_head(head, h, rel)).abs().max().item()
    record_property("head_max_abs_diff_float64", err)
    assert err < 1e-12
