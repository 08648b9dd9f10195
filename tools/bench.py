"""`make bench`: the figures the README quotes, measured on this machine, with the date.

- `cdk synth` of dev (what `make synth` runs), median of several runs;
- a warm `make test` after a change (set-up done, the shared synthesis invalidated as an edit would), once, and its
  ratio to that median;
- the set-up of a fresh clone (`make setup` in a new `git clone` of this repository; the package managers' own
  download caches stay warm, as on any machine that has installed these pins before).

These are measurements to quote, not tests: nothing here fails on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from tools import paths
from tools.synth import FINGERPRINT, cli_env


def timed(command: list[str], cwd: Path = paths.ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=cli_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-setup", action="store_true", help="do not time a fresh clone's set-up")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as outdir:
        synth = ["cdk", "synth", "-c", "environmentSuffix=dev", "--quiet", "--output", outdir]
        times = [timed(synth) for _ in range(args.runs)]
    median = statistics.median(times)

    FINGERPRINT.unlink(missing_ok=True)
    test = timed(["make", "--no-print-directory", "test"])

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"Date:      {date.today().isoformat()}")
    print(f"Machine:   {os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.machine()}")
    print(f"cdk synth (dev), {args.runs} runs: median {median:.1f} s, min {min(times):.1f} s, max {max(times):.1f} s")
    print(f"make test, warm, after a change: {test:.1f} s = {test / median:.1f} x cdk synth")

    if not args.skip_setup:
        with tempfile.TemporaryDirectory() as tmp:
            clone = Path(tmp) / "retail-db"
            subprocess.run(["git", "clone", "--quiet", str(paths.ROOT), str(clone)], check=True)
            setup = timed(["make", "--no-print-directory", "setup"], cwd=clone)
        print(f"fresh clone, make setup: {setup:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
