"""Test setup: model hubs offline (models are built from configs only; nothing is downloaded) and one
intra-op thread (every tensor here is small: more threads only add synchronisation)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)

try:  # transformers imports torchvision when present; core's shim makes a CUDA-only wheel importable
    from paperzoo.compat import import_torchvision

    import_torchvision()
except ImportError:  # no torchvision installed: transformers does without it
    pass
