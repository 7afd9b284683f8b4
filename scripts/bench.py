#!/usr/bin/env python3
"""`make bench`: median process wall time of `hogmail build` on the sample issues,
beside the Python pipeline of scripts/bench_python_pipeline.py, measured in the same
run, alternating, after one warm-up run of each.

Usage: bench.py HOGMAIL_BINARY PYTHON [RUNS]
"""
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    hogmail, python = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 21
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "hogmail build": [hogmail, "build", "--out", f"{out}/hogmail"],
            "Python-Markdown + Jinja2 + premailer": [python, "scripts/bench_python_pipeline.py", ".", f"{out}/python"],
        }
        times = {name: [] for name in commands}
        for command in commands.values():
            timed(command)  # warm-up: page cache, imports
        for _ in range(runs):
            for name, command in commands.items():
                times[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["Python-Markdown + Jinja2 + premailer"]
    print(f"Building the sample issues, median of {runs} runs (process wall time):")
    for name, median in medians.items():
        spread = f"min {min(times[name]) * 1000:.1f} ms, max {max(times[name]) * 1000:.1f} ms"
        print(f"  {name:40s} {median * 1000:8.1f} ms   ({spread})")
    print(f"  hogmail build takes {medians['hogmail build'] / baseline:.2f}× the baseline's time "
          f"({baseline / medians['hogmail build']:.1f}× faster)")


if __name__ == "__main__":
    main()
