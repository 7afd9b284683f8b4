#!/usr/bin/env python3
"""`make bench`, import part: a CSV of N subscribers (default 1,000,000) imported into a
fresh store by the release binary; wall time and the child's peak resident memory.

Usage: bench_import.py HOGMAIL_BINARY [ROWS]
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    hogmail = os.path.abspath(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    folder = tempfile.mkdtemp(prefix="hogmail-bench-import-")
    try:
        shutil.copy("hogmail.yml", folder)
        os.makedirs(os.path.join(folder, "issues"))
        csv = os.path.join(folder, "subscribers.csv")
        with open(csv, "w") as out:
            out.write("email,name,consented_at,consent_source,confirmed_at,ip\n")
            for i in range(rows):
                out.write(f"reader{i}@example.com,Reader {i},2025-03-01T10:00:00Z,signup form,2025-03-01T10:05:00Z,192.0.2.{i % 250}\n")
        size = os.path.getsize(csv) / 1e6
        start = time.perf_counter()
        result = subprocess.run([hogmail, "subscribers", "import", "--project", folder, csv],
                                capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"import failed: {result.stderr}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"Import of {rows:,} confirmed subscribers ({size:.0f} MB of CSV) into a new SQLite store:")
        print(f"  wall time {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s), peak resident memory {peak:.0f} MB")
        print(f"  {result.stdout.strip()}")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
