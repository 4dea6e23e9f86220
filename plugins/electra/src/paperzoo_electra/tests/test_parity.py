"""Parity with transformers' ELECTRA (``ElectraForPreTraining``, ``ElectraForMaskedLM``) given the same
weights and inputs, in float64: the discriminator's logits and loss, and the generator's MLM logits."""

from __future__ import annotations

import torch

from paperzoo_electra.model import discriminator_loss
from paperzoo_electra.tests.helpers import tiny_pair


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(256, (3, 20), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 14:], mask[2, 9:] = 0, 0  # right padding
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, 256))
    labels = torch.randint(2, ids.shape, generator=g) * mask
    return ids, mask, labels


def test_discriminator_logits_and_loss_match_transformers(record_property):
    ours, disc, _ = tiny_pair()
    ids, mask, labels = _batch()
    with torch.no_grad():
        ref = disc(input_ids=ids, attention_mask=mask, labels=labels)
        logits = ours.discriminate(ids, mask)
        loss = discriminator_loss(logits, labels, mask)
    real = mask.bool()  # a padding query differs by design (tinylm lets it see itself); no loss there
    err = float((logits[real] - ref.logits[real]).abs().max())
    loss_err = abs(float(loss) - float(ref.loss))
    record_property("disc_logits_max_abs_diff_float64", err)
    # the reference casts its labels with .float(), which makes its loss float32: a 6e-8 floor; its own
    # formula (BCEWithLogitsLoss over attention_mask == 1) on its float64 logits is held to 1e-15
    exact = torch.nn.BCEWithLogitsLoss()(ref.logits[real], labels[real].double())
    record_property("disc_loss_abs_diff_float64", abs(float(loss) - float(exact)))
    assert err < 1e-12 and loss_err < 1e-7 and abs(float(loss) - float(exact)) < 1e-15
    assert float(ref.loss) > 0.1  # a real loss was compared


def test_generator_logits_match_transformers(record_property):
    ours, _, gen = tiny_pair(seed=1)
    ids, mask, _ = _batch(1)
    with torch.no_grad():
        ref = gen(input_ids=ids, attention_mask=mask).logits
        got = ours.generator(ids, attention_mask=mask).logits
    real = mask.bool()
    err = float((got[real] - ref[real]).abs().max())
    record_property("generator_logits_max_abs_diff_float64", err)
    assert err < 1e-12
