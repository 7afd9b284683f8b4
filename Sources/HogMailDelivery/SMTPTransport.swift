import CSMTPStream
import Foundation
import HogMail

/// SMTP with a client of HogMail's own (`SMTPConnection`): several connections at once
/// (`connections:`), all driven by one event-loop thread and kept from message to message, one
/// recipient per transaction so every message carries its own unsubscribe link. Commands are pipelined when
/// the server offers PIPELINING (RFC 2920), and a message goes to the socket in one write.
/// STARTTLS is required unless the server is on loopback; TLS is OpenSSL's.
public final class SMTPTransport: Transport, @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public enum TLS: String, Sendable { case required, implicit, none }
        public var url: String
        public var tls: TLS
        public var username: String?
        public var password: String?
        public var connections: Int
        /// The domain said in EHLO (a path in the URL, `smtp://host:587/example.com`, overrides it).
        public var heloDomain: String
        public var timeout: TimeInterval = 60
        /// A PEM file with the CA that signed the server's certificate (`transport.smtp.ca_file`):
        /// it replaces the system's CAs for this server. Nil: the system's CAs.
        public var caFile: String?
        /// The environment variable the password came from (`password_env`), to name it in messages.
        public var passwordVariable: String?

        public init(url: String, tls: TLS, username: String?, password: String?, connections: Int, heloDomain: String) {
            self.url = url
            self.tls = tls
            self.username = username
            self.password = password
            self.connections = connections
            self.heloDomain = heloDomain
        }
    }

    public let settings: Settings
    /// Eight a connection: each carries up to two (one message, the next one's envelope behind
    /// its dot) and has two more waiting, and the sender refills the queue only when half of it
    /// is done. With four a connection the queue ran dry just as the connections wanted the next
    /// envelope (78 against 88 µs a message at 4 connections, 8,351 against 7,807 messages/s).
    /// Only `connections` messages are ever on the wire.
    public var parallelism: Int { 8 * max(1, settings.connections) }
    /// How many threads carry the connections (one event loop for all of them).
    var threadsInUse: Int { 1 }
    public var name: String { "SMTP (\(settings.url), \(settings.connections) connection\(settings.connections == 1 ? "" : "s"))" }

    final class Job: Sendable {
        let message: OutgoingMessage
        /// Told the outcome, on the connection's thread: nil when the server accepted the message
        /// (and it was journaled).
        let done: @Sendable ((any Error)?) -> Void

        init(message: OutgoingMessage, done: @escaping @Sendable ((any Error)?) -> Void) {
            self.message = message
            self.done = done
        }
    }

    private let jobs: JobQueue

    public init(settings: Settings) throws {
        try Self.check(settings)
        self.settings = settings
        let server = try SMTPConnection.Server(settings)
        jobs = try JobQueue()
        let epoll = jobs.epoll
        jobs.start((0..<max(1, settings.connections)).map { SMTPConnection(server: server, settings: settings, index: $0, epoll: epoll) })
    }

    deinit {
        jobs.shutDown()
    }

    /// Refuses settings that would send a password in the clear or mail in the clear off this machine.
    static func check(_ settings: Settings) throws {
        guard let url = URL(string: settings.url), let scheme = url.scheme?.lowercased(), ["smtp", "smtps"].contains(scheme), let host = url.host else {
            throw HogMailError("`transport.smtp.url` is `\(settings.url)`; write it as smtp://host:587 or smtps://host:465.")
        }
        // The URL is shown in messages and logs, so it must not carry a login.
        if url.user != nil || url.password != nil {
            throw HogMailError("`transport.smtp.url` carries a login (user@ or user:password@). Write the user as `transport.smtp.username` and put the password in the environment variable `password_env` names.")
        }
        if settings.tls == .implicit && scheme != "smtps" {
            throw HogMailError("`transport.smtp.tls: implicit` needs an smtps:// URL (usually port 465).")
        }
        // Port 465 speaks TLS from the first byte (RFC 8314): an smtp:// client would wait for a
        // greeting that never comes, and each message would time out and be retried for hours.
        if scheme == "smtp" && url.port == 465 {
            throw HogMailError("`transport.smtp.url` is `\(settings.url)`, but port 465 takes TLS from the first byte. Write `url: smtps://\(host):465` with `tls: implicit`, or use port 587 with `tls: required` (STARTTLS).")
        }
        if settings.tls == .none {
            let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
            guard loopback else {
                throw HogMailError("`transport.smtp.tls: none` is only allowed for a server on this machine (127.0.0.1); \(host) must use `required` (STARTTLS) or `implicit`.")
            }
            guard settings.password == nil else {
                throw HogMailError("A password is never sent without TLS. Use `tls: required` or remove the password.")
            }
        }
    }

    public func send(_ message: OutgoingMessage) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            jobs.add(Job(message: message) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            })
        }
    }

    /// Queued for the next free connection; the outcome is reported from the connection's
    /// thread, after the message was journaled (`accepted`), with no task and no continuation.
    public func submit(_ message: OutgoingMessage, tag: Int, to outcomes: SendOutcomes) {
        jobs.add(Job(message: message) { error in outcomes.deliver(tag: tag, error: error) })
    }

    // MARK: - The queue and the event loop

    /// How long the event loop sleeps before it waits, when every connection is busy and at
    /// least two await a reply: replies that come in that time are handled after one wake-up
    /// instead of one each. A sleep and a wake-up cost about as much CPU as handling a reply
    /// (they were a sixth of a send's CPU time at 8 connections); each reply waits at most this
    /// much longer, next to a round trip of milliseconds to a real server. Measured at 8
    /// connections to smtp-sink (30,000 messages): context switches 31,000 → 7,700 (`perf
    /// stat`); in 10 alternating runs CPU 62.9 → 56.6 µs a message, wall 3.61 → 3.01 s.
    /// 200 µs became 100 in session 15 (A/B, 30,000 messages, rounds in turn): at 4
    /// connections CPU 54.2 → 53.4 and 57.1 → 55.9 µs a message, wall 3.41 → 2.89 and
    /// 3.49 → 3.00 s (a pause is a large part of a 4-connection round trip to a local
    /// server); at 8, CPU 53.3 → 54.2 µs (within the runs' noise), wall 2.95 → 2.85 s.
    /// 400 µs was worse at 4 (CPU 53.0 → 54.6 µs, wall 3.34 → 4.80 s).
    static let replyPauseMicroseconds: Int32 = 100

    /// Waits without a pause after one in which no reply came (a server slower than the pause,
    /// where it would only add a sleep), before the loop tries pausing again.
    static let pausesSkippedAfterAnEmptyOne = 16

    /// Messages waiting for a connection, and the event loop that carries them. The loop holds
    /// this, not the transport, so the transport can go away and stop it.
    final class JobQueue: @unchecked Sendable {
        let epoll: Int32
        /// Written to wake the loop from `epoll_wait` (a new message, a shutdown).
        private let wakeup: Int32
        private let condition = NSCondition()
        // All under `condition`:
        private var waiting: [Job] = []
        private var head = 0
        private var running = true
        /// The loop sleeps with a connection free: a new message must wake it. While every
        /// connection is busy nothing is written: the loop takes the next message itself when one
        /// comes free (a wake-up per message was a system call and a switch per message).
        private var sleeping = false
        private var finished = false
        /// Set when the journal failed to write a line: new messages fail at once with it.
        private var refusal: String?
        /// Lines the journal has written, for the loop to hand back to their connections.
        private var journaled: [(connection: Int, job: Job, error: (any Error)?)] = []

        init() throws {
            var epoll: Int32 = -1, wakeup: Int32 = -1
            guard hogmail_loop_create(&epoll, &wakeup) == 0 else {
                throw HogMailError("The SMTP transport cannot start: \(String(cString: strerror(errno))). Too many open files? Raise the limit (ulimit -n) or lower `transport.smtp.connections`.")
            }
            self.epoll = epoll
            self.wakeup = wakeup
        }

        deinit {
            Glibc.close(wakeup)
            Glibc.close(epoll)
        }

        func start(_ connections: [SMTPConnection]) {
            let thread = Thread { [self] in
                run(connections)
                condition.withLock {
                    finished = true
                    condition.broadcast()
                }
            }
            thread.name = "hogmail-smtp"
            thread.start()
        }

        func add(_ job: Job) {
            var refused: String?
            let wake = condition.withLock { () -> Bool in
                if let refusal {
                    refused = refusal
                    return false
                }
                waiting.append(job)
                guard sleeping else { return false }
                sleeping = false
                return true
            }
            if let refused { return job.done(DeliveryError.temporary(refused)) }
            if wake { wakeLoop() }
        }

        private func wakeLoop() { hogmail_loop_wake(wakeup) }

        /// From the journal's thread: a connection's line is written. The loop wakes once for
        /// all the lines that come before it looks. After a line that failed, nothing more is
        /// sent: the sender stops, and each message sent meanwhile would be sent again too.
        func journaled(connection: Int, job: Job, error: (any Error)?) {
            let reason = error.map(SMTPTransport.notSent(after:))
            let (wake, refused) = condition.withLock { () -> (Bool, [Job]) in
                journaled.append((connection, job, error))
                var refused: [Job] = []
                if let reason, refusal == nil {
                    refusal = reason
                    refused = Array(waiting[head...])
                    waiting.removeAll()
                    head = 0
                }
                return (journaled.count == 1, refused)
            }
            if let reason { for job in refused { job.done(DeliveryError.temporary(reason)) } }
            if wake { wakeLoop() }
        }

        private func takeJournaled() -> [(connection: Int, job: Job, error: (any Error)?)] {
            condition.withLock {
                defer { journaled.removeAll(keepingCapacity: true) }
                return journaled
            }
        }

        /// Up to `limit` waiting jobs, oldest first; with none, the loop is marked sleeping.
        /// Nil once the transport shuts down.
        private func take(_ limit: Int) -> [Job]? {
            condition.withLock {
                guard running else { return nil }
                let jobs = pop(limit)
                sleeping = jobs.isEmpty
                return jobs
            }
        }

        /// The next waiting job for a connection that can pipeline it behind its current message;
        /// nil when none waits (the loop is not marked sleeping: it has a connection busy).
        private func takeOne() -> Job? {
            condition.withLock { running ? popOne() : nil }
        }

        /// The oldest waiting job, off the queue, without the array `pop` makes: this runs once
        /// per message on a busy connection. Under `condition`.
        private func popOne() -> Job? {
            guard head < waiting.count else { return nil }
            let job = waiting[head]
            head += 1
            dropTaken()
            return job
        }

        /// Up to `limit` waiting jobs, oldest first, off the queue. Under `condition`.
        private func pop(_ limit: Int) -> [Job] {
            let count = min(waiting.count - head, limit)
            guard count > 0 else { return [] }
            let jobs = Array(waiting[head..<head + count])
            head += count
            dropTaken()
            return jobs
        }

        /// Drops taken jobs now and then, not on every take (that would move the whole queue).
        /// Under `condition`.
        private func dropTaken() {
            if head > 64 && head * 2 > waiting.count {
                waiting.removeFirst(head)
                head = 0
            }
        }

        /// The event loop: free connections take waiting messages, epoll says which sockets can
        /// move, each connection acts on its replies; deadlines end stalled servers.
        private func run(_ connections: [SMTPConnection]) {
            hogmail_stream_block_sigpipe()
            for connection in connections {
                connection.nextJob = { [unowned self] in takeOne() }
                // Weak: a loop that ended on an epoll failure may leave a line in the journal's
                // hands; its outcome then goes straight to the sender.
                connection.onJournaled = { [weak self] index, job, error in
                    guard let self else { return job.done(error.map { JournalFailure($0) }) }
                    journaled(connection: index, job: job, error: error)
                }
            }
            var tags = [UInt64](repeating: 0, count: 64)
            var events = [UInt32](repeating: 0, count: 64)
            var accepting = true
            // Waits left before the loop pauses again after a pause in which no reply came.
            var pausesSkipped = 0
            while true {
                var free = 0
                for connection in connections where connection.isFree { free += 1 }
                if accepting && free > 0 {
                    if let taken = take(free) {
                        var next = 0
                        for connection in connections where connection.isFree && next < taken.count {
                            connection.begin(taken[next])
                            next += 1
                        }
                        // A message that failed at once left its connection free: take another now.
                        if !taken.isEmpty { continue }
                    } else {
                        accepting = false
                    }
                }
                if !accepting && connections.allSatisfy({ $0.isFree }) { break }
                var timeout: Int32 = -1
                var awaiting = 0
                let now = SMTPConnection.now()
                for connection in connections where connection.deadline != 0 && !connection.held {
                    let left = connection.deadline > now ? Int32(clamping: (connection.deadline - now) / 1_000_000 + 1) : 0
                    timeout = timeout < 0 ? left : min(timeout, left)
                    awaiting += 1
                }
                // Past a shutdown, look at the queue again now and then (its wake-up may be spent).
                if !accepting && timeout < 0 { timeout = 100 }
                var pause: Int32 = 0
                if pausesSkipped > 0 {
                    pausesSkipped -= 1
                } else if accepting && awaiting >= 2 && !connections.contains(where: { $0.isFree }) {
                    pause = SMTPTransport.replyPauseMicroseconds
                }
                var pauseInVain: Int32 = 0
                let count = hogmail_loop_wait(epoll, wakeup, &tags, &events, 64, timeout, pause, &pauseInVain)
                if count < 0 && errno != EINTR { break }
                // A server slower than the pause (a distant one): stop pausing for a while.
                if pauseInVain != 0 { pausesSkipped = SMTPTransport.pausesSkippedAfterAnEmptyOne }
                for i in 0..<max(0, Int(count)) where tags[i] != UInt64.max {
                    connections[Int(tags[i])].handleEvents(events[i])
                }
                for (index, job, error) in takeJournaled() { connections[index].journaled(job, error) }
                let after = SMTPConnection.now()
                for connection in connections where connection.deadline != 0 { connection.checkDeadline(after) }
            }
            for connection in connections { connection.quit() }
        }

        /// Lets each connection finish the message it carries and say QUIT, ends the loop, then
        /// fails what is still waiting.
        func shutDown() {
            condition.withLock {
                running = false
                sleeping = false
            }
            wakeLoop()
            let left = condition.withLock { () -> [Job] in
                while !finished { condition.wait() }
                let left = Array(waiting[head...])
                waiting.removeAll()
                head = 0
                return left
            }
            for job in left { job.done(DeliveryError.temporary("the SMTP transport was shut down")) }
        }
    }

    // MARK: - What a failure means

    /// Why a message behind one whose journal line failed was not sent (it would be sent
    /// twice: the sender stops, and the next run sends what the journal lacks).
    static func notSent(after journalError: any Error) -> String {
        "it was not sent: the journal could not record an earlier message (\(journalError))"
    }

    /// A failed message in the sender's terms. A certificate HogMail cannot trust, a server
    /// without STARTTLS or a refused login fails every message the same way: `.configuration`,
    /// with the setting to change, so the send stops at once instead of retrying for hours.
    static func failure(_ failure: SMTPConnection.Failure, settings: Settings) -> DeliveryError {
        let url = settings.url
        switch failure {
        case .tlsName(let detail):
            return .configuration("The certificate of the mail server at \(url) is not for that name (\(detail)). Write the name the certificate is for in `transport.smtp.url`, or fix the server's certificate.")
        case .tlsUntrusted(let detail):
            if let caFile = settings.caFile {
                return .configuration("The certificate of the mail server at \(url) is not trusted (\(detail)): it is not signed by the CA in `transport.smtp.ca_file` (\(caFile)). Set `ca_file` to the CA that signed the server's certificate, or fix the server's certificate.")
            }
            return .configuration("The certificate of the mail server at \(url) is not trusted (\(detail)). If the server uses a private CA, as internal relays do, set `transport.smtp.ca_file` to that CA's certificate (a PEM file); otherwise fix the server's certificate chain.")
        case .tlsCAFile(let detail):
            if let caFile = settings.caFile {
                return .configuration("The CA certificate in `transport.smtp.ca_file` (\(caFile)) cannot be loaded (\(detail)). Point `ca_file` at a PEM file with the CA's certificate.")
            }
            return .configuration("This machine's CA certificates cannot be loaded (\(detail)). Install the ca-certificates package, or set `transport.smtp.ca_file` to the CA of your mail server.")
        case .noSTARTTLS:
            return .configuration("The mail server at \(url) does not offer STARTTLS, and `transport.smtp.tls` is `required`, so nothing was sent in the clear. If the server takes TLS from the first byte (usually port 465), write `url: smtps://HOST:465` with `tls: implicit`; otherwise turn STARTTLS on at the server.")
        case .tlsHandshake(let detail):
            let fix = settings.tls == .implicit
                ? "If the server does not take TLS from the first byte, write `url: smtp://HOST:587` with `tls: required` (STARTTLS) instead of `tls: implicit`; otherwise check the server's TLS setup."
                : "Check the server's TLS setup (its protocol versions and ciphers)."
            return .configuration("The TLS handshake with the mail server at \(url) failed (\(detail)). \(fix)")
        case .noLogin(let offered):
            let what = offered.isEmpty ? "offers no login (no AUTH in its EHLO reply)" : "offers no login method HogMail speaks (it offers \(offered.joined(separator: " ")); HogMail speaks PLAIN and LOGIN)"
            return .configuration("The mail server at \(url) \(what), but `transport.smtp.username` is set. Remove `username` for a server that takes mail without a login, or turn AUTH PLAIN or LOGIN on at the server (over TLS).")
        case .refused(let code, let text):
            return .configuration("The mail server at \(url) refuses this client (\(code) \(text)). Check that this machine may send through it (its address, its name in EHLO: \(settings.heloDomain)).")
        case .login(let code, let text):
            if (400..<500).contains(code) && code != 454 { return .smtp(code: code, text: text) }
            return .configuration(loginRefused("\(code) \(text)", settings))
        case .connection(let detail):
            // No SMTP reply: the connection failed, dropped or stalled. Try again later.
            return .temporary(detail)
        case .reply(let code, let text):
            switch code {
            case 534, 535:
                // RFC 4954: 535 credentials invalid, 534 mechanism too weak — the same for every message.
                return .configuration(loginRefused("\(code) \(text)", settings))
            case 530, 538:
                // 530 authentication required (or STARTTLS first), 538 encryption required for AUTH.
                if code == 538 || text.lowercased().contains("starttls") {
                    return .configuration("The mail server at \(url) takes mail only over TLS (\(code) \(text)). Set `transport.smtp.tls: required` (STARTTLS) or use `url: smtps://HOST:465` with `tls: implicit`.")
                }
                if settings.username == nil {
                    return .configuration("The mail server at \(url) requires a login (\(code) \(text)). Set `transport.smtp.username`, and `password_env` to the environment variable that holds the password.")
                }
                return .configuration(loginRefused("\(code) \(text)", settings))
            default:
                return .smtp(code: code, text: text)
            }
        }
    }

    private static func loginRefused(_ answer: String, _ settings: Settings) -> String {
        let user = settings.username.map { " (\($0))" } ?? ""
        let variable = settings.passwordVariable.map { "the variable \($0), which `transport.smtp.password_env` names" }
            ?? "the environment variable that `transport.smtp.password_env` names"
        return "The mail server at \(settings.url) refused the username and password (\(answer)). Check `transport.smtp.username`\(user) and the password in \(variable)."
    }
}
