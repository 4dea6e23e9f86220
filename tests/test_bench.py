"""The benchmark helpers of ``paperzoo.bench`` that plugins' benchmarks share."""

import math

import pytest
import torch
from paperzoo.bench import backward_pass, compare, compare_header, train_step

CPU = torch.device("cpu")


def test_backward_pass_releases_every_gradient_it_made():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(5, 4, requires_grad=True)
    backward_pass(layer, x, torch.ones(5, 3))
    assert x.grad is None and all(p.grad is None for p in layer.parameters())


def test_backward_pass_runs_the_backward():
    seen = []
    layer = torch.nn.Linear(4, 3)
    layer.weight.register_hook(lambda g: seen.append(g.clone()))
    x = torch.randn(5, 4, requires_grad=True)
    backward_pass(layer, x, torch.ones(5, 3))
    # d(sum of outputs)/dW = ones(3, 1) @ sum_rows(x)
    torch.testing.assert_close(seen[0], torch.ones(3, 1) * x.detach().sum(0))


def test_compare_reports_ratios_to_the_baseline(capsys):
    big, small = torch.randn(256, 256), torch.randn(16, 16)
    works = {"big": lambda: big @ big, "small": lambda: small @ small}
    results = compare(works, "big", CPU, rounds=3, label="mm")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["big", "small"]
    assert float(lines[0].split()[3]) == 1.0 and float(lines[0].split()[5]) == 1.0
    (t_big, m_big), (t_small, m_small) = results["big"], results["small"]
    assert m_big == 256 * 256 * 4 and m_small == 16 * 16 * 4  # one float32 result each
    assert math.isclose(float(lines[1].split()[5]), m_small / m_big, abs_tol=0.01)
    assert t_big > 0 and t_small > 0
    assert compare_header("mm", "name").split()[:3] == ["mm", "name", "ms"]


def test_compare_refuses_an_unknown_baseline():
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": lambda: None}, "b", CPU, rounds=1)


def test_bench_arguments_and_setup_give_every_benchmark_the_same_options_and_header(capsys):
    from paperzoo.bench import bench_arguments, bench_setup

    parser = bench_arguments("demo", rounds=7, threads=1)
    parser.add_argument("--alpha", type=float, default=0.5)
    args = parser.parse_args(["--device", "cpu", "--alpha", "0.25"])
    assert (args.rounds, args.threads, args.alpha) == (7, 1, 0.25)
    saved = torch.get_num_threads()
    try:
        device = bench_setup(args, "what is measured")
        assert device == CPU and torch.get_num_threads() == 1
        first = torch.rand(3)
        torch.manual_seed(0)
        assert torch.equal(first, torch.rand(3))  # seeded with 0
    finally:
        torch.set_num_threads(saved)
    assert capsys.readouterr().out == f"device=cpu, threads=1, torch={torch.__version__}; what is measured\n"


def test_train_step_runs_the_backward_and_releases_the_gradients():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3, requires_grad=True)
    want = torch.autograd.grad(layer(x).square().mean(), layer.weight)[0]
    seen = []
    layer.weight.register_hook(lambda g: seen.append(g.clone()))
    train_step(layer, x)
    assert len(seen) == 1 and torch.allclose(seen[0], want)
    assert layer.weight.grad is None and layer.bias.grad is None and x.grad is None
