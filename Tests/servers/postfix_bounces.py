#!/usr/bin/env python3
"""A private Postfix on 127.0.0.1 that turns test mail into real bounces (DSNs) in a Maildir.

For HogMail's bounce-processing tests (`hogmail subscribers process-mail MAILDIR`): the
messages it produces are what a real MTA writes, not hand-made imitations. Everything lives
in WORKDIR; nothing outside it is read or written except Postfix's own programs, and
nothing is sent anywhere but 127.0.0.1. Must run as root (Postfix's master(8) does);
needs Debian's `postfix` package (scripts/install-postfix-tools.sh; `make test` installs
it without starting the system's Postfix) and aiosmtpd (the tests' .venv).

Usage:
  postfix_bounces.py WORKDIR
      Sets up WORKDIR/postfix/ (config, queue, data dirs, log), starts Postfix's master(8)
      in the foreground and a small aiosmtpd "remote MTA", prints exactly one line,
      `READY <port>`, on stdout once Postfix's smtpd answers on 127.0.0.1:<port>, then runs
      until SIGTERM/SIGINT/SIGHUP (stops Postfix cleanly, exits 0) or SIGKILL (a watchdog
      child, `postfix_bounces.py WORKDIR --watchdog`, then stops Postfix within ~1 s). Later
      messages go to stderr and WORKDIR/postfix/maillog only. A second start in the same
      WORKDIR first stops the earlier instance and throws away its queue (not the Maildir).
  postfix_bounces.py WORKDIR --stop
      Stops whatever a start in WORKDIR left: the script, its master(8) and every Postfix
      process with that config dir. Safe to call when nothing runs. Exit 0.
  postfix_bounces.py WORKDIR --send FROM TO[,TO...] FILE
      Sends FILE (a whole message, `-` = stdin) through the running instance with smtplib,
      MAIL FROM:<FROM>; prints `SENT <recipient>` or `REFUSED <recipient> <code> <text>`
      per recipient. Exit 0 if at least one recipient was accepted.
  postfix_bounces.py WORKDIR --wait N [--timeout S]
      Waits until WORKDIR/Maildir/new holds at least N messages (default timeout 60 s),
      prints their paths, exits 0 (1 on timeout).

The port is also in WORKDIR/postfix/port; from a test, send with smtplib or HogMail's SMTP
transport `smtp://127.0.0.1:<port>` with TLS none and MAIL FROM `bounces+TOKEN@bounce.test`.

What the instance does with each recipient domain (anything else: `554 5.7.1 Relay access
denied` at RCPT; unknown local parts of bounce.test: `550 5.1.1 ... User unknown`):
  bounce.test   bounces+ANYTHING@ (recipient_delimiter +) is delivered by virtual(8) to
                WORKDIR/Maildir/{new,cur,tmp} with Postfix's Delivered-To:, X-Original-To:
                and Return-Path: headers. postmaster@ (Postfix's own notices, e.g. a
                double bounce) goes to WORKDIR/postmaster/.
  dead.test     accepted, then bounced by Postfix itself (error(8)): DSN Action: failed,
                Status: 5.1.1, Diagnostic-Code: X-Postfix; mailbox unavailable.
  remote.test   relayed to the aiosmtpd relay, which answers RCPT with
                `550 5.1.1 <addr>: Recipient address rejected: User unknown`: DSN with
                Remote-MTA: dns; 127.0.0.1 and Diagnostic-Code: smtp; 550 5.1.1 ...
  full.test     the relay answers RCPT with `552 5.2.2 <addr>: Mailbox full`: DSN
                Action: failed, Status: 5.2.2 (Postfix 3.7 takes a 552 to RCPT as permanent).
  fullnow.test  the relay accepts RCPT and answers the end of DATA with
                `552 5.2.2 <addr>: Mailbox full`: DSN Action: failed, Status: 5.2.2 at once.
  slow.test     the relay answers RCPT with `451 4.2.0 <addr>: try again later`. Postfix
                retries every ~2 s, sends a delay warning (Action: delayed, Status 4.2.0)
                after DELAY_WARNING_SECONDS, and gives up after QUEUE_LIFETIME_SECONDS
                (Action: failed, Status 4.2.0, the 451 as Diagnostic-Code).
  ok.test       the relay accepts the message (stored as WORKDIR/relay/<n>.eml); no bounce.
Each relay domain has a transport of its own, so recipients of different domains in one
message are never delivered in the same SMTP transaction. One message to several failing
recipients gets one DSN listing them all (Postfix's way). Measured on a 2-core machine
(seconds after the message was accepted): dead/remote/full/fullnow DSNs 0.1-0.3 s, the
slow.test delay warning ~2.3 s, its final failure ~12 s; READY ~0.3 s after start, a stop
~0.3 s. The DSN texts are Postfix's stock templates, so the delay warning reads "could not be
delivered for more than 0 hour(s)" at these short times (and bounce(8) logs a warning).
See Tests/servers/README-postfix.md.
"""
import argparse
import asyncio
import grp
import itertools
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

DELAY_WARNING_SECONDS = 3
QUEUE_LIFETIME_SECONDS = 12
MASTER = "/usr/lib/postfix/sbin/master"
RELAY_DOMAINS = ("remote.test", "full.test", "fullnow.test", "slow.test", "ok.test")


def log(message):
    try:
        sys.stderr.write("postfix_bounces: %s\n" % message)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class Paths:
    def __init__(self, workdir):
        self.work = os.path.abspath(workdir)
        self.root = os.path.join(self.work, "postfix")
        self.conf = os.path.join(self.root, "etc")
        self.spool = os.path.join(self.root, "spool")
        self.data = os.path.join(self.root, "data")
        self.maillog = os.path.join(self.root, "maillog")
        self.port = os.path.join(self.root, "port")
        self.pid = os.path.join(self.root, "harness.pid")
        self.watchdog_pid = os.path.join(self.root, "watchdog.pid")
        self.master_pid = os.path.join(self.spool, "pid", "master.pid")
        self.maildir = os.path.join(self.work, "Maildir")
        self.postmaster = os.path.join(self.work, "postmaster")
        self.relay = os.path.join(self.work, "relay")


# ---------------------------------------------------------------- the "remote" MTA

class RelayHandler:
    """What the other side of Postfix's SMTP client says, by recipient domain."""

    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain == "remote.test":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if domain == "full.test":
            return "552 5.2.2 <%s>: Mailbox full" % address
        if domain == "slow.test":
            return "451 4.2.0 <%s>: try again later" % address
        if domain in ("fullnow.test", "ok.test"):
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        return "550 5.7.1 <%s>: not a test domain" % address

    async def handle_DATA(self, server, session, envelope):
        full = [a for a in envelope.rcpt_tos if a.rpartition("@")[2].lower() == "fullnow.test"]
        if full:
            return "552 5.2.2 <%s>: Mailbox full" % full[0]
        name = os.path.join(self.folder, "%d.eml" % next(self.counter))
        with open(name + ".tmp", "wb") as out:
            out.write(("X-Envelope-To: %s\r\nX-Envelope-From: %s\r\n"
                       % (",".join(envelope.rcpt_tos), envelope.mail_from)).encode())
            out.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 OK: stored"


def start_relay(folder):
    """aiosmtpd on a socket bound here (no port race), served by a daemon thread."""
    from aiosmtpd.smtp import SMTP
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    handler = RelayHandler(folder)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        factory = lambda: SMTP(handler, hostname="relay.test", decode_data=False,
                               enable_SMTPUTF8=True, loop=loop)
        loop.run_until_complete(loop.create_server(factory, sock=sock))
        started.set()
        loop.run_forever()

    threading.Thread(target=run, name="relay", daemon=True).start()
    started.wait(10)
    return port


# ---------------------------------------------------------------- Postfix's configuration

def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def write(path, text, mode=0o644):
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, mode)
    # Postfix re-reads a main.cf or map file changed within the last second or so, 300 ms at
    # a time, in case it is still being written (dict_load_file): backdating it saves ~2 s.
    past = time.time() - 60
    os.utime(path, (past, past))


def configure(paths, smtpd_port, relay_port, uid, gid):
    relay = "[127.0.0.1]:%d" % relay_port
    main_cf = """\
# Written by Tests/servers/postfix_bounces.py: a throwaway instance for tests.
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
maillog_file = {maillog}
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bounce.test
mydomain = bounce.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = 127.0.0.1
alias_maps =
alias_database =
biff = no
in_flow_delay = 0s
smtpd_banner = $myhostname ESMTP Postfix (HogMail bounce harness)
smtpd_relay_restrictions = reject_unauth_destination
# Not smtpd_reject_unlisted_recipient: it would refuse dead.test (routed to error(8)) at
# RCPT time; an access map refuses unknown local parts of bounce.test instead.
smtpd_reject_unlisted_recipient = no
smtpd_recipient_restrictions = check_recipient_access texthash:{conf}/recipients
relay_domains = dead.test {relay_domains}
relay_recipient_maps =
virtual_mailbox_domains = bounce.test
virtual_mailbox_base = {work}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = {uid}
recipient_delimiter = +
transport_maps = texthash:{conf}/transport
# Nothing may leave: whatever no map routes is bounced by Postfix itself.
default_transport = error:5.7.1 the bounce harness delivers nowhere else
relay_transport = error:5.7.1 the bounce harness delivers nowhere else
local_transport = error:5.7.1 the bounce harness delivers nowhere else
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
# Fast retries, a delay warning and a final give-up within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = {warn}s
maximal_queue_lifetime = {life}s
bounce_queue_lifetime = {life}s
2bounce_notice_recipient = postmaster@bounce.test
bounce_notice_recipient = postmaster@bounce.test
delay_notice_recipient = postmaster@bounce.test
error_notice_recipient = postmaster@bounce.test
""".format(spool=paths.spool, data=paths.data, maillog=paths.maillog, root=paths.root, work=paths.work,
           conf=paths.conf, uid=uid, gid=gid, warn=DELAY_WARNING_SECONDS,
           life=QUEUE_LIFETIME_SECONDS, relay_domains=" ".join(RELAY_DOMAINS))
    master_cf = """\
# service type  private unpriv chroot wakeup maxproc command
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
""".format(port=smtpd_port)
    transport = "dead.test error:5.1.1 mailbox unavailable\n"
    for domain in RELAY_DOMAINS:
        name = "to_" + domain.split(".")[0]
        master_cf += "%-9s unix  - - n - - smtp\n" % name
        transport += "%s %s:%s\n" % (domain, name, relay)
    write(os.path.join(paths.conf, "main.cf"), main_cf)
    write(os.path.join(paths.conf, "master.cf"), master_cf)
    write(os.path.join(paths.conf, "transport"), transport)
    write(os.path.join(paths.conf, "recipients"),  # bounces+x@ matches bounces@ (delimiter)
          "bounces@bounce.test OK\npostmaster@bounce.test OK\n"
          "bounce.test 550 5.1.1 User unknown in virtual mailbox table\n")
    write(os.path.join(paths.conf, "vmailbox"),
          "bounces@bounce.test Maildir/\npostmaster@bounce.test postmaster/\n")


def make_tree(paths, uid, gid):
    """The queue directory as post-install(1) would make it (postfix-files), by hand, so
    nothing outside WORKDIR is touched."""
    postfix = pwd.getpwnam("postfix")
    postdrop = grp.getgrnam("postdrop").gr_gid
    if os.path.isdir(paths.root):
        shutil.rmtree(paths.root)
    os.makedirs(paths.conf)
    os.chmod(paths.root, 0o755)
    os.makedirs(paths.spool, 0o755)
    os.chmod(paths.spool, 0o755)
    for name in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                 "incoming", "private", "saved", "trace"):
        path = os.path.join(paths.spool, name)
        os.mkdir(path, 0o700)
        os.chown(path, postfix.pw_uid, -1)
    for name, mode in (("maildrop", 0o730), ("public", 0o710)):
        path = os.path.join(paths.spool, name)
        os.mkdir(path)
        os.chown(path, postfix.pw_uid, postdrop)
        os.chmod(path, mode)
    os.mkdir(os.path.join(paths.spool, "pid"), 0o755)
    os.mkdir(paths.data, 0o700)
    os.chown(paths.data, postfix.pw_uid, -1)
    for box in (paths.maildir, paths.postmaster):
        for sub in ("", "new", "cur", "tmp"):
            path = os.path.join(box, sub)
            os.makedirs(path, exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, 0o700)
    os.makedirs(paths.relay, exist_ok=True)


# ---------------------------------------------------------------- processes

def read_pid(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def instance_processes(paths):
    """Postfix processes of this instance: master(8) started with `-c CONF`, and its
    children, which all carry MAIL_CONFIG=CONF in their environment."""
    found = []
    marker = b"MAIL_CONFIG=" + paths.conf.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        args = cmdline(pid)
        if MASTER.encode() in args[:1] and paths.conf.encode() in args:
            found.append(pid)
            continue
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            pass
    return found


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [pid for pid in pids if alive(pid)]
        if not pids:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def stop_instance(paths, harness_too=True):
    """Stops an instance started in this WORKDIR, whatever state it was left in."""
    if harness_too:
        pid = read_pid(paths.pid)
        if pid and pid != os.getpid() and alive(pid) and any(
                arg.endswith(b"postfix_bounces.py") for arg in cmdline(pid)):
            os.kill(pid, signal.SIGTERM)
            if wait_gone([pid], 15):
                os.kill(pid, signal.SIGKILL)
        # Its watchdog, done or not, must not outlive this: a new instance may reuse the config dir.
        pid = read_pid(paths.watchdog_pid)
        if pid and pid != os.getpid() and alive(pid) and any(
                arg.endswith(b"postfix_bounces.py") for arg in cmdline(pid)):
            if wait_gone([pid], 15):
                os.kill(pid, signal.SIGKILL)
    master = read_pid(paths.master_pid)
    if master and alive(master) and MASTER.encode() in cmdline(master)[:1]:
        os.kill(master, signal.SIGTERM)  # master(8) terminates its process group, then itself
        wait_gone([master], 10)
    left = instance_processes(paths)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        left = wait_gone(left, 5)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone(left, 5)


def banner(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(512).startswith(b"220 ")
    except OSError:
        return False


def start_watchdog(paths):
    """A second copy of this script that stops the instance once this one is gone, even by
    SIGKILL: it waits for end-of-file on a pipe only this process holds open. (The kernel's
    PR_SET_PDEATHSIG does not do: master(8) changes its effective uid now and then, which
    clears it.)"""
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), paths.work, "--watchdog"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)


def watchdog(paths):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    stop_instance(paths, harness_too=False)
    return 0


def start_master(paths):
    command = [MASTER, "-c", paths.conf, "-d"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MAIL_CONFIG": paths.conf}
    log_file = open(os.path.join(paths.root, "master.out"), "ab")
    return subprocess.Popen(command, cwd=paths.root, env=env, stdin=subprocess.DEVNULL,
                            stdout=log_file, stderr=log_file, close_fds=True,
                            start_new_session=True)  # master(8) signals its process group


def delivery_owner(paths):
    """The uid/gid virtual(8) writes the Maildirs as: WORKDIR's owner, or `nobody` when that
    is root (virtual(8) refuses uid 0). nobody must reach WORKDIR/Maildir, so WORKDIR gets
    o+x (search only, no listing) if it lacks it; its parents must already allow that."""
    owner = os.stat(paths.work)
    if owner.st_uid != 0:
        return owner.st_uid, owner.st_gid
    nobody = pwd.getpwnam("nobody")
    if not owner.st_mode & 0o001:
        os.chmod(paths.work, (owner.st_mode & 0o7777) | 0o001)
    path = os.path.dirname(paths.work)
    while path != "/":
        if not os.stat(path).st_mode & 0o001:
            print("ERROR %s is not searchable by others (o+x): virtual(8) delivers as nobody"
                  " and could not reach %s" % (path, paths.maildir), flush=True)
            sys.exit(1)
        path = os.path.dirname(path)
    return nobody.pw_uid, nobody.pw_gid


def serve(paths):
    if os.geteuid() != 0:
        print("ERROR postfix_bounces.py must run as root (Postfix's master does)", flush=True)
        return 1
    if not os.access(MASTER, os.X_OK):
        print("ERROR no %s: install Postfix (scripts/install-postfix-tools.sh)" % MASTER,
              flush=True)
        return 1
    os.makedirs(paths.work, exist_ok=True)
    if os.path.isdir(paths.root):
        stop_instance(paths)
    uid, gid = delivery_owner(paths)
    make_tree(paths, uid, gid)
    write(paths.pid, "%d\n" % os.getpid())
    guard = start_watchdog(paths)
    write(paths.watchdog_pid, "%d\n" % guard.pid)
    relay_port = start_relay(paths.relay)

    stopping = []

    def on_signal(number, frame):
        stopping.append(number)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, on_signal)

    master = None
    port = None
    for attempt in range(5):
        port = free_port()
        configure(paths, port, relay_port, uid, gid)
        master = start_master(paths)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and master.poll() is None and not stopping:
            if banner(port):
                break
            time.sleep(0.05)
        else:
            log("master did not come up on port %d (attempt %d); see %s"
                % (port, attempt + 1, paths.maillog))
            if master.poll() is None:
                master.terminate()
            master.wait()
            stop_instance(paths, harness_too=False)
            if stopping:
                return 0
            continue
        break
    else:
        print("ERROR Postfix did not start; see %s" % paths.maillog, flush=True)
        return 1

    write(paths.port, "%d\n" % port)
    print("READY %d" % port, flush=True)
    log("smtpd 127.0.0.1:%d, relay 127.0.0.1:%d, Maildir %s" % (port, relay_port, paths.maildir))
    while not stopping and master.poll() is None:
        time.sleep(0.2)
    status = 0
    if master.poll() is not None and not stopping:
        log("master(8) exited by itself (%s); see %s" % (master.returncode, paths.maillog))
        status = 1
    if master.poll() is None:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(10)
        except subprocess.TimeoutExpired:
            pass
    stop_instance(paths, harness_too=False)
    if master.poll() is None:
        master.kill()
        master.wait()
    try:
        os.unlink(paths.pid)
    except OSError:
        pass
    guard.stdin.close()
    try:
        guard.wait(20)
    except subprocess.TimeoutExpired:
        pass
    return status


# ---------------------------------------------------------------- client helpers

def send(paths, sender, recipients, file):
    port = read_pid(paths.port)
    if not port:
        print("ERROR no running instance in %s" % paths.work)
        return 1
    data = sys.stdin.buffer.read() if file == "-" else open(file, "rb").read()
    accepted = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("client.test")
        code, text = client.mail(sender)
        if code != 250:
            print("REFUSED %s %d %s" % (sender, code, text.decode(errors="replace")))
            return 1
        for recipient in recipients:
            code, text = client.rcpt(recipient)
            if code in (250, 251):
                accepted += 1
                print("SENT %s" % recipient)
            else:
                print("REFUSED %s %d %s" % (recipient, code, text.decode(errors="replace")))
        if accepted:
            client.data(data)
        else:
            client.rset()
    return 0 if accepted else 1


def wait(paths, count, timeout):
    folder = os.path.join(paths.maildir, "new")
    deadline = time.monotonic() + timeout
    while True:
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        if len(names) >= count or time.monotonic() >= deadline:
            for name in names:
                print(os.path.join(folder, name))
            return 0 if len(names) >= count else 1
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdir")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stop", action="store_true")
    group.add_argument("--send", nargs=3, metavar=("FROM", "TO", "FILE"))
    group.add_argument("--wait", type=int, metavar="N")
    group.add_argument("--watchdog", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    paths = Paths(args.workdir)
    if args.stop:
        stop_instance(paths)
        return 0
    if args.watchdog:
        return watchdog(paths)
    if args.send:
        sender, recipients, file = args.send
        return send(paths, sender, [r for r in recipients.split(",") if r], file)
    if args.wait is not None:
        return wait(paths, args.wait, args.timeout)
    return serve(paths)


if __name__ == "__main__":
    sys.exit(main())
