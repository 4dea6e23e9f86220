"""What ``registry info`` shows and ``registry docs`` writes, from a spec and its signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .spec import ComponentSpec

SECTION = {
    "layer": "model",
    "optimizer": "optimizer",
    "trainer": "trainer",
    "evaluator": "evaluators",
    "dataset": "data",
}
RUNTIME = {"optimizer": 1, "layer": 0}


def component_info(spec: ComponentSpec) -> dict[str, Any]:
    """Citation, summary, params (name, type, default, description) and a config snippet."""
    from .api import import_target
    from .params import signature_params

    runtime = 1 if spec.kind == "optimizer" or spec.example_base else 0
    params = [
        {
            "name": p.name,
            "type": p.type_name,
            "default": None if p.required else p.default,
            "required": p.required,
            "description": p.description,
        }
        for p in signature_params(import_target(spec), runtime)
    ]
    return {
        "name": spec.name,
        "kind": spec.kind,
        "plugin": spec.plugin,
        "summary": spec.summary,
        "target": spec.target,
        "tags": list(spec.tags),
        "paper": vars(spec.paper) if spec.paper else None,
        "link": spec.paper.link if spec.paper else "",
        "params": params,
        "snippet": snippet(spec),
    }


def snippet(spec: ComponentSpec) -> str:
    ref = {"name": spec.name, **spec.example}
    if spec.kind == "optimizer" and "schedule" in spec.tags:
        return yaml.safe_dump({"optimizer": {"name": "adamw", "lr": 1e-3, "scheduler": ref}}, sort_keys=False)
    if spec.kind == "layer" and spec.example_base:
        kind = spec.example_base["type"]
        return yaml.safe_dump({"patches": [{"type": kind, "with": ref}]}, sort_keys=False)
    section = SECTION[spec.kind]
    return yaml.safe_dump({section: [ref] if section == "evaluators" else ref}, sort_keys=False)


def render_info(info: dict[str, Any]) -> str:
    lines = [f"{info['name']} ({info['kind']}, plugin {info['plugin']})", f"  {info['summary']}"]
    paper = info["paper"]
    if paper:
        lines.append(f"  paper: {paper['title']} ({paper['year']}) {info['link']}")
    lines += ["", "params:"]
    for p in info["params"]:
        default = "required" if p["required"] else f"default {p['default']!r}"
        text = f"  {p['name']}: {p['type']} ({default})"
        lines.append(text + (f"  {p['description']}" if p["description"] else ""))
    if not info["params"]:
        lines.append("  (none)")
    lines += [
        "",
        "config (an example; params left out take the defaults above):",
        *("  " + line for line in info["snippet"].splitlines()),
    ]
    return "\n".join(lines)


def md_cell(value: Any) -> str:
    """``value`` as one Markdown table cell: ``|`` escaped (also inside code spans, as GitHub's tables
    require) and line breaks turned into spaces, so a description cannot split or end its row."""
    text = " ".join(str(value).splitlines())
    return text.replace("|", "\\|")


def write_pages(registry: Any, out: Path) -> int:
    """One Markdown page per component of ``registry`` in ``out``, and an index; the number of pages."""
    out.mkdir(parents=True, exist_ok=True)
    index = ["# Components", "", "| name | kind | plugin | paper |", "|---|---|---|---|"]
    specs = registry.list()
    for spec in specs:
        info = component_info(spec)
        page = out / f"{spec.kind}-{spec.name}.md"
        body = [f"# `{spec.name}` ({spec.kind})", "", spec.summary, "", f"Plugin: `{spec.plugin}`"]
        if spec.paper:
            body += ["", f"Paper: [{spec.paper.title}]({spec.paper.link}) ({spec.paper.year})"]
        body += ["", "## Params", "", "| name | type | default | description |", "|---|---|---|---|"]
        for p in info["params"]:
            default = "required" if p["required"] else f"`{p['default']!r}`"
            cells = [f"`{p['name']}`", f"`{p['type']}`", default, p["description"]]
            body.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
        body += ["", "## Config", "", "```yaml", info["snippet"].rstrip(), "```", ""]
        page.write_text("\n".join(body))
        paper = f"[{md_cell(spec.paper.title)}]({spec.paper.link})" if spec.paper else ""
        index.append(f"| [`{spec.name}`]({page.name}) | {spec.kind} | {md_cell(spec.plugin)} | {paper} |")
    (out / "index.md").write_text("\n".join(index) + "\n")
    return len(specs)
