import Foundation
import Testing

@testable import HogMail
@testable import HogMailDelivery

/// A mail server on 127.0.0.1 that follows a script, for what aiosmtpd will not stage: a server
/// that injects text before TLS, answers garbage or endless lines, closes a kept connection,
/// or checks that commands come one at a time.
final class ScriptedSMTPServer: @unchecked Sendable {
    /// One accepted connection, as the script sees it.
    final class Session: @unchecked Sendable {
        let index: Int
        private let descriptor: Int32
        private var buffer: [UInt8] = []

        init(index: Int, descriptor: Int32) {
            self.index = index
            self.descriptor = descriptor
            // Long: a test process whose threads are busy may take its time with the next message.
            var limit = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }

        /// The next line the client sent, without CRLF; nil when it closed.
        func line() -> String? {
            while true {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[..<newline].last == 0x0D ? Array(buffer[..<(newline - 1)]) : Array(buffer[..<newline])
                    buffer.removeFirst(newline + 1)
                    return String(decoding: line, as: UTF8.self)
                }
                var chunk = [UInt8](repeating: 0, count: 65536)
                let count = recv(descriptor, &chunk, chunk.count, 0)
                guard count > 0 else { return nil }
                buffer += chunk[..<count]
            }
        }

        /// Whether more of what the client sent is already here, past the line just read: the
        /// client wrote it without waiting for a reply.
        var hasMoreInput: Bool { !buffer.isEmpty }

        /// The message after a 354, up to its ending dot, as the wire carries it (dots doubled).
        func data() -> [String] {
            var lines: [String] = []
            while let line = line(), line != "." { lines.append(line) }
            return lines
        }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        func close() { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var sessions = 0
    private var transcript: [String] = []

    /// `script` runs on its own thread for each connection.
    init(_ script: @escaping @Sendable (Session, ScriptedSMTPServer) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, size) == 0 && getsockname(listener, $0, &size) == 0 }
        }
        guard bound, listen(listener, 16) == 0 else { throw HogMailError("The scripted SMTP server cannot listen: \(String(cString: strerror(errno))).") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [listener, weak self] in
            while true {
                let descriptor = accept(listener, nil, nil)
                guard descriptor >= 0, let self else { return }
                let index = self.lock.withLock { () -> Int in
                    self.sessions += 1
                    return self.sessions
                }
                let session = Session(index: index, descriptor: descriptor)
                Thread {
                    script(session, self)
                    Glibc.close(descriptor)
                }.start()
            }
        }
        thread.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// How many connections the client opened.
    var connections: Int { lock.withLock { sessions } }

    /// Notes something the script saw, for the test to check.
    func note(_ text: String) { lock.withLock { transcript.append(text) } }
    var notes: [String] { lock.withLock { transcript } }

    func transport(tls: SMTPTransport.Settings.TLS = .none, timeout: TimeInterval = 5, connections: Int = 1) throws -> SMTPTransport {
        var settings = SMTPTransport.Settings(url: "smtp://127.0.0.1:\(port)", tls: tls, username: nil, password: nil, connections: connections, heloDomain: "example.com")
        settings.timeout = timeout
        return try SMTPTransport(settings: settings)
    }

    /// A well-behaved server that offers PIPELINING.
    static func pipelining() throws -> ScriptedSMTPServer {
        try ScriptedSMTPServer { session, server in
            guard greet(session, offering: ["PIPELINING"]) else { return }
            serve(session, server)
        }
    }

    /// Greeting and EHLO, offering `extensions`.
    static func greet(_ session: Session, offering extensions: [String]) -> Bool {
        session.send("220 mail.example.net ESMTP\r\n")
        guard let ehlo = session.line(), ehlo.hasPrefix("EHLO ") else { return false }
        let lines = ["mail.example.net"] + extensions
        session.send(lines.enumerated().map { "250\($0.offset == lines.count - 1 ? " " : "-")\($0.element)\r\n" }.joined())
        return true
    }

    /// Takes one pipelined message (MAIL, RCPT and DATA, then the message) and notes it; false
    /// when the client closed first.
    static func takePipelinedMessage(_ session: Session, _ server: ScriptedSMTPServer) -> Bool {
        guard session.line() != nil, session.line() != nil, session.line() != nil else { return false }
        session.send("250 ok\r\n250 ok\r\n354 go\r\n")
        server.note("message: " + session.data().joined(separator: "\n"))
        session.send("250 queued\r\n")
        return true
    }

    /// Answers a whole session the way a well-behaved server does, noting every command and
    /// each message's lines, until QUIT or the client closes.
    /// `dataWithoutRecipients`: answers DATA with 354 even when every RCPT was refused, as RFC
    /// 2920 says a server should not.
    static func serve(_ session: Session, _ server: ScriptedSMTPServer, dataWithoutRecipients: Bool = false,
                      rcpt: (String) -> String = { _ in "250 2.1.5 ok" }) {
        var recipients = 0
        while let line = session.line() {
            server.note(line)
            switch line.prefix(4).uppercased() {
            case "MAIL":
                recipients = 0
                session.send("250 2.1.0 ok\r\n")
            case "RCPT":
                let reply = rcpt(line)
                if reply.hasPrefix("2") { recipients += 1 }
                session.send(reply + "\r\n")
            case "DATA" where recipients == 0 && !dataWithoutRecipients:
                session.send("554 5.5.1 no valid recipients\r\n")
            case "DATA":
                session.send("354 go ahead\r\n")
                server.note("message: " + session.data().joined(separator: "\n"))
                session.send("250 2.0.0 queued\r\n")
            case "RSET": session.send("250 2.0.0 reset\r\n")
            case "QUIT":
                session.send("221 bye\r\n")
                return
            default: session.send("500 5.5.1 unknown command\r\n")
            }
        }
    }
}

@Suite struct SMTPClientTests {
    static func message(to: String = "reader@example.com", body: String = "Hello.\r\n") -> OutgoingMessage {
        OutgoingMessage(from: "news@example.com", to: to, messageID: "<1@example.com>", data: "Subject: Hi\r\n\r\n" + body)
    }

    static func sendExpectingFailure(_ transport: SMTPTransport, _ message: OutgoingMessage = message()) async -> DeliveryError? {
        do {
            try await transport.send(message)
            return nil
        } catch {
            return error as? DeliveryError
        }
    }

    // MARK: - The wire format

    @Test func aLineThatStartsWithADotGetsAnotherAndTheMessageEndsWithADotLine() {
        let (body, ending) = SMTPConnection.framed(Array(".first\r\nmiddle\r\n..two\r\nlast.\r\n".utf8))
        #expect(String(decoding: body, as: UTF8.self) == "..first\r\nmiddle\r\n...two\r\nlast.\r\n")
        #expect(String(decoding: ending, as: UTF8.self) == ".\r\n")
    }

    /// The scan looks at sixteen bytes at a time: a line-start dot at every offset around
    /// those blocks' edges, and at the very end, is found, and a dot after any other byte is not.
    @Test func aLineStartDotIsFoundAtEveryOffsetAroundTheScansBlocks() {
        for length in 1...70 {
            for position in 0..<length {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                bytes[position] = 0x2E
                if position > 0 { bytes[position - 1] = 0x0A }
                let (body, _) = SMTPConnection.framed(bytes)
                var expected = bytes
                expected.insert(0x2E, at: position)
                #expect(body == expected, "a dot at \(position) of \(length)")
            }
            var noLineStart = [UInt8](repeating: UInt8(ascii: "."), count: length)
            noLineStart[0] = UInt8(ascii: "x")
            #expect(SMTPConnection.framed(noLineStart).body == noLineStart)
            #expect(SMTPConnection.framed(Array(repeating: 0x0A, count: length)).body == Array(repeating: 0x0A, count: length))
        }
    }

    /// An offset the message cannot have (negative, past the end, the largest Int) means
    /// nothing is known: every line is looked at.
    @Test(arguments: [-1, 11, 12, Int.max, Int.min])
    func aDotFreeOffsetOutsideTheMessageScansAllOfIt(offset: Int) {
        let message = Array("a\r\n.b\r\n.c".utf8)
        #expect(SMTPConnection.framed(message, dotFreeFrom: offset) == SMTPConnection.framed(message))
        #expect(SMTPConnection.framed(message, dotFreeFrom: offset).body == Array("a\r\n..b\r\n..c".utf8))
    }

    @Test func newBytesForAMessageForgetWhereItsDotFreeTailWas() {
        var message = OutgoingMessage(from: "a@example.com", to: "b@example.com", messageID: "<m@x>", data: "a\r\n")
        message.dotFreeFrom = 0
        message.data = Array(".a\r\n".utf8)
        #expect(message.dotFreeFrom == nil)
    }

    @Test func aMessageWithoutDotsGoesAsItIsAndOneWithoutAFinalLineBreakGetsOne() {
        let (body, ending) = SMTPConnection.framed(Array("a\r\nb".utf8))
        #expect(body == Array("a\r\nb".utf8))
        #expect(String(decoding: ending, as: UTF8.self) == "\r\n.\r\n")
    }

    /// `bytes` cut into three pieces at `cuts`, the middle one from the shared buffer.
    static func pieces(_ bytes: [UInt8], cuts: (Int, Int), dotFreeFrom: Int? = nil) -> WireMessage {
        var message = WireMessage(own: bytes, shared: bytes, pieces: 3)
        message.append(.init(isShared: false, range: 0..<cuts.0))
        message.append(.init(isShared: true, range: cuts.0..<cuts.1))
        message.append(.init(isShared: false, range: cuts.1..<bytes.count))
        message.dotFreeFrom = dotFreeFrom
        return message
    }

    /// However a message is cut into pieces, it is framed as its bytes would be: a line-start
    /// dot at a piece's first byte (after a line break at the end of the one before) included.
    @Test func aMessageInPiecesIsFramedAsItsBytesWouldBe() {
        let texts = ["a\r\n.b\r\nc", ".a\r\nb", "ab\r\ncd\r\n", "a\r\n\r\n..\r\n.", "\n.\n.\n"]
        for text in texts {
            let bytes = Array(text.utf8)
            for first in 0...bytes.count {
                for second in first...bytes.count {
                    for dotFreeFrom in [nil, 0, first, second, bytes.count] as [Int?] {
                        let message = Self.pieces(bytes, cuts: (first, second), dotFreeFrom: dotFreeFrom)
                        let (body, ending) = SMTPConnection.framed(message)
                        let expected = SMTPConnection.framed(bytes, dotFreeFrom: dotFreeFrom)
                        #expect(body.joined() == expected.body && ending == expected.ending, "\(text.debugDescription) cut at \(first), \(second), dot-free from \(String(describing: dotFreeFrom))")
                    }
                }
            }
        }
    }

    /// A message with nothing to stuff keeps its pieces: the template's bytes go from where they are.
    @Test func aMessageInPiecesWithNothingToStuffKeepsItsPieces() {
        let message = Self.pieces(Array("Subject: x\r\n\r\nbody\r\n.hidden\r\n".utf8), cuts: (14, 20), dotFreeFrom: 14)
        #expect(SMTPConnection.framed(message).body.pieces == message.pieces)
        // Without the template's word, the dot at 20 is found, and the bytes are stuffed in one piece.
        var unknown = message
        unknown.dotFreeFrom = nil
        #expect(SMTPConnection.framed(unknown).body.pieces.count == 1)
    }

    /// A message of more pieces than one write takes, bigger than the socket's buffers, to a
    /// server that reads slowly: writes stop inside pieces and go on from there, and the server
    /// gets every byte once, in order.
    @Test func aLargeMessageInManyPiecesArrivesWholeThroughPartialWrites() async throws {
        var own: [UInt8] = Array("Subject: pieces\r\n\r\n".utf8)
        var shared: [UInt8] = []
        var layout: [(Bool, Range<Int>)] = [(false, 0..<own.count)]
        for index in 0..<(SMTPConnection.maximumVectors + 90) {
            let line = Array("line \(index) ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 60) + [13, 10]
            if index % 2 == 0 {
                // A long shared run, then a short line of the recipient's own.
                let start = shared.count
                for _ in 0..<400 { shared += line }
                layout.append((true, start..<shared.count))
            } else {
                let start = own.count
                own += line
                layout.append((false, start..<own.count))
            }
        }
        var message = WireMessage(own: own, shared: shared, pieces: layout.count)
        for (isShared, range) in layout { message.append(.init(isShared: isShared, range: range)) }
        message.dotFreeFrom = 0
        #expect(message.pieces.count > SMTPConnection.maximumVectors)
        #expect(message.count > 4_000_000)
        let expected = String(decoding: message.joined(), as: UTF8.self)
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            guard session.line() != nil, session.line() != nil, session.line() != nil else { return }
            session.send("250 ok\r\n250 ok\r\n354 go\r\n")
            // The client fills the socket while this waits, then again while it reads.
            Thread.sleep(forTimeInterval: 0.3)
            var lines: [String] = []
            while let line = session.line(), line != "." {
                lines.append(line)
                if lines.count % 20_000 == 0 { Thread.sleep(forTimeInterval: 0.1) }
            }
            server.note(lines.joined(separator: "\r\n") + "\r\n")
            session.send("250 queued\r\n")
            ScriptedSMTPServer.serve(session, server)
        }
        let transport = try server.transport(timeout: 30)
        try await transport.send(OutgoingMessage(from: "news@example.com", to: "reader@example.com", messageID: "<1@example.com>", wire: message))
        let received = try #require(server.notes.first)
        #expect(received.utf8.count == expected.utf8.count)
        #expect(received == expected)
    }

    @Test func capabilitiesComeFromTheEHLOReplyInAnyCaseAndBothAUTHForms() {
        let capabilities = SMTPConnection.Capabilities(ehloLines: ["mail.example.net greets you", "pipelining", "SIZE 10240000", "AUTH=LOGIN", "AUTH PLAIN LOGIN", "STARTTLS", "SMTPUTF8"])
        #expect(capabilities.pipelining && capabilities.size && capabilities.startTLS && capabilities.smtpUTF8)
        #expect(capabilities.auth == ["LOGIN", "PLAIN"])
        #expect(SMTPConnection.Capabilities(ehloLines: ["PIPELINING only in the greeting line"]) == SMTPConnection.Capabilities())
    }

    // MARK: - Talking to servers

    @Test func withPipeliningTheEnvelopeGoesInOneWriteAndTheDotsComeBackUndoubled() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING", "SIZE 1000000"]) else { return }
            guard let mail = session.line() else { return }
            server.note(mail)
            server.note("more after MAIL: \(session.hasMoreInput)")
            guard let rcpt = session.line(), let data = session.line() else { return }
            server.note(rcpt)
            server.note(data)
            session.send("250 ok\r\n250 ok\r\n354 go ahead\r\n")
            server.note("message: " + session.data().joined(separator: "\n"))
            session.send("250 queued\r\n")
            ScriptedSMTPServer.serve(session, server)
        }
        let transport = try server.transport()
        let message = Self.message(body: "Hello.\r\n.hidden line\r\n")
        try await transport.send(message)
        let notes = server.notes
        #expect(notes.prefix(4) == ["MAIL FROM:<news@example.com> SIZE=\(message.data.count)", "more after MAIL: true", "RCPT TO:<reader@example.com>", "DATA"])
        #expect(notes.contains("message: Subject: Hi\n\nHello.\n..hidden line"))
    }

    /// Queues `count` messages at once (before the server has even greeted, when the script
    /// waits a little), so each can ride behind the one before; throws the first failure.
    static func sendAll(_ transport: SMTPTransport, count: Int) async throws {
        let outcomes = SendOutcomes()
        for i in 1...count {
            outcomes.expect()
            transport.submit(message(to: "r\(i)@example.com"), tag: i, to: outcomes)
        }
        var done = 0
        while done < count {
            for outcome in await outcomes.next(lowWater: 0) {
                if let error = outcome.error { throw error }
                done += 1
            }
        }
    }

    @Test func theNextEnvelopeRidesBehindTheEndingDotAndItsMessageWaitsForItsOwn354() async throws {
        let server = try ScriptedSMTPServer { session, server in
            Thread.sleep(forTimeInterval: 0.2)
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            var pendingData = false
            while let line = session.line() {
                switch line.prefix(4) {
                case "MAIL", "RCPT": session.send("250 ok\r\n")
                case "DATA":
                    pendingData = true
                    // The client must not send its message before this 354: nothing else may be here.
                    if session.hasMoreInput { server.note("message before its 354") }
                    session.send("354 go ahead\r\n")
                    _ = session.data()
                    server.note(session.hasMoreInput ? "envelope behind the dot" : "nothing behind the dot")
                    session.send("250 queued\r\n")
                    pendingData = false
                default:
                    session.send("221 bye\r\n")
                    return
                }
            }
            _ = pendingData
        }
        let transport = try server.transport()
        try await Self.sendAll(transport, count: 3)
        #expect(server.connections == 1)
        #expect(!server.notes.contains("message before its 354"))
        #expect(server.notes.filter { $0 == "envelope behind the dot" }.count == 2, "\(server.notes)")
    }

    @Test func aServerThatClosesAfterAMessageGetsTheEnvelopeBehindItAgainOnANewConnection() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            if session.index == 1 {
                // One message a connection: the next envelope, already sent, gets a 421 and the end.
                guard ScriptedSMTPServer.takePipelinedMessage(session, server) else { return }
                _ = session.line()
                session.send("421 4.7.0 one message a connection\r\n")
                session.close()
                return
            }
            ScriptedSMTPServer.serve(session, server)
        }
        let transport = try server.transport()
        try await Self.sendAll(transport, count: 2)
        let messages = server.notes.filter { $0.hasPrefix("message:") }
        #expect(messages.count == 2, "\(server.notes)")
        #expect(server.connections == 2)
    }

    @Test func withoutPipeliningEachCommandWaitsForItsReply() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: []) else { return }
            while let line = session.line() {
                if session.hasMoreInput { server.note("pipelined after \(line)") }
                switch line.prefix(4) {
                case "MAIL", "RCPT", "RSET": session.send("250 ok\r\n")
                case "DATA":
                    session.send("354 go ahead\r\n")
                    _ = session.data()
                    // Noted before the reply: the client returns as soon as it has it.
                    server.note("delivered")
                    session.send("250 queued\r\n")
                default:
                    session.send("221 bye\r\n")
                    return
                }
            }
        }
        let transport = try server.transport()
        try await transport.send(Self.message())
        try await transport.send(Self.message(to: "second@example.com"))
        #expect(server.notes == ["delivered", "delivered"])
    }

    @Test func aRefusedRecipientResetsTheTransactionAndTheNextMessageUsesTheSameConnection() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            ScriptedSMTPServer.serve(session, server) { $0.contains("gone@") ? "550-5.1.1 The mailbox gone@example.com\r\n550 5.1.1 does not exist here" : "250 ok" }
        }
        let transport = try server.transport()
        let failure = await Self.sendExpectingFailure(transport, Self.message(to: "gone@example.com"))
        #expect(failure == .permanent("550 5.1.1 The mailbox gone@example.com 5.1.1 does not exist here", mailboxUnknown: true))
        try await transport.send(Self.message(to: "here@example.com"))
        #expect(server.connections == 1)
        #expect(server.notes.contains("RSET"))
        #expect(server.notes.filter { $0.hasPrefix("message:") }.count == 1)
    }

    @Test func aGoAheadForDATAAfterARefusedRecipientGetsAnEmptyMessageAndTheRefusalCounts() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            ScriptedSMTPServer.serve(session, server, dataWithoutRecipients: true) { _ in "550 5.1.1 user unknown" }
        }
        let failure = await Self.sendExpectingFailure(try server.transport())
        #expect(failure == .permanent("550 5.1.1 user unknown", mailboxUnknown: true))
        #expect(server.notes.contains("message: "))
        #expect(!server.notes.contains { $0.hasPrefix("message: Subject") })
    }

    @Test func aKeptConnectionTheServerClosedIsOpenedAgainAndTheMessageGoesOnce() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            if session.index == 1 {
                // One message, then the connection ends as an idle timeout ends it: no reply, no 421.
                guard ScriptedSMTPServer.takePipelinedMessage(session, server) else { return }
                session.close()
                return
            }
            ScriptedSMTPServer.serve(session, server)
        }
        let transport = try server.transport()
        try await transport.send(Self.message(to: "one@example.com"))
        try await Task.sleep(for: .milliseconds(100))
        try await transport.send(Self.message(to: "two@example.com"))
        #expect(server.connections == 2)
        #expect(server.notes.filter { $0.hasPrefix("message:") }.count == 2)
    }

    @Test func textInjectedBeforeTheTLSHandshakeStopsTheSend() async throws {
        let server = try ScriptedSMTPServer { session, _ in
            guard ScriptedSMTPServer.greet(session, offering: ["STARTTLS"]), session.line() == "STARTTLS" else { return }
            // A man in the middle appends a reply that the client would read as if it came over TLS.
            session.send("220 2.0.0 ready\r\n250-injected\r\n250 AUTH PLAIN\r\n")
            _ = session.line()
        }
        let failure = await Self.sendExpectingFailure(try server.transport(tls: .required))
        guard case .configuration(let sentence) = failure else {
            Issue.record("expected a configuration failure, got \(String(describing: failure))")
            return
        }
        #expect(sentence.contains("TLS handshake") && sentence.contains("may have been injected"), "\(sentence)")
    }

    @Test func aServerThatAnswersSomethingElseThanSMTPIsATemporaryFailure() async throws {
        let server = try ScriptedSMTPServer { session, _ in
            session.send("HTTP/1.1 400 Bad Request\r\n\r\n")
            _ = session.line()
        }
        let failure = await Self.sendExpectingFailure(try server.transport())
        #expect(failure == .temporary("the server answered something that is not SMTP: HTTP/1.1 400 Bad Request"))
    }

    @Test func anEndlessReplyLineIsRefusedWithoutGrowingForever() async throws {
        let server = try ScriptedSMTPServer { session, _ in
            let chunk = String(repeating: "2", count: 16384)
            for _ in 0..<8 { session.send(chunk) }
            _ = session.line()
        }
        let failure = await Self.sendExpectingFailure(try server.transport())
        #expect(failure == .temporary("the server sent a line of over 65536 bytes, which is not SMTP"))
    }

    @Test func aServerThatStopsAnsweringFailsTheMessageAfterTheTimeout() async throws {
        let server = try ScriptedSMTPServer { session, _ in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            _ = session.line()
            Thread.sleep(forTimeInterval: 3)
        }
        let failure = await Self.sendExpectingFailure(try server.transport(timeout: 0.3))
        guard case .temporary(let text) = failure else {
            Issue.record("expected a temporary failure, got \(String(describing: failure))")
            return
        }
        #expect(text.contains("timed out"), "\(text)")
    }

    @Test func anEnvelopeAddressWithALineBreakNeverReachesTheServer() async throws {
        let server = try ScriptedSMTPServer.pipelining()
        let transport = try server.transport()
        let failure = await Self.sendExpectingFailure(transport, Self.message(to: "a@example.com>\r\nRCPT TO:<evil@example.net"))
        guard case .permanent(let text, mailboxUnknown: false) = failure else {
            Issue.record("expected a permanent failure, got \(String(describing: failure))")
            return
        }
        #expect(text.contains("line break"))
        #expect(!server.notes.contains { $0.hasPrefix("MAIL") || $0.hasPrefix("RCPT") })
    }

    @Test func aReturnPathWithALineBreakNeverReachesTheServer() async throws {
        let server = try ScriptedSMTPServer.pipelining()
        var message = Self.message()
        message.returnPath = "bounces@example.com>\r\nRCPT TO:<evil@example.net"
        let failure = await Self.sendExpectingFailure(try server.transport(), message)
        guard case .permanent(let text, mailboxUnknown: false) = failure else {
            Issue.record("expected a permanent failure, got \(String(describing: failure))")
            return
        }
        #expect(text.contains("bounces@example.com") && text.contains("line break"), "\(text)")
        #expect(!server.notes.contains { $0.hasPrefix("MAIL") || $0.hasPrefix("RCPT") })
    }

    @Test func aRefusedSenderIsTheOutcomeWhenTheRecipientAndDATAAreRefusedBehindIt() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            while let line = session.line() {
                server.note(line)
                switch line.prefix(4) {
                case "MAIL": session.send("550 5.7.1 sender refused\r\n")
                case "RCPT", "DATA": session.send("503 5.5.1 MAIL first\r\n")
                case "RSET": session.send("250 2.0.0 reset\r\n")
                default:
                    session.send("221 bye\r\n")
                    return
                }
            }
        }
        let failure = await Self.sendExpectingFailure(try server.transport())
        guard case .permanent(let text, _) = failure else {
            Issue.record("expected a permanent failure, got \(String(describing: failure))")
            return
        }
        #expect(text == "550 5.7.1 sender refused")
        #expect(server.notes.contains("RSET"))
    }

    @Test func anAddressThatIsNotASCIIAsksForSMTPUTF8WhenTheServerOffersIt() async throws {
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING", "SMTPUTF8"]) else { return }
            ScriptedSMTPServer.serve(session, server)
        }
        try await server.transport().send(Self.message(to: "zoë@example.com"))
        #expect(server.notes.contains("MAIL FROM:<news@example.com> SMTPUTF8"))
        #expect(server.notes.contains("RCPT TO:<zoë@example.com>"))
    }

    @Test func aGreetingThatTurnsTheClientAwayStopsTheSend() async throws {
        let server = try ScriptedSMTPServer { session, _ in
            session.send("554 5.7.1 mail.example.net does not take mail from 127.0.0.1\r\n")
            _ = session.line()
        }
        let failure = await Self.sendExpectingFailure(try server.transport())
        guard case .configuration(let sentence) = failure else {
            Issue.record("expected a configuration failure, got \(String(describing: failure))")
            return
        }
        #expect(sentence.contains("refuses this client (554 5.7.1 mail.example.net does not take mail from 127.0.0.1)"), "\(sentence)")
    }

    @Test func aServerThatKnowsOnlyHELOStillGetsTheMessage() async throws {
        let server = try ScriptedSMTPServer { session, server in
            session.send("220 old.example.net SMTP\r\n")
            guard session.line()?.hasPrefix("EHLO") == true else { return }
            session.send("502 5.5.2 command not recognized\r\n")
            guard let helo = session.line() else { return }
            server.note(helo)
            session.send("250 old.example.net\r\n")
            ScriptedSMTPServer.serve(session, server)
        }
        try await server.transport().send(Self.message())
        #expect(server.notes.first == "HELO example.com")
        #expect(server.notes.filter { $0.hasPrefix("message:") }.count == 1)
    }

    // MARK: - A journal that answers later (a server store)

    /// What happened, in order, across the server's threads and the journal's.
    final class Timeline: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [String] = []
        func add(_ event: String) { lock.withLock { events.append(event) } }
        var all: [String] { lock.withLock { events } }
    }

    /// A message whose journal line is written `delay` seconds after the server accepted it,
    /// on a thread of its own, as `ServerJournal` does; `fail` makes the line fail.
    static func journaledLater(_ i: Int, _ timeline: Timeline, delay: TimeInterval = 0.05, fail: Bool = false,
                               gate: DispatchSemaphore? = nil) -> OutgoingMessage {
        var message = message(to: "r\(i)@example.com", body: "Message \(i).\r\n")
        message.accepted = { Issue.record("a transport with an event loop must not journal inline") }
        message.acceptedLater = { done in
            Thread {
                gate?.wait()
                Thread.sleep(forTimeInterval: delay)
                timeline.add("journaled \(i)")
                done(fail ? HogMailError("the store is gone") : nil)
            }.start()
        }
        return message
    }

    @Test func aConnectionSendsNoMessageUntilTheLineOfItsLastOneIsWritten() async throws {
        let timeline = Timeline()
        let server = try ScriptedSMTPServer { session, server in
            guard ScriptedSMTPServer.greet(session, offering: ["PIPELINING"]) else { return }
            while let line = session.line() {
                switch line.prefix(4) {
                case "MAIL", "RCPT": session.send("250 ok\r\n")
                case "DATA":
                    session.send("354 go ahead\r\n")
                    let body = session.data()
                    timeline.add("arrived " + (body.last ?? ""))
                    session.send("250 queued\r\n")
                default:
                    session.send("221 bye\r\n")
                    return
                }
            }
        }
        let transport = try server.transport()
        let outcomes = SendOutcomes()
        for i in 1...3 {
            outcomes.expect()
            transport.submit(Self.journaledLater(i, timeline), tag: i, to: outcomes)
        }
        var tags: [Int] = []
        while tags.count < 3 {
            for outcome in await outcomes.next(lowWater: 0) {
                #expect(outcome.error == nil)
                tags.append(outcome.tag)
            }
        }
        #expect(tags == [1, 2, 3])
        #expect(timeline.all == ["arrived Message 1.", "journaled 1", "arrived Message 2.", "journaled 2", "arrived Message 3.", "journaled 3"])
        #expect(server.connections == 1)
    }

    @Test func whileOneConnectionWaitsForItsLineTheOthersGoOn() async throws {
        let timeline = Timeline()
        let server = try ScriptedSMTPServer.pipelining()
        let transport = try server.transport(connections: 2)
        let gate = DispatchSemaphore(value: 0)
        let outcomes = SendOutcomes()
        // The first message's line is written only once three of the four after it are done
        // (or after 10 s, so a wrong transport fails this test instead of hanging it). The
        // message pipelined behind the first one on its connection waits with it.
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) { gate.signal() }
        outcomes.expect()
        transport.submit(Self.journaledLater(1, timeline, delay: 0, gate: gate), tag: 1, to: outcomes)
        for i in 2...5 {
            outcomes.expect()
            transport.submit(Self.journaledLater(i, timeline, delay: 0), tag: i, to: outcomes)
        }
        var early: [Int] = []
        while early.count < 3 {
            for outcome in await outcomes.next(lowWater: 2) {
                #expect(outcome.error == nil)
                early.append(outcome.tag)
            }
        }
        #expect(!early.contains(1))
        #expect(timeline.all.prefix(3).allSatisfy { $0 != "journaled 1" }, "\(timeline.all)")
        gate.signal()
        var late: [Int] = []
        while early.count + late.count < 5 {
            for outcome in await outcomes.next(lowWater: 0) {
                #expect(outcome.error == nil)
                late.append(outcome.tag)
            }
        }
        #expect(late.contains(1))
        #expect(Set(early + late) == [1, 2, 3, 4, 5])
        #expect(server.notes.filter { $0.hasPrefix("message:") }.count == 5)
    }

    @Test func aLineTheJournalCannotWriteIsAJournalFailureAndNothingMoreIsSent() async throws {
        let timeline = Timeline()
        let server = try ScriptedSMTPServer.pipelining()
        let transport = try server.transport()
        let outcomes = SendOutcomes()
        // The first message's line fails; the second rides behind it (its envelope only), the
        // third waits in the queue, the fourth comes after the failure.
        for i in 1...3 {
            outcomes.expect()
            transport.submit(Self.journaledLater(i, timeline, fail: i == 1), tag: i, to: outcomes)
        }
        var errors: [Int: any Error] = [:]
        while errors.count < 3 {
            for outcome in await outcomes.next(lowWater: 0) { errors[outcome.tag] = outcome.error }
        }
        outcomes.expect()
        transport.submit(Self.journaledLater(4, timeline), tag: 4, to: outcomes)
        for outcome in await outcomes.next(lowWater: 0) { errors[outcome.tag] = outcome.error }
        #expect(errors[1] is JournalFailure, "\(String(describing: errors[1]))")
        #expect("\(errors[1].map { "\($0)" } ?? "")" == "the store is gone")
        for tag in 2...4 {
            guard case .temporary(let reason)? = errors[tag] as? DeliveryError else {
                Issue.record("message \(tag): expected a temporary failure, got \(String(describing: errors[tag]))")
                continue
            }
            #expect(reason.contains("it was not sent: the journal could not record"), "\(reason)")
        }
        // Only the first message reached the server: the others would have been sent twice.
        // (The second one's envelope went; the server saw the connection close after its 354.)
        #expect(server.notes.filter { $0.hasPrefix("message:") && $0.contains("Message ") } == ["message: Subject: Hi\n\nMessage 1."], "\(server.notes)")
    }

    @Test func aStalledJournalIsNotAStalledServer() async throws {
        // The journal takes longer than the SMTP timeout: the connection is waiting for the
        // store, not for the server, so nothing times out and the next message goes on it.
        let timeline = Timeline()
        let server = try ScriptedSMTPServer.pipelining()
        let transport = try server.transport(timeout: 0.3)
        let outcomes = SendOutcomes()
        for i in 1...2 {
            outcomes.expect()
            transport.submit(Self.journaledLater(i, timeline, delay: 0.8), tag: i, to: outcomes)
        }
        var errors: [String] = []
        var count = 0
        while count < 2 {
            for outcome in await outcomes.next(lowWater: 0) {
                count += 1
                if let error = outcome.error { errors.append("\(error)") }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        #expect(server.connections == 1)
        #expect(server.notes.filter { $0.hasPrefix("message:") }.count == 2)
    }
}
