"""Token-level parity with transformers' native diverse (group) beam search,
``generate(num_beams, num_beam_groups, diversity_penalty)``.

transformers 4.55.4 (pinned in the ``test`` extra) is the last release that runs it natively; later ones
fetch it from a Hub repository, which cannot run offline.
"""

import pytest
import torch
from paperzoo_tinylm.processors import NoRepeatNGram

from paperzoo_diverse_beam_search.decoding import diverse_beam_search

transformers = pytest.importorskip("transformers")
NATIVE = hasattr(transformers.GenerationMixin, "_group_beam_search")

pytestmark = [
    pytest.mark.skipif(
        not NATIVE,
        reason=f"transformers {transformers.__version__} has no native group beam search; install the "
        "plugin's test extra (transformers==4.55.4) for the parity test",
    ),
    pytest.mark.filterwarnings("ignore"),
]

SETTINGS = [  # (num_beams, num_beam_groups, diversity_penalty, other generate() arguments)
    (4, 2, 0.5, {}),
    (6, 3, 1.5, {"length_penalty": 0.6, "early_stopping": True}),
    (4, 4, 10.0, {"early_stopping": "never"}),
    (8, 4, 2.0, {"no_repeat_ngram_size": 2}),
]


# Each setting runs on both architectures, one with an end-of-sequence token and one without: eight runs
# cover every setting, architecture and stopping rule within the fast-test budget.
@pytest.mark.parametrize("setting", range(len(SETTINGS)))
@pytest.mark.parametrize(("kind", "eos"), [("gpt2", 3), ("llama", None)])
def test_tokens_match_transformers_group_beam_search(make_hf, kind, setting, eos, record_property):
    beams, groups, penalty, extra = SETTINGS[setting]
    model = make_hf(kind, seed=setting)
    ids = torch.randint(64, (2, 6), generator=torch.Generator().manual_seed(setting))
    common = {
        "num_beams": beams,
        "num_beam_groups": groups,
        "diversity_penalty": penalty,
        "max_new_tokens": 12,
        "num_return_sequences": beams // 2,
    }
    reference = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=0 if eos is None else eos,
        **common,
        **extra,
    )
    ngram = extra.get("no_repeat_ngram_size")
    ours_extra = {k: v for k, v in extra.items() if k != "no_repeat_ngram_size"}
    processors = (NoRepeatNGram(ngram),) if ngram else ()
    ours = diverse_beam_search(model, ids, eos_token_id=eos, processors=processors, **common, **ours_extra)
    # Token ids are discrete: parity is exact equality of every returned token.
    assert ours.shape == reference.shape
    record_property("tokens_differing", int((ours != reference).sum()))
    assert torch.equal(ours, reference)
