"""Record golden outputs of the official CSpD ``DistributionProcessor`` (spec_decode/spec_decode_runner.py).

Run outside this repository: ``python make_cspd_golden.py <clone of MarkXCloud/CSpD> <commit> <out dir>``.
The module imports ``models.mar.MAR`` only as a type: a stub ``models/mar.py`` (``class MAR: pass``) on
the path stands in for the image model, which is never built. Diagonal Gaussians in float64, B rows of D
dimensions: ``judge_accept`` (the acceptance ratio) at draft points x ~ q and
``subtracted_distribution_unormalize`` (the residual's acceptance probability) at proposals y ~ p, for
equal and for unequal standard deviations, at temperature 1 and 42 (the runner's default).
"""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

repo, commit, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
sys.path.insert(0, repo)
from spec_decode.spec_decode_runner import DistributionProcessor  # noqa: E402

B, D = 64, 4
g = torch.Generator().manual_seed(0)
tensors, cases = {}, []
for case, equal in (("equal_std", True), ("unequal_std", False)):
    m1 = torch.randn(B, D, generator=g, dtype=torch.float64)
    m2 = m1 + 0.5 * torch.randn(B, D, generator=g, dtype=torch.float64)
    s1 = 0.5 + torch.rand(B, D, generator=g, dtype=torch.float64)
    s2 = s1.clone() if equal else 0.5 + torch.rand(B, D, generator=g, dtype=torch.float64)
    x = m1 + s1 * torch.randn(B, D, generator=g, dtype=torch.float64)
    y = m2 + s2 * torch.randn(B, D, generator=g, dtype=torch.float64)
    tensors |= {f"{case}.{k}": v for k, v in dict(m1=m1, m2=m2, s1=s1, s2=s2, x=x, y=y).items()}
    for temperature in (1.0, 42.0):
        proc = DistributionProcessor(m1, s1, 2 * s1.log(), m2, s2, 2 * s2.log(), D, temperature)
        tensors[f"{case}.T{temperature:g}.judge_accept"] = proc.judge_accept(x)
        tensors[f"{case}.T{temperature:g}.residual_alpha"] = proc.subtracted_distribution_unormalize(y)
    cases.append(case)
out.mkdir(parents=True, exist_ok=True)
save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "cspd_golden.safetensors"))
meta = {
    "repository": "https://github.com/MarkXCloud/CSpD",
    "commit": commit,
    "file": "spec_decode/spec_decode_runner.py (DistributionProcessor.judge_accept, "
    "DistributionProcessor.subtracted_distribution_unormalize)",
    "command": "python make_cspd_golden.py <clone at the commit> <commit> <out dir> (this folder's script), "
    "with a stub models/mar.py (class MAR: pass) on the path",
    "inputs": "x1 = draft q, x2 = target p: diagonal Gaussians, B=64 rows, D=4, float64, Generator seed 0; "
    "x1_std/x2_std = standard deviations, x1_log_var/x2_log_var = 2 log std",
    "cases": cases,
    "temperatures": [1.0, 42.0],
    "torch": torch.__version__,
}
(out / "cspd_golden.json").write_text(json.dumps(meta, indent=1) + "\n")
print("wrote", sorted(tensors))
