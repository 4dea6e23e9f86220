"""``registry verify`` and ``registry bench`` on tiny fake plugins installed into a temporary site folder.

Each fake plugin is an import package beside a ``.dist-info`` with an ``entry_points.txt`` (group
``paperzoo``) and a METADATA with its ``test`` extra, found through PYTHONPATH by the subprocess:
exactly how an installed plugin is found. The fake tests import nothing heavy, so each run is quick.
"""

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import REGISTRY_BIN
from paperzoo.verify import InstalledPlugin, Report, read_junit

FAKE_TESTS = """
import os

import pytest


def test_agrees_with_reference(record_property):
    record_property("err", 1e-9)


def test_fails_on_request():
    assert os.environ.get("FAKEPLUG_FAIL") != "1", "asked to fail"


@pytest.mark.xfail(strict=True, reason="not written yet")
def test_not_written():
    raise NotImplementedError


def test_skipped():
    pytest.skip("nothing to check here")


@pytest.mark.claim
def test_claim(record_property):
    record_property("acc_ours", 0.98)
"""

FAKE_BENCH = """
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    print("ratio ours/baseline 1.00, args", argv)
    if "--fail" in argv:
        sys.exit(3)


if __name__ == "__main__":
    main()
"""


def install(
    site: Path, name: str, requires: list[str], tests: dict[str, str] | None, bench: str = ""
) -> None:
    """Write the package ``paperzoo_<name>`` and its ``.dist-info`` into ``site``."""
    package = site / f"paperzoo_{name}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from paperzoo import hookimpl\n\n\n@hookimpl\ndef register_layers(register):\n    pass\n"
    )
    if tests is not None:
        (package / "tests").mkdir()
        for file, text in {"__init__.py": "", **tests}.items():
            (package / "tests" / file).write_text(textwrap.dedent(text))
    if bench:
        (package / "bench.py").write_text(bench)
    info = site / f"paperzoo_{name}-0.1.0.dist-info"
    info.mkdir()
    meta = ["Metadata-Version: 2.1", f"Name: paperzoo-{name}", "Version: 0.1.0"]
    meta += ["Provides-Extra: test", "Provides-Extra: docs"] + [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    (info / "entry_points.txt").write_text(f"[paperzoo]\n{name} = paperzoo_{name}\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    install(
        site,
        "fakeplug",
        ["paperzoo>=0.1", 'pytest>=7; extra == "test"'],
        {"test_fake.py": FAKE_TESTS},
        FAKE_BENCH,
    )
    needy_tests = {"test_mark.py": "import os, pathlib\n\npathlib.Path(os.environ['FAKE_MARK']).touch()\n"}
    install(
        site,
        "fakeneedy",
        [
            "paperzoo>=0.1",  # a requirement of every install: not part of the check
            'somepkg-not-installed>=1.0; extra == "test"',
            'pytest>=999; extra == "test"',
            'pytest>=7; extra == "test"',
            'docspkg-not-installed; extra == "docs"',
        ],
        needy_tests,
    )
    install(site, "fakebare", [], None)
    return site


@pytest.fixture(scope="module")
def hostile_cwd(tmp_path_factory) -> Path:
    """A folder whose pytest config and conftest break any pytest run started from it."""
    cwd = tmp_path_factory.mktemp("cwd")
    (cwd / "conftest.py").write_text("raise RuntimeError('the current directory must not take part')\n")
    (cwd / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    return cwd


def registry(site: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(site), **env}
    environ.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([REGISTRY_BIN, *args], capture_output=True, text=True, cwd=cwd, env=environ)


def table(stdout: str) -> dict[str, str]:
    """The rows of verify's table, label -> value (labels and values are separated by 2+ spaces)."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        label, _, value = line.strip().partition("  ")
        rows[label] = value.strip()
    return rows


def test_verify_counts_the_checks_and_prints_the_recorded_figures(site, hostile_cwd):
    result = registry(site, "verify", "fakeplug", cwd=hostile_cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table(result.stdout)
    assert rows["checks run"] == "4" and rows["passed"] == "2" and rows["failed"] == "0"
    assert rows["expected failures"] == "1" and rows["skipped"] == "1" and rows["not run (claims)"] == "1"
    assert rows["test_fake::test_agrees_with_reference"] == "err = 1e-09"
    assert "acc_ours" not in result.stdout  # the claim did not run


def test_verify_claims_adds_the_claim_reproductions(site):
    result = registry(site, "verify", "fakeplug", "--claims")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = table(result.stdout)
    assert rows["checks run"] == "5" and rows["passed"] == "3" and "not run (claims)" not in rows
    assert rows["test_fake::test_claim"] == "acc_ours = 0.98"


def test_verify_exits_1_and_shows_the_failure_when_a_check_fails(site):
    result = registry(site, "verify", "fakeplug", FAKEPLUG_FAIL="1")
    assert result.returncode == 1
    assert "FAILED test_fake.py::test_fails_on_request - AssertionError: asked to fail" in result.stdout
    rows = table(result.stdout.split("FAILED", 1)[1].split("\n", 1)[1])
    assert rows["failed"] == "1" and rows["passed"] == "1"


def test_verify_json(site):
    result = registry(site, "verify", "fakeplug", "--json", FAKEPLUG_FAIL="1")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["distribution"] == "paperzoo-fakeplug"
    assert data["counts"] == {"run": 4, "passed": 1, "failed": 1, "xfailed": 1, "skipped": 1, "deselected": 1}
    assert data["figures"] == [
        {"test": "test_fake::test_agrees_with_reference", "property": "err", "value": 1e-9}
    ]
    assert len(data["failures"]) == 1 and "test_fails_on_request" in data["failures"][0]


def test_verify_without_the_test_extra_names_what_is_missing_and_runs_nothing(site, tmp_path):
    mark = tmp_path / "ran"
    result = registry(site, "verify", "fakeneedy", FAKE_MARK=str(mark))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: plugin 'fakeneedy' needs its test extra")
    assert "somepkg-not-installed>=1.0" in lines[0]
    assert "pytest>=999 (" in lines[0] and "pytest>=7" not in lines[0]
    assert "docspkg" not in lines[0] and "paperzoo>=" not in lines[0]
    assert "pip install 'paperzoo-fakeneedy[test]'" in lines[0]
    assert "pip install -e 'plugins/fakeneedy[test]'" in lines[0]
    assert not mark.exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["verify", "fakeplgu"], "error: unknown plugin 'fakeplgu'. Did you mean 'fakeplug'?"),
        (["bench", "fakeplgu"], "error: unknown plugin 'fakeplgu'. Did you mean 'fakeplug'?"),
        (
            ["verify", "fakebare"],
            "error: plugin 'fakebare' ships no tests: there is no package paperzoo_fakebare.tests",
        ),
        (
            ["bench", "fakebare"],
            "error: plugin 'fakebare' has no benchmark: there is no module paperzoo_fakebare.bench",
        ),
    ],
)
def test_usage_mistakes_give_one_line_and_exit_2(site, args, expected):
    result = registry(site, *args)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr


def test_bench_runs_the_plugins_benchmark_with_its_arguments_and_exit_code(site):
    ok = registry(site, "bench", "fakeplug", "--size", "8")
    assert ok.returncode == 0 and "ratio ours/baseline 1.00, args ['--size', '8']" in ok.stdout
    failed = registry(site, "bench", "fakeplug", "--fail")
    assert failed.returncode == 3


def test_junit_report_counts_errors_as_failures_and_tells_xfail_from_skip():
    xml = """<testsuites><testsuite>
      <testcase classname="pkg.tests.test_a" name="test_ok"><properties>
        <property name="max_abs_diff" value="2e-15"/></properties></testcase>
      <testcase classname="pkg.tests.test_a" name="test_setup_error"><error message="fixture failed"/></testcase>
      <testcase classname="pkg.tests.test_a" name="test_xpass_strict"><failure message="[XPASS(strict)]"/></testcase>
      <testcase classname="pkg.tests.test_a" name="test_x"><skipped type="pytest.xfail" message="todo"/></testcase>
      <testcase classname="pkg.tests.test_a.TestB" name="test_s[1]"><skipped type="pytest.skip" message="no"/></testcase>
    </testsuite></testsuites>"""
    report = Report(plugin=InstalledPlugin("p", "pkg", "paperzoo-p", "0.1"), claims=False)
    read_junit(xml, report, prefix="pkg.tests.")
    assert (report.passed, report.failed, report.xfailed, report.skipped, report.run) == (1, 2, 1, 1, 5)
    assert report.figures == [("test_a::test_ok", "max_abs_diff", "2e-15")]
    assert not report.ok
