"""Plugin lists for CI: ``all``, ``isolated`` (tested in their own tox env) and ``shared`` (the rest).

Run: ``python .ci/plugins.py all|isolated|shared`` prints one slug per line. Which plugins' claims
are due is ``python .ci/claims.py changed`` (a content hash against ``.ci/claims.lock``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def all_plugins(root: Path = ROOT) -> list[str]:
    """Every folder of ``plugins/`` that holds a ``pyproject.toml``, sorted."""
    return sorted(p.parent.name for p in (root / "plugins").glob("*/pyproject.toml"))


def is_isolated(slug: str, root: Path = ROOT) -> bool:
    """Whether the plugin declares ``[tool.paperzoo] isolated-tests = true``."""
    meta = tomllib.loads((root / "plugins" / slug / "pyproject.toml").read_text())
    return bool(meta.get("tool", {}).get("paperzoo", {}).get("isolated-tests"))


def isolated(root: Path = ROOT) -> list[str]:
    return [slug for slug in all_plugins(root) if is_isolated(slug, root)]


def shared(root: Path = ROOT) -> list[str]:
    """The plugins installed with their test extra into the one CI environment."""
    return [slug for slug in all_plugins(root) if not is_isolated(slug, root)]


if __name__ == "__main__":
    lists = {"all": all_plugins, "isolated": isolated, "shared": shared}
    if len(sys.argv) != 2 or sys.argv[1] not in lists:
        print(f"usage: python .ci/plugins.py {'|'.join(lists)}", file=sys.stderr)
        sys.exit(2)
    print("\n".join(lists[sys.argv[1]]()))
