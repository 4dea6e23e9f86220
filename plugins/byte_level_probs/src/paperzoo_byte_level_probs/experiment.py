"""The dataset and the two evaluators: Markov texts tokenized by a locally trained BPE, byte-level
prediction against the source's true next-byte law, and the byte-level ensemble of two vocabularies."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.transforms import IGNORE
from torch import nn
from torch.utils.data import TensorDataset

from .byteprobs import BytePredictor, ensemble_probs
from .markov import END, MarkovSource
from .vocab import TokenBytes, train_bpe


def encode_texts(texts: list[bytes], vocab: TokenBytes) -> torch.Tensor:
    """``<bos> encode(text) <eos>`` rows right-padded with ``<pad>`` ``[N, T]``."""
    seqs = [[vocab.bos_id, *vocab.encode(t), vocab.eos_id] for t in texts]
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [vocab.pad_id] * (width - len(s)) for s in seqs])


def lm_pairs(ids: torch.Tensor, pad_id: int) -> TensorDataset:
    """``(inputs, targets)`` for next-token prediction, padding targets ``IGNORE``."""
    y = ids[:, 1:].clone()
    y[y == pad_id] = IGNORE
    return TensorDataset(ids[:, :-1], y)


def markov_data(
    alphabet: str = "abc",
    length: int = 8,
    n_train: int = 2048,
    n_val: int = 128,
    bpe_vocab_size: int = 16,
    sharpness: float = 1.5,
    seed: int = 0,
) -> DataBundle:
    """``byte_level_probs_markov``: texts of a seeded byte-level Markov source, tokenized by a BPE trained on
    the training texts. The bundle also carries ``source``, ``vocab``, ``train_texts`` and ``val_texts``."""
    if not alphabet.isascii() or len(set(alphabet)) != len(alphabet) or len(alphabet) < 2:
        raise ParamError("alphabet", f"got {alphabet!r}; accepted: at least 2 distinct ASCII characters")
    for name, value in (("length", length), ("n_train", n_train), ("n_val", n_val)):
        if value < 1:
            raise ParamError(name, f"got {value}; accepted: at least 1")
    if bpe_vocab_size < len(alphabet) + 3:
        raise ParamError("bpe_vocab_size", f"got {bpe_vocab_size}; accepted: at least {len(alphabet) + 3}")
    source = MarkovSource.random(alphabet.encode(), length, seed=seed, sharpness=sharpness)
    train_texts, val_texts = source.sample(n_train, seed + 1), source.sample(n_val, seed + 2)
    vocab = train_bpe(train_texts, bpe_vocab_size)
    bundle = DataBundle(
        train=lm_pairs(encode_texts(train_texts, vocab), vocab.pad_id),
        val=lm_pairs(encode_texts(val_texts, vocab), vocab.pad_id),
        task="language_modeling",
        vocab_size=len(vocab),
        name="byte_level_probs_markov",
    )
    bundle.source, bundle.vocab = source, vocab
    bundle.train_texts, bundle.val_texts = train_texts, val_texts
    return bundle


def _needs(data: object) -> None:
    if not all(hasattr(data, k) for k in ("source", "vocab", "val_texts")):
        raise ValueError("data: accepted: byte_level_probs_markov (a source, its vocab and texts)")


def tv(p: torch.Tensor, q: torch.Tensor) -> float:
    """Total-variation distance of two distributions."""
    return 0.5 * float((p - q).abs().sum())


def mid_token_prompts(texts: list[bytes], vocab: TokenBytes, n: int) -> list[tuple[bytes, bool]]:
    """Up to ``n`` prompts ``(text[:m], ends_mid_token)``: every cut of each text, in text order."""
    out = []
    for t in texts:
        bounds, pos = set(), 0
        for tok in vocab.encode(t):
            pos += len(vocab.token_bytes[tok])
            bounds.add(pos)
        for m in range(1, len(t)):
            out.append((t[:m], m not in bounds))
    return out[:n]


class ByteLevelSampler:
    """``byte_level_sampler``: the model's next-byte distribution on prompts cut from validation texts,
    byte-level (exact covers) and naive (condition on the prompt's tokens), each against the source's true
    law: mean total-variation distance on prompts ending mid-token and at a token boundary.

    Keys: ``tv_token_mid``, ``tv_byte_mid``, ``tv_token_boundary``, ``tv_byte_boundary``, ``n_mid``.
    """

    keys = ("tv_token_mid", "tv_byte_mid", "tv_token_boundary", "tv_byte_boundary", "n_mid")

    def __init__(self, n_prompts: int = 64, mask_invalid: bool = True) -> None:
        if n_prompts < 1:
            raise ParamError("n_prompts", f"got {n_prompts}; accepted: at least 1")
        self.n_prompts, self.mask_invalid = n_prompts, mask_invalid

    @torch.no_grad()
    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        _needs(data)
        was = model.training
        model.eval()
        try:
            sums = {k: 0.0 for k in self.keys}
            counts = {"mid": 0, "boundary": 0}
            pred: BytePredictor | None = None
            for prompt, mid in mid_token_prompts(data.val_texts, data.vocab, self.n_prompts):
                where = "mid" if mid else "boundary"
                truth = data.source.next_byte(prompt)
                if pred is None or not prompt.startswith(pred.text):  # a new text: its cuts grow
                    pred = BytePredictor(model, data.vocab, prompt, self.mask_invalid)
                else:
                    pred.extend(prompt[len(pred.text) :])
                sums[f"tv_byte_{where}"] += tv(pred.probs(), truth)
                sums[f"tv_token_{where}"] += tv(pred.token_probs(), truth)
                counts[where] += 1
        finally:
            model.train(was)
        out = {k: sums[k] / max(counts[k.rsplit("_", 1)[1]], 1) for k in self.keys[:4]}
        out["n_mid"] = float(counts["mid"])
        return out


def byte_nll(models: list[tuple[nn.Module, TokenBytes]], texts: list[bytes]) -> float:
    """Mean bits per byte (the end of each text counted as one more symbol) of the byte-level ensemble
    (equal weights) of ``models``, each a ``(token LM, its vocabulary)``; one model: its own bits per byte."""
    total, count = 0.0, 0
    for t in texts:
        preds = [BytePredictor(m, v) for m, v in models]
        for b in [*t, END]:
            p = ensemble_probs([q.probs() for q in preds])
            total -= float(torch.log2(p[b]))
            count += 1
            if b != END:
                for q in preds:
                    q.extend(bytes([b]))
    return total / count


def train_token_lm(
    texts: list[bytes], vocab: TokenBytes, steps: int, seed: int, d_model: int = 32, lr: float = 3e-3
) -> nn.Module:
    """A small tinylm decoder fitted to ``<bos> encode(text) <eos>`` (batch 64, AdamW), seeded."""
    from paperzoo_tinylm.model import TinyLMDecoder

    ids = encode_texts(texts, vocab)
    data = lm_pairs(ids, vocab.pad_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyLMDecoder(
            vocab_size=len(vocab), d_model=d_model, n_layers=2, n_heads=2, max_seq_len=ids.shape[1] + 2
        )
        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0) if steps else None
        for _ in range(steps):
            idx = torch.randint(len(ids), (64,), generator=g)
            x, y = data.tensors[0][idx], data.tensors[1][idx]
            loss = nn.functional.cross_entropy(model(x).logits.flatten(0, 1), y.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


class ByteLevelEnsemble:
    """``byte_level_ensemble``: bits per byte on validation texts of the model, of a partner model with a
    different BPE vocabulary (``partner_vocab_size``, trained here on the same training texts for
    ``partner_steps``), and of their byte-level ensemble (the average of the two next-byte laws).

    Keys: ``bpb_model``, ``bpb_partner``, ``bpb_ensemble``, ``bpb_source`` (the source's entropy rate on
    the same texts: the floor).
    """

    keys = ("bpb_model", "bpb_partner", "bpb_ensemble", "bpb_source")

    def __init__(
        self, partner_vocab_size: int = 8, partner_steps: int = 200, n_texts: int = 16, seed: int = 0
    ) -> None:
        if partner_steps < 0:
            raise ParamError("partner_steps", f"got {partner_steps}; accepted: at least 0")
        if n_texts < 1:
            raise ParamError("n_texts", f"got {n_texts}; accepted: at least 1")
        self.partner_vocab_size, self.partner_steps = partner_vocab_size, partner_steps
        self.n_texts, self.seed = n_texts, seed

    @torch.no_grad()
    def _bpb(self, data, models: list[tuple[nn.Module, TokenBytes]]) -> float:
        return byte_nll(models, data.val_texts[: self.n_texts])

    def __call__(self, model: nn.Module, data) -> dict[str, float]:
        _needs(data)
        alphabet = len(data.source.alphabet)
        if self.partner_vocab_size < alphabet + 3:
            raise ParamError(
                "partner_vocab_size", f"got {self.partner_vocab_size}; accepted: at least {alphabet + 3}"
            )
        partner_vocab = train_bpe(data.train_texts, self.partner_vocab_size)
        with torch.enable_grad():
            partner = train_token_lm(data.train_texts, partner_vocab, self.partner_steps, self.seed)
        was = model.training
        model.eval()
        try:
            a, b = (model, data.vocab), (partner, partner_vocab)
            texts = data.val_texts[: self.n_texts]
            src = sum(-torch.log2(torch.tensor(data.source.prefix_prob(t))).item() for t in texts)
            return {
                "bpb_model": self._bpb(data, [a]),
                "bpb_partner": self._bpb(data, [b]),
                "bpb_ensemble": self._bpb(data, [a, b]),
                "bpb_source": src / sum(len(t) + 1 for t in texts),
            }
        finally:
            model.train(was)
