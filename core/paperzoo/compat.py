"""One compatibility import: timm with a torchvision whose C++ operators are missing.

PyPI's torchvision wheels are CUDA builds. Beside a CPU-only torch, ``import torchvision`` fails
with ``RuntimeError: operator torchvision::nms does not exist``, because its Python code registers
fake kernels for operators whose schemas only its C++ extension defines. ``import_timm`` tries
the normal import first; only on that exact error does it define the two missing schemas
(``torchvision::nms`` and ``torchvision::qnms``, whose fake kernels torchvision registers at
import) and
import again. Where torchvision loads normally, nothing changes. The detection ops stay
unusable (they have no kernel); timm's models do not need them.
"""

from __future__ import annotations

import sys
from types import ModuleType

_MISSING_OPERATOR = "operator torchvision::nms does not exist"
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # keeps the schema definitions alive


def import_torchvision() -> ModuleType:
    global _library
    try:
        import torchvision
    except RuntimeError as exc:
        if _MISSING_OPERATOR not in str(exc):
            raise
        import torch

        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)
        import torchvision
    return torchvision


def import_timm() -> ModuleType:
    import_torchvision()
    import timm

    return timm


def import_transformers() -> ModuleType:
    """transformers imports torchvision when it is installed: make that import work first."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is not None:
        import_torchvision()
    import transformers

    return transformers
