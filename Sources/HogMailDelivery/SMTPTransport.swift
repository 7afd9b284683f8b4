import CCurlShim
import Foundation
import HogMail

/// SMTP through libcurl's multi interface: several connections at once (`connections:`),
/// each reused from message to message, one recipient per transaction so every message
/// carries its own unsubscribe link. STARTTLS is required unless the server is on loopback.
public final class SMTPTransport: Transport, @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public enum TLS: String, Sendable { case required, implicit, none }
        public var url: String
        public var tls: TLS
        public var username: String?
        public var password: String?
        public var connections: Int
        /// The domain said in EHLO (libcurl takes it from the URL's path).
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
    /// How many worker threads share the connections.
    var threadsInUse: Int { jobs.lock.withLock { jobs.workers.count } }
    public var name: String { "SMTP (\(settings.url), \(settings.connections) connection\(settings.connections == 1 ? "" : "s"))" }

    /// Worker threads: one per processor, never more than connections.
    public static let threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    fileprivate final class Job {
        let message: OutgoingMessage
        let body: [UInt8]
        var offset = 0
        /// Told the outcome, on the worker's thread: nil when the server accepted the message.
        let done: @Sendable ((any Error)?) -> Void
        var recipients: UnsafeMutablePointer<curl_slist>?
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        /// The server's last reply line (libcurl hands SMTP replies to the debug callback).
        var lastReply = ""
        /// The easy handle carrying it, taken from its worker's idle list.
        var handle: UnsafeMutableRawPointer?

        init(message: OutgoingMessage, done: @escaping @Sendable ((any Error)?) -> Void) {
            self.message = message
            self.body = message.data
            self.done = done
        }
    }

    private let jobs: JobQueue

    /// `threads` worker threads (one per core unless a test asks for more), never more than connections.
    public init(settings: Settings, threads: Int = SMTPTransport.threadCount) throws {
        try Self.check(settings)
        self.settings = settings
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        jobs = JobQueue()
        // One thread per core, each driving its share of the connections: with one thread for
        // all of them, every connection waited for that thread while the other core idled.
        let connections = max(1, settings.connections)
        let threads = min(connections, max(1, threads))
        jobs.workers = (0..<threads).map { index in
            Worker(jobs: jobs, settings: settings, connections: connections / threads + (index < connections % threads ? 1 : 0), index: index)
        }
        for worker in jobs.workers { worker.start() }
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

    /// Queued for the next free connection; the outcome is reported from the worker's thread,
    /// after the message was journaled (`accepted`), with no task and no continuation.
    public func submit(_ message: OutgoingMessage, tag: Int, to outcomes: SendOutcomes) {
        jobs.add(Job(message: message) { error in outcomes.deliver(tag: tag, error: error) })
    }

    // MARK: - The workers

    /// Messages waiting for a connection, and the workers that take them. The workers hold
    /// this, not the transport, so the transport can go away and stop them.
    fileprivate final class JobQueue: @unchecked Sendable {
        let lock = NSLock()
        // All under `lock`:
        private var waiting: [Job] = []
        private var head = 0
        private(set) var running = true
        var workers: [Worker] = []

        var isEmpty: Bool { waiting.count == head }

        func add(_ job: Job) {
            // Wake a worker only when it sleeps with a connection free: a busy one takes the job
            // when a connection frees up (a wake-up per message was a round trip through the
            // kernel and a context switch for every message).
            let sleeper = lock.withLock { () -> Worker? in
                waiting.append(job)
                guard let worker = workers.first(where: { $0.sleeping && !$0.idle.isEmpty }) else { return nil }
                worker.sleeping = false
                return worker
            }
            sleeper?.wake()
        }

        /// Up to `limit` waiting jobs, oldest first. Under `lock`.
        func take(_ limit: Int) -> [Job] {
            let count = min(waiting.count - head, limit)
            guard count > 0 else { return [] }
            let jobs = Array(waiting[head..<head + count])
            head += count
            // Drop taken jobs now and then, not on every take (that would move the whole queue).
            if head > 64 && head * 2 > waiting.count {
                waiting.removeFirst(head)
                head = 0
            }
            return jobs
        }

        /// Stops the workers once their messages are done and fails what is still waiting.
        func shutDown() {
            let workers = lock.withLock { () -> [Worker] in
                running = false
                return self.workers
            }
            for worker in workers { worker.stop() }
            lock.withLock {
                for job in waiting[head...] { job.done(DeliveryError.temporary("the SMTP transport was shut down")) }
                waiting.removeAll()
                head = 0
                self.workers.removeAll()
            }
        }
    }

    /// One thread driving some of the connections through its own libcurl multi handle; each
    /// easy handle keeps its connection from message to message.
    fileprivate final class Worker: @unchecked Sendable {
        let jobs: JobQueue
        let settings: Settings
        let multi: UnsafeMutableRawPointer
        /// Easy handles not carrying a message. Under the queue's lock.
        var idle: [UnsafeMutableRawPointer] = []
        /// In (or about to enter) `curl_multi_poll`: a new job must wake it. Under the queue's lock.
        var sleeping = false
        /// The thread's loop has ended. Under the queue's lock.
        private var finished = false
        /// Only touched on the worker's thread.
        private var active: [UnsafeMutableRawPointer: Job] = [:]
        private let index: Int

        /// The server's URL with the sender's domain as its path: libcurl says the path in EHLO.
        let url: String

        init(jobs: JobQueue, settings: Settings, connections: Int, index: Int) {
            self.jobs = jobs
            self.settings = settings
            var url = settings.url
            while url.hasSuffix("/") { url.removeLast() }
            if URL(string: url)?.path.isEmpty ?? true { url += "/" + settings.heloDomain }
            self.url = url
            self.index = index
            multi = curl_multi_init()!
            hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, connections)
            hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, connections)
            for _ in 0..<connections { idle.append(Self.connection(settings: settings, url: url)) }
        }

        /// An easy handle with everything that is the same for every message set once: the
        /// server, TLS, the login, timeouts, the callbacks. Each message sets only its envelope,
        /// its size and its own pointer.
        private static func connection(settings: Settings, url: String) -> UnsafeMutableRawPointer {
            let handle = curl_easy_init()!
            hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, url)
            hogmail_curl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
            // libcurl's largest upload buffer (2 MB): a message goes to the socket in as few
            // writes as the kernel takes, not in 64 KB slices.
            hogmail_curl_easy_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 2 * 1024 * 1024)
            hogmail_curl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, SMTPTransport.readCallback)
            // The server's replies reach the header callback (no verbose tracing, which formats
            // a line of text for every step of every message).
            hogmail_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, SMTPTransport.replyCallback)
            hogmail_curl_easy_setopt_long(handle, CURLOPT_USE_SSL, settings.tls == .none ? Int(CURLUSESSL_NONE.rawValue) : Int(CURLUSESSL_ALL.rawValue))
            if let username = settings.username { hogmail_curl_easy_setopt_string(handle, CURLOPT_USERNAME, username) }
            if let password = settings.password { hogmail_curl_easy_setopt_string(handle, CURLOPT_PASSWORD, password) }
            if let caFile = settings.caFile { hogmail_curl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile) }
            hogmail_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.timeout * 1000))
            // A stalled server: under 1 byte/s for the whole timeout ends the attempt.
            hogmail_curl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            hogmail_curl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.timeout)))
            hogmail_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            return handle
        }

        func start() {
            let thread = Thread { [self] in loop() }
            thread.name = "hogmail-smtp-\(index)"
            thread.start()
        }

        func wake() { curl_multi_wakeup(multi) }

        /// After the queue stopped running: waits for the loop to end, then frees libcurl's handles.
        func stop() {
            wake()
            while jobs.lock.withLock({ !finished }) { usleep(1000) }
            for handle in jobs.lock.withLock({ idle }) { curl_easy_cleanup(handle) }
            curl_multi_cleanup(multi)
        }

        private func loop() {
            while true {
                let (running, taken) = jobs.lock.withLock { () -> (Bool, [Job]) in
                    let taken = jobs.running ? jobs.take(idle.count) : []
                    for job in taken { job.handle = idle.removeLast() }
                    return (jobs.running, taken)
                }
                if !running && active.isEmpty { break }
                for job in taken { start(job) }
                var runningHandles: Int32 = 0
                curl_multi_perform(multi, &runningHandles)
                var queued: Int32 = 0
                while let info = curl_multi_info_read(multi, &queued) {
                    guard info.pointee.msg == CURLMSG_DONE, let handle = info.pointee.easy_handle else { continue }
                    finish(handle, result: info.pointee.data.result)
                }
                // A connection came free and a message waits for it: start it now, not after a
                // poll. Otherwise sleep, saying so under the lock, so a new job wakes this thread.
                let sleep = jobs.lock.withLock { () -> Bool in
                    if jobs.running && !jobs.isEmpty && !idle.isEmpty { return false }
                    sleeping = true
                    return true
                }
                if !sleep { continue }
                var ready: Int32 = 0
                curl_multi_poll(multi, nil, 0, 500, &ready)
                jobs.lock.withLock { sleeping = false }
            }
            jobs.lock.withLock { finished = true }
        }

        /// Puts a job on its easy handle (already taken off the idle list): its envelope, its size
        /// and the pointer its callbacks get.
        private func start(_ job: Job) {
            let handle = job.handle!
            hogmail_curl_easy_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(job.message.returnPath ?? job.message.from)>")
            job.recipients = curl_slist_append(nil, "<\(job.message.to)>")
            hogmail_curl_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, job.recipients)
            hogmail_curl_easy_setopt_long(handle, CURLOPT_INFILESIZE_LARGE, job.body.count)
            let pointer = Unmanaged.passUnretained(job).toOpaque()
            hogmail_curl_easy_setopt_pointer(handle, CURLOPT_READDATA, pointer)
            hogmail_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer)
            job.errorBuffer.withUnsafeMutableBufferPointer { buffer in
                _ = hogmail_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(buffer.baseAddress!))
            }
            active[handle] = job
            curl_multi_add_handle(multi, handle)
        }

        private func finish(_ handle: UnsafeMutableRawPointer, result: CURLcode) {
            curl_multi_remove_handle(multi, handle)
            guard let job = active.removeValue(forKey: handle) else { return }
            var code = 0
            hogmail_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
            let detail = job.errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            curl_slist_free_all(job.recipients)
            job.recipients = nil
            // Keep the connection (libcurl's cache) but drop this message's settings.
            hogmail_curl_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, nil)
            hogmail_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
            if result == CURLE_OK {
                // Journaled here, before this connection takes its next message: a crash repeats
                // at most the messages on the wire.
                var journalError: (any Error)?
                do { try job.message.accepted?() } catch { journalError = error }
                jobs.lock.withLock { idle.append(handle) }
                if let journalError {
                    job.done(JournalFailure(journalError))
                } else {
                    job.done(nil)
                }
                return
            }
            jobs.lock.withLock { idle.append(handle) }
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
            // The reply line as the server wrote it ("550 5.1.1 <x>: user unknown"), without its code.
            let reply = code >= 400 && job.lastReply.hasPrefix(String(code))
                ? String(job.lastReply.dropFirst(3)).trimmingCharacters(in: CharacterSet(charactersIn: " -")) : text
            job.done(SMTPTransport.failure(result, replyCode: code, reply: reply, detail: text, settings: settings))
        }
    }

    // MARK: - What a failure means

    /// A failed transfer in the sender's terms. A certificate HogMail cannot trust, a server
    /// without STARTTLS or a refused login fails every message the same way: `.configuration`,
    /// with the setting to change, so the send stops at once instead of retrying for hours.
    /// `reply` is the server's failure reply without its code, or libcurl's words when there is none.
    static func failure(_ result: CURLcode, replyCode code: Int, reply: String, detail: String, settings: Settings) -> DeliveryError {
        let url = settings.url
        switch result {
        case CURLE_PEER_FAILED_VERIFICATION:
            if detail.contains("subject name") || detail.contains("host name") {
                return .configuration("The certificate of the mail server at \(url) is not for that name (\(detail)). Write the name the certificate is for in `transport.smtp.url`, or fix the server's certificate.")
            }
            if let caFile = settings.caFile {
                return .configuration("The certificate of the mail server at \(url) is not trusted (\(detail)): it is not signed by the CA in `transport.smtp.ca_file` (\(caFile)). Set `ca_file` to the CA that signed the server's certificate, or fix the server's certificate.")
            }
            return .configuration("The certificate of the mail server at \(url) is not trusted (\(detail)). If the server uses a private CA, as internal relays do, set `transport.smtp.ca_file` to that CA's certificate (a PEM file); otherwise fix the server's certificate chain.")
        case CURLE_SSL_CACERT_BADFILE:
            if let caFile = settings.caFile {
                return .configuration("The CA certificate in `transport.smtp.ca_file` (\(caFile)) cannot be loaded (\(detail)). Point `ca_file` at a PEM file with the CA's certificate.")
            }
            return .configuration("This machine's CA certificates cannot be loaded (\(detail)). Install the ca-certificates package, or set `transport.smtp.ca_file` to the CA of your mail server.")
        case CURLE_USE_SSL_FAILED:
            return .configuration("The mail server at \(url) does not offer STARTTLS, and `transport.smtp.tls` is `required`, so nothing was sent in the clear. If the server takes TLS from the first byte (usually port 465), write `url: smtps://HOST:465` with `tls: implicit`; otherwise turn STARTTLS on at the server.")
        case CURLE_SSL_CONNECT_ERROR where !Self.isDroppedConnection(detail):
            let fix = settings.tls == .implicit
                ? "If the server does not take TLS from the first byte, write `url: smtp://HOST:587` with `tls: required` (STARTTLS) instead of `tls: implicit`; otherwise check the server's TLS setup."
                : "Check the server's TLS setup (its protocol versions and ciphers)."
            return .configuration("The TLS handshake with the mail server at \(url) failed (\(detail)). \(fix)")
        case CURLE_LOGIN_DENIED:
            return .configuration(loginRefused(code >= 400 ? "\(code) \(reply)" : detail, settings))
        default:
            break
        }
        switch code {
        case 534, 535:
            // RFC 4954: 535 credentials invalid, 534 mechanism too weak — the same for every message.
            return .configuration(loginRefused("\(code) \(reply)", settings))
        case 530, 538:
            // 530 authentication required (or STARTTLS first), 538 encryption required for AUTH.
            if code == 538 || reply.lowercased().contains("starttls") {
                return .configuration("The mail server at \(url) takes mail only over TLS (\(code) \(reply)). Set `transport.smtp.tls: required` (STARTTLS) or use `url: smtps://HOST:465` with `tls: implicit`.")
            }
            if settings.username == nil {
                return .configuration("The mail server at \(url) requires a login (\(code) \(reply)). Set `transport.smtp.username`, and `password_env` to the environment variable that holds the password.")
            }
            return .configuration(loginRefused("\(code) \(reply)", settings))
        case 400...:
            return .smtp(code: code, text: reply)
        default:
            // No SMTP reply: the connection failed, dropped or stalled. Try again later.
            return .temporary("\(detail) (libcurl \(result.rawValue))")
        }
    }

    private static func loginRefused(_ answer: String, _ settings: Settings) -> String {
        let user = settings.username.map { " (\($0))" } ?? ""
        let variable = settings.passwordVariable.map { "the variable \($0), which `transport.smtp.password_env` names" }
            ?? "the environment variable that `transport.smtp.password_env` names"
        return "The mail server at \(settings.url) refused the username and password (\(answer)). Check `transport.smtp.username`\(user) and the password in \(variable)."
    }

    /// A handshake cut short by the network (a reset, an early close) is worth another try;
    /// any other handshake failure (no TLS at all, no common protocol or cipher) is not.
    private static func isDroppedConnection(_ detail: String) -> Bool {
        let lowered = detail.lowercased()
        return ["ssl_error_syscall", "reset by peer", "unexpected eof", "timed out", "broken pipe", "connection closed"].contains { lowered.contains($0) }
    }

    fileprivate static let readCallback: hogmail_curl_data_callback = { buffer, size, count, userdata in
        guard let buffer, let userdata else { return 0 }
        let job = Unmanaged<Job>.fromOpaque(userdata).takeUnretainedValue()
        let length = min(size * count, job.body.count - job.offset)
        if length > 0 {
            job.body.withUnsafeBufferPointer { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + job.offset, byteCount: length)
            }
            job.offset += length
        }
        return length
    }

    /// libcurl hands every reply line of the server to the header callback: the last failure
    /// explains itself in the server's own words ("550 5.1.1 user unknown").
    fileprivate static let replyCallback: hogmail_curl_data_callback = { data, size, count, userdata in
        let length = size * count
        guard let data, let userdata, length > 0 else { return length }
        // Only failures: libcurl may say RSET or QUIT afterwards, and their 250/221 explain nothing.
        // (Checked on the raw byte: this runs for every reply line of every message.)
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        guard bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5") else { return length }
        let job = Unmanaged<Job>.fromOpaque(userdata).takeUnretainedValue()
        job.lastReply = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return length
    }
}
