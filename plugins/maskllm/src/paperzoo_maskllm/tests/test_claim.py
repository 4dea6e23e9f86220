"""The paper's headline, in direction, at small scale: with the weights frozen, learned 2:4 masks give a
lower held-out loss than the magnitude 2:4 masks they start from. Model: the ``stdlib-small`` tinylm
checkpoint (``paperzoo_tinylm.pretrained``; every Linear of its blocks 2:4 sparse, the embedding and
output head dense); masks learned for 100 steps on 8 x 64-byte blocks of its training text; held-out
perplexity on 64 x 128 bytes of the checkpoint's validation tail; 3 seeds (logit initialisation, Gumbel
noise and batches)."""

from __future__ import annotations

import pytest

STEPS, BATCH, SEQ = 100, 8, 64


@pytest.mark.claim
def test_learned_2_4_masks_beat_magnitude_2_4_masks(record_property):
    import paperzoo_tinylm
    from paperzoo_compress.fixture import perplexity, text_blocks
    from paperzoo_compress.sparsity import is_nm_sparse, nm_mask, sparsify_model

    from paperzoo_maskllm.apply import finalize, learn_masks

    blocks = r"^blocks\."
    train = text_blocks("train", 256, seq_len=SEQ, seed=100)
    val = text_blocks("val", 64, seq_len=128)
    dense = perplexity(paperzoo_tinylm.pretrained("stdlib-small"), val)
    magnitude = paperzoo_tinylm.pretrained("stdlib-small")
    sparsify_model(magnitude, lambda w: nm_mask(w, 2, 4), select=lambda name, _: name.startswith("blocks."))
    ppl_magnitude = perplexity(magnitude, val)
    record_property("ppl_dense", round(dense, 4))
    record_property("ppl_magnitude_2_4", round(ppl_magnitude, 4))
    learned = []
    for seed in range(3):
        model = paperzoo_tinylm.pretrained("stdlib-small")
        layers = learn_masks(
            model, train, STEPS, batch=BATCH, lr=1e-3, weight_reg=1e-5, seed=seed, layers=blocks
        )
        assert len(layers) == 28  # q, k, v, o, gate, up, down of 4 blocks
        sparse = finalize(model)
        assert all(is_nm_sparse(mod.weight, 2, 4) for mod in sparse.values())
        learned.append(perplexity(model, val))
        record_property(f"ppl_maskllm_2_4_seed{seed}", round(learned[-1], 4))
    assert all(ppl < ppl_magnitude for ppl in learned), (learned, ppl_magnitude)
    assert all(ppl > dense for ppl in learned)  # sanity: a 2:4 model does not beat the dense one
