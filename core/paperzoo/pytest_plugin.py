"""pytest plugin (entry point ``pytest11``): the markers every plugin's tests use, offline hubs, a
fixed seed before every test, and recorded figures as plain Python numbers.

Loaded by pytest in any environment where the core is installed, so a plugin's tests run the same
from the repository and from an installed package (``registry verify``). Imports nothing heavy.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import pytest

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


def plain(value: Any) -> Any:
    """A NumPy or torch scalar as the Python number it holds (``.item()``); anything else unchanged."""
    if type(value) in (bool, int, float, str) or not hasattr(value, "item"):  # np.float64 is a float subclass
        return value
    try:
        return value.item()
    except (TypeError, ValueError):  # not a one-element array or tensor
        return value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Figures recorded with ``record_property`` reach the report as plain numbers: pytest-xdist cannot
    send a NumPy scalar from a worker, and the junit report should not print ``np.float64(...)``."""
    outcome = yield
    report = outcome.get_result()
    report.user_properties = [(name, plain(value)) for name, value in report.user_properties]
