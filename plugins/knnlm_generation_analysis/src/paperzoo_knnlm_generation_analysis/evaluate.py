"""Evaluators: the improved/worsened token split of the kNN-LM's perplexity gain, and the entropy of the
retrieval distribution by generated length. Both build the datastore from the training split with the
knn_lm plugin's API and score (or prompt from) the held-out split."""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle
from paperzoo_knn_lm.datastore import FFN_INPUT
from paperzoo_knn_lm.evaluate import KNNLMSetup
from paperzoo_knn_lm.knn import KNNLM, target_log_probs
from torch import nn

from paperzoo_knnlm_generation_analysis.analysis import least_squares_slope, split_deltas
from paperzoo_knnlm_generation_analysis.generation import DECODINGS, SOURCES, entropies_by_position, generate


class TokenPPLDeltaSplit(KNNLMSetup):
    """Evaluator: split the kNN-LM's log-likelihood change on held-out text into improved and worsened
    tokens (Wang et al., 2023, Section 4).

    Reports ``ppl_lm``, ``ppl_knnlm``, ``frac_improved``, ``frac_worsened``, ``delta_improved``,
    ``delta_worsened``, ``delta_total`` (sums of ``log p_kNN-LM(y) - log p_LM(y)`` per scored token;
    ``delta_improved + delta_worsened = delta_total``), ``gain_concentration`` (smallest share of tokens
    whose improvements reach the net gain), the perplexities of both models on each subset, and
    ``datastore_size``.

    :param k: neighbours per position.
    :param temperature: ``tau`` in ``p_kNN ~ exp(-d / tau)``.
    :param lam: interpolation weight of ``p_kNN``.
    :param key: ``ffn_input`` or a tinylm hook name.
    :param index: ``flat``, ``faiss_flat`` or ``faiss_ivf``.
    :param datastore_sequences: training sequences in the datastore (``null``: all).
    :param n_sequences: held-out sequences scored.
    :param split: ``val`` or ``train``.
    """

    def __init__(
        self,
        k: int = 16,
        temperature: float = 1.0,
        lam: float = 0.25,
        key: str = FFN_INPUT,
        index: str = "flat",
        datastore_sequences: int | None = 512,
        n_sequences: int = 32,
        split: str = "val",
    ) -> None:
        super().__init__(k, temperature, lam, key, index, datastore_sequences, n_sequences, split)
        self.keys = (
            "ppl_lm",
            "ppl_knnlm",
            "frac_improved",
            "frac_worsened",
            "delta_improved",
            "delta_worsened",
            "delta_total",
            "gain_concentration",
            "ppl_lm_improved",
            "ppl_knnlm_improved",
            "ppl_lm_worsened",
            "ppl_knnlm_worsened",
            "datastore_size",
        )

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        return self.run(model, data, self._score)

    @staticmethod
    def _score(knnlm: KNNLM, x: torch.Tensor, y: torch.Tensor, batch_size: int = 16) -> dict[str, float]:
        lm_lp, mix_lp, _ = target_log_probs(knnlm, x, y, batch_size)
        deltas = mix_lp - lm_lp
        out = split_deltas(deltas).as_dict()

        def ppl(lp: torch.Tensor) -> float:
            return math.exp(-float(lp.mean())) if lp.numel() else float("nan")

        out.update(ppl_lm=ppl(lm_lp), ppl_knnlm=ppl(mix_lp))
        for name, mask in (("improved", deltas > 0), ("worsened", deltas < 0)):
            out[f"ppl_lm_{name}"], out[f"ppl_knnlm_{name}"] = ppl(lm_lp[mask]), ppl(mix_lp[mask])
        return out


class RetrievalEntropyByLength(KNNLMSetup):
    """Evaluator: entropy of the retrieval distribution ``p_kNN`` and of the base LM's ``p_LM`` at each
    generated position (Wang et al., 2023, Section 5: exposure bias of retrieval).

    The first ``prompt_len`` tokens of ``n_sequences`` held-out sequences prompt ``max_new_tokens`` tokens
    from ``source`` (``knnlm`` or ``lm``) by ``decoding`` (``sample`` with nucleus ``top_p``, or
    ``greedy``), seeded by ``seed``. Reports, for ``knn`` and ``lm``: the entropy averaged over sequences
    in ``n_bins`` equal bins of generated positions (``entropy_knn_bin0`` ... first positions first), the
    least-squares slope of the per-position mean entropy (nats per token), ``entropy_slope_gap`` (knn
    slope minus lm slope), the same two slopes on the held-out reference continuations
    (``ref_entropy_slope_knn``, ``ref_entropy_slope_lm``: the held-out inputs teacher-forced, up to
    their length), and
    ``datastore_size``. Other parameters as in ``token_ppl_delta_split``.
    """

    def __init__(
        self,
        k: int = 16,
        temperature: float = 1.0,
        lam: float = 0.25,
        key: str = FFN_INPUT,
        index: str = "flat",
        datastore_sequences: int | None = 512,
        n_sequences: int = 16,
        split: str = "val",
        prompt_len: int = 32,
        max_new_tokens: int = 64,
        source: str = "knnlm",
        decoding: str = "sample",
        top_p: float = 1.0,
        n_bins: int = 4,
        seed: int = 0,
    ) -> None:
        super().__init__(k, temperature, lam, key, index, datastore_sequences, n_sequences, split)
        if source not in SOURCES or decoding not in DECODINGS:
            raise ValueError(f"source in {SOURCES} and decoding in {DECODINGS} are required")
        if prompt_len < 1 or max_new_tokens < n_bins or n_bins < 1 or not 0.0 < top_p <= 1.0:
            raise ValueError("prompt_len >= 1, max_new_tokens >= n_bins >= 1 and 0 < top_p <= 1 are required")
        self.prompt_len, self.max_new_tokens, self.source, self.decoding = (
            prompt_len,
            max_new_tokens,
            source,
            decoding,
        )
        self.top_p, self.n_bins, self.seed = top_p, n_bins, seed
        bins = [f"entropy_{w}_bin{j}" for w in ("knn", "lm") for j in range(n_bins)]
        slopes = ["entropy_slope_knn", "entropy_slope_lm", "entropy_slope_gap"]
        self.keys = (*bins, *slopes, "ref_entropy_slope_knn", "ref_entropy_slope_lm", "datastore_size")

    def __call__(self, model: nn.Module, data: DataBundle) -> dict[str, float]:
        limit = getattr(getattr(model, "config", None), "max_seq_len", None)
        if limit is not None and self.prompt_len + self.max_new_tokens > limit:
            raise ValueError(
                f"prompt_len + max_new_tokens: got {self.prompt_len + self.max_new_tokens}; "
                f"accepted: at most the model's max_seq_len {limit}"
            )
        return self.run(model, data, self._measure)

    def _measure(self, knnlm: KNNLM, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        gen = torch.Generator(device=x.device).manual_seed(self.seed)
        prompts = x[:, : self.prompt_len]
        ids = generate(
            knnlm, prompts, self.max_new_tokens, self.source, self.decoding, self.top_p, generator=gen
        )
        ent = entropies_by_position(knnlm, ids, self.prompt_len)
        out: dict[str, float] = {}
        for w in ("knn", "lm"):
            per_pos = ent[w].mean(0)
            for j, chunk in enumerate(per_pos.tensor_split(self.n_bins)):
                out[f"entropy_{w}_bin{j}"] = float(chunk.mean())
            out[f"entropy_slope_{w}"] = least_squares_slope(per_pos)
        out["entropy_slope_gap"] = out["entropy_slope_knn"] - out["entropy_slope_lm"]
        # the held-out text itself, teacher-forced, over the same positions where it is long enough
        n_ref = min(x.shape[1], self.prompt_len + self.max_new_tokens)
        if n_ref < self.prompt_len + 2:
            raise ValueError(
                f"prompt_len: got {self.prompt_len}; accepted: at most {x.shape[1] - 2} for sequences of "
                f"length {x.shape[1]}"
            )
        ref_ent = entropies_by_position(knnlm, x[:, :n_ref], self.prompt_len)
        for w in ("knn", "lm"):
            out[f"ref_entropy_slope_{w}"] = least_squares_slope(ref_ent[w].mean(0))
        return out
