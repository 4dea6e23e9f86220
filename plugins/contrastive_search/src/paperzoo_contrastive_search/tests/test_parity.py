"""Token-level parity with transformers' native contrastive search (``generate(penalty_alpha, top_k)``).

transformers 4.55.4 (pinned in the ``test`` extra) is the last release that runs contrastive search
natively; from 4.56 on ``generate`` fetches it from a Hub repository, which cannot run offline.
"""

import pytest
import torch

from paperzoo_contrastive_search.decoding import contrastive_search

transformers = pytest.importorskip("transformers")
NATIVE = hasattr(transformers.GenerationMixin, "_contrastive_search")

pytestmark = pytest.mark.skipif(
    not NATIVE,
    reason=f"transformers {transformers.__version__} has no native contrastive search (removed in 4.56); "
    "install the plugin's test extra (transformers==4.55.4) for the parity test",
)


@pytest.mark.parametrize("alpha,k", [(0.6, 4), (0.5, 5), (0.9, 2), (1.0, 3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_tokens_match_transformers_contrastive_search(make_gpt2, seed, alpha, k, record_property):
    model = make_gpt2(seed, vocab=128)
    ids = torch.randint(128, (4, 8), generator=torch.Generator().manual_seed(seed))
    reference = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        penalty_alpha=alpha,
        top_k=k,
        max_new_tokens=32,
        pad_token_id=0,
    )
    ours = contrastive_search(model, ids, alpha, k, 32)
    # Token ids are discrete: parity is exact equality of every generated token.
    assert torch.equal(ours, reference)
    record_property("tokens_differing", int((ours != reference).sum()))
