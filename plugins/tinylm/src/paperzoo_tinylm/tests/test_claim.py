"""The pretrained checkpoint's claim: ``stdlib-small`` reaches the README's validation bits per byte on the
held-out tail of the corpus, and beats a byte-bigram baseline by a wide margin. Trains it (about a minute
or two on a CPU core) the first time, then loads it from the cache."""

from __future__ import annotations

import pytest

import paperzoo_tinylm
from paperzoo_tinylm import checkpoints

#: The README's figure (Results). Training is deterministic for a given torch build and CPU; other
#: builds round differently, hence the tolerance.
README_VAL_BPB = 2.7147
BPB_TOLERANCE = 0.03
#: "A wide margin": at least this many bits per byte below the bigram baseline.
MARGIN_BITS = 0.7


@pytest.mark.claim
def test_stdlib_small_bits_per_byte(record_property):
    model = paperzoo_tinylm.pretrained("stdlib-small")
    recipe = model.pretrained_info["recipe"]
    (x, y), (vx, vy) = checkpoints._data(recipe)
    bpb = checkpoints.bits_per_byte(model, vx, vy)
    bigram = checkpoints.bigram_bits_per_byte(x, y, vx, vy)
    record_property("val_bits_per_byte", round(bpb, 4))
    record_property("bigram_val_bits_per_byte", round(bigram, 4))
    assert bpb == pytest.approx(
        model.pretrained_info["val_bpb"], abs=1e-6
    )  # the stored figure is the split's
    assert abs(bpb - README_VAL_BPB) <= BPB_TOLERANCE, f"{bpb:.4f} vs README {README_VAL_BPB}"
    assert bpb <= bigram - MARGIN_BITS, f"{bpb:.4f} vs bigram {bigram:.4f}"
