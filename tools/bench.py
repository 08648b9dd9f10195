"""`make bench`: the figures the README quotes, measured on this machine, with the date.

- `cdk synth` of dev (what `make synth` runs) and of the reference design's TypeScript app, run alternately in the
  same session, medians of several runs, and their ratio. The reference (../shared/reference/ts-app, pinned) is
  copied to a temporary directory, installed with `npm ci`, and run the fastest way it runs: ts-node, transpile only;
- a bad setting's rejection by app.py, run the way the CLI runs it, against importing the CDK (medians);
- a warm `make test` after a change (set-up done, the shared synthesis invalidated as an edit would), once, and its
  ratio to that median;
- the set-up of a fresh clone (`make setup` in a new `git clone` of this repository; the package managers' own
  download caches stay warm, as on any machine that has installed these pins before).

These are measurements to quote, not tests: nothing here fails on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from tools import paths
from tools.errors import UserError, one_line_errors
from tools.synth import FINGERPRINT, cdk_json_context, cli_env

BAD_PROFILES = paths.CDK_OUT / "bench-profiles.toml"
REFERENCE_APP = paths.ROOT.parent / "shared" / "reference" / "ts-app"
REFERENCE_COMMAND = "npx ts-node --transpile-only --prefer-ts-exts bin/tap.ts"


def timed(command: list[str], cwd: Path = paths.ROOT, env: dict[str, str] | None = None, *, ok: bool = True) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=cwd, env=env or cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if ok and result.returncode != 0:
        raise UserError(f"{' '.join(command)} failed (exit {result.returncode}); run it alone to see why")
    return time.perf_counter() - start


def bad_input_times(runs: int) -> tuple[float, float]:
    """Medians: app.py refusing a retired engine version, and `import aws_cdk` (jsii starting)."""
    context = {**cdk_json_context(), "environmentSuffix": "dev", "profilesFile": str(BAD_PROFILES)}
    env = cli_env() | {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": tempfile.gettempdir()}
    BAD_PROFILES.write_text(
        paths.PROFILES.read_text().replace('engine_version = "16.13"', 'engine_version = "16.5"', 1)
    )
    rejected, imported = [], []
    try:
        # Alternately, as the syntheses: the machine's speed drifts by more than the figure's margin.
        for _ in range(runs):
            rejected.append(timed([sys.executable, "app.py"], env=env, ok=False))
            imported.append(timed([sys.executable, "-c", "import aws_cdk"]))
    finally:
        BAD_PROFILES.unlink()
    return statistics.median(rejected), statistics.median(imported)


@one_line_errors("bench")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-setup", action="store_true", help="do not time a fresh clone's set-up")
    args = parser.parse_args(argv)
    # Before anything is timed: a clone of this repository alone has no reference design beside it.
    if not (REFERENCE_APP / "package.json").is_file():
        raise UserError(
            f"the reference app {REFERENCE_APP} is not there (no package.json): the ratio to the reference needs the "
            "shared reference design checked out beside this repository, at ../shared/reference/ts-app"
        )

    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference"
        shutil.copytree(REFERENCE_APP, reference, ignore=shutil.ignore_patterns("node_modules", "cdk.out"))
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=reference, check=True)
        ours = ["cdk", "synth", "-c", "environmentSuffix=dev", "--quiet", "--output", f"{tmp}/ours"]
        theirs = ["npx", "cdk", "synth", "--quiet", "--app", REFERENCE_COMMAND, "--output", f"{tmp}/theirs"]
        times, reference_times = [], []
        # Alternately, so that a change in the machine's speed during the run falls on both alike.
        for _ in range(args.runs):
            times.append(timed(ours))
            reference_times.append(timed(theirs, cwd=reference))
    median, reference_median = statistics.median(times), statistics.median(reference_times)

    # A second apiece: more runs than the syntheses, for a steadier median.
    rejected, imported = bad_input_times(4 * args.runs)
    FINGERPRINT.unlink(missing_ok=True)
    test = timed(["make", "--no-print-directory", "test"])

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"Date:      {date.today().isoformat()}")
    print(f"Machine:   {os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.machine()}")
    print(f"cdk synth (dev), {args.runs} runs: median {median:.1f} s, min {min(times):.1f} s, max {max(times):.1f} s")
    print(
        f"reference app (ts-node, transpile only), {args.runs} runs: median {reference_median:.1f} s, "
        f"min {min(reference_times):.1f} s, max {max(reference_times):.1f} s"
    )
    print(f"ratio, ours to the reference's: {median / reference_median:.2f}")
    print(
        f"bad setting refused, {4 * args.runs} runs: median {rejected:.2f} s = {rejected / imported:.2f} x importing "
        f"the CDK ({imported:.2f} s)"
    )
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
