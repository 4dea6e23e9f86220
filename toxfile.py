"""tox inline plugin: one ``plugin-<slug>`` env per folder in ``plugins/``, with no hand editing.

``tox -e plugin-<slug>`` installs the core and ``plugins/<slug>[test]`` only (with the sibling plugins
it depends on, from their folders), and runs that plugin's tests where they are installed
(``pytest --pyargs paperzoo_<slug>.tests``), exactly as ``registry verify <slug>`` does. The ``integration`` env installs every plugin.

tox-uv reads none of pip's configuration: pip's find-links (a local CPU torch wheel, say) are passed
on to uv here, so that ``tox -e plugin-<slug>`` installs the same torch as ``.ci/run``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.types import Command
from tox.plugin import impl

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tox itself depends on tomli there
    import tomli as tomllib

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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sibling_plugins(slug: str) -> list[str]:
    """The plugins of this repository that ``slug`` depends on (``paperzoo-<slug>`` in its
    ``dependencies``), transitively, dependencies first: they are on no index, so the env installs them
    from their folders."""
    by_dist = {_canonical(f"paperzoo-{s}"): s for s in plugin_slugs()}
    found: list[str] = []
    seen = {slug}

    def visit(current: str) -> None:
        project = tomllib.loads((ROOT / "plugins" / current / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            name = _canonical(re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0))
            if name in by_dist and by_dist[name] not in seen:
                seen.add(by_dist[name])
                visit(by_dist[name])
                found.append(by_dist[name])

    visit(slug)
    return found


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
                deps=[
                    f"-e {ROOT}",
                    *(f"-e {ROOT / 'plugins' / s}" for s in sibling_plugins(slug)),
                    f"-e {ROOT / 'plugins' / slug}[test]",
                ],
                change_dir=str(ROOT / "plugins" / slug),
                commands=[Command([*tests, *(posargs or ["-m", "not claim"])])],
                description=f"plugin {slug} alone: core + paperzoo-{slug}[test], its tests where installed",
            ),
        )
    elif name == "integration":
        deps = [f"-e {ROOT}[test]"] + [f"-e {ROOT / 'plugins' / s}" for s in plugin_slugs()]
        command = Command(["python", "-m", "pytest", str(ROOT / "tests"), "-m", "integration", *posargs])
        env_conf.loaders.insert(0, MemoryLoader(deps=deps, commands=[command]))
