"""Exact properties of layer normalization and the LN-LSTM, in float64: the paper's equations, its
invariances (Sec. 5.1, Table 1) and independence from the rest of the batch."""

from __future__ import annotations

import paperzoo
import pytest
import torch
from paperzoo.errors import ParamError

from paperzoo_layernorm.tests.helpers import paper_ln_lstm, perturb

F64 = torch.float64
TINY = 1e-300  # an eps that rounds away against any variance here, so the invariances are exact


def make_norm(shape=16, eps: float = 1e-5):
    torch.manual_seed(0)
    norm = paperzoo.create("ba_layer_norm", normalized_shape=shape, eps=eps).to(F64)
    perturb(norm)
    return norm


def test_matches_the_papers_formula():
    norm = make_norm()
    x = 3.0 * torch.randn(4, 7, 16, dtype=F64) + 2.0
    mu = x.sum(-1, keepdim=True) / 16
    var = ((x - mu) ** 2).sum(-1, keepdim=True) / 16
    expected = norm.weight * (x - mu) / torch.sqrt(var + 1e-5) + norm.bias
    torch.testing.assert_close(norm(x), expected, rtol=0, atol=1e-13)


def test_output_has_zero_mean_and_unit_variance_before_the_affine_map():
    norm = paperzoo.create("ba_layer_norm", normalized_shape=[3, 8], eps=TINY, elementwise_affine=False)
    y = norm(5.0 * torch.randn(6, 3, 8, dtype=F64) - 4.0).flatten(1)
    torch.testing.assert_close(y.mean(1), torch.zeros(6, dtype=F64), rtol=0, atol=1e-14)
    torch.testing.assert_close(y.var(1, correction=0), torch.ones(6, dtype=F64), rtol=0, atol=1e-13)


def test_invariant_to_per_example_rescaling_and_recentring():
    norm = make_norm(eps=TINY)
    x = torch.randn(8, 16, dtype=F64)
    scale = torch.rand(8, 1, dtype=F64) * 10 + 0.1  # a different positive scale and shift per example
    shift = torch.randn(8, 1, dtype=F64) * 100
    torch.testing.assert_close(norm(scale * x + shift), norm(x), rtol=0, atol=1e-12)


def test_invariant_to_rescaling_the_weight_matrix_before_it():
    norm, x, w = make_norm(eps=TINY), torch.randn(8, 5, dtype=F64), torch.randn(16, 5, dtype=F64)
    torch.testing.assert_close(norm(x @ (7.5 * w).T), norm(x @ w.T), rtol=0, atol=1e-12)


def test_not_invariant_to_rescaling_single_units():
    """LN is invariant to scaling all units of an example together, not to scaling one of them."""
    norm, x = make_norm(eps=TINY), torch.randn(8, 16, dtype=F64)
    scaled = x.clone()
    scaled[:, 0] *= 3.0
    assert (norm(scaled) - norm(x)).abs().max() > 1e-2


def test_batch_size_independent_and_same_in_train_and_eval():
    norm = make_norm()
    x = torch.randn(64, 16, dtype=F64)
    batch = norm.train()(x)
    singles = torch.cat([norm.eval()(x[i : i + 1]) for i in range(64)])
    torch.testing.assert_close(singles, batch, rtol=0, atol=1e-15)


@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_backward_passes_gradcheck(affine, bias):
    norm = paperzoo.create("ba_layer_norm", normalized_shape=[2, 3], elementwise_affine=affine, bias=bias)
    norm = norm.to(F64)
    perturb(norm)
    x = torch.randn(4, 2, 3, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *p: norm(x), (x, *norm.parameters()))


def test_rejects_bad_params_and_inputs():
    with pytest.raises(ParamError, match="normalized_shape"):
        paperzoo.create("ba_layer_norm", normalized_shape=0)
    with pytest.raises(ParamError, match="eps"):
        paperzoo.create("ba_layer_norm", normalized_shape=4, eps=0.0)
    with pytest.raises(ValueError, match=r"ending in \[4\]"):
        paperzoo.create("ba_layer_norm", normalized_shape=4)(torch.randn(2, 5))


def make_lstm(layer_norm: bool = True, eps: float = 1e-5, hidden: int = 6):
    torch.manual_seed(0)
    model = paperzoo.create("ln_lstm", input_size=3, hidden_size=hidden, layer_norm=layer_norm, eps=eps)
    model = model.to(F64)
    perturb(model)
    return model


def test_ln_lstm_follows_the_papers_equations():
    model = make_lstm()
    x = torch.randn(4, 9, 3, dtype=F64)
    params = {k.removeprefix("cell."): v for k, v in model.state_dict().items()}
    expected, _ = paper_ln_lstm(x, params, 6, 1e-5)
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-13)


def test_ln_lstm_gradients_follow_the_papers_equations():
    model = make_lstm()
    x = torch.randn(3, 6, 3, dtype=F64)
    ref = {
        k.removeprefix("cell."): v.detach().clone().requires_grad_() for k, v in model.state_dict().items()
    }
    w = torch.randn(3, 6, 6, dtype=F64)
    (model(x) * w).sum().backward()
    (paper_ln_lstm(x, ref, 6, 1e-5)[0] * w).sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[name.removeprefix("cell.")].grad, rtol=0, atol=1e-12, msg=name)


def test_cell_returns_the_unnormalised_cell_state():
    """The cell state that recurs is c_t itself; only the read-out tanh(LN(c_t)) is normalised."""
    model = make_lstm()
    x = torch.randn(4, 5, 3, dtype=F64)
    params = {k.removeprefix("cell."): v for k, v in model.state_dict().items()}
    _, c_expected = paper_ln_lstm(x, params, 6, 1e-5)
    state = model.cell.initial_state(x[:, 0])
    for t in range(5):
        state = model.cell(x[:, t], state)
    torch.testing.assert_close(state[1], c_expected, rtol=0, atol=1e-13)
    assert (state[1].mean(-1).abs() > 1e-3).any()  # not itself normalised


def test_ln_lstm_invariant_to_rescaling_its_weight_matrices_and_inputs():
    model, x = make_lstm(eps=TINY), torch.randn(4, 9, 3, dtype=F64)
    before = model(x)
    with torch.no_grad():
        model.cell.weight_ih.mul_(4.0)
        model.cell.weight_hh.mul_(0.25)
    torch.testing.assert_close(model(x), before, rtol=0, atol=1e-12)
    per_example = torch.rand(4, 1, 1, dtype=F64) * 5 + 0.2
    torch.testing.assert_close(model(per_example * x), before, rtol=0, atol=1e-12)


def test_ln_lstm_batch_size_independent():
    model = make_lstm()
    x = torch.randn(64, 7, 3, dtype=F64)
    singles = torch.cat([model(x[i : i + 1]) for i in range(64)])
    torch.testing.assert_close(singles, model(x), rtol=0, atol=1e-14)


def test_read_out_is_a_linear_map_of_the_last_hidden_state():
    torch.manual_seed(0)
    model = paperzoo.create("ln_lstm", input_size=3, hidden_size=6, output_size=2).to(F64)
    x = torch.randn(4, 5, 3, dtype=F64)
    model.head, head = None, model.head
    last = model(x)[:, -1]
    model.head = head
    torch.testing.assert_close(model(x), head(last), rtol=0, atol=1e-15)


def test_adding_problem_targets_are_the_sum_of_the_marked_values():
    data = paperzoo.create("adding_problem", seq_len=12, n_samples=100, seed=3)
    x, y = data.train.tensors
    assert x.shape[1:] == (12, 2) and y.shape[1:] == (1,) and data.task == "regression"
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((len(x),), 2.0))
    assert torch.equal(marks[:, :6].sum(1), torch.ones(len(x)))  # one mark in each half
    for xi, yi in zip(x, y):
        assert yi.item() == pytest.approx(xi[xi[:, 1] == 1, 0].sum().item(), abs=1e-6)


def test_adding_problem_rejects_bad_params():
    with pytest.raises(ParamError, match="seq_len"):
        paperzoo.create("adding_problem", seq_len=1)
    with pytest.raises(ParamError, match="val_fraction"):
        paperzoo.create("adding_problem", n_samples=2, val_fraction=0.9)
