"""tox inline plugin: one ``plugin-<slug>`` env per folder in ``plugins/``, with no hand editing.

``tox -e plugin-<slug>`` installs the core and ``plugins/<slug>[test]`` only, and runs that
plugin's tests where they are installed (``pytest --pyargs paperzoo_<slug>.tests``), exactly as
``registry verify <slug>`` does. The ``integration`` env installs every plugin.

tox-uv reads none of pip's configuration: pip's find-links (a local CPU torch wheel, say) are passed
on to uv here, so that ``tox -e plugin-<slug>`` installs the same torch as ``.ci/run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.types import Command
from tox.plugin import impl

ROOT = Path(__file__).parent


def pip_find_links() -> str:
    """pip's find-links (``PIP_FIND_LINKS`` or ``pip config get global.find-links``), or ''."""
    if os.environ.get("PIP_FIND_LINKS"):
        return os.environ["PIP_FIND_LINKS"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
    )
    return result.stdout.strip() if result.returncode == 0 else ""


if not os.environ.get("UV_FIND_LINKS") and (links := pip_find_links()):
    os.environ["UV_FIND_LINKS"] = links  # tox.ini passes UV_FIND_LINKS on to every env


def plugin_slugs() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))


@impl
def tox_extend_envs() -> list[str]:
    return [f"plugin-{slug}" for slug in plugin_slugs()]


@impl
def tox_add_env_config(env_conf, state) -> None:
    name = env_conf.name
    posargs = list(state.conf.pos_args(None) or [])
    if name.startswith("plugin-"):
        slug = name.removeprefix("plugin-")
        tests = ["python", "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", f"paperzoo_{slug}.tests"]
        env_conf.loaders.insert(
            0,
            MemoryLoader(
                deps=[f"-e {ROOT}", f"-e {ROOT / 'plugins' / slug}[test]"],
                change_dir=str(ROOT / "plugins" / slug),
                commands=[Command([*tests, *(posargs or ["-m", "not claim"])])],
                description=f"plugin {slug} alone: core + paperzoo-{slug}[test], its tests where installed",
            ),
        )
    elif name == "integration":
        deps = [f"-e {ROOT}[test]"] + [f"-e {ROOT / 'plugins' / s}" for s in plugin_slugs()]
        command = Command(["python", "-m", "pytest", str(ROOT / "tests"), "-m", "integration", *posargs])
        env_conf.loaders.insert(0, MemoryLoader(deps=deps, commands=[command]))
