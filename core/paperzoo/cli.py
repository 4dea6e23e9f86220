"""The ``registry`` command line: list, info, plugins, validate, run, new, docs.

Exit codes: 0 success; 2 a usage or config mistake (one line, no traceback; ``--debug`` shows
it); 1 a failure while running.
"""

from __future__ import annotations

import contextlib
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
    # Plain aligned columns: a rich Table measures and wraps every cell, about 1 ms a row.
    table = [("name", "kind", "plugin", "paper")]
    table += [
        (s.name, s.kind, s.plugin, f"{s.paper.title} ({s.paper.year})" if s.paper else "") for s in specs
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = [" " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    typer.echo(typer.style(lines[0], bold=True))
    if specs:
        typer.echo("\n".join(lines[1:]))


@app.command()
def info(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Citation, summary, every param (type, default, description) and a config snippet."""
    from .docs import component_info, render_info

    data = component_info(_registry().get(name))
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else render_info(data))


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json")) -> None:
    """Installed plugins: name, distribution, version, component count and status (with any load error)."""
    from .registry import registry

    reg = registry(STATE["plugins"])
    rows = [vars(p) for p in reg.plugins.values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    header = ("name", "distribution", "version", "components", "status")
    table = [header] + [
        (
            p["name"],
            p["distribution"] or "-",
            p["version"] or "-",
            str(p["components"]),
            p["status"] + (f": {p['error']}" if p["error"] else ""),
        )
        for p in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        typer.echo("  ".join([*cells, row[-1]]))


def _load_config(config: Path | None, overrides: list[str], resume: Path | None):
    """The raw config with ``overrides`` applied, and its file name. ``main`` names the override a
    later config error came from (``STATE["overrides"]``)."""
    from .config import apply_overrides, load_yaml
    from .errors import ConfigError

    if config is None and resume is None:
        raise UsageError("give a CONFIG file (or --resume RUN_DIR)")
    if config is not None and "=" in config.name and not config.exists():
        raise UsageError(f"{config} looks like an override: give the CONFIG file first")
    path = config if config is not None else resume / "config.yaml"
    STATE["overrides"] = list(overrides)
    raw = load_yaml(path)
    try:
        raw = apply_overrides(raw, overrides)
    except ConfigError as exc:
        raise exc.at(file=str(path)) from None
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
    oversubscribe: bool = typer.Option(
        False, "--oversubscribe", help="Allow --nproc above the CPU cores of a machine without GPUs."
    ),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this directory."),
    plugin_file: list[Path] = typer.Option([], "--plugin", help="Also load a plugin from a Python file."),
) -> None:
    """Validate, build and train; writes metrics, checkpoints and a summary to the run directory.
    Resuming a finished run prints its summary and writes nothing."""
    from .engine import check_resume, completed_summary, execute, plan

    launcher = nproc != 1 and "LOCAL_RANK" not in os.environ
    if launcher:
        _check_nproc(nproc, oversubscribe)
    STATE["plugins"] = plugin_file
    _registry()
    if resume is not None:
        from .rundir import check_resumable

        check_resumable(resume)
        done = None if overrides else completed_summary(resume)
        if done is not None:
            if int(os.environ.get("RANK", "0")) == 0:
                typer.echo(f"{resume}: the run is already complete; nothing to resume, nothing written")
                _print_summary(done)
            return
        check_resume(resume)
    raw, file = _load_config(config, overrides or [], resume)
    if launcher:
        p = plan(raw, file)  # fail fast, before starting processes
        _check_buildable(p, file)
        if resume is not None:
            from .rundir import locked

            with locked(resume):  # in use by another process: refused here, not in every worker
                pass
        raise typer.Exit(_launch(nproc))
    summary = execute(raw, file, resume_dir=resume)
    if int(os.environ.get("RANK", "0")) == 0:
        _print_summary(summary)


def _check_nproc(nproc: int, oversubscribe: bool) -> None:
    """Refuse fewer than one process, and more processes than CPU cores on a machine without GPUs
    (unless ``--oversubscribe``): each process would wait for a core, slower than fewer processes."""
    if nproc < 1:
        raise UsageError(f"--nproc {nproc}: accepted: 1 or more processes")
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if nproc > cores and not oversubscribe and not torch.cuda.is_available():
        raise UsageError(
            f"--nproc {nproc}: more processes than the {cores} CPU cores of this machine; accepted: at most "
            f"{cores}, or add --oversubscribe to run them anyway"
        )


def _launch(nproc: int) -> int:
    """Re-run this command under torch.distributed's launcher (torchrun) with ``nproc`` processes;
    its exit code (non-zero when a process failed or was killed)."""
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
    return _supervise(cmd)


def _supervise(cmd: list[str], grace: float = 10.0) -> int:
    """Run ``cmd`` in a process group of its own and return its exit code. SIGINT, SIGTERM or SIGHUP
    sent to this process is passed to the whole group (the launcher and every worker), which gets
    ``grace`` seconds to stop before it is killed; the code is then 128 + the signal's number."""
    import signal
    import subprocess
    import time

    received: list[int] = []
    started: list[subprocess.Popen] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started[0].pid, signum)

    handled = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, forward) for s in handled}
    try:
        proc = subprocess.Popen(cmd, start_new_session=True)
        started.append(proc)
        if received:  # a signal that came while it started
            os.killpg(proc.pid, received[0])
        deadline = None
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and deadline is None:
                deadline = time.monotonic() + grace
            if deadline is not None and time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        # the workers may outlive the launcher by a moment: the group goes with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return 128 + received[0]
    return code if code >= 0 else 128 - code


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
    typer.echo(
        f"created {path}: edit src/paperzoo_{slug}/ (its tests/ too), README.md and examples/, "
        f"then `pip install -e '{path}[test]'` and `registry verify {slug}` (or `tox -e plugin-{slug}`)"
    )


@app.command()
def verify(
    slug: str = typer.Argument(..., help="The plugin's name (its entry point in group 'paperzoo')."),
    claims: bool = typer.Option(False, "--claims", help="Also run the claim reproductions (slower)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run a plugin's own tests where it is installed; print counts and the figures they record."""
    from .verify import as_json as report_json
    from .verify import check_verifiable, find_plugin, render, run_tests

    plugin = find_plugin(slug)
    check_verifiable(plugin)
    report = run_tests(plugin, claims=claims)
    if as_json:
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in report.failures:
            typer.echo(line)
        typer.echo(render(report))
    sys.exit(0 if report.ok else 1)  # sys.exit: a typer.Exit code is not passed on by main()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    slug: str = typer.Argument(..., help="The plugin's name."),
    args: list[str] | None = typer.Argument(None, help="Arguments for the plugin's benchmark."),
) -> None:
    """Run a plugin's benchmark (``python -m paperzoo_<slug>.bench ARGS``): ratios ours / baseline."""
    import subprocess

    from .verify import bench_command

    sys.exit(subprocess.call(bench_command(slug, args or [])))


@app.command()
def docs(
    directory: Path | None = typer.Argument(
        None, help="Where to write the pages [default: docs/components]."
    ),
    out: Path | None = typer.Option(None, "--out", help="Same as DIRECTORY."),
) -> None:
    """Write one Markdown page per component, and an index, from the registry."""
    from .docs import write_pages

    if directory is not None and out is not None and directory != out:
        raise UsageError(f"docs: give the directory once (got {directory} and --out {out})")
    target = directory or out or Path("docs/components")
    n = write_pages(_registry(), target)
    typer.echo(f"wrote {n} component pages to {target}")


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
    from .errors import ConfigError

    debug = "--debug" in sys.argv
    STATE["overrides"] = []
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        if debug:
            raise
        if isinstance(exc, ConfigError):
            from .config import attribute  # pydantic and yaml: only when a config was read

            exc = attribute(exc, STATE.get("overrides", []))
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
    sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)


if __name__ == "__main__":
    main()
