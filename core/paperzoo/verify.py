"""``registry verify`` and ``registry bench``: a plugin's own tests and benchmark, run where it is installed.

A plugin ships its tests inside its import package (``paperzoo_<slug>.tests``). ``verify`` runs them
with the interpreter of this process, from an empty temporary directory and with an empty pytest
config, so that nothing of the current directory (a repository checkout, its ``conftest.py`` or
``pyproject.toml``) takes part: what is checked is the installed plugin. Parity and claim tests
report their headline figures with pytest's ``record_property``; they are read back from a JUnit XML
report and printed in the same table as the counts.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .errors import UsageError, did_you_mean

GROUP = "paperzoo"


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin as its entry point and distribution declare it."""

    name: str
    package: str
    distribution: str
    version: str
    requires: tuple[str, ...] = ()


@dataclass
class Report:
    """What one run of a plugin's tests found."""

    plugin: InstalledPlugin
    claims: bool
    passed: int = 0
    failed: int = 0
    xfailed: int = 0
    skipped: int = 0
    deselected: int = 0
    figures: list[tuple[str, str, str]] = field(default_factory=list)  # (test, property, value)
    failures: list[str] = field(default_factory=list)  # pytest's short summary lines
    pytest_exit: int = 0

    @property
    def run(self) -> int:
        return self.passed + self.failed + self.xfailed + self.skipped

    @property
    def ok(self) -> bool:
        return self.pytest_exit == 0 and self.failed == 0 and self.run > 0


def installed_plugins() -> dict[str, metadata.EntryPoint]:
    """Entry points of group ``paperzoo`` by plugin name (the first one wins, as in the registry)."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        found.setdefault(ep.name, ep)
    return found


def find_plugin(slug: str) -> InstalledPlugin:
    """The installed plugin ``slug``; a UsageError with a did-you-mean when there is none."""
    plugins = installed_plugins()
    if slug not in plugins:
        names = sorted(plugins)
        listing = f" Installed plugins: {', '.join(names)}." if names else " No plugin is installed."
        raise UsageError(f"unknown plugin {slug!r}.{did_you_mean(slug, names)}{listing}")
    ep = plugins[slug]
    dist = getattr(ep, "dist", None)
    return InstalledPlugin(
        name=slug,
        package=ep.module,
        distribution=dist.metadata["Name"] if dist else f"paperzoo-{slug}",
        version=dist.version if dist else "",
        requires=tuple(dist.requires or ()) if dist else (),
    )


def has_submodule(package: str, name: str) -> bool:
    """Whether ``package`` has a submodule or subpackage ``name``, found on disk without importing
    the plugin (a plugin that fails to import is then reported by its tests, not as "no tests")."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location)
        if (folder / name / "__init__.py").is_file() or (folder / f"{name}.py").is_file():
            return True
    return False


def missing_test_requirements(plugin: InstalledPlugin) -> list[str]:
    """The requirements of the plugin's ``test`` extra that are not installed, or not in a version
    their specifier accepts (``"adamp==0.3.0 (0.2.0 installed)"``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for line in plugin.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or not req.marker.evaluate({"extra": "test"}):
            continue
        if req.marker.evaluate({"extra": ""}):  # a requirement of every install, not of the extra
            continue
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(f"{req.name}{req.specifier}")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            missing.append(f"{req.name}{req.specifier} ({have} installed)")
    return missing


def check_verifiable(plugin: InstalledPlugin) -> None:
    """Raise a UsageError when the plugin has no tests package or lacks its test extra."""
    tests = f"{plugin.package}.tests"
    if not has_submodule(plugin.package, "tests"):
        raise UsageError(
            f"plugin {plugin.name!r} ships no tests: there is no package {tests} "
            "(a plugin's tests live in src/<package>/tests/ with an __init__.py)"
        )
    missing = missing_test_requirements(plugin)
    if missing:
        raise UsageError(
            f"plugin {plugin.name!r} needs its test extra to verify: missing {', '.join(missing)}. "
            f"Install it with `pip install '{plugin.distribution}[test]'` "
            f"(from a clone of the repository: `pip install -e 'plugins/{plugin.name}[test]'`)"
        )


def pytest_command(plugin: InstalledPlugin, workdir: Path, claims: bool, junit: Path) -> list[str]:
    """The pytest command line that runs the plugin's installed tests independently of the cwd."""
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(workdir),
        "-c",
        str(ini),
        "--import-mode=importlib",
        "-o",
        "junit_family=xunit1",  # the family that keeps record_property's figures
        "--junitxml",
        str(junit),
        "-q",
        "--no-header",
        "--tb=short",
        "-rfE",
        "--pyargs",
        f"{plugin.package}.tests",
    ]
    return cmd if claims else [*cmd, "-m", "not claim"]


def run_tests(plugin: InstalledPlugin, claims: bool = False) -> Report:
    """Run the plugin's tests in a subprocess and read the report back."""
    report = Report(plugin=plugin, claims=claims)
    with tempfile.TemporaryDirectory(prefix="paperzoo-verify-") as tmp:
        workdir = Path(tmp)
        junit = workdir / "report.xml"
        result = subprocess.run(
            pytest_command(plugin, workdir, claims, junit), cwd=workdir, capture_output=True, text=True
        )
        report.pytest_exit = result.returncode
        wrote_report = junit.exists()
        if wrote_report:
            read_junit(junit.read_text(), report, prefix=f"{plugin.package}.tests.")
    read_summary(result.stdout, report)
    if (result.returncode != 0 or not wrote_report) and not report.failures:
        # no test failed, yet pytest did not succeed: no test collected, a usage or internal error
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        report.failures.append(f"pytest exited with code {result.returncode}: {tail[0]}")
    return report


def read_junit(text: str, report: Report, prefix: str = "") -> None:
    """Count the test cases of a JUnit XML report and collect their recorded properties."""
    for case in ET.fromstring(text).iter("testcase"):
        classname = case.get("classname", "")
        test = f"{classname.removeprefix(prefix)}::{case.get('name', '')}".lstrip(":")
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            report.failed += 1
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            report.xfailed += 1
        elif skipped is not None:
            report.skipped += 1
        else:
            report.passed += 1
        for prop in case.iter("property"):
            report.figures.append((test, prop.get("name", ""), prop.get("value", "")))


def read_summary(stdout: str, report: Report) -> None:
    """pytest's short summary lines (``FAILED ...``, ``ERROR ...``) and its count of deselected tests."""
    report.failures += [line for line in stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    found = re.search(r"(\d+) deselected", stdout.strip().splitlines()[-1] if stdout.strip() else "")
    report.deselected = int(found.group(1)) if found else 0


def render(report: Report) -> str:
    """The report as one table: the counts, then each recorded figure as ``test  property = value``."""
    p = report.plugin
    which = "all its tests" if report.claims else "its tests but the claims (--claims adds them)"
    counts = [
        ("checks run", report.run),
        ("passed", report.passed),
        ("failed", report.failed),
        ("expected failures", report.xfailed),
        ("skipped", report.skipped),
    ]
    if report.deselected:
        counts.append(("not run (claims)", report.deselected))
    version = f" {p.version}" if p.version else ""
    lines = [f"{p.name} ({p.distribution}{version}): {which}, run where installed ({p.package}.tests)"]
    width = max(len(label) for label, _ in counts)
    lines += [f"  {label:<{width}}  {value}" for label, value in counts]
    if report.figures:
        width = max(len(test) for test, _, _ in report.figures)
        lines.append("  figures recorded by the tests:")
        lines += [f"  {test:<{width}}  {name} = {_short(value)}" for test, name, value in report.figures]
    return "\n".join(lines)


def _short(text: str) -> str:
    """A recorded float to 4 significant digits (``--json`` keeps every digit); anything else as is."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if value.is_integer() and "e" not in text.lower() else f"{value:.4g}"


def as_json(report: Report) -> dict:
    p = report.plugin
    return {
        "plugin": p.name,
        "distribution": p.distribution,
        "version": p.version,
        "package": p.package,
        "claims": report.claims,
        "ok": report.ok,
        "counts": {
            "run": report.run,
            "passed": report.passed,
            "failed": report.failed,
            "xfailed": report.xfailed,
            "skipped": report.skipped,
            "deselected": report.deselected,
        },
        "figures": [{"test": t, "property": n, "value": _number(v)} for t, n, v in report.figures],
        "failures": report.failures,
    }


def _number(text: str) -> float | str:
    """A recorded value as a number where it is a finite one (JUnit XML stores every value as text)."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def bench_command(slug: str, args: list[str]) -> list[str]:
    """The command that runs the plugin's benchmark module; a UsageError when it has none."""
    plugin = find_plugin(slug)
    module = f"{plugin.package}.bench"
    if not has_submodule(plugin.package, "bench"):
        raise UsageError(
            f"plugin {slug!r} has no benchmark: there is no module {module} "
            "(a module with main(argv) that prints ratios ours / baseline)"
        )
    return [sys.executable, "-m", module, *args]
