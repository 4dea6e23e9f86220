"""Test settings: hubs offline, one thread (the models are tiny; shared CPUs)."""

import os

import torch

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
torch.set_num_threads(1)
