"""Parity. The correlation against scipy.stats; in-context navigation against a one-step-at-a-time
transcription of the official loop (KomeijiForce/KeyNavi, commit 54ac4e3, ``gsm8k.py`` and
``zerogen.py``: prompt = instruction + the explored list; take the highest-ranked first token not probed
yet; ``probe`` greedily, one full forward per token, until the stop) and of the plain context-mode loop.
The official scripts need Llama-3-8B-Instruct and GPT-4o and cannot run here; the transcriptions below
re-run the whole prefix at every token (no cache) and build prompts as Python lists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder
from scipy import stats

from paperzoo_icn.key_space import key_space_bias, rankdata
from paperzoo_icn.navigate import in_context_navigation

F64 = torch.float64
SEP = 44


def _scipy_bias(logits: np.ndarray, keys: np.ndarray, lo: int, hi: int, method: str) -> float:
    order = np.argsort(-logits, kind="stable")
    ids = order[lo:hi]
    unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    sim = unit[ids] @ unit[order[0]]
    logp = logits[ids] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    f = stats.spearmanr if method == "spearman" else stats.pearsonr
    return float(f(logp, sim)[0])


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_correlation_matches_scipy(method, record_property):
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(400, 32, dtype=F64, generator=g)
    logits = torch.randn(20, 32, dtype=F64, generator=g) @ keys.T
    ours, _ = key_space_bias(logits, keys, lo=10, hi=100, method=method)
    ref = [_scipy_bias(z, keys.numpy(), 10, 100, method) for z in logits.numpy()]
    err = float((ours - torch.tensor(ref, dtype=F64)).abs().max())
    record_property(f"{method}_max_abs_diff_float64", err)
    assert err < 1e-12  # float64 summation order only


def test_rankdata_matches_scipy_with_ties():
    x = torch.randint(0, 6, (5, 40), generator=torch.Generator().manual_seed(1)).double()
    ref = stats.rankdata(x.numpy(), axis=-1, method="average")
    assert np.array_equal(rankdata(x).numpy(), ref)


def _greedy_probe(model, ids: list[int], max_new: int, stops: tuple[int, ...]) -> tuple[int, ...]:
    """The official ``probe``: one full forward per token, argmax, stop at the stop token."""
    out: list[int] = []
    for _ in range(max_new):
        logits = model(torch.tensor([ids + out])).logits[0, -1]
        t = int(logits.argsort(descending=True, stable=True)[0])
        if t in stops:
            break
        out.append(t)
    return tuple(out)


def _official_icn(model, question: list[int], k: int, max_new: int, stops: tuple[int, ...]):
    """The official loop (``gsm8k.py``, ``icn = True``, one answer per run)."""
    escape_list: list[tuple[int, ...]] = []
    probed: list[int] = []
    for _ in range(k):
        prompt = question + [t for e in escape_list for t in (*e, SEP)]
        logits = model(torch.tensor([prompt])).logits[0, -1]
        for idx in logits.argsort(descending=True, stable=True).tolist():
            if idx not in probed:
                probed.append(idx)
                if idx in stops:
                    escape_list.append(())
                else:
                    escape_list.append((idx, *_greedy_probe(model, question + [idx], max_new - 1, stops)))
                break
    return escape_list


def _context_icn(model, question: list[int], k: int, max_new: int, stops: tuple[int, ...]):
    """The plain form: each answer decoded greedily after the question and the explored list."""
    explored: list[tuple[int, ...]] = []
    for _ in range(k):
        explored.append(
            _greedy_probe(model, question + [t for e in explored for t in (*e, SEP)], max_new, stops)
        )
    return explored


def _model(seed: int) -> TinyLMDecoder:
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=32, n_layers=2, n_heads=4, max_seq_len=128).double().eval()
    with torch.no_grad():  # make the separator and end likely enough that answers have varied lengths
        model.lm_head.weight[SEP] += 0.6 * model.lm_head.weight[65:91].mean(0) / 0.02
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icn_matches_the_transcribed_loops(seed, record_property):
    model, question, stops = _model(seed), [257, 83, 48 + seed, 61], (SEP, 258)
    q = torch.tensor(question)
    official = in_context_navigation(
        model, q, 5, 4, sep=SEP, eos=258, exclude_first=True, complete_from="bare"
    )
    context = in_context_navigation(model, q, 5, 4, sep=SEP, eos=258)
    assert official.answers == _official_icn(model, question, 5, 4, stops)
    assert context.answers == _context_icn(model, question, 5, 4, stops)
    record_property(f"answers_equal_seed{seed}", 1)
