"""The ``uddia_decoding`` evaluator: fit the attribute classifier on training text, then decode
validation prompts with UDDIA and with plain sampling (same seeds) and compare attribute-token rates."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import DataBundle, fetch, spread_indices
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.tokenizer import encode

from .classifier import fit_attribute_classifier
from .decoding import uddia_sample


def _sequences(dataset: Any, n: int) -> torch.Tensor:
    return fetch(dataset, spread_indices(len(dataset), n))[0].long()


class UddiaDecoding:
    """Decode ``max_new_tokens`` after the first ``prompt_len`` tokens of ``n_prompts`` validation
    sequences with UDDIA and with plain sampling (one generator seed per prompt, shared by both), the
    designated attribute being "the next token is one of the bytes of ``attribute``"."""

    keys = ("attribute_rate", "attribute_rate_vanilla", "update_steps_per_token", "trigger_rate")

    def __init__(
        self,
        attribute: str = "_()",
        threshold: float = 0.1,
        steps: int = 3,
        lr: float = 0.2,
        gm_scale: float = 0.9,
        kl_scale: float = 0.0,
        n_layers_tuned: int = 1,
        temperature: float = 1.0,
        n_prompts: int = 8,
        prompt_len: int = 32,
        max_new_tokens: int = 32,
        n_fit_sequences: int = 32,
        seed: int = 0,
    ):
        """:param attribute: the designated ("toxic") tokens, as the characters whose bytes they are.
        :param threshold: trigger when the classifier's attribute probability exceeds it (``< 0``: always).
        :param steps: Adam steps per triggered token (the official ``dt_iter``).
        :param lr: their learning rate (``dt_lr``).
        :param gm_scale: weight of the tuned distribution in the geometric-mean fusion.
        :param kl_scale: weight of ``KL(p_orig || p_tuned)`` in the update loss.
        :param n_layers_tuned: upper blocks whose bias and norm parameters are updated (``T_0``).
        :param temperature: sampling temperature.
        :param n_prompts: validation sequences used as prompts, spread over the split.
        :param prompt_len: leading tokens of each given as the prompt.
        :param max_new_tokens: tokens sampled per prompt.
        :param n_fit_sequences: training sequences the classifier is fitted on.
        :param seed: base seed of the samplers (prompt ``i`` uses ``seed + i``)."""
        if not attribute:
            raise ValueError("attribute must name at least one character")
        if prompt_len < 1 or max_new_tokens < 1 or n_prompts < 1 or n_fit_sequences < 1:
            raise ValueError("prompt_len, max_new_tokens, n_prompts and n_fit_sequences must be >= 1")
        self.attribute_ids = torch.tensor(sorted(set(encode(attribute))))
        self.options = {
            "threshold": threshold,
            "steps": steps,
            "lr": lr,
            "gm_scale": gm_scale,
            "kl_scale": kl_scale,
            "n_layers_tuned": n_layers_tuned,
            "temperature": temperature,
        }
        self.n_prompts, self.prompt_len, self.max_new_tokens = n_prompts, prompt_len, max_new_tokens
        self.n_fit_sequences, self.seed = n_fit_sequences, seed

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        if data.task != "language_modeling":
            raise ValueError(f"uddia_decoding needs a language-modelling dataset, got task {data.task!r}")
        was_training = model.training
        model.eval()
        try:
            return self._evaluate(model, data)
        finally:
            model.train(was_training)

    def _evaluate(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        classifier = fit_attribute_classifier(
            model, _sequences(data.train, self.n_fit_sequences).to(device), self.attribute_ids, seed=self.seed
        )
        prompts = _sequences(data.val, self.n_prompts).to(device)
        if prompts.shape[1] < self.prompt_len:
            raise ValueError(f"prompt_len {self.prompt_len} exceeds the sequence length {prompts.shape[1]}")
        attribute = self.attribute_ids.to(device)
        temperature = self.options["temperature"]
        hits = hits_vanilla = updates = triggered = 0
        for i, row in enumerate(prompts[:, : self.prompt_len]):
            ours = uddia_sample(
                model, row, self.max_new_tokens, classifier, generator=self._gen(i, device), **self.options
            )
            # Plain sampling with the same processors and generator: what UDDIA draws when it never triggers.
            base = sample(
                model,
                row[None],
                self.max_new_tokens,
                temperature=temperature,
                generator=self._gen(i, device),
                use_cache=False,
            )[0]
            hits += int(torch.isin(ours.sequence[self.prompt_len :], attribute).sum())
            hits_vanilla += int(torch.isin(base[self.prompt_len :], attribute).sum())
            updates, triggered = updates + ours.update_steps, triggered + ours.triggered
        total = len(prompts) * self.max_new_tokens
        return {
            "attribute_rate": hits / total,
            "attribute_rate_vanilla": hits_vanilla / total,
            "update_steps_per_token": updates / total,
            "trigger_rate": triggered / total,
        }

    def _gen(self, i: int, device: torch.device) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(self.seed + i)
