"""Generate docs/papers.md and core/paperzoo/catalog.tsv from the repository alone.

Inputs: the paper list ``docs/catalog.tsv`` (one row per paper: id, tier, priority, suggested plugin
slug, kinds, suggested components, title, reference), every plugin's ``[tool.paperzoo]`` table
(``catalog`` row id, ``claim``, ``reference``, ``parity``; ``kit = true`` for non-paper plugins) and the
components each plugin registers (its registration module, imported from ``plugins/<slug>/src``;
registration modules import no torch).

Outputs:
    docs/papers.md              every paper: plugin or "not yet", components, reference and parity,
                                claim status, link to the plugin's README; counts at the top.
    core/paperzoo/catalog.tsv   the core's install hints: every component of every plugin (kind, name,
                                plugin, distribution, paper) and the suggested components of papers
                                without a plugin (no plugin, no distribution), never a registered name.

Usage:
    python .ci/make_docs.py            write both files
    python .ci/make_docs.py --check    exit 1, naming each stale file, if a file differs from what
                                       would be written; write nothing
    --out DIR                          read/write the generated files under DIR (default: the repository)
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PAPERS_MD = "docs/papers.md"
CORE_CATALOG = "core/paperzoo/catalog.tsv"
CLAIMS = ("reproduced", "partly", "not reproduced", "not tested")
CATALOG_COLUMNS = ("id", "tier", "priority", "plugin", "kinds", "components", "title", "reference")


class GenerateError(Exception):
    """The repository's inputs are inconsistent (one line naming the file)."""


@dataclass
class Plugin:
    """One plugin folder: its metadata and the (kind, name) of every component it registers."""

    slug: str
    distribution: str
    description: str
    meta: dict
    components: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kit(self) -> bool:
        return bool(self.meta.get("kit"))


def read_catalog(root: Path) -> list[dict[str, str]]:
    """The rows of docs/catalog.tsv, checked for the expected columns and unique ids."""
    path = root / "docs" / "catalog.tsv"
    with path.open(newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if tuple(reader.fieldnames or ()) != CATALOG_COLUMNS:
            raise GenerateError(f"{path}: header: expected {', '.join(CATALOG_COLUMNS)}")
        rows = list(reader)
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise GenerateError(f"{path}: id: duplicate row ids")
    return rows


def suggested(row: dict[str, str]) -> list[tuple[str, str]]:
    """The (kind, name) pairs of a catalog row's suggested components ("-" means none)."""
    out = []
    for item in row["components"].split(";"):
        kind, _, name = item.strip().partition(":")
        if name:
            out.append((kind.strip(), name.strip()))
    return out


def _components(module_name: str, slug: str) -> list[tuple[str, str]]:
    from paperzoo.registry import Registry

    module = importlib.import_module(module_name)
    reg = Registry()
    reg.add_plugin(module, slug)
    info = reg.plugins[slug]
    if info.status != "ok":
        raise GenerateError(f"plugins/{slug}: registration: {info.status}: {info.error}")
    return sorted((s.kind, s.name) for s in reg.specs)


def read_plugins(root: Path) -> list[Plugin]:
    """Every plugin under plugins/, with its [tool.paperzoo] table and registered components."""
    plugins = []
    for pyproject in sorted((root / "plugins").glob("*/pyproject.toml")):
        slug = pyproject.parent.name
        where = pyproject.relative_to(root)
        data = tomllib.loads(pyproject.read_text())
        meta = data.get("tool", {}).get("paperzoo")
        if meta is None:
            raise GenerateError(f"{where}: tool.paperzoo: missing (catalog, claim, ... or kit = true)")
        entry_points = data.get("project", {}).get("entry-points", {}).get("paperzoo", {})
        if list(entry_points) != [slug]:
            raise GenerateError(
                f"{where}: project.entry-points.paperzoo: expected one entry point named {slug!r}"
            )
        if not meta.get("kit") and meta.get("claim") not in CLAIMS:
            raise GenerateError(f"{where}: tool.paperzoo.claim: one of {', '.join(CLAIMS)}")
        sys.path.insert(0, str(pyproject.parent / "src"))
        project = data["project"]
        components = _components(entry_points[slug], slug)
        plugins.append(Plugin(slug, project["name"], project.get("description", slug), meta, components))
    return plugins


def _builtin_names() -> set[str]:
    from paperzoo import builtins
    from paperzoo.registry import Registry

    reg = Registry()
    reg.add_plugin(builtins, "builtins")
    return {s.name for s in reg.specs}


def _cell(text: str) -> str:
    from paperzoo.docs import md_cell

    return md_cell(text)


def _component_list(components: list[tuple[str, str]], note: str = "") -> str:
    by_kind: dict[str, list[str]] = {}
    for kind, name in components:
        by_kind.setdefault(kind, []).append(f"`{name}`")
    text = "; ".join(f"{kind} {', '.join(names)}" for kind, names in by_kind.items())
    return f"{note}{text}" if text else "—"


def render_papers(rows: list[dict[str, str]], by_id: dict[str, Plugin], others: list[Plugin]) -> str:
    """docs/papers.md; ``others`` are the plugins that no row of the list names (kits, new plugins)."""
    claims = {c: 0 for c in CLAIMS}
    for row in rows:
        plugin = by_id.get(row["id"])
        claims[plugin.meta["claim"] if plugin else "not tested"] += 1
    with_plugin = [r for r in rows if r["id"] in by_id]
    lines = [
        "# Papers",
        "",
        "Every paper of the paper list ([catalog.tsv](catalog.tsv)), with its plugin or *not yet*. Generated",
        "by `python .ci/make_docs.py` from that list and from each plugin's `[tool.paperzoo]` table and",
        "registration; `python .ci/make_docs.py --check` (run by the tests) fails when this page is stale.",
        "",
        "A claim is *reproduced* when the paper's headline claim held in our small-scale reproduction,",
        "*partly* when part of it held, *not reproduced* when it did not, *not tested* when no plugin or",
        "test checks it yet. The plugin's README gives the compared figures and every deviation.",
        "",
        "| | papers |",
        "|---|---:|",
        f"| in the list | {len(rows)} |",
        f"| with a plugin | {len(with_plugin)} |",
        f"| claim reproduced | {claims['reproduced']} |",
        f"| claim partly reproduced | {claims['partly']} |",
        f"| claim not reproduced | {claims['not reproduced']} |",
        f"| claim not tested | {claims['not tested']} |",
        "",
        "## With a plugin",
        "",
        "| id | paper | plugin | claim |",
        "|---|---|---|---|",
    ]
    for row in with_plugin:
        plugin = by_id[row["id"]]
        lines.append(f"| {row['id']} | {_cell(row['title'])} | {_link(plugin)} | {plugin.meta['claim']} |")
    lines += [
        "",
        "## Plugins outside the list",
        "",
        "Kits (shared pieces such as datasets, no paper) and paper plugins not yet given a row of the list.",
        "",
        "| plugin | what | components | claim |",
        "|---|---|---|---|",
    ]
    for plugin in others:
        what, claim = ("kit", "—") if plugin.kit else ("paper, no row yet", plugin.meta["claim"])
        cells = [_link(plugin), what, _component_list(plugin.components), claim]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += [
        "",
        "## All papers",
        "",
        "Components of a paper without a plugin are the suggested ones; its reference column lists",
        "candidate references (official code, packages) to check a future plugin against.",
        "",
        "| id | paper | plugin | components | reference | parity | claim |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        plugin = by_id.get(row["id"])
        if plugin:
            cells = [
                _link(plugin),
                _component_list(plugin.components),
                plugin.meta.get("reference", ""),
                plugin.meta.get("parity", ""),
                plugin.meta["claim"],
            ]
        else:
            reference = row["reference"] if row["reference"] not in ("", "-") else "—"
            cells = ["not yet", _component_list(suggested(row), "suggested: "), reference, "—", "not tested"]
        lines.append("| " + " | ".join(_cell(c) for c in [row["id"], row["title"], *cells]) + " |")
    return "\n".join(lines) + "\n"


def _link(plugin: Plugin) -> str:
    return f"[{plugin.slug}](../plugins/{plugin.slug}/README.md)"


def render_core_catalog(rows: list[dict[str, str]], plugins: list[Plugin], by_id: dict[str, Plugin]) -> str:
    """core/paperzoo/catalog.tsv: the install hints of the registry."""
    titles = {r["id"]: r["title"] for r in rows}
    out = ["kind\tname\tplugin\tdistribution\tpaper"]
    registered = _builtin_names()
    for plugin in plugins:  # without a row (a kit), "paper" is the description: no field ends a line empty
        title = titles.get(plugin.meta.get("catalog", ""), plugin.description)
        for kind, name in plugin.components:
            out.append(f"{kind}\t{name}\t{plugin.slug}\t{plugin.distribution}\t{title}")
            registered.add(name)
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if row["id"] in by_id:
            continue
        for kind, name in suggested(row):
            if name in registered or (kind, name) in seen:
                continue
            seen.add((kind, name))
            out.append(f"{kind}\t{name}\t\t\t{row['title']}")
    return "\n".join(out) + "\n"


def render(root: Path) -> dict[str, str]:
    """The generated files, by path relative to the repository."""
    core = root / "core"
    if (core / "paperzoo" / "__init__.py").exists():
        sys.path.insert(0, str(core))
    rows = read_catalog(root)
    ids = {r["id"] for r in rows}
    plugins = read_plugins(root)
    by_id: dict[str, Plugin] = {}
    others: list[Plugin] = []
    for plugin in plugins:
        row_id = plugin.meta.get("catalog", "")
        if plugin.kit or not row_id:  # a kit, or a paper plugin before its paper has a row
            others.append(plugin)
            continue
        if row_id not in ids:
            raise GenerateError(
                f"plugins/{plugin.slug}/pyproject.toml: tool.paperzoo.catalog: {row_id!r} is no row id "
                "of docs/catalog.tsv"
            )
        if row_id in by_id:
            raise GenerateError(
                f"plugins/{plugin.slug}/pyproject.toml: tool.paperzoo.catalog: {row_id} is already the "
                f"row of plugin {by_id[row_id].slug!r}"
            )
        by_id[row_id] = plugin
    return {
        PAPERS_MD: render_papers(rows, by_id, others),
        CORE_CATALOG: render_core_catalog(rows, plugins, by_id),
    }


def stale(files: dict[str, str], out: Path) -> list[str]:
    """The generated files whose copy under ``out`` is missing or differs."""
    return [
        rel for rel, text in files.items() if not (out / rel).is_file() or (out / rel).read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    parser.add_argument("--out", type=Path, default=ROOT, help="where the generated files live")
    args = parser.parse_args(argv)
    try:
        files = render(ROOT)
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        bad = stale(files, args.out)
        for rel in bad:
            print(f"stale: {rel} (regenerate with: python .ci/make_docs.py)", file=sys.stderr)
        return 1 if bad else 0
    for rel, text in files.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
