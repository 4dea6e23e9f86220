"""The paper's claims in direction, at toy scale, 3 seeds: (1) byte-level prediction removes the bias that
naive token conditioning shows on prompts ending inside a token (total-variation distance to the true byte
law); (2) the byte-level ensemble of two models with different BPE vocabularies is at least as good as the
better single model in held-out bits per byte (mean over seeds)."""

import pytest
import torch

from paperzoo_byte_level_probs.experiment import ByteLevelSampler, byte_nll, markov_data, train_token_lm
from paperzoo_byte_level_probs.vocab import train_bpe

SEEDS = (0, 1, 2)
STEPS = 300  # each model: same steps, same size (compute-matched single models)


@pytest.mark.claim
def test_byte_level_removes_bias_and_ensemble_helps(record_property):
    tv_tok, tv_byte, bpb = [], [], {"a": [], "b": [], "ens": []}
    for seed in SEEDS:
        data = markov_data(alphabet="abc", length=8, n_train=2048, n_val=64, bpe_vocab_size=16, seed=seed)
        vocab_b = train_bpe(data.train_texts, 10)
        model_a = train_token_lm(data.train_texts, data.vocab, STEPS, seed)
        model_b = train_token_lm(data.train_texts, vocab_b, STEPS, seed)
        got = ByteLevelSampler(n_prompts=64)(model_a, data)
        tv_tok.append(got["tv_token_mid"])
        tv_byte.append(got["tv_byte_mid"])
        texts = data.val_texts[:24]
        a, b = (model_a, data.vocab), (model_b, vocab_b)
        bpb["a"].append(byte_nll([a], texts))
        bpb["b"].append(byte_nll([b], texts))
        bpb["ens"].append(byte_nll([a, b], texts))
    mean = {k: float(torch.tensor(v).mean()) for k, v in bpb.items()}
    record_property("tv_mid_token_naive", float(torch.tensor(tv_tok).mean()))
    record_property("tv_mid_token_byte_level", float(torch.tensor(tv_byte).mean()))
    record_property("bpb_vocab16", mean["a"])
    record_property("bpb_vocab10", mean["b"])
    record_property("bpb_ensemble", mean["ens"])
    record_property(
        "ensemble_best_in_seeds", sum(e <= min(x, y) for x, y, e in zip(bpb["a"], bpb["b"], bpb["ens"]))
    )
    assert all(b < 0.25 * t for b, t in zip(tv_byte, tv_tok)), (tv_byte, tv_tok)
    assert mean["ens"] <= min(mean["a"], mean["b"]), mean
