"""Parity with the official PolyCom code (BryceZhuo/PolyCom, the dense model's Megatron patch): golden
forward outputs and gradients recorded from it on small inputs (``data/polycom_reference.json`` names
the commit, the file and the command). Default and fixed coefficients, float64 and float32.

Tolerances: the formula as written (``stable=False``) performs the official operations in the same
order, so it is bitwise equal. The default stable PolyNorm divides rows with ``max|x| > 1`` by that
maximum first, which rounds differently: float64 within 1e-14, float32 within a few units in the last
place (2e-6 on values of order one).
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch
from safetensors.torch import load_file

from paperzoo_polycom.polycom import PolyNorm, PolyReLU

DATA = resources.files("paperzoo_polycom.tests") / "data"
META = json.loads((DATA / "polycom_reference.json").read_text())
GOLDEN = load_file(str(DATA / "polycom_reference.safetensors"))
DTYPES = {"f64": torch.float64, "f32": torch.float32}
TOL = {("f64", True): 1e-14, ("f32", True): 2e-6, ("f64", False): 0.0, ("f32", False): 0.0}


def _run(module, tag: str, coefficients: str):
    dtype = DTYPES[tag]
    module = module.to(dtype)
    if coefficients == "fixed":  # copied in the tensor's dtype, as the golden run did
        with torch.no_grad():
            module.weight.copy_(torch.tensor(META["fixed_weight"], dtype=dtype))
            module.bias.copy_(torch.tensor(META["fixed_bias"], dtype=dtype))
    x = GOLDEN[f"x_{tag}"].clone().requires_grad_()
    y = module(x)
    y.backward(GOLDEN[f"upstream_{tag}"])
    return {
        "y": y.detach(),
        "grad_x": x.grad,
        "grad_weight": module.weight.grad,
        "grad_bias": module.bias.grad,
    }


CASES = [
    (name, coefficients, tag, stable)
    for name in ("polynorm", "polyrelu")
    for coefficients in ("init", "fixed")
    for tag in ("f64", "f32")
    for stable in ((True, False) if name == "polynorm" else (False,))
]


@pytest.mark.parametrize(("name", "coefficients", "tag", "stable"), CASES)
def test_matches_official_code(name, coefficients, tag, stable, record_property):
    module = PolyNorm(stable=stable) if name == "polynorm" else PolyReLU()
    got = _run(module, tag, coefficients)
    key = f"{name}_{coefficients}_{tag}"
    err = max(float((got[k] - GOLDEN[f"{key}.{k}"]).abs().max()) for k in got)
    record_property(f"max_abs_diff_{'stable_' if stable and name == 'polynorm' else ''}{tag}", err)
    assert err <= TOL[(tag, stable)], err
    assert all(torch.isfinite(v).all() for v in got.values())


def test_fixture_metadata_names_the_source():
    assert META["repository"] == "https://github.com/BryceZhuo/PolyCom"
    assert len(META["commit"]) == 40 and META["command"]
