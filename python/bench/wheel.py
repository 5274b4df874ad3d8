"""The wheel as users get it, measured in one run.

    python python/bench/wheel.py python/dist/convlog-…whl [--quick] [--dir DIR]

- the wheel's size (target <= 15 MB);
- ``pip install`` of the wheel into a fresh venv, from the file alone
  (``--no-index``; target <= 10 s; the median of three venvs);
- ``python -c "import convlog"`` against ``python -c pass`` in that venv,
  the medians of 20 runs of each, alternating (target <= 50 ms above);
- blocking ``append`` against a pure-Python ``os.write`` + ``os.fdatasync``
  loop (``bench.py``'s ``bench_durable``), run by that venv's Python against
  the installed wheel (target >= 0.9x).

The venvs are made by the Python running this script, outside any source
tree on sys.path; the append figure checks that convlog came from the venv.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def fresh_venv(d: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(d)
    return d / "bin" / "python"


def pip_install(python: Path, wheel: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``pip install`` of the wheel:
    on a loaded machine the wall time is mostly waiting for a core."""
    cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    cmd += ["--no-index", "--only-binary=:all:", str(wheel)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=wheel.parent)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def startup(python: Path, code: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([str(python), "-c", code], check=True, cwd="/")
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


DURABLE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import bench, convlog
app, raw, _ = bench.bench_durable(Path(sys.argv[2]), int(sys.argv[3]))
print(json.dumps({"append": app, "raw": raw, "from": convlog.__file__}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--quick", action="store_true", help="fewer appends")
    ap.add_argument("--dir", type=Path, default=ROOT / "target" / "bench-wheel")
    args = ap.parse_args()
    wheel = args.wheel.resolve()
    args.dir.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=args.dir))
    rows = []
    try:
        size_mb = wheel.stat().st_size / 1e6
        rows.append(("wheel size", f"{size_mb:.1f} MB", wheel.name, "-", "<= 15 MB", size_mb <= 15))

        installs = []
        for i in range(3):
            python = fresh_venv(d / f"venv{i}")
            installs.append(pip_install(python, wheel))
        secs = statistics.median(wall for wall, _ in installs)
        runs = ", ".join(f"{wall:.1f} (cpu {cpu:.1f})" for wall, cpu in installs)
        rows.append(
            (
                "pip install into a fresh venv",
                f"{secs:.1f} s",
                f"runs {runs} s",
                "-",
                "<= 10 s",
                secs <= 10,
            )
        )

        bare, imp = [], []
        for _ in range(20):
            bare.append(startup(python, "pass"))
            imp.append(startup(python, "import convlog"))

        def med(runs: list[tuple[float, float]], i: int) -> float:
            return statistics.median(r[i] for r in runs) * 1000

        extra_ms = med(imp, 0) - med(bare, 0)
        # On a loaded machine wall time is mostly waiting for a core: the
        # CPU time beside it is what the import itself costs.
        cpu_ms = med(imp, 1) - med(bare, 1)
        rows.append(
            (
                "import convlog, above python -c pass",
                f"{extra_ms:.1f} ms",
                f"pass {med(bare, 0):.0f} ms (median of 20); cpu +{cpu_ms:.1f} ms",
                "-",
                "<= 50 ms",
                extra_ms <= 50,
            )
        )

        n = 500 if args.quick else 2000
        out = subprocess.run(
            [str(python), "-c", DURABLE, str(HERE), str(d / "durable"), str(n)],
            check=True,
            capture_output=True,
            text=True,
            cwd="/",
        ).stdout
        got = json.loads(out.strip().splitlines()[-1])
        origin = Path(got["from"]).resolve()
        if d.resolve() not in origin.parents:
            sys.exit(f"wheel.py: convlog came from {origin}, not from the venv in {d}")
        ratio = got["append"] / got["raw"]
        rows.append(
            (
                f"blocking append (installed wheel), {n} msgs",
                f"{got['append']:.0f} msg/s",
                f"{got['raw']:.0f} msg/s os.write+fdatasync",
                f"{ratio:.2f}x",
                ">= 0.9x",
                ratio >= 0.9,
            )
        )
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"convlog wheel benchmarks ({'quick' if args.quick else 'full'}): {wheel}")
    print(f"python {sys.version.split()[0]} ({sys.executable}), {os.cpu_count()} cpus")
    head = ("what", "convlog", "baseline", "ratio", "target")
    print(f"| {head[0]:<42} | {head[1]:<10} | {head[2]:<52} | {head[3]:<6} | {head[4]:<9} | met |")
    print(f"|{'-' * 44}|{'-' * 12}|{'-' * 54}|{'-' * 8}|{'-' * 11}|-----|")
    for what, ours, base, ratio, target, met in rows:
        mark = "yes" if met else "NO"
        print(f"| {what:<42} | {ours:<10} | {base:<52} | {ratio:<6} | {target:<9} | {mark:<3} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
