"""Parity with CodeGen2's written infill format (the paper's Section 4 and the released models' card):
the document with its masked spans replaced by ``<mask_1>``, ``<mask_2>``, ... then ``<sep>`` and, for each
mask, the mask token, its span and ``<eom>``. Worked by hand here with tinylm's ids: ``<mask_k>`` is
``<extra_id_{k-1}>`` and both ``<sep>`` and ``<eom>`` are ``EOS`` (the vocabulary has neither). T5's span
statistics (the mask) are tinylm's and tested there."""

from __future__ import annotations

from paperzoo_tinylm import tokenizer

from paperzoo_codegen2_objective.infill import from_infill, to_infill


def test_hand_worked_codegen2_layout(record_property):
    # def f(a): return a+1   with "f(a" and "+1" masked
    text = b"def f(a): return a+1"
    row = list(text)
    mask = [False] * len(row)
    for i in (4, 5, 6, 18, 19):
        mask[i] = True
    s0, s1, eos = tokenizer.sentinel(0), tokenizer.sentinel(1), tokenizer.EOS
    # written by hand from the format: "def <mask_1>): return a<mask_2><sep><mask_1>f(a<eom><mask_2>+1<eom>"
    expected = (
        list(b"def ") + [s0] + list(b"): return a") + [s1] + [eos]
        + [s0] + list(b"f(a") + [eos] + [s1] + list(b"+1") + [eos]
    )  # fmt: skip
    seq, sep_at = to_infill(row, mask)
    mismatches = sum(a != b for a, b in zip(seq, expected)) + abs(len(seq) - len(expected))
    record_property("codegen2_layout_token_mismatches", mismatches)
    assert mismatches == 0
    assert sep_at == len(b"def ") + 1 + len(b"): return a") + 1
    assert from_infill(expected) == row
