"""Parity with the authors' released layer (UN1d of hikvision-research/Unified-Normalization), through
golden tensors it produced (data/un_golden.json: commit, command, inputs): outputs, input and parameter
gradients of every recorded iteration, the final buffers and the eval-mode output, in float64."""

from importlib.resources import files

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_unified_norm.tests.helpers import C, golden_inputs
from paperzoo_unified_norm.unified_norm import UnifiedNorm

GOLDEN = load_file(str(files("paperzoo_unified_norm.tests") / "data" / "un_golden.safetensors"))
SCENARIOS = {  # name: (iterations, first recorded, iteration scaled by 50, layer parameters)
    "smooth": (10, 1, None, {"window": 3, "warmup_iters": 2}),
    "outlier": (12, 1, 8, {"window": 3, "warmup_iters": 5, "outlier_filtration": True}),
    "window1": (4, 1, None, {"window": 1, "warmup_iters": 0}),
    "split": (8, 1, None, {"window": (3, 2), "warmup_iters": 4}),
    "rho": (1004, 1000, None, {"window": 4, "warmup_iters": 2}),
}


def run(name: str) -> tuple[float, UnifiedNorm]:
    """Replay a scenario; the largest absolute difference to the golden tensors."""
    iters, first, scaled, params = SCENARIOS[name]
    layer = UnifiedNorm(C, **params).double()
    with torch.no_grad():
        layer.weight.copy_(1.0 + 0.1 * torch.arange(C, dtype=torch.float64))
        layer.bias.copy_(0.05 * torch.arange(C, dtype=torch.float64))
    err = 0.0
    for t in range(1, iters + 1):
        x, g = golden_inputs(t)
        x = (x * 50.0 if t == scaled else x).requires_grad_(True)
        y = layer(x)
        y.backward(g)
        if t >= first:
            got = {"y": y, "gx": x.grad, "gw": layer.weight.grad, "gb": layer.bias.grad}
            for key, value in got.items():
                err = max(err, (value.detach() - GOLDEN[f"{name}.{key}.{t}"]).abs().max().item())
        layer.weight.grad = layer.bias.grad = None
    err = max(err, (layer.running_var - GOLDEN[f"{name}.running_var"]).abs().max().item())
    err = max(err, (layer.grad_stat - GOLDEN[f"{name}.ema_gz"]).abs().max().item())
    layer.eval()
    with torch.no_grad():
        err = max(err, (layer(golden_inputs(iters + 1)[0]) - GOLDEN[f"{name}.y_eval"]).abs().max().item())
    return err, layer


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_matches_released_layer(name, record_property):
    err, layer = run(name)
    assert int(layer.outliers) == int(GOLDEN[f"{name}.skip_counter"].item())
    record_property(f"max_abs_diff_{name}_float64", err)
    assert err < 1e-12


def test_outlier_scenario_flags_the_injected_batch_only():
    assert int(GOLDEN["outlier.skip_counter"].item()) == 1
    _, layer = run("outlier")
    assert int(layer.outliers) == 1
