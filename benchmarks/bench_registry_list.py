"""`registry list` with every installed plugin: wall time, and proof that torch is never imported.

Run: python benchmarks/bench_registry_list.py   (target: under 0.5 s wall, torch not imported)
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REGISTRY = str(Path(sys.executable).with_name("registry"))
CHECK = "import sys, paperzoo\nn = len(paperzoo.list())\nprint(n, 'torch' in sys.modules)"


def main(repeats: int = 7) -> None:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([REGISTRY, "list"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    n, torch_loaded = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True
    ).stdout.split()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    torch_import = time.perf_counter() - start
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "components": int(n),
                "registry_list_median_s": round(median, 3),
                "torch_imported": torch_loaded == "True",
                "target_s": 0.5,
                "ratio_to_target": round(median / 0.5, 2),
                "ratio_to_python_importing_torch": round(median / torch_import, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
