"""pytest plugin (entry point ``pytest11``): the markers every plugin's tests use, offline hubs, and a
fixed seed before every test.

Loaded by pytest in any environment where the core is installed, so a plugin's tests run the same
from the repository and from an installed package (``registry verify``). Imports nothing heavy.
"""

from __future__ import annotations

import os
import random
import sys

MARKERS = {
    "claim": "reproduces a paper's headline claim at small scale (slower; run with -m claim)",
    "integration": "needs every plugin installed (examples, scaffold)",
}


def pytest_configure(config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_runtest_setup(item) -> None:
    """Seed Python's, NumPy's and torch's global generators (those already imported) before each test,
    so a test drawing unseeded random numbers sees the same draws however tests are ordered or split
    across workers."""
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
