"""The claim's setting: a packed corpus of grammar expressions, compute-matched ELECTRA and MLM
pre-training of the same encoder, and a linear probe of each token's bracket depth."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.tasks import pcfg_expression, pcfg_value
from paperzoo_tinylm.tokenizer import BOS, PAD
from paperzoo_tinylm.transforms import MLMTransform
from torch.utils.flop_counter import FlopCounterMode

from paperzoo_electra.model import ELECTRA_FORM, ElectraGeneratorDiscriminator

SEQ, MAX_DEPTH, N_CLASSES = 48, 6, 4
SIZES = {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": SEQ}


def corpus(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` rows of ``<bos>`` then whole ``expression=value;`` lines packed up to ``SEQ`` tokens (padded),
    and each token's bracket depth (clipped to ``N_CLASSES - 1``; -1 at ``<bos>`` and padding)."""
    rng = random.Random(seed)
    ids = torch.full((n, SEQ), PAD, dtype=torch.long)
    depth = torch.full((n, SEQ), -1, dtype=torch.long)
    for row in range(n):
        toks, deps = [BOS], [-1]
        while True:
            e = pcfg_expression(rng, MAX_DEPTH)
            line = f"{e}={pcfg_value(e)};"
            if len(toks) + len(line) > SEQ:
                break
            d = 0
            for ch in line:
                d += ch == "("
                toks.append(ord(ch))
                deps.append(min(d, N_CLASSES - 1))
                d -= ch == ")"
        ids[row, : len(toks)] = torch.tensor(toks)
        depth[row, : len(deps)] = torch.tensor(deps)
    return ids, depth


def electra_model(seed: int) -> ElectraGeneratorDiscriminator:
    torch.manual_seed(seed)
    return ElectraGeneratorDiscriminator(generator_size=0.25, **SIZES)


def mlm_model(seed: int) -> TinyLMEncoder:
    torch.manual_seed(seed)
    return TinyLMEncoder(**ELECTRA_FORM, **SIZES)


def electra_loss(model: ElectraGeneratorDiscriminator, ids: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return model(ids, generator=g).loss


def mlm_loss(model: TinyLMEncoder, ids: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    t = MLMTransform()(ids, g)
    logits = model(t.inputs, attention_mask=(ids != PAD).long()).logits
    return F.cross_entropy(logits.flatten(0, 1), t.targets.flatten())


def step_flops(model, loss_fn, ids: torch.Tensor) -> int:
    """FLOPs of one forward+backward pass (``torch.utils.flop_counter``: matrix products)."""
    with FlopCounterMode(display=False) as counter:
        loss_fn(model, ids, torch.Generator().manual_seed(0)).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def pretrain(model, loss_fn, ids: torch.Tensor, steps: int, seed: int, batch: int = 16, lr: float = 2e-3):
    """AdamW, linear warm-up over 10% of the steps then constant; batches drawn with ``seed``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)))
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        rows = torch.randint(len(ids), (batch,), generator=g)
        loss = loss_fn(model, ids[rows], g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def features(encoder: TinyLMEncoder, ids: torch.Tensor, head_free: bool) -> torch.Tensor:
    """The encoder's last hidden state ``[B, T, d]`` on clean ids (the MLM encoder's head left out)."""
    out = encoder(ids, attention_mask=(ids != PAD).long(), output_hidden_states=not head_free)
    return out.logits if head_free else out.hidden_states[-1]


def probe_accuracy(train_x, train_y, test_x, test_y, steps: int = 300) -> float:
    """A linear softmax probe on standardised features (full-batch LBFGS with a little L2); token
    accuracy on the test tokens."""
    keep_tr, keep_te = train_y >= 0, test_y >= 0
    xtr, ytr, xte, yte = train_x[keep_tr], train_y[keep_tr], test_x[keep_te], test_y[keep_te]
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    w = torch.zeros(xtr.shape[1], N_CLASSES, requires_grad=True)
    b = torch.zeros(N_CLASSES, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + 1e-3 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((xte @ w + b).argmax(-1) == yte).float().mean())
