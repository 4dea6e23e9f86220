import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch  # noqa: E402

# Every tensor in these tests is tiny: extra intra-op threads only add synchronisation overhead.
torch.set_num_threads(1)


def pytest_configure(config):
    config.addinivalue_line("markers", "claim: reproduces the paper's headline claim at small scale")
