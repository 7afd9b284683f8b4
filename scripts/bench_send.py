#!/usr/bin/env python3
"""`make bench`, send part: N messages to Postfix's smtp-sink on 127.0.0.1 through
`hogmail send` with 1, 4 and 8 connections, beside smtp-source (Postfix's own load
generator) with the same counts against the same sink, and Python's smtplib on one
connection (the script a user would write) — all in the same run. Medians of RUNS.

Each round runs hogmail, smtp-source and smtp-source -d one after the other, so the machine's
swings in load fall on all of them alike.

A last round set, at 8 connections, sends a long issue (the sample with 60 more sections,
about 60 KB a message, closer to a real newsletter with its HTML) beside smtp-source -d with
the same size: what each message costs when most of it is the template's bytes.

smtp-source is run two ways: as it comes (a new connection for each message; the baseline
of the ratio the issue sets) and with -d (each session keeps its connection, as hogmail
does), which shows what the wire allows with no message building and no journal.

Usage: bench_send.py HOGMAIL_BINARY [MESSAGES] [RUNS]
"""
import os
import resource
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import free_port, smtp_project

SINK = "/usr/sbin/smtp-sink"
CONNECTIONS = (1, 4, 8)
SOURCE = "/usr/sbin/smtp-source"


LONG_SECTIONS = 60
LONG_CONNECTIONS = 8


def lengthen(folder):
    """The sample issue with LONG_SECTIONS more sections before its last line."""
    issue = os.path.join(folder, "issues", "001-hello-hogmail.md")
    text = open(issue).read()
    extra = "".join("\n\n## Notes from week %d\n\nWe rewrote part %d of the send loop this week. The journal now records each"
                    " accepted message before the next one goes on the same connection, and a crash repeats only what was on"
                    " the wire. Numbers are in the README, next to the baseline measured in the same run.\n" % (i, i)
                    for i in range(LONG_SECTIONS))
    marker = "\nThat's it for this time."
    assert marker in text, "the sample issue's last line moved: update bench_send.py"
    open(issue, "w").write(text.replace(marker, extra + marker))


def project(folder, port, connections, messages, hogmail, long=False):
    smtp_project(folder, port, connections)
    if long:
        lengthen(folder)
    csv = os.path.join(folder, "s.csv")
    with open(csv, "w") as out:
        out.write("email,consented_at,consent_source,confirmed_at\n")
        for i in range(messages):
            out.write("reader%d@example.com,2025-03-01,form,2025-03-01\n" % i)
    subprocess.run([hogmail, "subscribers", "import", "--project", folder, csv], check=True, stdout=subprocess.DEVNULL)


def cpu_of(arguments, **options):
    """Runs a command to its end: (wall seconds, CPU seconds: user + system of the child, from getrusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    hogmail = os.path.abspath(sys.argv[1])
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    port = free_port()
    # smtp-sink refuses to run as root without a user to switch to.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([SINK] + user + ["-c", "127.0.0.1:%d" % port, "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, HOGMAIL_SECRET="b" * 40)
    results = {}
    cpu = {}
    round_ratios = {}
    try:
        time.sleep(0.5)
        sample = None
        for connections in CONNECTIONS:
            # One round runs hogmail, smtp-source and smtp-source -d back to back, so a swing in
            # the machine's load falls on all three alike; the medians are over the rounds.
            names = ["hogmail send, %d connection%s" % (connections, "s" if connections > 1 else "")]
            names += ["smtp-source%s, %d session%s" % (label, connections, "s" if connections > 1 else "") for label in ("", " -d")]
            times, cpus = {name: [] for name in names}, {name: [] for name in names}
            for _ in range(runs):
                folder = tempfile.mkdtemp(prefix="hogmail-bench-send-")
                try:
                    project(folder, port, connections, messages, hogmail)
                    wall, used = cpu_of([hogmail, "send", "1", "--yes", "--project", folder], env=env)
                    times[names[0]].append(wall)
                    cpus[names[0]].append(used)
                    if sample is None:
                        sample = subprocess.run([hogmail, "build", "--project", folder, "--out", os.path.join(folder, "out")],
                                                capture_output=True) and open(os.path.join(folder, "out/1/email.eml"), "rb").read()
                finally:
                    shutil.rmtree(folder)
                for name, flags in zip(names[1:], ([], ["-d"])):
                    wall, used = cpu_of([SOURCE] + flags + ["-s", str(connections), "-m", str(messages), "-l", str(len(sample)),
                                         "-f", "hogmail@example.com", "-t", "reader@example.com", "127.0.0.1:%d" % port])
                    times[name].append(wall)
                    cpus[name].append(used)
            for name in names:
                results[name] = statistics.median(times[name])
                cpu[name] = statistics.median(cpus[name])
            # Each round's own ratio, hogmail against the smtp-source -d of the same round (plain
            # smtp-source runs between them):
            # the machine's speed changes from minute to minute, and a ratio within a round
            # cancels most of that, where a ratio of medians mixes rounds.
            round_ratios[connections] = statistics.median(h / d for h, d in zip(cpus[names[0]], cpus[names[2]]))
            size = len(sample) // 1024
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                for i in range(messages):
                    smtp.sendmail("hogmail@example.com", ["reader%d@example.com" % i], sample)
            times.append(time.perf_counter() - start)
        results["Python smtplib, 1 connection"] = statistics.median(times)
        long_cpu = {"hogmail": [], "smtp-source -d": []}
        long_size = 0
        for _ in range(runs):
            folder = tempfile.mkdtemp(prefix="hogmail-bench-send-long-")
            try:
                project(folder, port, LONG_CONNECTIONS, messages, hogmail, long=True)
                if not long_size:
                    subprocess.run([hogmail, "build", "--project", folder, "--out", os.path.join(folder, "out")], capture_output=True, check=True)
                    long_size = os.path.getsize(os.path.join(folder, "out/1/email.eml"))
                    shutil.rmtree(os.path.join(folder, "out"))
                long_cpu["hogmail"].append(cpu_of([hogmail, "send", "1", "--yes", "--project", folder], env=env)[1])
            finally:
                shutil.rmtree(folder)
            long_cpu["smtp-source -d"].append(cpu_of([SOURCE, "-d", "-s", str(LONG_CONNECTIONS), "-m", str(messages), "-l", str(long_size),
                                                      "-f", "hogmail@example.com", "-t", "reader@example.com", "127.0.0.1:%d" % port])[1])
    finally:
        sink.kill()
    print("Sending %d messages of %d KB to smtp-sink on 127.0.0.1, median of %d runs:" % (messages, size, runs))
    print("  %-34s %7s  %9s  %s" % ("", "wall", "rate", "CPU per message (user + system)"))
    for name, seconds in results.items():
        used = " %6.0f µs" % (cpu[name] / messages * 1e6) if name in cpu else ""
        print("  %-34s %7.2f s  %8.0f/s %s" % (name, seconds, messages / seconds, used))
    print("  Ratios (hogmail against smtp-source -d, which keeps its connections as hogmail does):")
    for c in CONNECTIONS:
        mine = "hogmail send, %d connection%s" % (c, "s" if c > 1 else "")
        reusing = "smtp-source -d, %d session%s" % (c, "s" if c > 1 else "")
        fresh = "smtp-source, %d session%s" % (c, "s" if c > 1 else "")
        print("    %d connection%s: CPU per message %.2f× (target ≤ 1.0; median of the rounds' own ratios %.2f×),"
              " wall rate %.2f× (target ≥ 0.9 at 1 and 4); rate against smtp-source without -d %.2f×"
              % (c, "s" if c > 1 else " ", cpu[mine] / cpu[reusing], round_ratios[c], results[reusing] / results[mine], results[fresh] / results[mine]))
    print("  hogmail (4 connections) / smtplib: %.1f×" % (results["Python smtplib, 1 connection"] / results["hogmail send, 4 connections"]))
    mine, theirs = (statistics.median(long_cpu[name]) / messages * 1e6 for name in ("hogmail", "smtp-source -d"))
    own = statistics.median(h / d for h, d in zip(long_cpu["hogmail"], long_cpu["smtp-source -d"]))
    print("A long issue (%d KB a message), %d connections: hogmail %.0f µs a message, smtp-source -d %.0f µs: %.2f× (rounds' own %.2f×)"
          % (long_size // 1024, LONG_CONNECTIONS, mine, theirs, mine / theirs, own))


if __name__ == "__main__":
    main()
