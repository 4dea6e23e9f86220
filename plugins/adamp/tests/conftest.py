import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "claim: reproduces the paper's headline claim at small scale")
