"""Discovery: load plugins through pluggy, each inside its own guard, and index their specs.

Nothing here imports torch or a component's implementation: plugins' top-level modules only
declare specs (see :mod:`paperzoo.hookspecs`).

A guard catches everything a plugin can raise (``SystemExit`` included) except ``KeyboardInterrupt``.
Two distributions declaring the same entry-point name are both reported as conflicting and neither
is loaded: one never silently replaces the other's components.

Environment:
    ``PAPERZOO_STRICT=1``    a plugin that fails to load is fatal instead of reported (``1``,
                             ``true``, ``yes`` or ``on``, in any case).
    ``PAPERZOO_DISABLE=a,b`` skip these plugins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from . import __version__, hookspecs
from .errors import PluginError, UsageError, did_you_mean
from .spec import KINDS, ComponentSpec, Paper, problems

GROUP = "paperzoo"


@dataclass
class PluginInfo:
    """One plugin as ``registry plugins`` reports it."""

    name: str
    distribution: str = ""
    version: str = ""
    components: int = 0
    status: str = "ok"  # ok | failed | incompatible | conflict | disabled
    error: str = ""


@dataclass
class Registry:
    """Specs of every loaded plugin, indexed by kind and name."""

    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    specs: list[ComponentSpec] = field(default_factory=list)
    _pm: pluggy.PluginManager | None = field(default=None, init=False, repr=False, compare=False)

    # -- loading -----------------------------------------------------------------------------
    def add_plugin(self, module: object, name: str, info: PluginInfo | None = None) -> None:
        """Register a plugin object (a module or any object with hook implementations)."""
        info = info or PluginInfo(name=name)
        self.plugins[name] = info
        if self._pm is None:  # one manager, each plugin in it alone: parsing the hookspecs is the costly part
            self._pm = pluggy.PluginManager(GROUP)
            self._pm.add_hookspecs(hookspecs)
        pm = self._pm
        found: list[ComponentSpec] = []
        try:
            pm.register(module, name=name)
            try:
                for hook_name, kind in hookspecs.HOOK_KINDS.items():
                    for impl in getattr(pm.hook, hook_name).get_hookimpls():
                        impl.function(register=_collector(found, kind, name))
            finally:
                pm.unregister(name=name)
            bad = [f"{s.kind} {s.name!r}: {p}" for s in found for p in problems(s)]
            if bad:
                raise PluginError("; ".join(bad))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin (even one calling sys.exit) is reported
            self._fail(info, "failed", _describe(exc))
            return
        info.components = len(found)
        self.specs.extend(found)

    def _fail(self, info: PluginInfo, status: str, error: str) -> None:
        info.status, info.error = status, error
        if strict():
            raise PluginError(f"plugin {info.name!r} {status}: {error}")

    def load_entry_points(self) -> None:
        disabled = {p.strip() for p in os.environ.get("PAPERZOO_DISABLE", "").split(",") if p.strip()}
        by_name: dict[str, list[Any]] = {}
        for ep in metadata.entry_points(group=GROUP):
            by_name.setdefault(ep.name, []).append(ep)
        for name in sorted(by_name):
            if name in self.plugins:
                continue
            infos = [_entry_info(ep) for ep in by_name[name]]
            ep, info = by_name[name][0], infos[0]
            dist = getattr(ep, "dist", None)
            if ep.name in disabled:
                info.status = "disabled"
                self.plugins[ep.name] = info
                continue
            if len({(i.distribution, i.version) for i in infos}) > 1:
                self._conflict(name, infos)
                continue
            incompatible = _core_incompatibility(dist)
            if incompatible:
                self.plugins[ep.name] = info
                self._fail(info, "incompatible", incompatible)
                continue
            try:
                module = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.plugins[ep.name] = info
                self._fail(info, "failed", _describe(exc))
                continue
            self.add_plugin(module, ep.name, info)

    def _conflict(self, name: str, infos: list[PluginInfo]) -> None:
        """Several distributions declare plugin ``name``: each is reported (the first under ``name``,
        the others under ``name (distribution)``) and none is loaded."""
        labels = [f"{i.distribution or '?'} {i.version}".strip() for i in infos]
        for i, info in enumerate(infos):
            others = " and ".join(label for j, label in enumerate(labels) if j != i)
            info.status = "conflict"
            info.error = (
                f"declared by {labels[i]} and also by {others}; none is loaded: uninstall all but one"
            )
            self.plugins[name if i == 0 else f"{name} ({info.distribution or '?'})"] = info
        if strict():
            raise PluginError(f"plugin {name!r} conflict: {infos[0].error}")

    def load_file(self, path: str | Path) -> None:
        """Load a user's own plugin from a Python file (``registry run --plugin file.py``)."""
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"--plugin {path}: no such file")
        name = path.stem
        spec = importlib.util.spec_from_file_location(f"paperzoo_local_{name}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            info = PluginInfo(name=name, distribution=str(path))
            self.plugins[name] = info
            self._fail(info, "failed", _describe(exc))
            return
        self.add_plugin(module, name, PluginInfo(name=name, distribution=str(path)))

    # -- lookup ------------------------------------------------------------------------------
    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.status in ("failed", "incompatible", "conflict")]

    def list(
        self, kind: str | None = None, pattern: str | None = None, plugin: str | None = None
    ) -> list[ComponentSpec]:
        """Specs sorted by kind and name, filtered by kind, plugin and a text or glob pattern."""
        import fnmatch

        if kind is not None:
            check_kind(kind)
        out = []
        for spec in self.specs:
            if kind and spec.kind != kind or plugin and spec.plugin != plugin:
                continue
            if pattern:
                text = " ".join([spec.name, spec.summary, spec.plugin, *spec.tags])
                if spec.paper:
                    text += " " + spec.paper.title
                is_glob = any(c in pattern for c in "*?[")
                if is_glob and not fnmatch.fnmatch(spec.name, pattern):
                    continue
                if not is_glob and pattern.lower() not in text.lower():
                    continue
            out.append(spec)
        return sorted(out, key=lambda s: (KINDS.index(s.kind), s.name, s.plugin))

    def get(self, name: str, kind: str | None = None) -> ComponentSpec:
        """The spec called ``name`` (or ``plugin:name``); a clear UsageError otherwise."""
        if kind is not None:
            check_kind(kind)
        plugin, _, bare = name.rpartition(":")
        matches = [
            s
            for s in self.specs
            if s.name == bare and (not plugin or s.plugin == plugin) and (kind is None or s.kind == kind)
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            where = ", ".join(f"{s.kind} from plugin {s.plugin!r}" for s in matches)
            choices = " or ".join(repr(s.qualified_name) for s in matches)
            raise UsageError(f"{name!r} is ambiguous: registered as {where}. Use {choices}.")
        raise UsageError(self._unknown_message(name, bare, kind))

    def _unknown_message(self, name: str, bare: str, kind: str | None) -> str:
        what = f"{kind} " if kind else ""
        pool = [s.name for s in self.specs if kind is None or s.kind == kind]
        message = f"unknown {what}{name!r}."
        entry = catalog_distribution(bare, kind)
        if entry and not entry["plugin"]:
            paper = entry["paper"]
            return f'{message} It is a component of "{paper}", which has no plugin yet (not available yet).'
        if entry:
            slug, info = entry["plugin"], self.plugins.get(entry["plugin"])
            provided = f"{message} It is provided by the plugin {slug!r} ({entry['distribution']}),"
            if info is None:
                install = f"pip install -e plugins/{slug}"
                return f"{provided} not installed here: from a clone of the repository, {install}"
            if info.status == "disabled":
                return f"{provided} installed but disabled here (PAPERZOO_DISABLE)."
            if info.status != "ok":
                return f"{provided} which did not load ({info.status}; see `registry plugins`)."
        message += did_you_mean(bare, pool)
        broken = [p.name for p in self.broken]
        if broken:
            message += f" (plugins that failed to load: {', '.join(broken)}; see `registry plugins`)"
        return message


def strict() -> bool:
    """Whether ``PAPERZOO_STRICT`` asks for strict loading (1, true, yes or on, in any case)."""
    return os.environ.get("PAPERZOO_STRICT", "").strip().lower() in ("1", "true", "yes", "on")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r}) while loading"
    return f"{type(exc).__name__}: {exc}"


def _entry_info(ep: Any) -> PluginInfo:
    dist = getattr(ep, "dist", None)
    meta = dist.metadata if dist else None  # parsed once: each access reads and parses the file
    return PluginInfo(
        name=ep.name,
        distribution=meta["Name"] if meta is not None else "",
        version=meta["Version"] if meta is not None else "",
    )


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}.{did_you_mean(kind, KINDS)}")


def _collector(found: list[ComponentSpec], kind: str, plugin: str):
    def register(name: str, target: str, summary: str, *, paper: Paper | None = None, **fields: Any) -> None:
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        found.append(
            ComponentSpec(
                name=name, kind=kind, target=target, summary=summary, paper=paper, plugin=plugin, **fields
            )
        )

    return register


def _core_incompatibility(dist: metadata.Distribution | None) -> str:
    """Why a plugin's declared core requirement excludes this core version ("" if it does not)."""
    if dist is None:
        return ""
    from packaging.requirements import Requirement

    for line in dist.requires or []:
        req = Requirement(line)
        if req.name == "paperzoo" and not req.marker and req.specifier:
            if not req.specifier.contains(__version__, prereleases=True):
                return f"requires paperzoo{req.specifier}, this is paperzoo {__version__}"
    return ""


_CATALOG: list[dict[str, str]] | None = None
_CATALOG_COLUMNS = ("kind", "name", "plugin", "distribution", "paper")


def catalog_distribution(name: str, kind: str | None = None) -> dict[str, str] | None:
    """Where a component that no loaded plugin provides would come from, if the catalog knows it.

    ``catalog.tsv`` (generated from the repository by ``.ci/make_docs.py``) has a row per component of
    every plugin of the repository (``plugin`` its folder under ``plugins/``, ``distribution`` its
    package) and per suggested component of a paper without a plugin (``plugin`` and ``distribution``
    empty). Returns that row as a dict with keys kind, name, plugin, distribution, paper.
    """
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = []
        path = Path(__file__).with_name("catalog.tsv")
        if path.exists():
            for line in path.read_text().splitlines()[1:]:
                _CATALOG.append(dict(zip(_CATALOG_COLUMNS, line.split("\t"), strict=True)))
    for row in _CATALOG:
        if row["name"] == name and (kind is None or row["kind"] == kind):
            return row
    return None


_REGISTRY: Registry | None = None


def registry(extra_plugins: Iterable[str | Path] = ()) -> Registry:
    """The process-wide registry: built-ins, then installed plugins, loaded once."""
    global _REGISTRY
    if _REGISTRY is None:
        from . import builtins

        reg = Registry()
        reg.add_plugin(builtins, "builtins", PluginInfo("builtins", "paperzoo", __version__))
        reg.load_entry_points()
        _REGISTRY = reg
    for path in extra_plugins:
        _REGISTRY.load_file(path)
    return _REGISTRY


def reset() -> None:
    """Forget the loaded registry (tests, and after installing a plugin in-process)."""
    global _REGISTRY
    _REGISTRY = None


def use(reg: Registry) -> None:
    """Make ``reg`` the process-wide registry (tests that register fake plugins)."""
    global _REGISTRY
    _REGISTRY = reg
