"""Parity (no official code or package implements the method): the adaptive sampler against an
independent plain loop of the paper's procedure written from its description, and the labels against a
brute-force pairwise count."""

from __future__ import annotations

import itertools

import torch
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import EOS

from paperzoo_capability_self_eval.adaptive import adaptive_best_of_n, annealed_temperature, self_eval_scorer
from paperzoo_capability_self_eval.self_eval import SelfEval, p_better_labels


def _reference_loop(model, prompt, se, n_max, threshold, temperature, gen):
    """Draw one sample at a time; keep the lowest P(better) (first on ties); stop below the threshold."""
    best, best_p, drawn, ps = None, None, [], []
    for i in range(n_max):
        seq = sample(model, prompt[None], 3, temperature(i), generator=gen, eos_token_id=EOS)[0]
        hit = (seq[len(prompt) :] == EOS).nonzero()
        response = seq if len(hit) == 0 else seq[: len(prompt) + int(hit[0]) + 1]
        p = float(se.p_better(model, [response])[0])
        drawn.append(seq)
        ps.append(p)
        if best_p is None or p < best_p:
            best, best_p = i, p
        if best_p < threshold:
            break
    return drawn, best, best_p, ps


def test_adaptive_sampler_matches_a_plain_loop(record_property):
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=32, n_layers=1, n_heads=2, max_seq_len=48).eval()
    se = SelfEval()
    temperature = annealed_temperature(0.5, 1.5, 0.5)
    worst, stops = 0.0, []
    for seed, prompt in enumerate([torch.tensor([257, 49, 43, 50, 61]), torch.tensor([257, 55, 61])]):
        # the threshold: just above the second-lowest P(better) of 8 draws, so sampling stops mid-way
        *_, ps = _reference_loop(model, prompt, se, 8, 0.0, temperature, torch.Generator().manual_seed(seed))
        threshold = sorted(ps)[1] + 1e-7
        ref, ref_best, ref_p, _ = _reference_loop(
            model, prompt, se, 8, threshold, temperature, torch.Generator().manual_seed(seed)
        )
        got = adaptive_best_of_n(
            model,
            prompt,
            self_eval_scorer(model, se),
            8,
            3,
            threshold=threshold,
            rounds="one",
            temperature=temperature,
            generator=torch.Generator().manual_seed(seed),
        )
        assert got.n_samples == len(ref) and got.best == ref_best
        assert all(torch.equal(a, b) for a, b in zip(got.sequences, ref, strict=True))
        worst = max(worst, abs(-got.best_score - ref_p))
        stops.append(len(ref))
    assert any(1 < n < 8 for n in stops), stops  # a stop that is neither the first nor the last
    assert worst < 1e-6  # float32 scores from the same forward passes, batched the same way
    record_property("p_better_max_abs_diff_float32", worst)


def test_labels_match_a_pairwise_count():
    torch.manual_seed(0)
    rewards = torch.randint(0, 3, (9,)).double()
    want = []
    for i in range(9):
        wins = sum(1 for j in range(9) if j != i and rewards[j] > rewards[i])
        want.append(wins / 8)
    assert p_better_labels(rewards).tolist() == want
    for r in itertools.product([0.0, 1.0], repeat=3):
        labels = p_better_labels(torch.tensor(r))
        assert all((labels[i] == 0) == (r[i] == max(r)) for i in range(3))
