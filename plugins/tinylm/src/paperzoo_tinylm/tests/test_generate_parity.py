"""Token-for-token parity of :func:`paperzoo_tinylm.generate.generate` with transformers' ``generate`` on a
tiny random GPT-2: beam search, greedy decoding with logits processors, and sampling under the same
global seed. Token ids are discrete: parity is equality of every token (and of the output's shape)."""

import pytest
import torch

from paperzoo_tinylm.generate import generate
from paperzoo_tinylm.tests.decoding_models import gpt2, prompts

VOCAB, NEW = 64, 16


@pytest.fixture(scope="module")
def models():
    return [gpt2(seed, vocab=VOCAB) for seed in (0, 1)]


def reference(model, ids, **kwargs):
    return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, **kwargs)


def early_token(model, ids, **kwargs):
    """The fourth token the reference generates for the first prompt without an eos: as ``eos_token_id``
    it ends some hypotheses early, so that finished, padded ones take part."""
    free = {k: v for k, v in kwargs.items() if k not in ("eos_token_id", "min_new_tokens", "pad_token_id")}
    torch.manual_seed(0)
    return int(reference(model, ids, **free)[0, ids.shape[1] + 3])


def check(models, record_property, **kwargs):
    differing = ended = 0
    for seed, model in enumerate(models):
        ids = prompts(batch=3, length=6, seed=seed, vocab=VOCAB)
        if kwargs.get("eos_token_id") == "early":
            kwargs = {**kwargs, "eos_token_id": early_token(model, ids, **kwargs)}
        torch.manual_seed(seed)  # sampling draws from the global generator on both sides
        want = reference(model, ids, **kwargs)
        torch.manual_seed(seed)
        got = generate(model, ids, NEW, **kwargs)
        assert got.shape == want.shape, kwargs
        differing += int((got != want).sum())
        if kwargs.get("eos_token_id") is not None:
            ended += int((want[:, ids.shape[1] : -1] == kwargs["eos_token_id"]).sum())
    record_property("tokens_differing", differing)
    assert differing == 0, kwargs
    return ended


E = "early"  # see early_token
# (settings, whether some returned hypothesis must end with eos before the last step on these models)
BEAMS = [
    ({"num_beams": 2}, False),
    ({"num_beams": 4, "eos_token_id": E, "pad_token_id": 63}, False),
    ({"num_beams": 3, "eos_token_id": E, "pad_token_id": 63, "length_penalty": 2.0, "early_stopping": True}, True),
    ({"num_beams": 4, "eos_token_id": E, "pad_token_id": 63, "length_penalty": 0.0, "early_stopping": "never"}, True),
    ({"num_beams": 4, "eos_token_id": E, "pad_token_id": 63, "num_return_sequences": 3, "length_penalty": -1.0}, True),
    ({"num_beams": 3, "no_repeat_ngram_size": 2, "repetition_penalty": 1.3, "eos_token_id": E, "min_new_tokens": 3,
      "pad_token_id": 63}, False),
]  # fmt: skip


def name(settings):
    return "-".join(f"{k}={v}" for k, v in settings.items())


@pytest.mark.parametrize("settings,ends", BEAMS, ids=[name(s) for s, _ in BEAMS])
def test_beam_search_matches_transformers(models, record_property, settings, ends):
    ended = check(models, record_property, do_sample=False, **settings)
    assert ended > 0 or not ends, "no finished hypothesis took part"


GREEDY = [
    {"repetition_penalty": 1.5},
    {"no_repeat_ngram_size": 3, "repetition_penalty": 0.8},
    {"eos_token_id": E, "min_new_tokens": 3, "pad_token_id": 63},
]


@pytest.mark.parametrize("settings", GREEDY, ids=name)
def test_greedy_with_processors_matches_transformers(models, record_property, settings):
    check(models, record_property, do_sample=False, **settings)


SAMPLING = [
    {"top_k": 10},
    {"top_k": 0, "top_p": 0.8, "temperature": 0.7},
    {"top_k": 20, "top_p": 0.9, "temperature": 1.3, "repetition_penalty": 1.2, "eos_token_id": E},
]


@pytest.mark.parametrize("settings", SAMPLING, ids=name)
def test_sampling_under_the_same_seed_matches_transformers(models, record_property, settings):
    # transformers' default top_k is 50 when none is given; the settings always name it.
    check(models, record_property, do_sample=True, **settings)
