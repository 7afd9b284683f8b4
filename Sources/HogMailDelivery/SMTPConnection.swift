import CSMTPStream
import Foundation
import HogMail

/// One connection to the mail server. It opens when it gets its first message (greeting, EHLO,
/// STARTTLS, EHLO again, AUTH: blocking, bounded by the timeout), then carries one message after
/// another, each in its own transaction with one recipient, driven by the transport's event
/// loop (non-blocking, epoll). With PIPELINING, `MAIL FROM`, `RCPT TO` and `DATA` go out in one
/// write and the message with its ending dot in another: two writes a message, the least RFC
/// 2920 allows (the message must wait for the 354).
///
/// Everything here runs on the event loop's thread.
final class SMTPConnection: @unchecked Sendable {
    /// Where the server is and how to talk to it, read once from the settings.
    struct Server: Sendable {
        var host: String
        var port: Int
        /// TLS from the first byte (smtps://).
        var implicitTLS: Bool
        /// The domain said in EHLO.
        var ehloDomain: String

        init(_ settings: SMTPTransport.Settings) throws {
            guard let url = URL(string: settings.url), let scheme = url.scheme?.lowercased(), var host = url.host, !host.isEmpty else {
                throw HogMailError("`transport.smtp.url` is `\(settings.url)`; write it as smtp://host:587 or smtps://host:465.")
            }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.host = host
            implicitTLS = scheme == "smtps"
            port = url.port ?? (implicitTLS ? 465 : 25)
            // `smtp://host:587/example.com` says example.com in EHLO, as libcurl-based tools do.
            let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            ehloDomain = path.isEmpty ? settings.heloDomain : path
            guard !ehloDomain.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) else {
                throw HogMailError("The domain HogMail would say in EHLO (`\(ehloDomain)`) has a space or a character that is not ASCII. Fix `list.from` or the path of `transport.smtp.url`.")
            }
        }
    }

    /// Why a message did not go, before it becomes a `DeliveryError` (`SMTPTransport.failure`).
    enum Failure: Error, Equatable {
        /// No usable reply: the connection failed, closed, stalled or spoke something else.
        case connection(String)
        /// The server answered a command of the transaction with a failure.
        case reply(code: Int, text: String)
        /// The server answered the login with a failure.
        case login(code: Int, text: String)
        /// The server turned the connection away (a 5xx greeting or HELO).
        case refused(code: Int, text: String)
        case noSTARTTLS
        /// A username is set but the server offers no login HogMail speaks (the mechanisms it offers).
        case noLogin([String])
        case tlsName(String)
        case tlsUntrusted(String)
        case tlsCAFile(String)
        case tlsHandshake(String)
    }

    /// A server reply: its code, and its lines' text when asked for or when it is a failure.
    struct Reply {
        var code: Int
        var lines: [String]
        var text: String { lines.joined(separator: " ") }
        var isPositive: Bool { (200..<400).contains(code) }
    }

    /// What the server offers, from its EHLO reply.
    struct Capabilities: Equatable {
        var pipelining = false
        var startTLS = false
        var size = false
        var smtpUTF8 = false
        var auth: [String] = []

        init() {}

        /// From the lines after the first of an EHLO reply ("PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN").
        init(ehloLines lines: [String]) {
            for line in lines.dropFirst() {
                let words = line.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
                switch words.first {
                case "PIPELINING": pipelining = true
                case "STARTTLS": startTLS = true
                case "SIZE": size = true
                case "SMTPUTF8": smtpUTF8 = true
                case "AUTH": auth += words.dropFirst().filter { !auth.contains($0) }
                default: break
                }
            }
        }
    }

    let server: Server
    let settings: SMTPTransport.Settings
    let index: Int
    private let timeoutMilliseconds: Int32
    /// The event loop's epoll instance: an opened connection adds its socket (tagged `index`).
    private let epoll: Int32

    // The loop's thread only:
    private var stream: OpaquePointer?
    private(set) var capabilities = Capabilities()
    private var input = [UInt8](repeating: 0, count: 16 * 1024)
    private var inputStart = 0
    private var inputEnd = 0
    private var commands: [UInt8] = []
    private var errorText = [CChar](repeating: 0, count: 512)

    /// One message's transaction on this connection.
    final class Transaction {
        let job: SMTPTransport.Job
        let body: WireMessage
        let ending: [UInt8]
        var mailReply: Reply?
        var rcptReply: Reply?
        /// The refusal that ends this message once the RSET after it is answered.
        var refusal: Failure?
        /// The server answered MAIL FROM with anything but 421: the connection was alive.
        var answeredMail = false
        /// The message itself went (after the 354): from then on a broken connection may have
        /// delivered it, so it is a failure to retry later, never a silent retry now.
        var bodySent = false
        /// Its envelope went on a connection that already carried a message (the server may have
        /// closed it while idle), or behind another message's.
        var kept = false
        var retried = false

        init(job: SMTPTransport.Job, body: WireMessage, ending: [UInt8]) {
            self.job = job
            self.body = body
            self.ending = ending
        }
    }

    /// The messages on this connection, oldest first: at most two, the second's envelope
    /// pipelined behind the first's body. Empty when the connection is free.
    private var transactions: [Transaction] = []
    /// The replies still to come, in order (RFC 2920: one for each command sent).
    private var expected: [(Expect, Transaction)] = []
    private var expectedHead = 0
    /// What waits for the socket, in order; of the first, `sentPieces` pieces and then
    /// `sentBytes` bytes of the next are written.
    private var outgoing: [Outgoing] = []
    private var sentPieces = 0
    private var sentBytes = 0
    /// The pieces of one write (kept: this runs once per message).
    private var vectors: [iovec] = []
    /// When the server has taken too long (monotonic nanoseconds; 0 when nothing is awaited).
    private(set) var deadline: UInt64 = 0
    /// The next waiting message, if any, without waiting (the transport's queue).
    var nextJob: () -> SMTPTransport.Job? = { nil }
    /// Told, from the journal's thread, that a message's line is written (`acceptedLater`):
    /// the transport's queue hands it back to the loop, which calls `journaled`.
    var onJournaled: @Sendable (_ connection: Int, _ job: SMTPTransport.Job, _ error: (any Error)?) -> Void = { _, _, _ in }
    /// An accepted message's line is being written: this connection reads no reply and sends
    /// no message until it is (`journaled`), so a crash repeats at most what was on the wire.
    private(set) var held = false

    enum Expect { case mail, rcpt, data, dot, rset, final }

    var isFree: Bool { transactions.isEmpty && !held }

    /// A reply line longer than this is not SMTP (RFC 5321 allows 512 bytes).
    private static let longestLine = 64 * 1024

    init(server: Server, settings: SMTPTransport.Settings, index: Int, epoll: Int32) {
        self.server = server
        self.settings = settings
        self.index = index
        self.epoll = epoll
        timeoutMilliseconds = Int32(clamping: max(1, Int(settings.timeout * 1000)))
        commands.reserveCapacity(1024)
    }

    deinit {
        if let stream { hogmail_stream_close(stream) }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    // MARK: - One message

    /// Takes a message on a free connection: opens the connection first if it has none
    /// (blocking, bounded by the timeout), then sends its envelope. The outcome comes later,
    /// from `handleEvents` or `checkDeadline`, unless the message fails at once.
    func begin(_ job: SMTPTransport.Job) {
        guard let transaction = transaction(for: job) else { return }
        transactions.append(transaction)
        start(transaction)
    }

    /// The message's transaction, or nil when its envelope cannot be sent (then it has failed).
    private func transaction(for job: SMTPTransport.Job) -> Transaction? {
        let message = job.message
        // The two addresses in turn, without an array of them (this runs once per message).
        let sender = message.returnPath ?? message.from
        let unsafe: String? = if !Self.isSafeEnvelopeAddress(sender) { sender } else if !Self.isSafeEnvelopeAddress(message.to) { message.to } else { nil }
        if let address = unsafe {
            job.done(DeliveryError.permanent("501 the address \(Self.printable(Array(address.utf8))) has a line break, a control character or an angle bracket, so it cannot be an SMTP envelope address", mailboxUnknown: false))
            return nil
        }
        let (body, ending) = Self.framed(message.wire)
        return Transaction(job: job, body: body, ending: ending)
    }

    /// Sends the envelope of a connection's only transaction, on a new connection if needed.
    private func start(_ transaction: Transaction) {
        transaction.kept = stream != nil
        transaction.answeredMail = false
        transaction.mailReply = nil
        transaction.rcptReply = nil
        transaction.refusal = nil
        expected.removeAll(keepingCapacity: true)
        expectedHead = 0
        if stream == nil {
            do { try open() } catch let failure as Failure {
                finish(transaction, SMTPTransport.failure(failure, settings: settings))
                return
            } catch {
                finish(transaction, DeliveryError.temporary("\(error)"))
                return
            }
        }
        commands.removeAll(keepingCapacity: true)
        appendEnvelope(transaction)
        send(commands)
    }

    /// MAIL FROM, and with PIPELINING also RCPT TO and DATA (RFC 2920: one write; the message
    /// waits for the 354), into `commands`; their replies are expected.
    private func appendEnvelope(_ transaction: Transaction) {
        let message = transaction.job.message
        let from = message.returnPath ?? message.from
        commands += "MAIL FROM:<".utf8
        commands += from.utf8
        commands += ">".utf8
        if capabilities.size { commands += " SIZE=\(message.wire.count)".utf8 }
        if capabilities.smtpUTF8 && (from.containsUTF8Byte { $0 >= 0x80 } || message.to.containsUTF8Byte { $0 >= 0x80 }) { commands += " SMTPUTF8".utf8 }
        commands += "\r\n".utf8
        expected.append((.mail, transaction))
        if capabilities.pipelining {
            appendRecipient(message.to)
            commands += "DATA\r\n".utf8
            expected.append((.rcpt, transaction))
            expected.append((.data, transaction))
        }
    }

    private func appendRecipient(_ to: String) {
        commands += "RCPT TO:<".utf8
        commands += to.utf8
        commands += ">\r\n".utf8
    }

    /// What epoll said about this connection's socket.
    func handleEvents(_ events: UInt32) {
        guard stream != nil else { return }
        let write = UInt32(HOGMAIL_EVENT_WRITE), read = UInt32(HOGMAIL_EVENT_READ), error = UInt32(HOGMAIL_EVENT_ERROR)
        if events & (write | error) != 0 { flush() }
        if stream != nil && events & (read | error) != 0 { receive() }
    }

    /// The server took longer than the timeout to answer or to take bytes.
    func checkDeadline(_ now: UInt64) {
        guard deadline != 0, !held, now >= deadline else { return }
        broken(.connection("the server sent nothing for the whole timeout (\(settings.timeout) s): read timed out"))
    }

    private func armDeadline() {
        deadline = Self.now() + UInt64(timeoutMilliseconds) * 1_000_000
    }

    /// Queues bytes and writes what the socket takes now.
    private func send(_ bytes: [UInt8]) {
        outgoing.append(.bytes(bytes))
        armDeadline()
        flush()
    }

    /// Queues a message's body and what follows it, and writes what the socket takes now.
    private func send(_ body: WireMessage, _ tail: [UInt8]) {
        outgoing.append(.message(body))
        if !tail.isEmpty { outgoing.append(.bytes(tail)) }
        armDeadline()
        flush()
    }

    /// At most this many pieces a write (IOV_MAX is 1024); the rest go in the next.
    static let maximumVectors = 256

    private func flush() {
        guard let stream else { return }
        while !outgoing.isEmpty {
            // The first two entries in one write (a body and what follows it), as pieces.
            let result = outgoing[0].withBuffers { own, shared -> Int in
                vectors.removeAll(keepingCapacity: true)
                addVectors(of: outgoing[0], own, shared, from: sentPieces, skipping: sentBytes)
                guard outgoing.count > 1, vectors.count < Self.maximumVectors else {
                    return hogmail_stream_sendv(stream, vectors, Int32(vectors.count), &errorText, errorText.count)
                }
                return outgoing[1].withBuffers { own, shared in
                    addVectors(of: outgoing[1], own, shared, from: 0, skipping: 0)
                    return hogmail_stream_sendv(stream, vectors, Int32(vectors.count), &errorText, errorText.count)
                }
            }
            if result < 0 {
                if Int(-result) == HOGMAIL_STREAM_AGAIN { return }
                broken(streamFailure(Int32(-result)))
                return
            }
            advance(by: result)
            armDeadline()
        }
    }

    /// Adds the pieces of `entry` from piece `first` on (its first `skipping` bytes written), up
    /// to `maximumVectors` in all.
    private func addVectors(of entry: Outgoing, _ own: UnsafeRawBufferPointer, _ shared: UnsafeRawBufferPointer, from first: Int, skipping: Int) {
        var index = first
        var skip = skipping
        while index < entry.pieceCount, vectors.count < Self.maximumVectors {
            let (isShared, range) = entry.piece(index)
            let buffer = isShared ? shared : own
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress! + range.lowerBound + skip), iov_len: range.count - skip))
            skip = 0
            index += 1
        }
    }

    /// Marks `written` bytes as gone: whole entries off the queue, then pieces of the next.
    private func advance(by written: Int) {
        var written = written
        while let entry = outgoing.first {
            while sentPieces < entry.pieceCount, written > 0 {
                let left = entry.piece(sentPieces).range.count - sentBytes
                if written >= left {
                    written -= left
                    sentPieces += 1
                    sentBytes = 0
                } else {
                    sentBytes += written
                    written = 0
                }
            }
            guard sentPieces == entry.pieceCount else { return }
            outgoing.removeFirst()
            sentPieces = 0
            sentBytes = 0
        }
    }

    /// Reads what there is and acts on every whole reply in it.
    private func receive() {
        // Held, the bytes wait in the socket: `journaled` reads them (epoll is edge-triggered,
        // so it would not say again).
        while let stream, !held {
            do { try makeRoom() } catch {
                broken(Self.lineTooLong)
                return
            }
            let space = input.count - inputEnd
            let count = input.withUnsafeMutableBufferPointer { buffer in
                hogmail_stream_read(stream, buffer.baseAddress! + inputEnd, space, &errorText, errorText.count)
            }
            if count < 0 {
                if Int(-count) == HOGMAIL_STREAM_AGAIN { return }
                broken(streamFailure(Int32(-count)))
                return
            }
            inputEnd += count
            if expectedHead < expected.count { armDeadline() }
            // A plain socket that gave less than there was room for is empty now: epoll will say
            // when more comes (edge-triggered), so no read just to hear EAGAIN. TLS may hold
            // decrypted bytes of its own, so it is read until it says so.
            let drained = count < space && hogmail_stream_is_tls(stream) == 0
            guard handleReplies() else { return }
            if drained || held { return }
        }
    }

    /// Acts on every whole reply in the input buffer, until the connection is held for the
    /// journal; false when the connection broke.
    private func handleReplies() -> Bool {
        do {
            while self.stream != nil, !held, expectedHead < expected.count, let reply = try nextReply() {
                let (expect, transaction) = expected[expectedHead]
                expectedHead += 1
                if expectedHead == expected.count {
                    expected.removeAll(keepingCapacity: true)
                    expectedHead = 0
                }
                handle(reply, for: expect, of: transaction)
            }
            return true
        } catch let failure as Failure {
            broken(failure)
        } catch {
            broken(.connection("\(error)"))
        }
        return false
    }

    static let lineTooLong = Failure.connection("the server sent a line of over \(longestLine) bytes, which is not SMTP")

    /// Room to read into: what is left of a reply moved to the front of the buffer, or the
    /// buffer doubled for a long line (up to `longestLine`).
    private func makeRoom() throws {
        if inputStart > 0 && inputStart == inputEnd {
            inputStart = 0
            inputEnd = 0
        }
        guard inputEnd == input.count else { return }
        if inputStart > 0 {
            let partial = inputEnd - inputStart
            input.withUnsafeMutableBufferPointer { _ = memmove($0.baseAddress!, $0.baseAddress! + inputStart, partial) }
            inputStart = 0
            inputEnd = partial
        } else if input.count < Self.longestLine {
            input += [UInt8](repeating: 0, count: input.count)
        } else {
            throw Self.lineTooLong
        }
    }

    /// A whole reply from the input buffer, consumed; nil while its last line has not come. Its
    /// text is kept when asked for or when it is a failure (a 250 in the middle of a send is only
    /// its code).
    private func nextReply(text wanted: Bool = false) throws -> Reply? {
        var position = inputStart
        var code = 0
        var lines: [String] = []
        while true {
            let newline = input.withUnsafeBufferPointer { bytes -> Int? in
                guard inputEnd > position, let found = memchr(bytes.baseAddress! + position, 0x0A, inputEnd - position) else { return nil }
                return UnsafeRawPointer(bytes.baseAddress!).distance(to: UnsafeRawPointer(found))
            }
            guard let newline else {
                if inputEnd - inputStart >= Self.longestLine { throw Self.lineTooLong }
                return nil
            }
            let end = newline > position && input[newline - 1] == 0x0D ? newline - 1 : newline
            let (lineCode, more) = Self.parseCode(input, start: position, end: end)
            guard let lineCode else {
                throw Failure.connection("the server answered something that is not SMTP: \(Self.printable(Array(input[position..<end])))")
            }
            if code == 0 { code = lineCode }
            if wanted || lineCode >= 400 { lines.append(Self.printable(Array(input[min(position + 4, end)..<end]))) }
            position = newline + 1
            if !more {
                inputStart = position
                return Reply(code: code, lines: lines)
            }
        }
    }

    private func handle(_ reply: Reply, for expect: Expect, of transaction: Transaction) {
        switch expect {
        case .mail:
            guard reply.code != 421 else { return broken(.reply(code: reply.code, text: reply.text)) }
            transaction.answeredMail = true
            transaction.mailReply = reply
            guard !capabilities.pipelining else { return }
            guard reply.isPositive else { return refuse(transaction, reply, dataReply: nil) }
            commands.removeAll(keepingCapacity: true)
            appendRecipient(transaction.job.message.to)
            expected.append((.rcpt, transaction))
            send(commands)
        case .rcpt:
            guard reply.code != 421 else { return broken(.reply(code: reply.code, text: reply.text)) }
            transaction.rcptReply = reply
            guard !capabilities.pipelining else { return }
            guard reply.isPositive else { return refuse(transaction, reply, dataReply: nil) }
            expected.append((.data, transaction))
            send(Array("DATA\r\n".utf8))
        case .data:
            guard reply.code != 421 else { return broken(.reply(code: reply.code, text: reply.text)) }
            // MAIL's refusal first, then RCPT's (no array of the two: this runs once per message).
            if let mail = transaction.mailReply, !mail.isPositive { return refuse(transaction, mail, dataReply: reply) }
            if let rcpt = transaction.rcptReply, !rcpt.isPositive { return refuse(transaction, rcpt, dataReply: reply) }
            guard reply.code == 354 else { return refuse(transaction, reply, dataReply: reply) }
            transaction.bodySent = true
            expected.append((.final, transaction))
            // The next message's envelope rides behind this one's ending dot (RFC 2920 lets the
            // message be followed by commands in one group): one write and one round trip a
            // message. Its own message still waits for its 354, which comes after this one's
            // 250, so it is journaled before the next one goes.
            var tail = transaction.ending
            if capabilities.pipelining, transactions.count == 1, let job = nextJob(), let next = self.transaction(for: job) {
                next.kept = true
                transactions.append(next)
                commands.removeAll(keepingCapacity: true)
                appendEnvelope(next)
                tail += commands
            }
            send(transaction.body, tail)
        case .dot:
            break
        case .rset:
            let failure = transaction.refusal ?? .reply(code: reply.code, text: reply.text)
            finish(transaction, SMTPTransport.failure(failure, settings: settings))
            // A server that will not reset is in a state HogMail does not know: start afresh.
            if !reply.isPositive { broken(.connection("the server refused RSET (\(reply.code) \(reply.text))")) }
        case .final:
            guard (200..<300).contains(reply.code) else {
                finish(transaction, SMTPTransport.failure(.reply(code: reply.code, text: reply.text), settings: settings))
                if reply.code == 421 { broken(.reply(code: reply.code, text: reply.text)) }
                return
            }
            finish(transaction, nil)
        }
    }

    /// The server refused the message before it went: that is its outcome, once the
    /// transaction is reset for the next message. A 354 to a pipelined DATA after a refusal
    /// (which RFC 2920 does not expect) gets an empty message, ended at once.
    private func refuse(_ transaction: Transaction, _ reply: Reply, dataReply: Reply?) {
        transaction.refusal = Failure.reply(code: reply.code, text: reply.text)
        commands.removeAll(keepingCapacity: true)
        if dataReply?.code == 354 {
            commands += ".\r\n".utf8
            expected.append((.dot, transaction))
        }
        commands += "RSET\r\n".utf8
        expected.append((.rset, transaction))
        send(commands)
    }

    /// The connection failed (closed, reset, timed out, spoke something else, or 421). A
    /// message whose body went fails (it may have arrived: the sender decides when to try it
    /// again). A message whose envelope went on a kept connection, or behind another message,
    /// and that the server did not answer MAIL for, never went: it goes once more on a new
    /// connection (the server closed an idle connection, or closed after the message before).
    private func broken(_ failure: Failure) {
        close()
        let inFlight = transactions
        transactions.removeAll()
        var again: Transaction?
        for transaction in inFlight {
            if !transaction.bodySent && transaction.kept && !transaction.retried && !transaction.answeredMail && again == nil {
                transaction.retried = true
                again = transaction
            } else {
                transaction.job.done(SMTPTransport.failure(failure, settings: settings))
            }
        }
        if let again {
            transactions.append(again)
            start(again)
        }
    }

    /// Closes the connection and fails every message on it, without trying any again.
    func abandon(because reason: String) {
        close()
        let inFlight = transactions
        transactions.removeAll()
        for transaction in inFlight { transaction.job.done(DeliveryError.temporary(reason)) }
    }

    /// Reports the outcome; an accepted message is journaled first, before this connection
    /// carries its next message: a crash repeats at most the messages on the wire.
    private func finish(_ transaction: Transaction, _ error: (any Error)?) {
        guard let position = transactions.firstIndex(where: { $0 === transaction }) else { return }
        transactions.remove(at: position)
        if transactions.isEmpty { deadline = 0 }
        let job = transaction.job
        if error == nil {
            if let later = job.message.acceptedLater {
                // The line is a round trip: the other connections go on while it is made.
                held = true
                let index = self.index, report = onJournaled
                later { error in report(index, job, error) }
                return
            }
            do { try job.message.accepted?() } catch {
                job.done(JournalFailure(error))
                return
            }
        }
        job.done(error)
    }

    /// The journal wrote (or failed to write) the line of this connection's last accepted
    /// message: its outcome goes to the sender, and the connection acts on the replies that
    /// came meanwhile. When the line could not be written, the message behind it must not go
    /// either (it would be sent again too): the connection is closed, and what it carried
    /// fails without its body having gone.
    func journaled(_ job: SMTPTransport.Job, _ error: (any Error)?) {
        held = false
        if let error {
            job.done(JournalFailure(error))
            abandon(because: SMTPTransport.notSent(after: error))
            return
        }
        job.done(nil)
        guard stream != nil else { return }
        if expectedHead < expected.count { armDeadline() }
        guard handleReplies(), stream != nil, !held else { return }
        receive()
    }

    static func parseCode(_ input: [UInt8], start: Int, end: Int) -> (Int?, Bool) {
        input.withUnsafeBufferPointer { bytes -> (Int?, Bool) in
            let length = end - start
            guard length >= 3 else { return (nil, false) }
            var value = 0
            for i in start..<start + 3 {
                guard (48...57).contains(bytes[i]) else { return (nil, false) }
                value = value * 10 + Int(bytes[i] - 48)
            }
            guard (200..<600).contains(value) else { return (nil, false) }
            return (value, length > 3 && bytes[start + 3] == UInt8(ascii: "-"))
        }
    }

    // MARK: - The session

    private func open() throws {
        var made: OpaquePointer?
        let code = hogmail_stream_connect(server.host, Int32(server.port), timeoutMilliseconds, &made, &errorText, errorText.count)
        guard Int(code) == HOGMAIL_STREAM_OK, let made else { throw streamFailure(code) }
        stream = made
        inputStart = 0
        inputEnd = 0
        capabilities = Capabilities()
        do {
            if server.implicitTLS { try startTLS() }
            let greeting = try readReply(text: true)
            guard greeting.code == 220 else {
                throw greeting.code >= 500 ? Failure.refused(code: greeting.code, text: greeting.text) : Failure.reply(code: greeting.code, text: greeting.text)
            }
            try hello()
            if settings.tls == .required && hogmail_stream_is_tls(made) == 0 {
                guard capabilities.startTLS else { throw Failure.noSTARTTLS }
                try write(Array("STARTTLS\r\n".utf8))
                let reply = try readReply(text: true)
                guard reply.code == 220 else {
                    throw Failure.tlsHandshake("the server answered STARTTLS with \(reply.code) \(reply.text)")
                }
                // Bytes that came in the clear after the 220 would be read as if they came over
                // TLS (a command-injection attack, CVE-2011-0411 and its kin): refuse them.
                guard inputStart == inputEnd else {
                    throw Failure.tlsHandshake("the server sent more after its 220 to STARTTLS, before the handshake; that text may have been injected")
                }
                try startTLS()
                try hello()
            }
            if let username = settings.username { try login(username, settings.password ?? "") }
            // From here on the event loop drives it: non-blocking, edge-triggered.
            guard hogmail_stream_set_nonblocking(made, 1) == 0 else {
                throw Failure.connection("the connection cannot be made non-blocking: \(String(cString: strerror(errno)))")
            }
            guard hogmail_loop_watch(epoll, hogmail_stream_descriptor(made), UInt64(index)) == 0 else {
                throw Failure.connection("the connection cannot be watched: \(String(cString: strerror(errno)))")
            }
        } catch {
            close()
            throw error
        }
    }

    /// EHLO, or HELO for a server that does not know EHLO (then it offers nothing).
    private func hello() throws {
        try write(Array("EHLO \(server.ehloDomain)\r\n".utf8))
        let reply = try readReply(text: true)
        if reply.code == 250 {
            capabilities = Capabilities(ehloLines: reply.lines)
            return
        }
        guard (500..<600).contains(reply.code) && reply.code != 554 else {
            throw reply.code >= 500 ? Failure.refused(code: reply.code, text: reply.text) : Failure.reply(code: reply.code, text: reply.text)
        }
        try write(Array("HELO \(server.ehloDomain)\r\n".utf8))
        let helo = try readReply(text: true)
        guard helo.code == 250 else {
            throw helo.code >= 500 ? Failure.refused(code: helo.code, text: helo.text) : Failure.reply(code: helo.code, text: helo.text)
        }
        capabilities = Capabilities()
    }

    /// AUTH PLAIN, else AUTH LOGIN (RFC 4954, 4616): the ones every submission server offers.
    private func login(_ username: String, _ password: String) throws {
        if capabilities.auth.contains("PLAIN") {
            let token = Data([0] + Array(username.utf8) + [0] + Array(password.utf8)).base64EncodedString()
            try write(Array("AUTH PLAIN \(token)\r\n".utf8))
            let reply = try readReply(text: true)
            guard reply.code == 235 else { throw Failure.login(code: reply.code, text: reply.text) }
        } else if capabilities.auth.contains("LOGIN") {
            try write(Array("AUTH LOGIN\r\n".utf8))
            for secret in [username, password] {
                let challenge = try readReply(text: true)
                guard challenge.code == 334 else { throw Failure.login(code: challenge.code, text: challenge.text) }
                try write(Array((Data(secret.utf8).base64EncodedString() + "\r\n").utf8))
            }
            let reply = try readReply(text: true)
            guard reply.code == 235 else { throw Failure.login(code: reply.code, text: reply.text) }
        } else {
            throw Failure.noLogin(capabilities.auth)
        }
    }

    private func startTLS() throws {
        guard let stream else { throw Failure.connection("the connection is closed") }
        let code = settings.caFile.withOptionalCString { caFile in
            hogmail_stream_start_tls(stream, server.host, caFile, &errorText, errorText.count)
        }
        guard Int(code) == HOGMAIL_STREAM_OK else { throw streamFailure(code) }
    }

    /// QUIT, waiting for the answer (blocking, bounded by the timeout), then closes.
    func quit() {
        guard let stream else { return }
        if hogmail_stream_set_nonblocking(stream, 0) == 0, (try? write(Array("QUIT\r\n".utf8))) != nil { _ = try? readReply() }
        close()
    }

    /// Closes the connection (which takes it out of epoll) and drops what was waiting for it.
    private func close() {
        if let stream { hogmail_stream_close(stream) }
        stream = nil
        inputStart = 0
        inputEnd = 0
        outgoing.removeAll(keepingCapacity: true)
        sentPieces = 0
        sentBytes = 0
        deadline = 0
    }

    private func streamFailure(_ code: Int32) -> Failure {
        let detail = errorText.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch Int(code) {
        case HOGMAIL_STREAM_TLS_NAME: return .tlsName(detail)
        case HOGMAIL_STREAM_TLS_UNTRUSTED: return .tlsUntrusted(detail)
        case HOGMAIL_STREAM_TLS_CA_FILE: return .tlsCAFile(detail)
        case HOGMAIL_STREAM_TLS_HANDSHAKE: return .tlsHandshake(detail)
        default: return .connection(detail)
        }
    }

    // MARK: - Bytes

    private func write(_ first: [UInt8], _ second: [UInt8] = []) throws {
        guard let stream else { throw Failure.connection("the connection is closed") }
        let code = first.withUnsafeBytes { a in
            second.withUnsafeBytes { b in
                hogmail_stream_write(stream, a.baseAddress, a.count, b.baseAddress, b.count, &errorText, errorText.count)
            }
        }
        guard Int(code) == HOGMAIL_STREAM_OK else { throw streamFailure(code) }
    }

    /// The next reply, waiting for it (the session's set-up and QUIT, which are blocking).
    private func readReply(text wanted: Bool = false) throws -> Reply {
        while true {
            if let reply = try nextReply(text: wanted) { return reply }
            try makeRoom()
            guard let stream else { throw Failure.connection("the connection is closed") }
            let count = input.withUnsafeMutableBufferPointer { buffer in
                hogmail_stream_read(stream, buffer.baseAddress! + inputEnd, buffer.count - inputEnd, &errorText, errorText.count)
            }
            guard count > 0 else { throw streamFailure(Int32(-count)) }
            inputEnd += count
        }
    }

    // MARK: - Helpers

    /// The message as DATA carries it (RFC 5321 4.5.2): a line that starts with "." gets another
    /// in front, and the ending is CRLF "." CRLF. The bytes are the caller's own unless a line
    /// needs the extra dot. Lines are looked at up to `dotFreeFrom` (a line starting there
    /// too), when the caller knows none starts with "." after it.
    static let dotLine = Array(".\r\n".utf8), newlineDotLine = Array("\r\n.\r\n".utf8)

    /// `framed` of a message in pieces: the pieces as they are when no line before
    /// `dotFreeFrom` starts with "." (a line starting there too), which is the rule for a message
    /// the assembler made (only its headers are looked at); else the bytes joined and stuffed.
    static func framed(_ message: WireMessage) -> (body: WireMessage, ending: [UInt8]) {
        let ending = message.count == 0 || message.last == 0x0A ? Self.dotLine : Self.newlineDotLine
        let limit = message.dotFreeFrom.map { $0 >= 0 && $0 < message.count ? $0 + 1 : message.count } ?? message.count
        let needsStuffing = message.withBuffers { own, shared -> Bool in
            // `previous` is the byte before the piece: a "\n." may span two pieces.
            var previous: UInt8 = 0x0A
            var offset = 0
            for piece in message.pieces where offset < limit {
                let bytes = UnsafeRawBufferPointer(rebasing: (piece.isShared ? shared : own)[piece.range.prefix(limit - offset)])
                guard let base = bytes.baseAddress, !bytes.isEmpty else { continue }
                if previous == 0x0A && bytes[0] == 0x2E { return true }
                if bytes.count > 1, hogmail_find_line_dot(base, bytes.count) != nil { return true }
                previous = bytes[bytes.count - 1]
                offset += bytes.count
            }
            return false
        }
        guard needsStuffing else { return (message, ending) }
        let (body, _) = framed(message.joined(), dotFreeFrom: message.dotFreeFrom)
        return (WireMessage(body), ending)
    }

    static func framed(_ data: [UInt8], dotFreeFrom: Int? = nil) -> (body: [UInt8], ending: [UInt8]) {
        let ending = data.isEmpty || data.last == 0x0A ? Self.dotLine : Self.newlineDotLine
        // A "\n." pair is found when both its bytes are before `limit`.
        let limit = dotFreeFrom.map { $0 >= 0 && $0 < data.count ? $0 + 1 : data.count } ?? data.count
        let stuffAt = data.withUnsafeBufferPointer { bytes -> [Int] in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return [] }
            var positions: [Int] = bytes[0] == 0x2E ? [0] : []
            var from = 0
            while from < limit - 1, let found = hogmail_find_line_dot(base + from, limit - from) {
                let position = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found)) + 1
                positions.append(position)
                from = position
            }
            return positions
        }
        guard !stuffAt.isEmpty else { return (data, ending) }
        var body: [UInt8] = []
        body.reserveCapacity(data.count + stuffAt.count)
        var copied = 0
        for position in stuffAt {
            body += data[copied..<position]
            body.append(0x2E)
            copied = position
        }
        body += data[copied...]
        return (body, ending)
    }

    /// An address that cannot break out of `<…>` or the command line.
    static func isSafeEnvelopeAddress(_ address: String) -> Bool {
        !address.containsUTF8Byte { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }
    }

    /// Server text for a message or a log: UTF-8 (invalid bytes replaced), control characters as
    /// spaces, at most 500 characters.
    static func printable(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(2000), as: UTF8.self)
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        let trimmed = cleaned.trimmingCharacters(in: .whitespaces)
        return trimmed.count > 500 ? String(trimmed.prefix(500)) + "…" : trimmed
    }
}

extension SMTPConnection {
    /// Bytes waiting for the socket: commands (and a message's ending), or a message's body in
    /// its pieces.
    enum Outgoing {
        case bytes([UInt8])
        case message(WireMessage)

        var pieceCount: Int {
            switch self {
            case .bytes(let bytes): return bytes.isEmpty ? 0 : 1
            case .message(let message): return message.pieces.count
            }
        }

        /// In the second buffer of `withBuffers` when `isShared`, else in the first.
        func piece(_ index: Int) -> (isShared: Bool, range: Range<Int>) {
            switch self {
            case .bytes(let bytes): return (false, 0..<bytes.count)
            case .message(let message): return (message.pieces[index].isShared, message.pieces[index].range)
            }
        }

        func withBuffers<R>(_ body: (_ own: UnsafeRawBufferPointer, _ shared: UnsafeRawBufferPointer) -> R) -> R {
            switch self {
            case .bytes(let bytes): return bytes.withUnsafeBytes { body($0, UnsafeRawBufferPointer(start: nil, count: 0)) }
            case .message(let message): return message.withBuffers(body)
            }
        }
    }
}

private extension Optional where Wrapped == String {
    func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let string): return string.withCString { body($0) }
        case .none: return body(nil)
        }
    }
}
