"""`make bench`: times `make synth`'s synthesis over several runs and the unit test suite once.

These are measurements to quote in the README, not tests: nothing here fails on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

from tools import paths

ROOT = paths.ROOT


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as outdir:
        synth = [
            "cdk",
            "synth",
            "-c",
            f"environmentSuffix={args.env}",
            "--quiet",
            "--output",
            outdir,
        ]
        times = [timed(synth) for _ in range(args.runs)]
    tests = timed([sys.executable, "-m", "pytest", "-q", "tests/unit"])

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"Date:    {date.today().isoformat()}")
    print(f"Machine: {os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.machine()}")
    print(
        f"cdk synth ({args.env}), {args.runs} runs: median {statistics.median(times):.1f} s, "
        f"min {min(times):.1f} s, max {max(times):.1f} s"
    )
    print(f"unit tests (pytest tests/unit), wall time: {tests:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
