"""Exact properties of the unit permutation, the trainer, the fact corpus and the ranking evaluator."""

from collections import Counter

import pytest
import torch
from paperzoo import engine
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import BOS, EOS, PAD

from paperzoo_semantic_permutation_training.evaluate import answer_scores, split_rows
from paperzoo_semantic_permutation_training.facts import encode_rows, fact_corpus, parent_facts
from paperzoo_semantic_permutation_training.permute import (
    Lexicon,
    draw_modes,
    order_of_row,
    permute_units,
    runs_of,
    unit_spans,
)
from paperzoo_semantic_permutation_training.trainer import SemanticPermutationAugment, permute_batch

CORPUS = fact_corpus(6, 6, seed=3)
LEXICON = Lexicon.of(CORPUS.phrases())


def units_of(row: list[int], level: str) -> list[bytes]:
    """The units of every run of ``row`` as bytes, in order."""
    out = []
    for s, e in runs_of(row):
        out += [bytes(row[s:e][a:b]) for a, b in unit_spans(row[s:e], level, LEXICON)]
    return out


def batch(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    return encode_rows([("", s) for s in CORPUS.sentences()][:n])


@pytest.mark.parametrize("level", ["phrases", "words", "tokens"])
@pytest.mark.parametrize("mode", ["reverse", "shuffle"])
def test_permutation_keeps_the_multiset_of_units_and_the_special_tokens(level, mode):
    x, _ = batch()
    g = torch.Generator().manual_seed(0)
    index = permute_units(x, [mode] * len(x), level, LEXICON, g)
    out = x.gather(1, index)
    for before, after in zip(x.tolist(), out.tolist()):
        assert Counter(units_of(before, level)) == Counter(units_of(after, level))
        special = [i for i, t in enumerate(before) if t >= 256]
        assert [after[i] for i in special] == [before[i] for i in special]
    for row in index.tolist():
        assert sorted(row) == list(range(x.shape[1]))  # a permutation of positions


def test_phrase_units_never_split_an_entity():
    """Every entity appears contiguously in every permuted sentence (words would split it)."""
    x, _ = batch()
    g = torch.Generator().manual_seed(1)
    for mode in ("reverse", "shuffle"):
        out = x.gather(1, permute_units(x, [mode] * len(x), "phrases", LEXICON, g))
        for before, after in zip(x.tolist(), out.tolist()):
            text = bytes(t for t in after if t < 256).decode()
            names = [n for n in CORPUS.phrases()[:-2] if n in bytes(t for t in before if t < 256).decode()]
            assert len(names) == 2 and all(f" {n}" in text for n in names)


def test_reverse_of_a_fact_by_hand():
    (a, b), row = CORPUS.held_out[0], None
    row = [BOS, *f" {a} 's parent is {b}".encode(), EOS, PAD]
    expected = [BOS, *f" {b} 's parent is {a}".encode(), EOS, PAD]
    assert [row[i] for i in order_of_row(row, "reverse", "phrases", LEXICON)] == expected
    words = [row[i] for i in order_of_row(row, "reverse", "words")]
    assert bytes(words[1:-2]).decode() == " " + " ".join(reversed(f"{a} 's parent is {b}".split()))


def test_reverse_is_an_involution_and_keep_the_identity():
    x, _ = batch()
    rev = x.gather(1, permute_units(x, ["reverse"] * len(x), "phrases", LEXICON))
    back = rev.gather(1, permute_units(rev, ["reverse"] * len(x), "phrases", LEXICON))
    assert torch.equal(back, x)
    assert torch.equal(permute_units(x, ["keep"] * len(x)), torch.arange(x.shape[1]).expand_as(x))


def test_each_run_between_special_tokens_is_permuted_on_its_own():
    row = [BOS, *b" ab cd", EOS, *b" ef gh ij", EOS, PAD]
    out = [row[i] for i in order_of_row(row, "reverse", "words")]
    assert out == [BOS, *b" cd ab", EOS, *b" ij gh ef", EOS, PAD]


def test_shuffle_draws_every_order_of_three_units_evenly():
    row = [BOS, *b" a b c", EOS]
    g = torch.Generator().manual_seed(0)
    counts = Counter(
        bytes(row[i] for i in order_of_row(row, "shuffle", "words", None, g)[1:-1]) for _ in range(3000)
    )
    assert len(counts) == 6 and min(counts.values()) > 400  # 500 expected each; 400 is 4.7 sd below


def test_draw_modes_shares():
    modes = draw_modes(30000, 0.2, 0.5, torch.Generator().manual_seed(0))
    share = {m: modes.count(m) / len(modes) for m in ("reverse", "shuffle", "keep")}
    assert abs(share["reverse"] - 0.2) < 0.01 and abs(share["shuffle"] - 0.5) < 0.01  # sd 0.003
    assert set(draw_modes(50, 0.0, 0.0)) == {"keep"} and set(draw_modes(50, 1.0, 0.0)) == {"reverse"}


def test_permute_batch_moves_targets_with_their_tokens():
    x, y = encode_rows(CORPUS.questions("forward"))  # answer-only targets
    xs, ys = permute_batch(x, y, ["reverse"] * len(x), "phrases", LEXICON)
    for (prompt, answer), xr, yr in zip(CORPUS.questions("forward"), xs.tolist(), ys.tolist()):
        child = prompt.removesuffix(" 's parent is")
        text = (
            bytes(t for t in xr[1:] if t < 256).decode()
            + bytes([yr[-1]] if 0 <= yr[-1] < 256 else []).decode()
        )
        assert text == f"{answer} 's parent is{child}"  # whole units, reversed
        assert bytes(t for t in yr if 0 <= t < 256).decode() == answer  # still the only targets
    xk, yk = permute_batch(x, y, ["keep"] * len(x), "phrases", LEXICON)
    assert torch.equal(xk, x) and torch.equal(yk, y)


def tiny_run(tmp_path, trainer: dict, name: str) -> dict:
    config = {
        "seed": 0,
        "data": {"name": "spt_parent_facts", "n_pairs": 4, "n_paired": 4},
        "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 64},
        "optimizer": {"name": "adamw", "lr": 1e-2},
        "trainer": {"max_steps": 3, "batch_size": 8, "progress": False, **trainer},
        "evaluators": [{"name": "loss"}],
        "output": {"dir": str(tmp_path), "name": name},
    }
    return engine.execute(config)


def test_zero_probabilities_are_the_supervised_loop_bit_for_bit(tmp_path):
    plain = tiny_run(tmp_path, {"name": "supervised"}, "plain")
    spt0 = tiny_run(tmp_path, {"name": "semantic_permutation_augment", "p_reverse": 0, "p_shuffle": 0}, "p0")
    spt = tiny_run(tmp_path, {"name": "semantic_permutation_augment", "p_reverse": 1.0, "p_shuffle": 0}, "p1")
    assert spt0["train_loss"] == plain["train_loss"] and spt0["loss"] == plain["loss"]
    assert spt["train_loss"] != plain["train_loss"]


def test_trainer_resolves_units_and_rejects_bad_params():
    with pytest.raises(Exception, match="p_reverse"):
        SemanticPermutationAugment(p_reverse=1.5)
    with pytest.raises(Exception, match="p_shuffle"):
        SemanticPermutationAugment(p_reverse=0.6, p_shuffle=0.6)
    with pytest.raises(Exception, match="units"):
        SemanticPermutationAugment(units="sentences")


def test_corpus_layout():
    data = parent_facts(n_pairs=3, n_paired=2, seed=0)
    corpus = fact_corpus(3, 2, seed=0)
    assert len(data.train) == 3 + 2 * 2 and len(data.val) == 3
    names = [n for p in corpus.held_out + corpus.paired for n in p]
    assert len(set(names)) == 10 and all(len(n.split()) == 2 for n in names)
    prompts, answers = split_rows(*data.val.tensors)
    for (a, b), p, ans in zip(corpus.held_out, prompts, answers):
        assert bytes(p[1:]).decode() == f" {b} 's child is" and bytes(ans[:-1]).decode() == f" {a}"
        assert ans[-1] == EOS
    reverse_text = {bytes(t for t in r if t < 256).decode() for r in data.train.tensors[0].tolist()}
    assert not any(f" {b} 's child is {a}" in reverse_text for a, b in corpus.held_out)


def test_ranking_scores_equal_a_direct_sum_of_log_probabilities():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=64).double().eval()
    x, y = encode_rows(CORPUS.questions("reverse"))
    prompts, answers = split_rows(x, y)
    scores = answer_scores(model, prompts, answers[:3])
    for i, p in enumerate(prompts[:2]):
        for j, c in enumerate(answers[:3]):
            ids = torch.tensor([p + list(c)])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits.double()[0], -1)
            direct = sum(float(logp[len(p) - 1 + k, t]) for k, t in enumerate(c))
            assert abs(float(scores[i, j]) - direct) < 1e-5  # float32 logits in the scorer
