"""Component specs: what a plugin declares about each component, without importing it.

A spec is plain data. Building the component imports ``target`` ("module:attr") only then, so
listing every component of every installed plugin never imports torch or an implementation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

KINDS = ("layer", "optimizer", "trainer", "evaluator", "dataset")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
TARGET_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Paper:
    """The paper a component implements."""

    title: str
    year: int
    arxiv: str | None = None
    url: str | None = None

    @property
    def link(self) -> str:
        if self.url:
            return self.url
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""


@dataclass(frozen=True)
class ComponentSpec:
    """Everything the registry knows about a component before it is built.

    :param name: lowercase snake case, unique per kind.
    :param kind: one of ``KINDS``.
    :param target: ``"module:attr"``, a class or function imported only when built.
    :param summary: one line.
    :param paper: the paper it implements.
    :param tags: free keywords for ``registry list --search``.
    :param example: params that build it in a few milliseconds (used by the testing kit and docs).
    :param example_input: for layers, the input shape the example consumes, e.g. ``[2, 16]``; a dict
        ``{"shape": [2, 8], "dtype": "long", "high": 100}`` for token ids.
    :param example_base: for layers that replace or wrap an existing module (their first argument is
        that module), how to build one for tests: ``{"type": "Linear", "args": [16, 32]}``, a
        ``torch.nn`` class and its positional args.
    :param example_config: for trainers and evaluators, the config sections (``data``, ``model``,
        ``optimizer``...) of a tiny run that exercises them; the testing kit's default is an MLP on
        synthetic classification data.
    :param plugin: set by the registry: the plugin that registered it.
    """

    name: str
    kind: str
    target: str
    summary: str
    paper: Paper | None
    tags: tuple[str, ...] = ()
    example: dict[str, Any] = field(default_factory=dict)
    example_input: Any = None
    example_base: dict[str, Any] | None = None
    example_config: dict[str, Any] | None = None
    plugin: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"


def problems(spec: ComponentSpec) -> list[str]:
    """What is wrong with a spec, as readable sentences (empty when it is valid)."""
    found = []
    if not NAME_PATTERN.match(spec.name or ""):
        found.append(f"name {spec.name!r} is not lowercase snake case")
    if spec.kind not in KINDS:
        found.append(f"kind {spec.kind!r} is not one of {', '.join(KINDS)}")
    if not TARGET_PATTERN.match(spec.target or ""):
        found.append(f"target {spec.target!r} is not of the form 'module:attr'")
    if not (spec.summary or "").strip():
        found.append("summary is empty")
    if spec.paper is not None:
        if not spec.paper.title or not spec.paper.year:
            found.append("paper needs a title and a year")
        if not spec.paper.link:
            found.append("paper needs an arxiv id or a url")
    if not isinstance(spec.example, dict):
        found.append("example must be a dict of params")
    return found
