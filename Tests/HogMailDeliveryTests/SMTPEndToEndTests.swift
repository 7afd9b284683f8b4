import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// Starts `Tests/servers/NAME` with python3 and returns the port from its `READY <port>` line.
func startServerScript(_ name: String, _ arguments: [String], process: Process, hint: String) throws -> Int {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("servers/\(name)")
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    var line = Data()
    while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
    guard let text = String(data: line, encoding: .utf8), text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
        kill(process.processIdentifier, SIGKILL)
        throw HogMailError("The test server \(name) did not start (\(hint)). It said: \(String(decoding: line, as: UTF8.self))")
    }
    return port
}

/// A real SMTP server (aiosmtpd, Tests/servers/smtp_server.py) on 127.0.0.1, started and
/// stopped (SIGKILL: a child may ignore SIGTERM) by the test.
final class SMTPTestServer: @unchecked Sendable {
    let process = Process()
    let folder: URL
    let port: Int

    init(_ arguments: [String] = []) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-smtp-\(UUID().uuidString)")
        port = try startServerScript("smtp_server.py", [folder.path] + arguments, process: process,
                                     hint: "is aiosmtpd installed? `make test` installs it")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stored messages: envelope recipient → message texts.
    func received() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".eml") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            let recipient = String((text.components(separatedBy: "\r\n").first ?? "").dropFirst("X-Envelope-To: ".count))
            result[recipient, default: []].append(text)
        }
        return result
    }

    /// Stored messages: envelope recipient → envelope sender (MAIL FROM).
    func envelopeSenders() throws -> [String: String] {
        var result: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasSuffix(".eml") {
            let lines = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).components(separatedBy: "\r\n")
            guard lines.count > 1 else { continue }
            result[String(lines[0].dropFirst("X-Envelope-To: ".count))] = String(lines[1].dropFirst("X-Envelope-From: ".count))
        }
        return result
    }

    func transport(connections: Int = 2) throws -> SMTPTransport {
        try SMTPTransport(settings: .init(url: "smtp://127.0.0.1:\(port)", tls: .none, username: nil, password: nil,
                                          connections: connections, heloDomain: "example.com"))
    }
}

@Suite(.serialized) struct SMTPEndToEndTests {
    @Test func everyConfirmedSubscriberGetsExactlyOneMessageThroughARealServer() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        let subscribers = try (1...20).map { try fixture.confirmed("reader\($0)@example.com") }
        try fixture.store.requestSubscription(email: "pending@example.com", name: nil, consent: .init(at: Date(), method: .form, source: "f"), actor: "t")
        let result = try await fixture.job(try server.transport(connections: 4)).run(fixture.issue, decision: .start)
        #expect(result?.1.ending == .completed)
        let received = try server.received()
        #expect(received.keys.sorted() == subscribers.map(\.email).sorted())
        for subscriber in subscribers {
            let messages = received[subscriber.email] ?? []
            #expect(messages.count == 1)
            let token = fixture.signer.unsubscribeToken(publicID: subscriber.publicID)
            #expect(messages.first?.contains("<https://newsletter.example.com/unsubscribe?token=\(token)&s=1>") == true)
            #expect(messages.first?.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click") == true)
            // The token verifies for this subscriber and no other.
            #expect(try fixture.signer.verify(token, purpose: .unsubscribe) == subscriber.publicID)
        }
    }

    /// VERP: every message's MAIL FROM is `bounces+TOKEN@domain`, the token signed and naming the
    /// send and the recipient, so a bounce needs no parsing of the bounced message to be placed.
    @Test func eachMessageCarriesItsOwnSignedEnvelopeSender() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        let subscribers = try (1...5).map { try fixture.confirmed("verp\($0)@example.com") }
        let result = try await fixture.job(try server.transport(connections: 2)).run(fixture.issue, decision: .start)
        let send = try #require(result?.0)
        let senders = try server.envelopeSenders()
        #expect(senders.count == 5)
        let bounce = fixture.configuration.list.bounceAddress
        let (local, domain) = (bounce.split(separator: "@")[0], bounce.split(separator: "@")[1])
        for subscriber in subscribers {
            let sender = try #require(senders[subscriber.email])
            #expect(sender.hasPrefix("\(local)+b1.") && sender.hasSuffix("@\(domain)"), "\(sender)")
            let token = String(sender.dropFirst(local.count + 1).prefix { $0 != "@" })
            let (sendID, publicID) = try fixture.signer.verifyBounce(token)
            #expect(sendID == send.id && publicID == subscriber.publicID)
        }
        #expect(Set(senders.values).count == 5)
        // A forged or altered token does not verify.
        let any = try #require(senders.values.first)
        let token = String(any.dropFirst(local.count + 1).prefix { $0 != "@" })
        #expect(throws: TokenSigner.Failure.self) { try fixture.signer.verifyBounce(token.replacingOccurrences(of: "b1.", with: "b1.z")) }
    }

    @Test func temporaryFailuresAndDropsAreDeliveredInTheEnd() async throws {
        let server = try SMTPTestServer(["--temp-fail", "0.3", "--drop", "0.15", "--seed", "7"])
        let fixture = try SendFixture()
        let subscribers = try (1...20).map { try fixture.confirmed("r\($0)@example.com") }
        var job = fixture.job(try server.transport())
        job.configuration.ratePerSecond = 0
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        var options = IssueSender.Options(perSecond: 0, perHour: 0)
        // Which message meets which fault depends on timing (two connections): with the backoff
        // capped and many attempts allowed, even a long run of bad luck ends in delivery.
        options.baseBackoff = 0.02
        options.maxBackoff = 0.2
        options.maxAttempts = 60
        options.maxWaitForRetries = 5
        let sender = IssueSender(configuration: job.configuration, store: fixture.store, signer: fixture.signer, transport: job.transport,
                                 message: fixture.issue.message, options: options)
        let summary = try await sender.run(send)
        #expect(summary.ending == .completed, "\(summary) \((try? fixture.store.dueRecipients(of: send, limit: 100, now: .distantFuture))?.map { "\($0.email) \($0.attempts) \($0.lastResponse ?? "")" })")
        let received = try server.received()
        #expect(Set(received.keys) == Set(subscribers.map(\.email)))
        // Drops mid-DATA may have left no copy, never two with different ids.
        for (_, messages) in received {
            let ids = Set(messages.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(ids.count == 1)
        }
        let failures = try fixture.store.failures(of: send).map { "\($0.email): \($0.lastResponse ?? "")" }
        #expect(try fixture.store.progress(of: send).sent == 20, "\(failures)")
    }

    @Test func mailboxUnknownFailsAndBouncesOnlyThoseAddresses() async throws {
        let server = try SMTPTestServer(["--reject-550", "nobody"])
        let fixture = try SendFixture()
        try fixture.confirmed("nobody1@example.com")
        try fixture.confirmed("ada@example.com")
        try fixture.confirmed("nobody2@example.com")
        let result = try await fixture.job(try server.transport()).run(fixture.issue, decision: .start)
        let failures = try fixture.store.failures(of: result!.0).map { "\($0.email): \($0.lastResponse ?? "")" }
        #expect(result?.1.failed == 2, "\(failures)")
        #expect(result?.1.bounced == 2)
        #expect(try server.received().keys.sorted() == ["ada@example.com"])
        #expect(try fixture.store.subscriber(email: "nobody1@example.com")?.status == .bounced)
        #expect(try fixture.store.failures(of: result!.0).first?.lastResponse?.hasPrefix("550") == true)
    }

    /// One event-loop thread carries all the connections: every message goes out once, and
    /// letting go of the transport stops the loop and frees it.
    @Test(.timeLimit(.minutes(1))) func messagesSpreadOverTheConnectionsGoOutOnceAndTheTransportStops() async throws {
        let server = try SMTPTestServer()
        var transport: SMTPTransport? = try SMTPTransport(
            settings: .init(url: "smtp://127.0.0.1:\(server.port)", tls: .none, username: nil, password: nil, connections: 5, heloDomain: "example.com"))
        #expect(transport?.threadsInUse == 1)
        weak let released = transport
        let sender = transport!
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                let message = OutgoingMessage(from: "hogmail@example.com", to: "reader\(i)@example.com", messageID: "<\(i)@example.com>",
                                              data: "Message-ID: <\(i)@example.com>\r\nSubject: \(i)\r\n\r\nHello \(i).\r\n")
                group.addTask { try await sender.send(message) }
            }
            try await group.waitForAll()
        }
        let received = try server.received()
        #expect(received.count == 40)
        #expect(received.values.allSatisfy { $0.count == 1 })
        #expect(received["reader7@example.com"]?.first?.contains("Hello 7.") == true)
        transport = nil
        _ = consume sender
        #expect(released == nil, "the transport's threads kept it alive")
    }

    @Test func plainSMTPOffThisMachineOrWithAPasswordIsRefused() {
        #expect(throws: HogMailError.self) {
            try SMTPTransport(settings: .init(url: "smtp://mail.example.com:25", tls: .none, username: nil, password: nil, connections: 1, heloDomain: "x"))
        }
        #expect(throws: HogMailError.self) {
            try SMTPTransport(settings: .init(url: "smtp://127.0.0.1:25", tls: .none, username: "u", password: "p", connections: 1, heloDomain: "x"))
        }
    }
}
