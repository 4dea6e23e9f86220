"""tox inline plugin: one ``plugin-<slug>`` env per folder in ``plugins/``, with no hand editing.

``tox -e plugin-<slug>`` installs the core and ``plugins/<slug>[test]`` only, and runs that
plugin's tests from its own folder. The ``integration`` env installs every plugin.
"""

from __future__ import annotations

from pathlib import Path

from tox.config.loader.memory import MemoryLoader
from tox.config.types import Command
from tox.plugin import impl

ROOT = Path(__file__).parent


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
        env_conf.loaders.insert(
            0,
            MemoryLoader(
                deps=[f"-e {ROOT}", f"-e {ROOT / 'plugins' / slug}[test]", "pytest"],
                change_dir=str(ROOT / "plugins" / slug),
                commands=[Command(["python", "-m", "pytest", "tests", *(posargs or ["-m", "not claim"])])],
                description=f"plugin {slug} alone: core + paperzoo-{slug}[test]",
            ),
        )
    elif name == "integration":
        deps = [f"-e {ROOT}[test]", "pytest"] + [f"-e {ROOT / 'plugins' / s}" for s in plugin_slugs()]
        command = Command(["python", "-m", "pytest", str(ROOT / "tests"), "-m", "integration", *posargs])
        env_conf.loaders.insert(0, MemoryLoader(deps=deps, commands=[command]))
