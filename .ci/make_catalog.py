"""Regenerate core/paperzoo/catalog.tsv (kind, name, distribution) from the paper catalog.

The registry uses it to tell a user which distribution provides a component they named but have
not installed. Usage: python .ci/make_catalog.py ../shared/catalog.tsv
"""

import csv
import sys
from pathlib import Path

RENAMED = {"bone_peft": "bone"}  # slugs whose plugin folder differs from the catalog's first guess


def main(source: str) -> None:
    rows = ["kind\tname\tdistribution"]
    seen = set()
    with open(source, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            slug = RENAMED.get(row["plugin"], row["plugin"])
            for item in row["components"].split(";"):
                kind, _, name = item.strip().partition(":")
                if name and (kind, name) not in seen:
                    seen.add((kind, name))
                    rows.append(f"{kind}\t{name}\tpaperzoo-{slug.replace('_', '-')}")
    Path("core/paperzoo/catalog.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
