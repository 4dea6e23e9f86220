"""The ``registry`` command line: list, info, plugins, validate, run, new, docs.

Exit codes: 0 success; 2 a usage or config mistake (one line, no traceback; ``--debug`` shows
it); 1 a failure while running.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from .errors import PluginError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Find, inspect and run paperzoo components.",
)
STATE = {"debug": False, "plugins": []}


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    strict: bool = typer.Option(False, "--strict", help="A plugin that fails to load is fatal."),
) -> None:
    STATE["debug"] = debug
    if strict:
        os.environ["PAPERZOO_STRICT"] = "1"


def _registry():
    from .registry import registry

    reg = registry(STATE["plugins"])
    for info in reg.broken:
        typer.echo(
            f"warning: plugin {info.name!r} {info.status}: {info.error} (see `registry plugins`)", err=True
        )
    return reg


@app.command("list")
def list_cmd(
    kind: str | None = typer.Argument(None, help="layer, optimizer, trainer, evaluator or dataset."),
    plugin: str | None = typer.Option(None, "--plugin", "-p", help="Only this plugin's components."),
    search: str | None = typer.Option(None, "--search", "-s", help="Text or glob to match."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List installed components: name, kind, plugin, paper."""
    specs = _registry().list(kind=kind, pattern=search, plugin=plugin)
    if as_json:
        typer.echo(json.dumps([_spec_json(s) for s in specs], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("name", "kind", "plugin", "paper"):
        table.add_column(column)
    for s in specs:
        paper = f"{s.paper.title} ({s.paper.year})" if s.paper else ""
        table.add_row(s.name, s.kind, s.plugin, paper)
    Console(width=200).print(table)


@app.command()
def info(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Citation, summary, every param (type, default, description) and a config snippet."""
    from .docs import component_info, render_info

    data = component_info(_registry().get(name))
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else render_info(data))


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json")) -> None:
    """Installed plugins, versions, component counts and load errors."""
    from .registry import registry

    reg = registry(STATE["plugins"])
    rows = [vars(p) for p in reg.plugins.values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for p in rows:
        status = p["status"] + (f": {p['error']}" if p["error"] else "")
        typer.echo(
            f"{p['name']:<24} {p['distribution'] or '-':<28} {p['version'] or '-':<10} "
            f"{p['components']:>3} component{'s' if p['components'] != 1 else ' '}  {status}"
        )


def _load_config(config: Path | None, overrides: list[str], resume: Path | None):
    from .config import apply_overrides, load_yaml

    if config is None and resume is None:
        raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
    if config is not None and "=" in config.name and not config.exists():
        raise UsageError(f"{config} looks like an override: give the CONFIG file first")
    path = config if config is not None else resume / "config.yaml"
    raw = apply_overrides(load_yaml(path), overrides)
    return raw, str(path)


@app.command()
def validate(
    config: Path,
    overrides: list[str] | None = typer.Argument(None, help="dotted.path=value overrides."),
    plugin_file: list[Path] = typer.Option([], "--plugin", help="Also load a plugin from a Python file."),
) -> None:
    """Check a config completely (names, params, types, values, patches) by building it, without training."""
    from .engine import plan

    STATE["plugins"] = plugin_file
    _registry()
    raw, file = _load_config(config, overrides or [], None)
    p = plan(raw, file)
    _check_buildable(p, file)
    typer.echo(f"{file}: ok ({p.data.name} -> {p.model.name} -> {p.trainer.name})")


def _check_buildable(p, file: str) -> None:
    """Build every component but the data (loading it is the slow part) without training: catches
    what only a constructor can tell (a value out of range, a patch that matches nothing)."""
    from .engine import build_components
    from .errors import ConfigError

    try:
        build_components(p, with_data=False)
    except ConfigError as exc:
        raise exc.at(file=file) from None


@app.command()
def run(
    config: Path | None = typer.Argument(None, help="The YAML config."),
    overrides: list[str] | None = typer.Argument(None, help="dotted.path=value overrides."),
    nproc: int = typer.Option(1, "--nproc", help="Processes (torch.distributed, DDP)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this directory."),
    plugin_file: list[Path] = typer.Option([], "--plugin", help="Also load a plugin from a Python file."),
) -> None:
    """Validate, build and train; writes metrics, checkpoints and a summary to the run directory."""
    from .engine import execute, plan

    STATE["plugins"] = plugin_file
    _registry()
    raw, file = _load_config(config, overrides or [], resume)
    if resume is not None and not (resume / "checkpoints" / "latest").exists():
        raise UsageError(f"--resume {resume}: no checkpoint there")
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        p = plan(raw, file)  # fail fast, before starting processes
        _check_buildable(p, file)
        raise typer.Exit(_launch(nproc))
    summary = execute(raw, file, resume_dir=resume)
    if int(os.environ.get("RANK", "0")) == 0:
        _print_summary(summary)


def _launch(nproc: int) -> int:
    """Re-run this command under torch.distributed's launcher (torchrun) with ``nproc`` processes."""
    import subprocess

    cleaned, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        cleaned.append(a)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "paperzoo.cli",
        *cleaned,
    ]
    return subprocess.call(cmd)


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="summary", box=None, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)


@app.command()
def new(
    slug: str, directory: Path = typer.Option(Path("plugins"), "--dir", help="Where to create it.")
) -> None:
    """Scaffold a plugin that passes its own tox env unchanged."""
    from .scaffold import scaffold

    path = scaffold(slug, directory)
    typer.echo(f"created {path}: edit src/, README.md and tests/, then `tox -e plugin-{slug}`")


@app.command()
def docs(out: Path = typer.Option(Path("docs/components"), "--out")) -> None:
    """Write one Markdown page per component, and an index, from the registry."""
    from .docs import write_pages

    n = write_pages(_registry(), out)
    typer.echo(f"wrote {n} component pages to {out}")


def _spec_json(s) -> dict:
    return {
        "name": s.name,
        "kind": s.kind,
        "plugin": s.plugin,
        "summary": s.summary,
        "tags": list(s.tags),
        "paper": vars(s.paper) if s.paper else None,
    }


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except UsageError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except PluginError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # A command-line usage error (unknown command or option, bad value) of click, or of the copy
        # of click that recent typer releases bundle: both carry exit code 2 and format_message().
        if getattr(exc, "exit_code", None) == 2 and callable(getattr(exc, "format_message", None)):
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(2)
        if debug:
            raise
        typer.echo(f"error while running: {type(exc).__name__}: {exc} (--debug for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
