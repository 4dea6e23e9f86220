"""Test setup: model hubs offline (nothing is downloaded) and one intra-op thread (every tensor here is
small: more threads only add synchronisation)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)
