"""The claim's setting: a synthetic domain corpus, a small BERT-style encoder pre-trained on its bytes,
the vocabulary extended by the domain words, three initialisations of the new rows, continued MLM.

Corpus: sentences from three templates tying each of 8 made-up drug names (8-10 letters: the new domain
tokens) to its own condition word (``<drug> treats <cond>.``, ``for <cond> take <drug>.``, ``<drug> is
given for <cond>.``), concatenated to rows of ``T`` bytes. A masked condition byte is predictable only
from the drug's identity, which after the extension is carried by the new token's embedding alone.
"""

from __future__ import annotations

import random

import torch
from paperzoo_tinylm.model import TinyLMEncoder

from paperzoo_contextual_weight_distill.distill import distill_new_embeddings
from paperzoo_contextual_weight_distill.masking import MaskingStage
from paperzoo_contextual_weight_distill.mlm import mlm_loss
from paperzoo_contextual_weight_distill.vocab import DomainVocab, extend_vocab, init_new_rows

T = 48
TEMPLATES = ("{d} treats {c}. ", "for {c} take {d}. ", "{d} is given for {c}. ")
SIZES = {"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": T}
BASE_STEPS, DISTILL_STEPS, CONTINUE_STEPS, BATCH = 150, 40, 30, 32


def domain(seed: int) -> tuple[list[str], list[str]]:
    """8 drug names and 8 condition words (lowercase letters), distinct, drawn from ``seed``."""
    rng = random.Random(1000 + seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    drugs = ["".join(rng.choice(letters) for _ in range(rng.randint(8, 10))) for _ in range(8)]
    conds = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 6))) for _ in range(8)]
    return drugs, conds


def corpus(seed: int, rows: int = 1024) -> torch.Tensor:
    """``[rows, T]`` byte ids of template sentences (rows cut at ``T`` bytes)."""
    drugs, conds = domain(seed)
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        text = ""
        while len(text) < T:
            i = rng.randrange(len(drugs))
            text += rng.choice(TEMPLATES).format(d=drugs[i], c=conds[i])
        out.append(list(text[:T].encode()))
    return torch.tensor(out)


def run(seed: int) -> dict[str, float]:
    """Mean MLM loss over the first ``CONTINUE_STEPS`` steps of continued pre-training after each init
    (same base model, batches and masks for all three; an untied head whose new rows are the same random
    rows for all three), and the distillation loss before and after."""
    data = corpus(seed)
    drugs, _ = domain(seed)
    vocab = DomainVocab(drugs)
    stage = MaskingStage(strategy="token", rate=0.15)
    torch.manual_seed(seed)
    base = TinyLMEncoder(**SIZES)
    opt = torch.optim.AdamW(base.parameters(), lr=3e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    for _ in range(BASE_STEPS):
        batch = data[torch.randint(len(data), (BATCH,), generator=g)]
        loss = mlm_loss(base, stage(batch, g))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    out: dict[str, float] = {}
    for init in ("distill", "mean", "random"):
        model = extend_vocab(base, len(vocab))
        gi = torch.Generator().manual_seed(seed + 1)
        if init == "distill":
            texts = list(data[:256].split(BATCH))
            res = distill_new_embeddings(
                model, texts, vocab, DISTILL_STEPS, lr=3e-2, start="mean", generator=gi, head="random"
            )
            out["distill_loss_start"], out["distill_loss_end"] = res.losses[0], res.losses[-1]
        else:
            init_new_rows(model, vocab, init, generator=gi, head="random")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
        gc = torch.Generator().manual_seed(seed + 2)
        losses = []
        for _ in range(CONTINUE_STEPS):
            batch = vocab.retokenize(data[torch.randint(len(data), (BATCH,), generator=gc)])[0]
            loss = mlm_loss(model, stage(batch, gc))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        out[init] = sum(losses) / len(losses)
    return out


if __name__ == "__main__":
    import sys
    import time

    torch.set_num_threads(1)
    for s in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        t0 = time.process_time()
        print(s, run(s), f"{time.process_time() - t0:.1f}s cpu", flush=True)
