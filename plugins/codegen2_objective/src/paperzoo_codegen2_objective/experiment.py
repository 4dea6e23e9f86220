"""The claim's experiment: a tiny decoder trained on synthetic code-like statements (``f(a,b)=a+b;``)
with the CLM / infill mixture or with plain causal LM, the same steps and batch, then evaluated on

- infilling of the held-out argument list of the middle statement (``a,b``): the mixture model is
  prompted in the infill format (prefix, sentinel, suffix, separator, sentinel), the causal-LM baseline can
  only be prompted with the prefix; teacher-forced next-token accuracy on the three span tokens;
- left-to-right loss (plain next-token loss on the held-out rows).
"""

from __future__ import annotations

import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_codegen2_objective.infill import CLMInfillMix, mix_loss, to_infill

STATEMENTS = 3  # 11 characters each: 33 tokens a row
ARGS = slice(13, 16)  # the argument list of the middle statement


def code_rows(n: int, generator: torch.Generator) -> torch.Tensor:
    """``[n, 33]`` byte ids, each row three statements ``f(a,b)=a+b;`` with random names, letters, ops."""
    rows = []
    for _ in range(n):
        text = ""
        for _ in range(STATEMENTS):
            f = "fgh"[int(torch.randint(3, (), generator=generator))]
            a, b = (chr(ord("a") + int(i)) for i in torch.randint(26, (2,), generator=generator))
            op = "+-*"[int(torch.randint(3, (), generator=generator))]
            text += f"{f}({a},{b})={a}{op}{b};"
        rows.append(list(text.encode()))
    return torch.tensor(rows)


def infill_accuracy(model: torch.nn.Module, rows: torch.Tensor, infill: bool) -> float:
    """Teacher-forced accuracy on the middle statement's arguments: in the infill format (mask: the
    arguments and the last two tokens, two spans as in training) or, when not ``infill``, left to right."""
    mask = [False] * rows.shape[1]
    for i in list(range(ARGS.start, ARGS.stop)) + [rows.shape[1] - 2, rows.shape[1] - 1]:
        mask[i] = True
    seqs, starts = [], []
    for row in rows.tolist():
        if infill:
            seq, sep_at = to_infill(row, mask)
            seqs.append(seq)
            starts.append(sep_at + 2)  # the first span token, after the separator and the sentinel
        else:
            seqs.append(row)
            starts.append(ARGS.start)
    ids = torch.tensor(seqs)
    start = starts[0]
    with torch.no_grad():
        logits = model(ids).logits
    pred = logits[:, start - 1 : start + 2].argmax(-1)
    return float((pred == ids[:, start : start + 3]).float().mean())


def run(
    objective: str,
    seed: int,
    steps: int = 400,
    batch: int = 32,
    p_clm: float = 0.5,
    lr: float = 3e-3,
    d_model: int = 64,
) -> dict[str, float]:
    """Train one decoder (``objective``: ``mix`` or ``clm``) and return its held-out metrics."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinyLMDecoder(d_model=d_model, n_layers=2, n_heads=4, max_seq_len=64)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    mix = CLMInfillMix(p_clm=p_clm, noise_density=0.15, mean_noise_span_length=2.5)
    for _ in range(steps):
        ids = code_rows(batch, gen)
        loss = mix_loss(model, ids, mix, gen) if objective == "mix" else lm_loss(model, ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    held_out = code_rows(256, torch.Generator().manual_seed(10_000 + seed))
    model.eval()
    with torch.no_grad():
        l2r = float(lm_loss(model, held_out))
    return {"infill_acc": infill_accuracy(model, held_out, infill=objective == "mix"), "l2r_loss": l2r}
