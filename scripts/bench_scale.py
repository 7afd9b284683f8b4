#!/usr/bin/env python3
"""`make bench`, scale part, with a store of N confirmed subscribers (default 1,000,000):

1. import: the CSV into a new store (wall time, peak resident memory of the process);
2. send: a full `hogmail send` of it to Postfix's smtp-sink on 127.0.0.1 (time, messages
   per second, peak resident memory: it must stay flat, so it is shown beside a send of
   N/10 from the same store);
3. resume: the same send from the same store, killed with SIGKILL once the sink has half the messages,
   then run again to the end: total time against the uninterrupted send, and
   duplicates and misses counted from what smtp-sink received and from the journal.

Usage: bench_scale.py HOGMAIL_BINARY [SUBSCRIBERS] [CONNECTIONS]
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from bench_common import free_port, smtp_project

SINK = "/usr/sbin/smtp-sink"


class Sink:
    """smtp-sink with a running count of delivered messages (-c), read from its output."""

    def __init__(self):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen([SINK] + user + ["-c", "127.0.0.1:%d" % self.port, "1000"], stdout=self.log, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def count(self):
        # Only the end of the output: it grows by a line a message (25 MB for a million).
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - 200))
        numbers = re.findall(rb"(\d+)", self.log.read())
        return int(numbers[-1]) if numbers else 0

    def stop(self):
        self.process.kill()
        self.process.wait()


def timed(arguments, env):
    """Runs a command under /usr/bin/time: (seconds, peak resident MB)."""
    report = tempfile.NamedTemporaryFile(delete=False)
    report.close()
    start = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name] + arguments, check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = int(open(report.name).read().strip().splitlines()[-1]) / 1024
    os.unlink(report.name)
    return seconds, peak


def journal(store):
    with sqlite3.connect(store) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM send_recipient GROUP BY state").fetchall())


def main():
    hogmail = os.path.abspath(sys.argv[1])
    subscribers = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    env = dict(os.environ, HOGMAIL_SECRET="b" * 40)
    work = tempfile.mkdtemp(prefix="hogmail-bench-scale-")
    sink = Sink()
    try:
        base = os.path.join(work, "base")
        smtp_project(base, sink.port, connections)
        csv = os.path.join(work, "subscribers.csv")
        with open(csv, "w") as out:
            out.write("email,name,consented_at,consent_source,confirmed_at,ip\n")
            for i in range(subscribers):
                out.write(f"reader{i}@example.com,Reader {i},2025-03-01T10:00:00Z,signup form,2025-03-01T10:05:00Z,192.0.2.{i % 250}\n")
        size = os.path.getsize(csv) / 1e6
        import_seconds, import_peak = timed([hogmail, "subscribers", "import", "--project", base, csv], env)
        os.unlink(csv)
        store = os.path.join(base, "hogmail.sqlite")

        def fresh(name):
            folder = os.path.join(work, name)
            shutil.copytree(base, folder)
            return folder

        # A tenth of the list first, from a store of its own, for the memory comparison.
        small = fresh("small")
        with sqlite3.connect(os.path.join(small, "hogmail.sqlite")) as db:
            db.execute("UPDATE subscriber SET status = 'unsubscribed' WHERE id > ?", (subscribers // 10,))
        small_seconds, small_peak = timed([hogmail, "send", "1", "--yes", "--project", small], env)
        shutil.rmtree(small)

        full = fresh("full")
        before = sink.count()
        send_seconds, send_peak = timed([hogmail, "send", "1", "--yes", "--project", full], env)
        delivered = sink.count() - before
        state = journal(os.path.join(full, "hogmail.sqlite"))
        shutil.rmtree(full)

        resumed = fresh("resumed")
        resumed_store = os.path.join(resumed, "hogmail.sqlite")
        before = sink.count()
        start = time.perf_counter()
        process = subprocess.Popen([hogmail, "send", "1", "--yes", "--project", resumed], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_at = 0
        # Watched through the sink's count, not the journal: counting the journal's states
        # reads every row, and doing that five times a second slowed the send it measures.
        while process.poll() is None:
            time.sleep(0.2)
            killed_at = sink.count() - before
            if killed_at >= subscribers // 2:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
        subprocess.run([hogmail, "send", "1", "--yes", "--project", resumed], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        resume_seconds = time.perf_counter() - start
        received = sink.count() - before
        resumed_state = journal(resumed_store)
        misses = subscribers - resumed_state.get("sent", 0)
        shutil.rmtree(resumed)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"Scale: {subscribers:,} confirmed subscribers, sent to smtp-sink on 127.0.0.1 with {connections} connections:")
    print(f"  import ({size:.0f} MB of CSV)       {import_seconds:8.1f} s  {subscribers / import_seconds:9,.0f} rows/s      peak {import_peak:5.0f} MB")
    print(f"  send of {subscribers // 10:>9,}           {small_seconds:8.1f} s  {subscribers // 10 / small_seconds:9,.0f} messages/s  peak {small_peak:5.0f} MB")
    print(f"  send of {subscribers:>9,}           {send_seconds:8.1f} s  {subscribers / send_seconds:9,.0f} messages/s  peak {send_peak:5.0f} MB"
          f"  (sink received {delivered:,}; journal {state})")
    print(f"  killed at {killed_at:,} received, resumed: {resume_seconds:8.1f} s in all, {resume_seconds / send_seconds - 1:+.1%} against uninterrupted"
          f" (target under +10%); duplicates {received - resumed_state.get('sent', 0):,}, misses {misses:,}")


if __name__ == "__main__":
    main()
