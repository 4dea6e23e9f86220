"""Claims that run when a plugin changes, not by the clock: a lock of content hashes.

``.ci/claims.lock`` holds one line per plugin, ``<slug> <hash>``: the hash of the plugin's files when
its claims last passed. A plugin's hash covers the content and path of every git-tracked file under
``plugins/<slug>/`` as it is in the working tree (git's blob id of each file), and nothing else: not
mtimes, not untracked or ignored files, not the lock. A plugin is *changed* when its hash differs from
its line in the lock (or it has none).

    python .ci/claims.py run [SLUG...|--changed|--all] [--no-lock] [-- PYTEST_ARGS...]
        runs the claim tests of the named plugins, one pytest per plugin
        (``pytest --pyargs paperzoo_<slug>.tests -m claim``; isolated plugins through
        ``tox -e plugin-<slug> -- -m claim``) and writes the hash of each plugin whose claims pass
        into the lock (not with --no-lock, which is how CI runs them). No claim tests counts as passed.
    python .ci/claims.py changed        the plugins whose hash differs from the lock, one a line
    python .ci/claims.py hash [SLUG...] the current hashes, in the lock's format
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_spec = importlib.util.spec_from_file_location("ci_plugins", Path(__file__).resolve().with_name("plugins.py"))
_plugins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugins)
ROOT, all_plugins, is_isolated = _plugins.ROOT, _plugins.all_plugins, _plugins.is_isolated

LOCK = Path(".ci") / "claims.lock"
HEADER = (
    "# The hash of each plugin's git-tracked files when its claims last passed; written only by\n"
    "# `python .ci/claims.py run`. CI runs the claims of every plugin whose hash differs.\n"
)
NO_TESTS = 5  # pytest's exit status when no test was selected


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def blob_id(path: Path) -> str:
    """git's blob id of a working-tree file (``git hash-object``), or ``deleted`` when it is gone."""
    if path.is_symlink():
        data = os.readlink(path).encode()
    elif path.is_file():
        data = path.read_bytes()
    else:
        return "deleted"
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def plugin_hash(slug: str, root: Path = ROOT) -> str:
    """sha256 over ``<blob id> <path>`` of every git-tracked file of ``plugins/<slug>``, sorted by path."""
    folder = f"plugins/{slug}/"
    files = sorted(f for f in _git(root, "ls-files", "-z", "--", folder).split("\0") if f)
    lines = "".join(f"{blob_id(root / f)} {f.removeprefix(folder)}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def read_lock(root: Path = ROOT) -> dict[str, str]:
    """``{slug: hash}`` from the lock; an absent lock is empty."""
    path = root / LOCK
    if not path.exists():
        return {}
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{LOCK}: line {n}: expected '<slug> <hash>', got {line!r}")
        out[fields[0]] = fields[1]
    return out


def write_lock(entries: dict[str, str], root: Path = ROOT) -> None:
    """Write the lock, sorted, keeping only plugins that still exist (atomically: rename over it)."""
    known = set(all_plugins(root))
    body = "".join(f"{slug} {h}\n" for slug, h in sorted(entries.items()) if slug in known)
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(HEADER + body)
    tmp.replace(path)


def changed(root: Path = ROOT) -> list[str]:
    """The plugins whose current hash differs from their line in the lock (or have none)."""
    lock = read_lock(root)
    return [slug for slug in all_plugins(root) if lock.get(slug) != plugin_hash(slug, root)]


def claim_command(slug: str, root: Path) -> list[str]:
    """The command that runs one plugin's claim tests where it is installed."""
    if is_isolated(slug, root):
        beside = Path(sys.executable).with_name("tox")
        tox = str(beside) if beside.exists() else shutil.which("tox") or "tox"
        return [tox, "-q", "-e", f"plugin-{slug}", "--"]
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", f"paperzoo_{slug}.tests"]


def run_one(command: list[str], root: Path) -> int:
    """Run one plugin's claim command from the repository root; its exit status."""
    return subprocess.run(command, cwd=root).returncode


def run_claims(
    slugs: list[str], root: Path = ROOT, update_lock: bool = True, pytest_args: Sequence[str] = ()
) -> int:
    """Run each plugin's claims; record the hash of each that passes. 0 when all pass, else 1."""
    results = []
    for slug in slugs:
        before = plugin_hash(slug, root)
        command = [*claim_command(slug, root), "-m", "claim", *pytest_args]
        shown = ["python" if part == sys.executable else part for part in command]
        print(f"-- claims of {slug}: {' '.join(shown)}", flush=True)
        start = time.monotonic()
        code = run_one(command, root)
        seconds = time.monotonic() - start
        passed = code in (0, NO_TESTS)
        outcome = "passed" if code == 0 else "no claim tests" if code == NO_TESTS else f"FAILED (exit {code})"
        if passed and update_lock:
            if plugin_hash(slug, root) == before:
                write_lock({**read_lock(root), slug: before}, root)
            else:
                outcome += ", files changed while it ran: lock not updated"
        results.append((slug, outcome, seconds, passed))
        print(f"-- claims of {slug}: {outcome} ({seconds:.0f}s)", flush=True)
    if results:
        print("claims:")
        for slug, outcome, seconds, _ in results:
            print(f"  {slug:<24} {seconds:>6.0f}s  {outcome}")
    return 0 if all(r[3] for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description="Run plugins' claims; keep .ci/claims.lock.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run claims and record the hash of each plugin whose claims pass")
    run.add_argument("slugs", nargs="*", help="plugins to run (default with neither flag: --changed)")
    pick = run.add_mutually_exclusive_group()
    pick.add_argument("--changed", action="store_true", help="the plugins whose hash differs from the lock")
    pick.add_argument("--all", action="store_true", help="every plugin")
    run.add_argument("--no-lock", action="store_true", help="leave the lock as it is (CI)")
    sub.add_parser("changed", help="list the plugins whose hash differs from the lock")
    hashes = sub.add_parser("hash", help="print current hashes in the lock's format")
    hashes.add_argument("slugs", nargs="*")
    args = parser.parse_args(argv)

    known = all_plugins()
    named = getattr(args, "slugs", [])
    if unknown := [s for s in named if s not in known]:
        print(f"error: plugins/{unknown[0]}: no such plugin; known: {', '.join(known)}", file=sys.stderr)
        return 2
    if args.command == "hash":
        print("".join(f"{slug} {plugin_hash(slug)}\n" for slug in named or known), end="")
        return 0
    if args.command == "run" and named and (args.all or args.changed):
        print("error: .ci/claims.py: run: name plugins or give --changed or --all, not both", file=sys.stderr)
        return 2
    try:
        slugs = known if getattr(args, "all", False) else named or changed()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "changed":
        print("".join(f"{slug}\n" for slug in slugs), end="")
        return 0
    if not slugs:
        print(f"claims: every plugin's files match {LOCK}; nothing to run")
        return 0
    return run_claims(slugs, update_lock=not args.no_lock, pytest_args=pytest_args)


if __name__ == "__main__":
    sys.exit(main())
