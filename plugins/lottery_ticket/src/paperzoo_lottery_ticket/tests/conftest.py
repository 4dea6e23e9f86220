"""Test setup: model hubs offline (nothing is downloaded) and one intra-op thread (the models here are
small: more threads only add synchronisation, and share the machine with other jobs)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)
