"""Exact properties: the reductions to the supervised loop, the label-free first stage, the step split."""

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_tinylm.training import lm_loss
from torch.utils.data import TensorDataset

from paperzoo_self_pretraining.data import FIRST_SYMBOL, first_last
from paperzoo_self_pretraining.model import SequenceClassifier
from paperzoo_self_pretraining.trainer import SelfPretraining, causal_lm_loss

POISON = 10**6  # an out-of-range class: any loss that reads it raises


def _data(poison: bool = False) -> DataBundle:
    data = first_last(n_train=24, n_val=8, length=12, n_symbols=4, seed=3)
    x, y = data.train.tensors
    if poison:
        data.train = TensorDataset(x, torch.full_like(y, POISON))
    return data


def _params(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _fit(trainer: Supervised, data: DataBundle, seed: int = 0, steps_seen: list | None = None):
    torch.manual_seed(seed)
    model = SequenceClassifier(d_model=16, n_layers=1, n_heads=2, max_seq_len=12)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer.fit(Run(model=model, data=data, optimizer=opt, seed=seed))
    return model, opt


def _trainer(cls=SelfPretraining, **kw):
    return cls(max_steps=kw.pop("max_steps", 4), batch_size=8, device="cpu", progress=False, **kw)


def test_fraction_zero_is_the_supervised_loop_bitwise():
    ours, _ = _fit(_trainer(pretrain_fraction=0.0), _data())
    plain, _ = _fit(_trainer(Supervised), _data())
    a, b = _params(ours), _params(plain)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(
        not torch.equal(
            a[k], _params(SequenceClassifier(d_model=16, n_layers=1, n_heads=2, max_seq_len=12))[k]
        )
        for k in a
    )


@pytest.mark.parametrize("objective", ["causal", "masked"])
def test_pretraining_stage_never_reads_labels(objective):
    clean, _ = _fit(_trainer(pretrain_fraction=1.0, objective=objective), _data())
    poisoned, _ = _fit(_trainer(pretrain_fraction=1.0, objective=objective), _data(poison=True))
    a, b = _params(clean), _params(poisoned)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the pretraining stage moved the backbone but never the classification head
    torch.manual_seed(0)
    init = _params(SequenceClassifier(d_model=16, n_layers=1, n_heads=2, max_seq_len=12))
    assert torch.equal(a["head.weight"], init["head.weight"])
    assert not torch.equal(a["backbone.tok_embed.weight"], init["backbone.tok_embed.weight"])


@pytest.mark.parametrize(
    ("steps", "fraction", "expected"), [(7, 0.5, 3), (4, 0.25, 1), (5, 0.99, 4), (3, 1.0, 3)]
)
def test_stage_split_counts_steps(steps, fraction, expected):
    trainer = _trainer(pretrain_fraction=fraction, max_steps=steps, grad_accum=2)
    calls = []
    original = trainer.pretrain_loss
    trainer.pretrain_loss = lambda model, ids: calls.append(trainer.state.step) or original(model, ids)
    if expected < steps:  # poisoned labels: the first fine-tuning step is the first to read them
        with pytest.raises((IndexError, RuntimeError)):
            _fit(trainer, _data(poison=True))
        assert trainer.state.step == expected
    else:
        _fit(trainer, _data(poison=True))
    assert trainer.pretrain_steps == expected
    assert calls == [s for s in range(expected) for _ in range(2)]  # two micro-batches per step


@pytest.mark.parametrize(("reset", "backbone_steps"), [(True, 2), (False, 5)])
def test_optimizer_reset_at_fine_tuning(reset, backbone_steps):
    trainer = _trainer(pretrain_fraction=0.6, max_steps=5, reset_optimizer=reset)
    model, opt = _fit(trainer, _data())
    steps = {name: float(opt.state[p]["step"]) for name, p in model.named_parameters()}
    # the head has no gradient while pretraining, so Adam counts only its 2 fine-tuning steps either way
    assert steps.pop("head.weight") == steps.pop("head.bias") == 2.0
    assert set(steps.values()) == {float(backbone_steps)}


def test_causal_loss_is_the_kits_lm_loss():
    model = SequenceClassifier(d_model=16, n_layers=1, n_heads=2, max_seq_len=12)
    ids = torch.randint(FIRST_SYMBOL, FIRST_SYMBOL + 4, (3, 12))
    assert torch.equal(causal_lm_loss(model.lm_logits(ids), ids), lm_loss(model.backbone, ids))


def test_first_last_labels():
    data = first_last(n_train=200, n_val=10, length=9, n_symbols=3, seed=1)
    x, y = data.train.tensors
    assert torch.equal(y, (x[:, 0] == x[:, -1]).long())
    assert 60 < int(y.sum()) < 140
    assert int(x.min()) >= FIRST_SYMBOL and int(x.max()) < FIRST_SYMBOL + 3


@pytest.mark.parametrize(
    ("param", "kw"),
    [
        ("pretrain_fraction", {"pretrain_fraction": 1.5}),
        ("pretrain_fraction", {"pretrain_fraction": True}),
        ("objective", {"objective": "span"}),
        ("mask_rate", {"mask_rate": 0.0}),
        ("reset_optimizer", {"reset_optimizer": "yes"}),
    ],
)
def test_bad_params(param, kw):
    with pytest.raises(ParamError, match=param):
        SelfPretraining(**kw)


def test_model_without_lm_head_is_refused():
    model = torch.nn.Sequential(torch.nn.Embedding(400, 4), torch.nn.Flatten(), torch.nn.Linear(48, 2))
    trainer = _trainer(pretrain_fraction=0.5)
    with pytest.raises(ValueError, match="lm_logits"):
        trainer.fit(Run(model=model, data=_data(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
