#!/usr/bin/env python3
"""`make bench`, scale part, with a store of N confirmed subscribers (default 1,000,000):

1. import: the CSV into a new store (wall time, peak resident memory of the process);
2. send: a full `hogmail send` of it to Postfix's smtp-sink on 127.0.0.1 (time, messages
   per second, peak resident memory: it must stay flat, so it is shown beside a send of
   N/10 from the same store);
3. resume: the same send from the same store, killed with SIGKILL once the sink has half the messages,
   then run again to the end: total time against the uninterrupted send, and
   duplicates and misses counted from what smtp-sink received and from the journal.

With ENGINE `postgres` (run under scripts/with-postgres.sh, which names the server in
HOGMAIL_TEST_POSTGRES_URL), the store is a PostgreSQL database: each step starts from a copy of
the imported one (CREATE DATABASE … TEMPLATE), and a fourth step sends the full list with two
`hogmail send` processes at once.

Usage: bench_scale.py HOGMAIL_BINARY [SUBSCRIBERS] [CONNECTIONS] [sqlite|postgres]
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


class Engine:
    """Where each step's store lives: a file in its project folder, or a database on the server."""

    def __init__(self, kind):
        self.kind = kind
        if kind == "postgres":
            self.url = os.environ["HOGMAIL_TEST_POSTGRES_URL"]
            self.admin = os.environ["HOGMAIL_TEST_POSTGRES_ADMIN_URL"]

    def database_url(self, name):
        base, _, query = self.url.partition("?")
        return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")

    def psql(self, url, sql):
        out = subprocess.run(["psql", url.split("?")[0], "-At", "-c", sql], check=True, capture_output=True, text=True).stdout
        return out.strip()

    def point(self, folder, name):
        """Points the project in `folder` at its store: the server database `name`."""
        if self.kind != "postgres":
            return
        config = os.path.join(folder, "hogmail.yml")
        text = open(config).read().replace("  path: hogmail.sqlite", "  url: " + self.database_url(name))
        open(config, "w").write(text)

    def create(self, name, template=None):
        if self.kind == "postgres":
            self.psql(self.admin, "CREATE DATABASE %s%s" % (name, " TEMPLATE " + template if template else ""))

    def execute(self, folder, name, sql):
        if self.kind == "postgres":
            self.psql(self.database_url(name), sql)
        else:
            with sqlite3.connect(os.path.join(folder, "hogmail.sqlite")) as db:
                db.execute(sql)

    def journal(self, folder, name):
        sql = "SELECT state, COUNT(*) FROM send_recipient GROUP BY state"
        if self.kind == "postgres":
            rows = [line.split("|") for line in self.psql(self.database_url(name), sql).splitlines() if line]
            return {state: int(count) for state, count in rows}
        with sqlite3.connect(os.path.join(folder, "hogmail.sqlite")) as db:
            return dict(db.execute(sql).fetchall())


def main():
    hogmail = os.path.abspath(sys.argv[1])
    subscribers = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    connections = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    engine = Engine(sys.argv[4] if len(sys.argv) > 4 else "sqlite")
    env = dict(os.environ, HOGMAIL_SECRET="b" * 40)
    work = tempfile.mkdtemp(prefix="hogmail-bench-scale-")
    sink = Sink()
    try:
        base = os.path.join(work, "base")
        smtp_project(base, sink.port, connections)
        engine.create("bench_base")
        engine.point(base, "bench_base")
        csv = os.path.join(work, "subscribers.csv")
        with open(csv, "w") as out:
            out.write("email,name,consented_at,consent_source,confirmed_at,ip\n")
            for i in range(subscribers):
                out.write(f"reader{i}@example.com,Reader {i},2025-03-01T10:00:00Z,signup form,2025-03-01T10:05:00Z,192.0.2.{i % 250}\n")
        size = os.path.getsize(csv) / 1e6
        import_seconds, import_peak = timed([hogmail, "subscribers", "import", "--project", base, csv], env)
        os.unlink(csv)

        def fresh(name):
            folder = os.path.join(work, name)
            shutil.copytree(base, folder, ignore=shutil.ignore_patterns("hogmail.yml"))
            smtp_project(folder, sink.port, connections)
            engine.create("bench_" + name, template="bench_base")
            engine.point(folder, "bench_" + name)
            return folder

        # A tenth of the list first, from a store of its own, for the memory comparison.
        small = fresh("small")
        engine.execute(small, "bench_small", "UPDATE subscriber SET status = 'unsubscribed' WHERE id > %d" % (subscribers // 10))
        small_seconds, small_peak = timed([hogmail, "send", "1", "--yes", "--project", small], env)
        shutil.rmtree(small)

        full = fresh("full")
        before = sink.count()
        send_seconds, send_peak = timed([hogmail, "send", "1", "--yes", "--project", full], env)
        delivered = sink.count() - before
        state = engine.journal(full, "bench_full")
        shutil.rmtree(full)

        two = None
        if engine.kind == "postgres":
            # The same send by two senders at once, on one store.
            shared = fresh("two")
            before = sink.count()
            start = time.perf_counter()
            senders = [subprocess.Popen([hogmail, "send", "1", "--yes", "--project", shared], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
            for sender in senders:
                sender.wait()
            two = (time.perf_counter() - start, sink.count() - before, engine.journal(shared, "bench_two"))
            shutil.rmtree(shared)

        resumed = fresh("resumed")
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
        resumed_state = engine.journal(resumed, "bench_resumed")
        misses = subscribers - resumed_state.get("sent", 0)
        shutil.rmtree(resumed)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"Scale ({engine.kind}): {subscribers:,} confirmed subscribers, sent to smtp-sink on 127.0.0.1 with {connections} connections:")
    print(f"  import ({size:.0f} MB of CSV)       {import_seconds:8.1f} s  {subscribers / import_seconds:9,.0f} rows/s      peak {import_peak:5.0f} MB")
    print(f"  send of {subscribers // 10:>9,}           {small_seconds:8.1f} s  {subscribers // 10 / small_seconds:9,.0f} messages/s  peak {small_peak:5.0f} MB")
    print(f"  send of {subscribers:>9,}           {send_seconds:8.1f} s  {subscribers / send_seconds:9,.0f} messages/s  peak {send_peak:5.0f} MB"
          f"  (sink received {delivered:,}; journal {state})")
    print(f"  rate of {subscribers:,} against {subscribers // 10:,}: {(subscribers / send_seconds) / (subscribers // 10 / small_seconds):.0%} (target at least 90%)")
    if two:
        print(f"  two senders at once on {subscribers:>9,} {two[0]:8.1f} s  {subscribers / two[0]:9,.0f} messages/s"
              f"  ({subscribers / two[0] / (subscribers / send_seconds):.2f}x one sender; sink received {two[1]:,}; journal {two[2]})")
    print(f"  killed at {killed_at:,} received, resumed: {resume_seconds:8.1f} s in all, {resume_seconds / send_seconds - 1:+.1%} against uninterrupted"
          f" (target under +10%); duplicates {received - resumed_state.get('sent', 0):,}, misses {misses:,}")


if __name__ == "__main__":
    main()
