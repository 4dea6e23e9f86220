"""The claim's experiment: a tiny decoder pre-trained on counting, frozen, then augmented by coprocessors
with different numbers of latents, against the frozen decoder and compute-matched controls."""

from __future__ import annotations

import copy
import random

import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import counting

from paperzoo_cache_coprocessor.coprocessor import KVCacheCoprocessor, frozen_ahead_loss
from paperzoo_cache_coprocessor.trainer import sample_splits

DECODER = {"d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 32}
# <bos>, 12 symbols, '?', the queried symbol, '=', two digits: splits 13..17 leave the string in the prefix
TASK = {"n_samples": 4096, "length": 12, "n_symbols": 4}
MIN_PREFIX, AHEAD = 13, 6


def tensors(split):
    x, y = zip(*(split[i] for i in range(len(split))))
    return torch.stack(x), torch.stack(y)


def train(params, loss_fn, x, y, steps, lr, seed, batch=32):
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(x), (batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss_fn(x[idx], y[idx]).backward()
        opt.step()


def answer_loss(fn, x, y) -> float:
    """Mean over every split 13..17 of the answer loss on the tokens after it."""
    splits = list(range(MIN_PREFIX, x.shape[1]))
    with torch.no_grad():
        return float(fn(x, y, splits))


def run_seed(seed: int, n_latents=(1, 8), decoder_steps=150, steps=150, lr=3e-3) -> dict[str, float]:
    torch.manual_seed(seed)
    data = counting(seed=seed, **TASK)
    x, y = tensors(data.train)
    vx, vy = tensors(data.val)
    decoder = TinyLMDecoder(**DECODER)

    def lm(a, b):
        return torch.nn.functional.cross_entropy(decoder(a).logits.flatten(0, 1), b.flatten())

    train(decoder.parameters(), lm, x, y, decoder_steps, 3e-3, seed)
    decoder.eval()
    out = {"frozen": answer_loss(lambda a, b, s: frozen_ahead_loss(decoder, a, b, s, AHEAD), vx, vy)}
    rng = random.Random(seed)

    def fit(model, name):
        out[f"{name}_untrained"] = answer_loss(lambda a, b, s: model.ahead_loss(a, b, s, AHEAD), vx, vy)

        def loss(a, b):
            return model.ahead_loss(a, b, sample_splits(rng, a.shape[1], 1, MIN_PREFIX), AHEAD)

        model.train()
        train(model.trainable_parameters(), loss, x, y, steps, lr, seed + 1)
        model.eval()
        return answer_loss(lambda a, b, s: model.ahead_loss(a, b, s, AHEAD), vx, vy)

    for n in n_latents:
        torch.manual_seed(seed + 7)
        out[f"coprocessor_n{n}"] = fit(
            KVCacheCoprocessor(n, decoder=copy.deepcopy(decoder)), f"coprocessor_n{n}"
        )
    torch.manual_seed(seed + 7)
    n = max(n_latents)
    out[f"soft_tokens_only_n{n}"] = fit(
        KVCacheCoprocessor(n, decoder=copy.deepcopy(decoder), soft_tokens_only=True), f"soft_tokens_only_n{n}"
    )
    tuned = copy.deepcopy(decoder)  # the compute-matched fine-tuning control: the same steps on the decoder
    tuned.train()

    def tuned_loss(a, b):
        return frozen_ahead_loss(tuned, a, b, sample_splits(rng, a.shape[1], 1, MIN_PREFIX), AHEAD)

    train(tuned.parameters(), tuned_loss, x, y, steps, lr, seed + 1)
    tuned.eval()
    out["finetuned_decoder"] = answer_loss(lambda a, b, s: frozen_ahead_loss(tuned, a, b, s, AHEAD), vx, vy)
    return out
