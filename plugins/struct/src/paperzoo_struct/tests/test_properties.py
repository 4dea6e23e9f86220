"""Exact properties of the struct kit: packed inputs, padding, the generator, the metrics."""

import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_struct.data import generate, planted_ctr
from paperzoo_struct.fields import FieldEmbedding, SumPoolingMLP, click_logit, split_packed, two_class_logits
from paperzoo_struct.metrics import auc, group_auc, logloss


def test_padding_embeds_to_zero_and_is_masked():
    emb = FieldEmbedding([3, 7, 2], 4, sequence_field=1)
    x = torch.tensor([[1, 2, 1, 5, 3, 0, 0]])
    fields, beh, mask = emb(x)
    assert fields.shape == (1, 3, 4) and beh.shape == (1, 4, 4)
    assert mask.tolist() == [[True, True, False, False]]
    assert torch.equal(beh[0, 2:], torch.zeros(2, 4))
    assert torch.equal(beh[0, 0], emb.tables[1].weight[5])  # behaviours share the item table


def test_sum_pooling_ignores_padding_and_behaviour_order():
    torch.manual_seed(0)
    model = SumPoolingMLP([3, 7, 2], 4, hidden=[5]).eval()
    a = torch.tensor([[1, 2, 1, 5, 3, 6, 0, 0]])
    b = torch.tensor([[1, 2, 1, 6, 5, 3, 0, 0]])
    assert torch.allclose(model(a), model(b), atol=1e-6)
    assert model(a)[0, 0] == 0  # class-0 logit is the fixed zero


def test_two_class_logits_cross_entropy_is_binary_log_loss():
    z, y = torch.randn(10, dtype=torch.float64), torch.randint(2, (10,))
    ce = torch.nn.functional.cross_entropy(two_class_logits(z), y)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y.double())
    assert torch.allclose(ce, bce, atol=1e-12)
    assert torch.equal(click_logit(two_class_logits(z)), z)


def test_split_packed_rejects_short_rows():
    with pytest.raises(ValueError):
        split_packed(torch.zeros(2, 2, dtype=torch.long), 3)


def test_auc_closed_forms():
    y = torch.tensor([0, 0, 1, 1])
    assert auc(torch.tensor([0.1, 0.2, 0.3, 0.4]), y) == 1.0
    assert auc(torch.tensor([0.4, 0.3, 0.2, 0.1]), y) == 0.0
    assert auc(torch.ones(4), y) == 0.5  # all tied
    assert auc(torch.tensor([0.1, 0.3, 0.2, 0.4]), y) == 0.75  # one of four pairs inverted
    with pytest.raises(ValueError):
        auc(torch.ones(3), torch.ones(3))


def test_group_auc_weights_groups_by_impressions_and_skips_one_class_groups():
    s = torch.tensor([0.1, 0.9, 0.8, 0.2, 0.3, 0.5, 0.4])
    y = torch.tensor([0, 1, 0, 1, 1, 0, 1])
    g = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    # group 0: AUC 1 (2 impressions); group 1: positives 0.2, 0.3 below the negative 0.8: AUC 0 (3);
    # group 2: positive 0.4 below negative 0.5: AUC 0 (2)
    assert group_auc(s, y, g) == pytest.approx(2 / 7, abs=1e-12)
    g2 = torch.tensor([0, 0, 1, 1, 1, 3, 3])
    y2 = torch.tensor([0, 1, 0, 1, 1, 1, 1])  # group 3 has one class: skipped
    assert group_auc(s, y2, g2) == pytest.approx(2 / 5, abs=1e-12)


def test_logloss_of_zero_logit_is_log2():
    assert logloss(torch.zeros(5), torch.tensor([0, 1, 1, 0, 1])) == pytest.approx(0.6931471805599453)


def test_generator_plants_a_learnable_signal_and_pads_at_the_end():
    d = generate(n_samples=2000, seed=0)
    beh = d.x[:, 3:]
    valid = beh != 0
    assert torch.equal(valid, valid.cummin(dim=1).values)  # padding only after the real behaviours
    assert valid[:, :2].all()  # min_len = 2
    assert (d.x[:, :3] >= 1).all() and (d.x[:, 1] <= 400).all()
    assert auc(d.p, d.y) > 0.8  # the true probability ranks clicks well above chance


def test_planted_ctr_is_deterministic_and_validates():
    a, b = planted_ctr(n_samples=100, seed=3), planted_ctr(n_samples=100, seed=3)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert a.num_classes == 2 and a.input_shape == (15,)
    with pytest.raises(ParamError):
        planted_ctr(n_items=5, n_categories=10)
    with pytest.raises(ParamError):
        planted_ctr(min_len=5, max_len=3)
