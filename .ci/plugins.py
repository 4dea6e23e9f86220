"""Plugin lists for CI: ``all``, ``isolated`` (own tox env) and ``changed`` (touched recently)."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def all_plugins() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def isolated() -> list[str]:
    out = []
    for slug in all_plugins():
        meta = tomllib.loads((ROOT / "plugins" / slug / "pyproject.toml").read_text())
        if meta.get("tool", {}).get("paperzoo", {}).get("isolated-tests"):
            out.append(slug)
    return out


def changed(window: str = "4 hours ago") -> list[str]:
    """Plugins touched by the commits of the last few hours (all of them when history is that young)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    base = git("rev-list", "-1", f"--before={window}", "HEAD")
    if not base:
        return all_plugins()
    files = git("diff", "--name-only", base, "HEAD").splitlines()
    touched = {f.split("/")[1] for f in files if f.startswith("plugins/") and f.count("/") >= 2}
    return [slug for slug in all_plugins() if slug in touched]


if __name__ == "__main__":
    print("\n".join({"all": all_plugins, "isolated": isolated, "changed": changed}[sys.argv[1]]()))
