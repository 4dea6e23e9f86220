"""CI's per-plugin time table (``.ci/durations.py``) on a hand-written junit report."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("ci_durations", ROOT / ".ci" / "durations.py")
durations = sys.modules["ci_durations"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(durations)

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="plugins.adamp.src.paperzoo_adamp.tests.test_parity" name="a" time="4.5"/>
<testcase classname="plugins.adamp.src.paperzoo_adamp.tests.test_parity.TestX" name="b" time="7.0"/>
<testcase classname="site-packages.paperzoo_contrastive_search.tests.test_claim" name="c" time="0.25"/>
<testcase classname="tests.test_cli" name="d" time="20.0"/>
<testcase classname="tests.test_paperzoo_testsuite" name="e" time="1.0"/>
</testsuite></testsuites>
"""


def test_cases_are_grouped_by_their_plugin_package(tmp_path):
    report = tmp_path / "fast.xml"
    report.write_text(REPORT)
    groups = durations.per_plugin(report)
    assert {k: (g.tests, g.seconds) for k, g in groups.items()} == {
        "adamp": (2, 11.5),
        "contrastive_search": (1, 0.25),
        "core": (2, 21.0),
    }


def test_table_is_slowest_first_and_warns_only_for_plugins_over_budget(tmp_path):
    report = tmp_path / "fast.xml"
    report.write_text(REPORT)
    lines = durations.table(durations.per_plugin(report), budget=10)
    rows = [line.split()[0] for line in lines[2:5]]
    assert rows == ["core", "adamp", "contrastive_search"]
    assert lines[5].split() == ["total", "5", "32.8"]
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: adamp: 11.5 s")


def test_unreadable_report_is_one_error_line_and_exit_2(tmp_path, capsys):
    report = tmp_path / "fast.xml"
    report.write_text("<testsuites>")
    assert durations.main([str(report)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {report}: ") and err.count("\n") == 1
