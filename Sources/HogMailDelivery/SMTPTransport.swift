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
    /// Twice the connections: when a connection finishes a message, the next one is already
    /// queued on the worker and starts at once instead of after a round trip through the sender.
    /// Only `connections` messages are ever on the wire.
    public var parallelism: Int { 2 * max(1, settings.connections) }
    public var name: String { "SMTP (\(settings.url), \(settings.connections) connection\(settings.connections == 1 ? "" : "s"))" }

    private final class Job {
        let message: OutgoingMessage
        let body: [UInt8]
        var offset = 0
        let continuation: CheckedContinuation<Void, Error>
        var recipients: UnsafeMutablePointer<curl_slist>?
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        /// The server's last reply line (libcurl hands SMTP replies to the header callback).
        var lastReply = ""

        init(message: OutgoingMessage, continuation: CheckedContinuation<Void, Error>) {
            self.message = message
            self.body = message.data
            self.continuation = continuation
        }
    }

    private let lock = NSLock()
    private var queue: [Job] = []
    private var running = true
    private let multi: UnsafeMutableRawPointer
    private var idle: [UnsafeMutableRawPointer] = []
    private var active: [UnsafeMutableRawPointer: Job] = [:]
    private var worker: Thread?

    public init(settings: Settings) throws {
        try Self.check(settings)
        self.settings = settings
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()!
        hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, settings.connections))
        hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, settings.connections))
        for _ in 0..<max(1, settings.connections) { idle.append(curl_easy_init()!) }
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "hogmail-smtp"
        worker = thread
        thread.start()
    }

    deinit {
        lock.withLock { running = false }
        curl_multi_wakeup(multi)
        while lock.withLock({ worker != nil }) { usleep(1000) }
        for handle in idle { curl_easy_cleanup(handle) }
        curl_multi_cleanup(multi)
    }

    /// Refuses settings that would send a password in the clear or mail in the clear off this machine.
    static func check(_ settings: Settings) throws {
        guard let url = URL(string: settings.url), let scheme = url.scheme?.lowercased(), ["smtp", "smtps"].contains(scheme), let host = url.host else {
            throw HogMailError("`transport.smtp.url` is `\(settings.url)`; write it as smtp://host:587 or smtps://host:465.")
        }
        if settings.tls == .implicit && scheme != "smtps" {
            throw HogMailError("`transport.smtp.tls: implicit` needs an smtps:// URL (usually port 465).")
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
            lock.withLock { queue.append(Job(message: message, continuation: continuation)) }
            curl_multi_wakeup(multi)
        }
    }

    // MARK: - The worker: one thread drives every connection

    private func loop() {
        while true {
            let (stillRunning, jobs) = lock.withLock { () -> (Bool, [Job]) in
                let count = min(queue.count, idle.count)
                let jobs = Array(queue.prefix(count))
                queue.removeFirst(count)
                return (running, jobs)
            }
            if !stillRunning && active.isEmpty { break }
            for job in jobs { start(job) }
            var runningHandles: Int32 = 0
            curl_multi_perform(multi, &runningHandles)
            var queued: Int32 = 0
            var finished = false
            while let info = curl_multi_info_read(multi, &queued) {
                guard info.pointee.msg == CURLMSG_DONE, let handle = info.pointee.easy_handle else { continue }
                finish(handle, result: info.pointee.data.result)
                finished = true
            }
            // A connection came free and a message waits for it: start it now, not after a poll.
            if finished && lock.withLock({ !queue.isEmpty }) { continue }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 500, &ready)
        }
        lock.withLock {
            for job in queue { job.continuation.resume(throwing: DeliveryError.temporary("the SMTP transport was shut down")) }
            queue.removeAll()
            worker = nil
        }
    }

    private static let readCallback: hogmail_curl_data_callback = { buffer, size, count, userdata in
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

    /// libcurl's debug stream carries the server's replies (CURLINFO_HEADER_IN): the last one
    /// explains a failure in the server's own words ("550 5.1.1 user unknown").
    private static let replyCallback: hogmail_curl_debug_callback = { _, type, data, size, userdata in
        guard type == CURLINFO_HEADER_IN, let data, let userdata, size > 0 else { return 0 }
        // Only failures: libcurl may say RSET or QUIT afterwards, and their 250/221 explain nothing.
        // (Checked on the raw byte: this runs for every reply line of every message.)
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        guard bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5") else { return 0 }
        let job = Unmanaged<Job>.fromOpaque(userdata).takeUnretainedValue()
        job.lastReply = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return 0
    }

    private func start(_ job: Job) {
        let handle = lock.withLock { idle.removeLast() }
        let domain = settings.heloDomain
        var url = settings.url
        while url.hasSuffix("/") { url.removeLast() }
        // libcurl says the URL's path in EHLO: put the sender's domain there.
        if URL(string: url)?.path.isEmpty ?? true { url += "/" + domain }
        hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, url)
        hogmail_curl_easy_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(job.message.from)>")
        job.recipients = curl_slist_append(nil, "<\(job.message.to)>")
        hogmail_curl_easy_setopt_slist(handle, CURLOPT_MAIL_RCPT, job.recipients)
        hogmail_curl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
        hogmail_curl_easy_setopt_long(handle, CURLOPT_INFILESIZE_LARGE, job.body.count)
        hogmail_curl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, Self.readCallback)
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(job).toOpaque())
        hogmail_curl_easy_setopt_debug(handle, Self.replyCallback)
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(job).toOpaque())
        hogmail_curl_easy_setopt_long(handle, CURLOPT_VERBOSE, 1)
        hogmail_curl_easy_setopt_long(handle, CURLOPT_USE_SSL, settings.tls == .none ? Int(CURLUSESSL_NONE.rawValue) : Int(CURLUSESSL_ALL.rawValue))
        if let username = settings.username { hogmail_curl_easy_setopt_string(handle, CURLOPT_USERNAME, username) }
        if let password = settings.password { hogmail_curl_easy_setopt_string(handle, CURLOPT_PASSWORD, password) }
        hogmail_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.timeout * 1000))
        // A stalled server: under 1 byte/s for the whole timeout ends the attempt.
        hogmail_curl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        hogmail_curl_easy_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.timeout)))
        hogmail_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        job.errorBuffer.withUnsafeMutableBufferPointer { pointer in
            _ = hogmail_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(pointer.baseAddress!))
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
        lock.withLock { idle.append(handle) }
        if result == CURLE_OK {
            job.continuation.resume()
            return
        }
        let text = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
        if code >= 400 {
            // The reply line as the server wrote it ("550 5.1.1 <x>: user unknown"), without its code.
            let reply = job.lastReply.hasPrefix(String(code)) ? String(job.lastReply.dropFirst(3)).trimmingCharacters(in: CharacterSet(charactersIn: " -")) : text
            job.continuation.resume(throwing: DeliveryError.smtp(code: code, text: reply))
        } else {
            // No SMTP reply: the connection failed, dropped or stalled. Try again later.
            job.continuation.resume(throwing: DeliveryError.temporary("\(text) (libcurl \(result.rawValue))"))
        }
    }
}
