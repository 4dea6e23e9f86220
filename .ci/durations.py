"""Per-plugin test time from a pytest junit XML report, slowest first, with a budget warning.

Run: ``python .ci/durations.py REPORT.xml [--budget SECONDS]``. A test case belongs to plugin
``<slug>`` when its module is inside ``paperzoo_<slug>.tests`` (wherever the package is installed),
to ``core`` otherwise. A plugin's time is the sum of its test cases' durations (setup, call and
teardown), i.e. its cost on one worker. Plugins over the budget get a warning line; the exit status
is 0 whatever the times (2 when the report cannot be read).
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

PLUGIN_MODULE = re.compile(r"(?:^|\.)paperzoo_(\w+?)\.tests(?:\.|$)")


@dataclass
class Group:
    tests: int = 0
    seconds: float = 0.0


def owner(classname: str) -> str:
    """``plugins.adamp.src.paperzoo_adamp.tests.test_parity`` -> ``adamp``; ``tests.test_cli`` -> ``core``."""
    match = PLUGIN_MODULE.search(classname)
    return match.group(1) if match else "core"


def per_plugin(report: Path) -> dict[str, Group]:
    """The number of test cases and their summed duration for each owner in a junit XML report."""
    groups: dict[str, Group] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        group = groups.setdefault(owner(case.get("classname", "")), Group())
        group.tests += 1
        group.seconds += float(case.get("time") or 0.0)
    return groups


def table(groups: dict[str, Group], budget: float) -> list[str]:
    """The printed lines: a header, one row per owner (slowest first), a total, then the warnings."""
    rows = sorted(groups.items(), key=lambda item: (-item[1].seconds, item[0]))
    lines = [f"fast tests per plugin (summed test durations, slowest first; budget {budget:g} s a plugin)"]
    lines.append(f"  {'plugin':<24} {'tests':>6} {'seconds':>9}")
    for name, group in rows:
        flag = "  over budget" if name != "core" and group.seconds > budget else ""
        lines.append(f"  {name:<24} {group.tests:>6} {group.seconds:>9.1f}{flag}")
    total = sum(g.seconds for g in groups.values())
    lines.append(f"  {'total':<24} {sum(g.tests for g in groups.values()):>6} {total:>9.1f}")
    for name, group in rows:
        if name != "core" and group.seconds > budget:
            lines.append(
                f"warning: {name}: {group.seconds:.1f} s of fast tests, over the budget of {budget:g} s "
                "(make them smaller or mark the slow ones @pytest.mark.claim)"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="junit XML written by pytest --junitxml")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of fast tests a plugin may take")
    args = parser.parse_args(argv)
    try:
        groups = per_plugin(args.report)
    except (OSError, ET.ParseError) as exc:
        print(f"error: {args.report}: not a readable junit XML report ({exc})", file=sys.stderr)
        return 2
    print("\n".join(table(groups, args.budget)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
