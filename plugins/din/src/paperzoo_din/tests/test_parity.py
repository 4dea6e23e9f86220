"""Output parity with deepctr-torch 0.3.0's DIN pieces after copying weights (float64).

Scope: ``Dice`` (deepctr's batch norm has an affine scale/shift that stays at its identity initialisation; the
paper's Dice has none), the local activation unit with Dice (deepctr's activation-unit input is
``[q, k, q - k, q * k]``, ours ``[k, q, k - q, k * q]``: the first layer's column blocks are permuted and the
difference block negated when copying), and the whole model with a ReLU MLP (deepctr's DIN cannot run Dice in
its MLP: its DNN builds 3-D Dice for 2-D inputs). deepctr's Dice statistics in the activation unit include
padded positions, ours exclude them: training-mode parity is checked on full-length sequences, eval-mode
parity (running statistics) with padding.
"""

import requests
import torch

requests.get = lambda *a, **k: (_ for _ in ()).throw(requests.ConnectionError("offline"))  # its version check
from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat  # noqa: E402
from deepctr_torch.layers.activation import Dice  # noqa: E402
from deepctr_torch.layers.sequence import AttentionSequencePoolingLayer  # noqa: E402
from deepctr_torch.models import DIN  # noqa: E402

from paperzoo_din.attention import DinActivationUnit  # noqa: E402
from paperzoo_din.dice import DinDice  # noqa: E402
from paperzoo_din.model import DinModel  # noqa: E402

E = 4


def _copy_unit(ours: DinActivationUnit, theirs) -> None:
    """deepctr's LocalActivationUnit weights into ours (first layer's input blocks remapped)."""
    with torch.no_grad():
        w = theirs.local_att.dnn.linears[0].weight
        q, k, diff, prod = w.split(E, dim=1)
        ours.mlp.linears[0].weight.copy_(torch.cat([k, q, -diff, prod], dim=1))
        ours.mlp.linears[0].bias.copy_(theirs.local_att.dnn.linears[0].bias)
        for i in range(1, len(ours.mlp.linears)):
            ours.mlp.linears[i].load_state_dict(theirs.local_att.dnn.linears[i].state_dict())
        for act, their_act in zip(ours.mlp.acts, theirs.local_att.dnn.activation_layers):
            act.alpha.copy_(their_act.alpha.flatten())
        ours.score.load_state_dict(theirs.local_att.dense.state_dict())


def _perturb(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bn" not in name:  # deepctr's Dice batch-norm affine stays at identity (scope above)
                p.copy_(0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def test_dice_matches_deepctr_train_and_eval(record_property):
    torch.manual_seed(0)
    theirs = Dice(6, dim=2).double()
    ours = DinDice(6).double()
    with torch.no_grad():
        theirs.alpha.copy_(torch.randn(6))
        ours.alpha.copy_(theirs.alpha)
    err = 0.0
    for _ in range(3):  # running statistics accumulate alike
        x = 2 * torch.randn(16, 6, dtype=torch.float64) + 1
        err = max(err, (ours(x) - theirs(x)).abs().max().item())
    ours.eval(), theirs.eval()
    x = torch.randn(16, 6, dtype=torch.float64)
    err = max(err, (ours(x) - theirs(x)).abs().max().item())
    assert torch.allclose(ours.running_var, theirs.bn.running_var, atol=1e-12)
    record_property("dice_max_abs_diff_float64", err)
    assert err < 1e-12


def test_activation_unit_matches_deepctr(record_property):
    torch.manual_seed(0)
    theirs = AttentionSequencePoolingLayer((8, 6), "dice", embedding_dim=E).double()
    ours = DinActivationUnit(E, (8, 6), "dice").double()
    _perturb(theirs, 1)
    _copy_unit(ours, theirs)
    q, keys = torch.randn(5, E, dtype=torch.float64), torch.randn(5, 7, E, dtype=torch.float64)
    full = torch.full((5, 1), 7)
    err = (ours.pool(q, keys) - theirs(q[:, None], keys, full)[:, 0]).abs().max().item()  # train mode
    ours.eval(), theirs.eval()
    lengths = torch.tensor([[1], [3], [7], [2], [5]])
    mask = torch.arange(7)[None] < lengths
    err = max(err, (ours.pool(q, keys, mask) - theirs(q[:, None], keys, lengths)[:, 0]).abs().max().item())
    record_property("activation_unit_max_abs_diff_float64", err)
    assert err < 1e-12


def test_din_model_matches_deepctr(record_property):
    vocab, T = [5, 20, 4], 6
    cols = [
        SparseFeat("user", vocab[0] + 1, embedding_dim=E),
        SparseFeat("item", vocab[1] + 1, embedding_dim=E),
        SparseFeat("cate", vocab[2] + 1, embedding_dim=E),
        VarLenSparseFeat(
            SparseFeat("hist_item", vocab[1] + 1, embedding_dim=E, embedding_name="item"),
            T,
            length_name="seq_length",
        ),
    ]
    theirs = DIN(
        cols, ["item"], dnn_hidden_units=(8, 5), att_hidden_size=(8,), att_activation="dice"
    ).double()
    ours = DinModel(vocab, E, 1, hidden=(8, 5), attention_hidden=(8,), activation="relu").double()
    _perturb(theirs, 2)
    with torch.no_grad():
        for k, name in enumerate(["user", "item", "cate"]):
            ours.embedding.tables[k].weight.copy_(theirs.embedding_dict[name].weight)
        _copy_unit(ours.attention, theirs.attention)
        for mine, their in zip(ours.mlp.linears, theirs.dnn.linears):
            mine.load_state_dict(their.state_dict())
        ours.out.weight.copy_(theirs.dnn_linear.weight)
        ours.out.bias.copy_(theirs.out.bias)
    g = torch.Generator().manual_seed(3)
    n = 8
    fields = torch.stack([torch.randint(1, v + 1, (n,), generator=g) for v in vocab], 1)
    lengths = torch.randint(1, T + 1, (n,), generator=g)
    hist = torch.randint(1, vocab[1] + 1, (n, T), generator=g)
    errs = []
    for length, mode in ((torch.full((n,), T), "train"), (lengths, "eval")):
        ours.train(mode == "train"), theirs.train(mode == "train")
        h = torch.where(torch.arange(T)[None] < length[:, None], hist, 0)
        x = torch.cat([fields, h], 1)
        their_x = torch.cat([fields, h, length[:, None]], 1).double()
        mine, ref = torch.sigmoid(ours.click_logit(x)), theirs(their_x)[:, 0]
        assert ref.std() > 1e-3  # the outputs vary with the input: the comparison is not vacuous
        errs.append((mine - ref).abs().max().item())
    record_property("din_model_max_abs_diff_float64", max(errs))
    assert max(errs) < 1e-12
