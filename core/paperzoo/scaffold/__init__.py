"""``registry new SLUG``: a plugin skeleton in the standard layout that passes its own tox env unchanged.

The skeleton registers one placeholder layer (a Linear wrapper, identity at initialisation) so that
everything around it works from the start: contract and property tests that pass, an example config
that runs, a benchmark that prints ratios, and parity and claim tests that are strict expected
failures until they are written.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError

TEMPLATE = Path(__file__).parent


def files(slug: str) -> dict[str, str]:
    """Path in the new plugin folder -> template file name."""
    package = f"src/paperzoo_{slug}"
    return {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"examples/{slug}.yaml": "example.yaml.tmpl",
        f"{package}/__init__.py": "init.py.tmpl",
        f"{package}/layer.py": "layer.py.tmpl",
        f"{package}/bench.py": "bench.py.tmpl",
        f"{package}/tests/__init__.py": "tests_init.py.tmpl",
        f"{package}/tests/conftest.py": "conftest.py.tmpl",
        f"{package}/tests/test_contract.py": "test_contract.py.tmpl",
        f"{package}/tests/test_properties.py": "test_properties.py.tmpl",
        f"{package}/tests/test_parity.py": "test_parity.py.tmpl",
        f"{package}/tests/test_claim.py": "test_claim.py.tmpl",
    }


def scaffold(slug: str, directory: Path) -> Path:
    """Write the plugin ``slug`` into ``directory / slug`` and return that folder.

    :raises UsageError: a slug that is not lowercase snake case, or a folder that already exists
        (nothing is written then).
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise UsageError(f"plugin slug {slug!r} must be lowercase snake case, e.g. 'my_paper'")
    root = directory / slug
    if root.exists():
        raise UsageError(f"{root} already exists")
    for relative, template in files(slug).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((TEMPLATE / template).read_text().replace("{{slug}}", slug))
    return root
