"""Test setup: model hubs offline (nothing is downloaded) and one intra-op thread (the tensors here are
small: more threads only add synchronisation)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
