"""SMDM's evaluators: answers sampled by the masked-diffusion sampler with unsupervised classifier-free
guidance (``mdm_sampler_ucfg``), and the Monte Carlo ELBO of validation sequences
(``mdm_elbo_likelihood``). Both read the validation split of a language-modelling bundle as whole
sequences (:func:`paperzoo_smdm.trainer.full_sequences`) and are deterministic for a given ``seed``."""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_smdm.diffusion import mdm_elbo, mdm_sample
from paperzoo_smdm.trainer import full_sequences


def _int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    return value


def _cfg(value: object) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
        raise ParamError("cfg_scale", f"{value!r}; accepted: null (no guidance) or a number >= 0")
    return None if value is None else float(value)


def _val_batch(data: DataBundle, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(n, len(data.val))
    items = [data.val[i] for i in range(n)]
    return full_sequences(torch.stack([a for a, _ in items]), torch.stack([b for _, b in items]))


class MDMSamplerUCFG:
    """Fill the answers of validation sequences (all answer tokens masked, the question kept) with
    :func:`paperzoo_smdm.diffusion.mdm_sample` and score them.

    :param steps: reverse steps ``K``.
    :param cfg_scale: guidance weight ``w`` (``null``: none, one forward pass per step).
    :param remasking: ``confidence`` (official ``greddy``) or ``random`` (official ``origin``).
    :param temperature: Gumbel temperature (0: argmax).
    :param n_sequences: validation sequences scored; ``batch_size`` at a time; ``seed`` for the draws.
    """

    keys = ("mdm_exact_match", "mdm_token_accuracy")

    def __init__(
        self,
        steps: int = 8,
        cfg_scale: float | None = None,
        remasking: str = "confidence",
        temperature: float = 0.0,
        n_sequences: int = 64,
        batch_size: int = 32,
        seed: int = 0,
    ) -> None:
        self.steps = _int("steps", steps, 1)
        self.cfg_scale = _cfg(cfg_scale)
        if remasking not in ("confidence", "random"):
            raise ParamError("remasking", f"{remasking!r}; accepted: 'confidence', 'random'")
        self.remasking = remasking
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise ParamError("temperature", f"{temperature!r}; accepted: a number >= 0")
        self.temperature = float(temperature)
        self.n_sequences = _int("n_sequences", n_sequences, 1)
        self.batch_size = _int("batch_size", batch_size, 1)
        self.seed = _int("seed", seed, 0)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        seq, answer = _val_batch(data, self.n_sequences)
        seq, answer = seq.to(device), answer.to(device)
        gen = torch.Generator(device=device).manual_seed(self.seed)
        exact, correct, total = 0.0, 0.0, 0.0
        for s in range(0, len(seq), self.batch_size):
            x, a = seq[s : s + self.batch_size], answer[s : s + self.batch_size]
            out = mdm_sample(
                model,
                torch.where(a, MASK, x),
                self.steps,
                cfg_scale=self.cfg_scale,
                temperature=self.temperature,
                remasking=self.remasking,
                generator=gen,
                prompt_mask=~a,
            )
            hit = (out == x) | ~a
            exact += float(hit.all(1).sum())
            correct += float(((out == x) & a).sum())
            total += float(a.sum())
        model.train(was_training)
        return {"mdm_exact_match": exact / len(seq), "mdm_token_accuracy": correct / max(total, 1.0)}


class MDMElboLikelihood:
    """The Monte Carlo ELBO (an upper bound on the negative log-likelihood) of validation sequences:
    official low-discrepancy times, ``mc_num`` masked copies per sequence (``mdm_elbo``).

    :param answer_only: bound ``-log p(answer | question)`` (zero-shot scoring); default the whole
        sequence after its first token.
    :returns: ``elbo_nll`` (nats per scored token) and ``elbo_bits_per_token``.
    """

    keys = ("elbo_nll", "elbo_bits_per_token")

    def __init__(
        self,
        mc_num: int = 32,
        batch_size: int = 32,
        n_sequences: int = 16,
        answer_only: bool = False,
        cfg_scale: float | None = None,
        seed: int = 0,
    ) -> None:
        self.mc_num = _int("mc_num", mc_num, 1)
        self.batch_size = _int("batch_size", batch_size, 1)
        if self.mc_num % self.batch_size:
            raise ParamError("mc_num", f"{mc_num!r}; accepted: a multiple of batch_size ({batch_size})")
        self.n_sequences = _int("n_sequences", n_sequences, 1)
        if not isinstance(answer_only, bool):
            raise ParamError("answer_only", f"{answer_only!r}; accepted: true or false")
        self.answer_only = answer_only
        self.cfg_scale = _cfg(cfg_scale)
        self.seed = _int("seed", seed, 0)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        seq, answer = _val_batch(data, self.n_sequences)
        gen = torch.Generator(device=device).manual_seed(self.seed)
        nll, tokens = 0.0, 0
        for x, a in zip(seq.to(device), answer):
            if self.answer_only:
                idx = a.nonzero()[:, 0]
                if not len(idx):
                    continue
                start, end = int(idx[0]), int(idx[-1]) + 1
            else:
                start, end = 1, len(x)
            nll += mdm_elbo(model, x[:end], start, self.mc_num, self.batch_size, gen, self.cfg_scale)
            tokens += end - start
        model.train(was_training)
        per_token = nll / max(tokens, 1)
        return {"elbo_nll": per_token, "elbo_bits_per_token": per_token / math.log(2)}
