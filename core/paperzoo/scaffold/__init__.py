"""``registry new SLUG``: a plugin skeleton that passes its own tox env unchanged."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError

TEMPLATE = Path(__file__).parent


def scaffold(slug: str, directory: Path) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise UsageError(f"plugin slug {slug!r} must be lowercase snake case, e.g. 'my_paper'")
    root = directory / slug
    if root.exists():
        raise UsageError(f"{root} already exists")
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"src/paperzoo_{slug}/__init__.py": "init.py.tmpl",
        f"src/paperzoo_{slug}/layer.py": "layer.py.tmpl",
        "tests/conftest.py": "conftest.py.tmpl",
        "tests/test_contract.py": "test_contract.py.tmpl",
        "tests/test_properties.py": "test_properties.py.tmpl",
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((TEMPLATE / template).read_text().replace("{{slug}}", slug))
    return root
