"""Contract of the tokenizer: the ids are frozen (changing one must fail here), and its round trips."""

import pytest

from paperzoo_tinylm import tokenizer as tok


def test_frozen_ids():
    assert (tok.PAD, tok.BOS, tok.EOS, tok.MASK) == (256, 257, 258, 259)
    assert [tok.sentinel(i) for i in (0, 1, 99)] == [260, 261, 359]
    assert tok.MODE_TOKENS == {"[R]": 360, "[S]": 361, "[X]": 362}
    assert tok.VOCAB_SIZE == 363
    expected = {"<pad>": 256, "<bos>": 257, "<eos>": 258, "<mask>": 259, "[R]": 360, "[S]": 361, "[X]": 362}
    expected.update({f"<extra_id_{i}>": 260 + i for i in range(100)})
    assert tok.SPECIAL_TOKENS == expected
    # every id below VOCAB_SIZE is a byte or exactly one special token
    assert sorted(tok.SPECIAL_TOKENS.values()) == list(range(256, 363))


def test_bytes_are_their_own_ids():
    assert tok.encode(bytes(range(256))) == list(range(256))
    assert tok.encode("é€") == [0xC3, 0xA9, 0xE2, 0x82, 0xAC]  # UTF-8, one id per byte
    assert tok.encode("hi", bos=True, eos=True) == [257, 104, 105, 258]
    assert tok.encode(b"") == [] and tok.encode("", bos=True) == [257]


def test_round_trips():
    text = "def f(x):\n    return x ** 2  # ünïcødé ✓"
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode_bytes(tok.encode(text.encode("utf-8"))) == text.encode("utf-8")
    ids = [tok.BOS, *tok.encode("ab"), tok.sentinel(3), *tok.encode("c"), 361, tok.EOS]
    assert tok.decode(ids) == "<bos>ab<extra_id_3>c[S]<eos>"
    assert tok.decode(ids, skip_special=True) == "abc"
    assert tok.decode_bytes(ids) == b"abc"


def test_special_token_text_is_not_parsed():
    assert tok.encode("<eos>") == list(b"<eos>")
    assert tok.decode(tok.encode("<eos>")) == "<eos>"


def test_invalid_bytes_and_ids():
    assert tok.decode([0xFF, 0x41]) == "\ufffdA"  # invalid UTF-8 is replaced, not raised
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xFF], errors="strict")
    for bad in (-1, 363, 1000):
        with pytest.raises(ValueError, match="outside"):
            tok.decode([65, bad])
    with pytest.raises(ValueError):
        tok.sentinel(100)
    assert tok.is_special(256) and tok.is_special(362)
    assert not tok.is_special(255) and not tok.is_special(363)
