"""Exact properties: on the token LM that a known byte-level Markov source defines, the byte-level
probabilities are the source's, for every prefix; naive token conditioning is not."""

import itertools

import pytest
import torch

from paperzoo_byte_level_probs.byteprobs import (
    BytePredictor,
    ensemble_probs,
    generate_bytes,
    token_next_byte_probs,
)
from paperzoo_byte_level_probs.markov import END
from paperzoo_byte_level_probs.tests.helpers import exact_setup


def prefixes(alphabet: bytes, upto: int):
    for n in range(upto + 1):
        for tup in itertools.product(alphabet, repeat=n):
            yield bytes(tup)


def test_vocabulary_has_multibyte_tokens():
    _, vocab, _ = exact_setup()
    assert max(len(b) for b in vocab.token_bytes) >= 2


@pytest.mark.parametrize("vocab_size, upto", [(8, 3), (12, 5)])
def test_joint_sums_to_prefix_probability_and_matches_source(vocab_size, upto):
    # every prefix up to `upto` bytes (the parity test covers whole texts, where the end comes next)
    src, vocab, lm = exact_setup(vocab_size)
    worst_p, worst_mass = 0.0, 0.0
    for x in prefixes(b"abc", upto):
        pred = BytePredictor(lm, vocab, x)
        joint = pred.joint()
        worst_mass = max(worst_mass, abs(float(joint.sum()) - src.prefix_prob(x)))
        probs = pred.probs()
        assert abs(float(probs.sum()) - 1.0) < 1e-12
        worst_p = max(worst_p, float((probs - src.next_byte(x)).abs().max()))
    assert worst_mass < 1e-13
    assert worst_p < 1e-12


def test_no_masking_gives_the_same_on_an_exact_lm():
    # the exact LM puts zero mass on non-canonical encodings, so masking them changes nothing
    _, vocab, lm = exact_setup()
    for x in [b"", b"a", b"ab", b"bca", b"aacb"]:
        a, b = BytePredictor(lm, vocab, x, True).probs(), BytePredictor(lm, vocab, x, False).probs()
        assert torch.allclose(a, b, atol=1e-14, rtol=0)


def test_incremental_extension_equals_fresh_prompt():
    _, vocab, lm = exact_setup()
    grown = BytePredictor(lm, vocab, b"a")
    grown.extend(b"bc")
    assert torch.equal(grown.probs(), BytePredictor(lm, vocab, b"abc").probs())


def test_naive_token_conditioning_is_biased_mid_token():
    src, vocab, lm = exact_setup()
    worst = 0.0
    for x in prefixes(b"abc", 5):
        if src.prefix_prob(x) < 1e-4:
            continue
        worst = max(worst, 0.5 * float((token_next_byte_probs(lm, vocab, x) - src.next_byte(x)).abs().sum()))
    assert worst > 0.3  # some prompt's last token is cut: its continuation is far off


def test_naive_equals_exact_on_empty_prompt():
    src, vocab, lm = exact_setup()
    assert torch.allclose(token_next_byte_probs(lm, vocab, b""), src.next_byte(b""), atol=1e-13, rtol=0)


def test_ensemble_of_two_vocabularies_is_still_the_source():
    src, v8, lm8 = exact_setup(8)
    _, v12, lm12 = exact_setup(12)
    assert v8.token_bytes != v12.token_bytes
    for x in [b"", b"b", b"ca", b"abca"]:
        mix = ensemble_probs(
            [BytePredictor(lm8, v8, x).probs(), BytePredictor(lm12, v12, x).probs()], [0.3, 0.7]
        )
        assert torch.allclose(mix, src.next_byte(x), atol=1e-12, rtol=0)


def test_ensemble_weights():
    p, q = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.equal(ensemble_probs([p, q], [1.0, 3.0]), torch.tensor([0.25, 0.75], dtype=torch.float64))
    with pytest.raises(ValueError):
        ensemble_probs([p, q], [0.0, 0.0])


def test_greedy_generation_follows_the_source_argmax_and_stops():
    src, vocab, lm = exact_setup()
    out = generate_bytes([BytePredictor(lm, vocab, b"a")], max_new_bytes=10, temperature=0)
    assert len(out) == src.length - 1  # stops at the end of the text
    text = b"a"
    for b in out:
        assert b == int(src.next_byte(text).argmax())
        text += bytes([b])
    assert int(src.next_byte(text).argmax()) == END


def test_bad_params_are_rejected_with_their_name():
    from paperzoo.errors import ParamError

    from paperzoo_byte_level_probs.experiment import ByteLevelSampler, markov_data

    with pytest.raises(ParamError, match="alphabet"):
        markov_data(alphabet="aa")
    with pytest.raises(ParamError, match="bpe_vocab_size"):
        markov_data(alphabet="abc", bpe_vocab_size=5)
    with pytest.raises(ParamError, match="n_prompts"):
        ByteLevelSampler(n_prompts=0)


def _sampler_data(src, vocab):
    from types import SimpleNamespace

    return SimpleNamespace(source=src, vocab=vocab, val_texts=src.sample(6, 5))


def _per_prompt(model, data, n):
    """The sampler's figures with a fresh predictor and a separate naive forward pass per prompt."""
    from paperzoo_byte_level_probs.experiment import mid_token_prompts, tv

    sums, counts = {}, {"mid": 0, "boundary": 0}
    for prompt, mid in mid_token_prompts(data.val_texts, data.vocab, n):
        where, truth = ("mid" if mid else "boundary"), data.source.next_byte(prompt)
        byte = BytePredictor(model, data.vocab, prompt).probs()
        naive = token_next_byte_probs(model, data.vocab, prompt)
        sums[f"tv_byte_{where}"] = sums.get(f"tv_byte_{where}", 0.0) + tv(byte, truth)
        sums[f"tv_token_{where}"] = sums.get(f"tv_token_{where}", 0.0) + tv(naive, truth)
        counts[where] += 1
    return {k: v / counts[k.rsplit("_", 1)[1]] for k, v in sums.items()}, counts["mid"]


def test_sampler_extending_one_predictor_per_text_equals_a_fresh_one_per_prompt():
    from paperzoo_tinylm.model import TinyLMDecoder

    from paperzoo_byte_level_probs.experiment import ByteLevelSampler

    src, vocab, lm = exact_setup()
    data = _sampler_data(src, vocab)
    want, n_mid = _per_prompt(lm, data, 25)
    got = ByteLevelSampler(n_prompts=25)(lm, data)
    assert got == {**want, "n_mid": float(n_mid)}  # float64 table lookups: the very same numbers
    torch.manual_seed(0)
    net = TinyLMDecoder(vocab_size=len(vocab), d_model=16, n_layers=1, n_heads=2, max_seq_len=16).eval()
    want, _ = _per_prompt(net, data, 25)
    got = ByteLevelSampler(n_prompts=25)(net, data)
    for k, v in want.items():  # float32 logits: batch composition moves the last bits only
        assert got[k] == pytest.approx(v, abs=1e-6, rel=0)


def test_token_probs_of_a_predictor_equal_the_naive_answer():
    _, vocab, lm = exact_setup()
    for x in [b"", b"a", b"ab", b"bca", b"aacb"]:
        assert torch.equal(BytePredictor(lm, vocab, x).token_probs(), token_next_byte_probs(lm, vocab, x))


def test_table_lm_runs_on_the_cpu_without_parameters_or_buffers():
    from paperzoo_byte_level_probs.byteprobs import _device

    _, _, lm = exact_setup()
    assert not list(lm.parameters()) and not list(lm.buffers())
    assert _device(lm) == torch.device("cpu")


def test_evaluators_restore_the_training_mode_when_they_fail():
    from paperzoo_byte_level_probs.experiment import ByteLevelEnsemble, ByteLevelSampler

    class Broken(torch.nn.Linear):
        def forward(self, ids, **_):
            raise RuntimeError("broken model")

    src, vocab, _ = exact_setup()
    data = _sampler_data(src, vocab)
    data.train_texts = data.val_texts
    model = Broken(1, 1).train()
    for evaluator in (
        ByteLevelSampler(n_prompts=2),
        ByteLevelEnsemble(partner_vocab_size=8, partner_steps=0),
    ):
        with pytest.raises(RuntimeError, match="broken model"):
            evaluator(model, data)
        assert model.training
