"""The claims lock of CI (``.ci/claims.py``), on a throwaway git repository with three plugins."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


claims = _load("ci_claims", ROOT / ".ci" / "claims.py")


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.org", "-c", "commit.gpgsign=false"]
    return subprocess.run([*command, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """plugins a, b and c (c isolated), a README outside them, an ignored folder; one commit."""
    for slug in "abc":
        folder = tmp_path / "plugins" / slug
        (folder / "src").mkdir(parents=True)
        extra = "\n[tool.paperzoo]\nisolated-tests = true\n" if slug == "c" else ""
        (folder / "pyproject.toml").write_text(f'[project]\nname = "paperzoo-{slug}"\n{extra}')
        (folder / "src" / "impl.py").write_text(f"VALUE = {slug!r}\n")
    (tmp_path / "README.md").write_text("top\n")
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def hashes(repo: Path) -> dict[str, str]:
    return {slug: claims.plugin_hash(slug, repo) for slug in "abc"}


def test_hash_follows_content_of_tracked_files_only(repo):
    base = hashes(repo)
    assert len(set(base.values())) == 3, "plugins with different files share a hash"
    impl = repo / "plugins" / "a" / "src" / "impl.py"

    impl.write_text("VALUE = 'changed'\n")  # uncommitted edit of a tracked file
    edited = hashes(repo)
    assert edited["a"] != base["a"] and (edited["b"], edited["c"]) == (base["b"], base["c"])

    impl.write_text("VALUE = 'a'\n")  # same content again, newer mtime
    os.utime(impl, (1, 1))
    assert hashes(repo) == base

    (repo / "README.md").write_text("changed outside every plugin\n")
    (repo / "plugins" / "a" / "scratch.txt").write_text("untracked\n")
    (repo / "plugins" / "a" / "src" / "__pycache__").mkdir()
    (repo / "plugins" / "a" / "src" / "__pycache__" / "impl.pyc").write_bytes(b"\0")
    claims.write_lock(base, repo)
    assert hashes(repo) == base

    git(repo, "add", "plugins/a/scratch.txt")  # tracked from now on
    assert claims.plugin_hash("a", repo) != base["a"]


def test_hash_changes_when_a_tracked_file_is_renamed_or_deleted(repo):
    base = claims.plugin_hash("b", repo)
    git(repo, "mv", "plugins/b/src/impl.py", "plugins/b/src/other.py")
    renamed = claims.plugin_hash("b", repo)
    (repo / "plugins" / "b" / "src" / "other.py").unlink()
    assert len({base, renamed, claims.plugin_hash("b", repo)}) == 3


def test_hash_of_a_clean_tree_is_built_from_gits_own_blob_ids(repo):
    listing = git(repo, "ls-files", "-s", "plugins/c").splitlines()  # "<mode> <blob> <stage>\t<path>"
    lines = sorted((row.split("\t")[1], row.split()[1]) for row in listing)
    text = "".join(f"{blob} {path.removeprefix('plugins/c/')}\n" for path, blob in lines)
    assert claims.plugin_hash("c", repo) == hashlib.sha256(text.encode()).hexdigest()


def test_changed_lists_exactly_the_plugins_whose_hash_differs(repo):
    assert claims.changed(repo) == ["a", "b", "c"]  # no lock yet
    claims.write_lock(hashes(repo), repo)
    assert claims.changed(repo) == []
    (repo / "plugins" / "c" / "src" / "impl.py").write_text("VALUE = 'new'\n")
    (repo / "README.md").write_text("not a plugin\n")
    assert claims.changed(repo) == ["c"]
    lock = claims.read_lock(repo)
    del lock["a"]
    claims.write_lock({**lock, "gone": "0" * 64}, repo)
    assert claims.changed(repo) == ["a", "c"]
    assert "gone" not in claims.read_lock(repo), "a plugin that no longer exists stays in the lock"


def test_run_records_only_plugins_whose_claims_pass(repo, monkeypatch):
    """Exit 0 and 5 (no claim test) pass, 1 fails; isolated plugins go through their tox env."""
    outcomes = {"paperzoo_a.tests": 0, "paperzoo_b.tests": 1, "plugin-c": 5}
    commands = []

    def fake_run(command, root):
        commands.append(command)
        return next(code for key, code in outcomes.items() if key in command)

    monkeypatch.setattr(claims, "run_one", fake_run)
    before = hashes(repo)
    assert claims.run_claims(["a", "b", "c"], repo) == 1
    assert claims.read_lock(repo) == {"a": before["a"], "c": before["c"]}
    assert Path(commands[2][0]).name == "tox" and commands[2][-2:] == ["-m", "claim"]
    assert commands[0][-4:] == ["--pyargs", "paperzoo_a.tests", "-m", "claim"]
    assert claims.changed(repo) == ["b"]

    outcomes["paperzoo_b.tests"] = 0
    assert claims.run_claims(["b"], repo, update_lock=False) == 0
    assert claims.changed(repo) == ["b"], "a run with update_lock=False wrote the lock"
