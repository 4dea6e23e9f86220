"""The kit's tokenizer: bytes are ids 0-255, followed by reserved special ids (frozen).

======================  =========  ==================================================
ids                     names      use
======================  =========  ==================================================
0-255                   bytes      the UTF-8 bytes of the text, one id per byte
256                     ``PAD``    padding
257                     ``BOS``    beginning of sequence
258                     ``EOS``    end of sequence
259                     ``MASK``   masked-language-model mask
260-359                 sentinels  span-corruption sentinels ``<extra_id_0>`` ... ``<extra_id_99>``
360, 361, 362           modes      mixture-of-denoisers mode tokens ``[R]``, ``[S]``, ``[X]``
======================  =========  ==================================================

``VOCAB_SIZE = 363``. A model may pad its embedding past ``VOCAB_SIZE`` (to a multiple of 8, say); ids
from ``VOCAB_SIZE`` on are never produced here. Text is never parsed for special tokens: ``encode``
maps every byte to itself, and special ids are added by id (``bos=``, ``eos=``, :func:`sentinel`).
"""

from __future__ import annotations

from collections.abc import Iterable

N_BYTES = 256
PAD = 256
BOS = 257
EOS = 258
MASK = 259
SENTINEL_START = 260
N_SENTINELS = 100
MODE_TOKENS = {"[R]": 360, "[S]": 361, "[X]": 362}
VOCAB_SIZE = 363

SPECIAL_TOKENS: dict[str, int] = {
    "<pad>": PAD,
    "<bos>": BOS,
    "<eos>": EOS,
    "<mask>": MASK,
    **{f"<extra_id_{i}>": SENTINEL_START + i for i in range(N_SENTINELS)},
    **MODE_TOKENS,
}
_NAMES = {token_id: name for name, token_id in SPECIAL_TOKENS.items()}


def sentinel(index: int) -> int:
    """The id of sentinel ``index`` (``0 <= index < 100``): ``260 + index``."""
    if not 0 <= index < N_SENTINELS:
        raise ValueError(f"sentinel index must lie in [0, {N_SENTINELS}), got {index}")
    return SENTINEL_START + index


def is_special(token_id: int) -> bool:
    """Whether ``token_id`` is a reserved id (``256 <= id < VOCAB_SIZE``)."""
    return N_BYTES <= token_id < VOCAB_SIZE


def encode(text: str | bytes, bos: bool = False, eos: bool = False) -> list[int]:
    """The ids of ``text``: its UTF-8 bytes (a ``str`` is encoded first), optionally between ``BOS`` and
    ``EOS``."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return ([BOS] if bos else []) + list(data) + ([EOS] if eos else [])


def _checked(ids: Iterable[int]) -> list[int]:
    out = [int(i) for i in ids]
    for token_id in out:
        if not 0 <= token_id < VOCAB_SIZE:
            raise ValueError(f"token id {token_id} lies outside [0, {VOCAB_SIZE})")
    return out


def decode_bytes(ids: Iterable[int]) -> bytes:
    """The bytes of ``ids``, special ids dropped."""
    return bytes(i for i in _checked(ids) if i < N_BYTES)


def decode(ids: Iterable[int], skip_special: bool = False, errors: str = "replace") -> str:
    """The text of ``ids``: runs of bytes decoded as UTF-8 (``errors`` as in ``bytes.decode``), each
    special id written as its name (``<eos>``, ``<extra_id_3>``, ``[S]``...) unless ``skip_special``.
    A 1-d tensor or any iterable of ints is accepted."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    pieces: list[str] = []
    run = bytearray()
    for token_id in _checked(ids):
        if token_id < N_BYTES:
            run.append(token_id)
            continue
        pieces.append(run.decode("utf-8", errors=errors))
        run.clear()
        if not skip_special:
            pieces.append(_NAMES[token_id])
    pieces.append(run.decode("utf-8", errors=errors))
    return "".join(pieces)
