"""No reference implementation of SPT exists (the paper has no code release, and no package implements
it), so there is nothing to compare numerically. Instead, the segmentation and the reversal are checked
on sentences whose expected outputs are written here by hand (the paper's Figure 1 style: entities and
phrases move whole); the exact properties live in ``test_properties.py``."""

from paperzoo_tinylm.tokenizer import BOS, EOS, PAD

from paperzoo_semantic_permutation_training.permute import Lexicon, order_of_row, runs_of, unit_spans

LEXICON = Lexicon.of(["Daphne Barrington", "the director of", "A Journey Through Time", "'s parent is"])

# (sentence, its units as the lexicon chunks it, the sentence with its units reversed): by hand
CASES = [
    (
        " Daphne Barrington is the director of A Journey Through Time",
        [" Daphne Barrington", " is", " the director of", " A Journey Through Time"],
        " A Journey Through Time the director of is Daphne Barrington",
    ),
    (
        " Kovi Talesh 's parent is Maro Ven",
        [" Kovi", " Talesh", " 's parent is", " Maro", " Ven"],
        " Ven Maro 's parent is Talesh Kovi",
    ),
    (
        "  Daphne Barrington  the director of",  # double spaces stay with the following word
        ["  Daphne Barrington", "  the director of"],
        "  the director of  Daphne Barrington",
    ),
]


def test_hand_checked_segmentation_and_reversal(record_property):
    for sentence, units, reversed_text in CASES:
        raw = list(sentence.encode())
        assert [bytes(raw[s:e]).decode() for s, e in unit_spans(raw, "phrases", LEXICON)] == units
        row = [BOS, *raw, EOS, PAD]
        assert runs_of(row) == [(1, 1 + len(raw))]
        out = [row[i] for i in order_of_row(row, "reverse", "phrases", LEXICON)]
        assert out == [BOS, *reversed_text.encode(), EOS, PAD]
    record_property("hand_checked_cases", len(CASES))
