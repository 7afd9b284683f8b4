import CSMTPStream
import Foundation
import HogMail

/// SMTP with a client of HogMail's own (`SMTPConnection`): several connections at once
/// (`connections:`), each on its own thread and kept from message to message, one recipient per
/// transaction so every message carries its own unsubscribe link. Commands are pipelined when
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
    /// Four times the connections: when a connection finishes a message, the next one is already
    /// queued and starts at once, and the sender refills the queue only when half of it is done.
    /// Only `connections` messages are ever on the wire.
    public var parallelism: Int { 4 * max(1, settings.connections) }
    /// How many connection threads run (one per connection).
    var threadsInUse: Int { jobs.threadCount }
    public var name: String { "SMTP (\(settings.url), \(settings.connections) connection\(settings.connections == 1 ? "" : "s"))" }

    final class Job {
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
        jobs = JobQueue()
        let connections = (0..<max(1, settings.connections)).map { SMTPConnection(server: server, settings: settings, index: $0) }
        jobs.start(connections)
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

    // MARK: - The connections' queue

    /// Messages waiting for a connection, and the connection threads that take them. The threads
    /// hold this, not the transport, so the transport can go away and stop them.
    final class JobQueue: @unchecked Sendable {
        private let condition = NSCondition()
        // All under `condition`:
        private var waiting: [Job] = []
        private var head = 0
        private var running = true
        /// Threads waiting for a job: a new job signals one only when some wait (a signal per
        /// message would be a system call per message while every connection is busy).
        private var sleepers = 0
        private var live = 0
        private(set) var threadCount = 0

        func start(_ connections: [SMTPConnection]) {
            condition.withLock {
                live = connections.count
                threadCount = connections.count
            }
            for connection in connections {
                let thread = Thread { [self] in
                    connection.run(self)
                    condition.withLock {
                        live -= 1
                        condition.broadcast()
                    }
                }
                thread.name = "hogmail-smtp-\(connection.index)"
                thread.start()
            }
        }

        func add(_ job: Job) {
            condition.withLock {
                waiting.append(job)
                if sleepers > 0 { condition.signal() }
            }
        }

        /// The oldest waiting job, after waiting for one; nil once the transport is shutting down.
        func next() -> Job? {
            condition.withLock {
                while running && head == waiting.count {
                    sleepers += 1
                    condition.wait()
                    sleepers -= 1
                }
                guard running else { return nil }
                let job = waiting[head]
                head += 1
                // Drop taken jobs now and then, not on every take (that would move the whole queue).
                if head > 64 && head * 2 > waiting.count {
                    waiting.removeFirst(head)
                    head = 0
                }
                return job
            }
        }

        /// Lets each connection finish the message it carries, say QUIT and end its thread, then
        /// fails what is still waiting.
        func shutDown() {
            let left = condition.withLock { () -> [Job] in
                running = false
                condition.broadcast()
                while live > 0 { condition.wait() }
                let left = Array(waiting[head...])
                waiting.removeAll()
                head = 0
                return left
            }
            for job in left { job.done(DeliveryError.temporary("the SMTP transport was shut down")) }
        }
    }

    // MARK: - What a failure means

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
