"""Parity with the official implementation (MarkXCloud/CSpD, ``spec_decode/spec_decode_runner.py``):
golden outputs of its ``DistributionProcessor`` on diagonal Gaussians, recorded outside this repository
(``data/cspd_golden.json`` names the commit and the command; ``data/make_cspd_golden.py`` is the script).

``judge_accept`` is the acceptance ratio ``p(x) / q(x)`` at draft points and
``subtracted_distribution_unormalize`` the residual's acceptance probability ``max(0, 1 - q(y) / p(y))``
at proposals ``y ~ p``. With equal standard deviations they are ours (the kit's ``density_acceptance``
before its ``min(1, .)`` and ``residual_acceptance``). With unequal ones the official normaliser
differs from the density ratio by ``prod(s_p / s_q)^2`` (its ``fixed_term`` uses the log-variances where
the density's normaliser has the standard deviations); the test pins that relation, so our densities are
checked on those inputs too. ``temperature`` (42 in the runner) divides the standard deviations in the
exponent only, which is the ratio of Gaussians widened by that factor times the same normaliser."""

import json
import math
from importlib import resources

import pytest
import torch
from paperzoo_tinylm.speculative import density_acceptance, residual_acceptance
from safetensors.torch import load_file

DATA = resources.files("paperzoo_continuous_spec_decoding.tests") / "data"
META = json.loads((DATA / "cspd_golden.json").read_text())
GOLDEN = load_file(str(DATA / "cspd_golden.safetensors"))


def _log_normal(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(mean, std).log_prob(x).sum(-1)


@pytest.mark.parametrize("case", META["cases"])
@pytest.mark.parametrize("temperature", META["temperatures"])
def test_acceptance_and_residual_match_the_official_code(case, temperature, record_property):
    g = {k.split(".", 1)[1]: v for k, v in GOLDEN.items() if k.startswith(case + ".")}
    m_q, m_p, s_q, s_p, x, y = (g[k] for k in ("m1", "m2", "s1", "s2", "x", "y"))
    factor = 2 * (s_p / s_q).log().sum(-1)  # log prod(s_p / s_q)^2: 0 when the scales agree
    # the acceptance ratio (before min(1, .)): ours from the kit, on the tempered densities
    log_p, log_q = _log_normal(x, m_p, s_p * temperature), _log_normal(x, m_q, s_q * temperature)
    ratio = (log_p - log_q + factor).exp()
    official = g[f"T{temperature:g}.judge_accept"]
    err = float(((ratio - official) / official).abs().max())
    assert err < 1e-12, err  # float64: exp of a sum of a few squares, relative rounding only
    ours = density_acceptance(log_p + factor, log_q)
    torch.testing.assert_close(ours, official.clamp(max=1), rtol=1e-12, atol=0)
    # the residual's acceptance probability at y ~ p (untempered in the official code)
    alpha = residual_acceptance(_log_normal(y, m_p, s_p) + factor, _log_normal(y, m_q, s_q))
    alpha_err = float((alpha - g[f"T{temperature:g}.residual_alpha"]).abs().max())
    assert alpha_err < 1e-12, alpha_err
    if case == "equal_std" and math.isclose(temperature, 1.0):
        record_property("max_rel_diff_accept_ratio_float64", err)
        record_property("max_abs_diff_residual_accept_float64", alpha_err)
