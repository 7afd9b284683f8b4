import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailInbound
@testable import HogMailStore

/// A private Postfix on 127.0.0.1 (Tests/servers/postfix_bounces.py) takes a real send from
/// HogMail, fails some recipients after accepting them, and writes its own DSNs to the VERP
/// address's Maildir; `process-mail` reads them. Nothing here is hand-written mail.
final class PostfixTestServer: @unchecked Sendable {
    let process = Process()
    let folder: URL
    let port: Int
    var maildir: URL { folder.appendingPathComponent("Maildir") }

    init() throws {
        // virtual(8) delivers as nobody, so the folder must be reachable by others (/tmp is).
        folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("hogmail-postfix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = try startServerScript("postfix_bounces.py", [folder.path], process: process,
                                     hint: "is Postfix installed, and are the tests run as root? `make test` installs it")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The script's watchdog stops Postfix after a SIGKILL; --stop makes sure before the folder goes.
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        stop.arguments = ["python3", URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("servers/postfix_bounces.py").path, folder.path, "--stop"]
        stop.standardOutput = FileHandle.nullDevice
        stop.standardError = FileHandle.nullDevice
        try? stop.run()
        stop.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Waits until `count` messages are in Maildir/new (or the time is up); returns their names.
    func waitForMessages(_ count: Int, seconds: Double) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        var names: [String] = []
        while Date() < deadline {
            names = (try? FileManager.default.contentsOfDirectory(atPath: maildir.appendingPathComponent("new").path)) ?? []
            if names.count >= count { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return names
    }
}

@Suite struct PostfixBounceTests {
    @Test func postfixsOwnDSNsAreReadHardAndSoft() async throws {
        let postfix = try PostfixTestServer()
        let fixture = try SendFixture()
        for email in ["alice@dead.test", "bob@remote.test", "carol@full.test", "erin@slow.test", "oscar@ok.test"] {
            try fixture.confirmed(email)
        }
        var configuration = fixture.configuration
        configuration.list.bounceAddress = "bounces@bounce.test"
        let transport = try SMTPTransport(settings: .init(url: "smtp://127.0.0.1:\(postfix.port)", tls: .none, username: nil, password: nil,
                                                          connections: 1, heloDomain: "example.com"))
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let sender = IssueSender(configuration: configuration, store: fixture.store, signer: fixture.signer, transport: transport,
                                 message: fixture.issue.message, options: .init(perSecond: 0, perHour: 0))
        let summary = try await sender.run(send)
        // Postfix accepted every message: the failures come later, as mail.
        #expect(summary.sent == 5, "\(summary)")

        // alice (Postfix's own 5.1.1), bob (a remote 550 5.1.1), carol (552 5.2.2 mailbox full),
        // erin (a delay warning, then a failure after 4.2.0), and nothing for oscar.
        let names = try await postfix.waitForMessages(5, seconds: 40)
        #expect(names.count == 5, "DSNs in the Maildir: \(names)")

        let processor = MailboxProcessor(configuration: configuration, store: fixture.store, signer: fixture.signer)
        var lines: [MailboxProcessor.Line] = []
        let totals = try processor.process(maildir: postfix.maildir) { lines.append($0) }
        #expect(totals.bounced == 2 && totals.softBounced == 3 && totals.left == 0, "\(lines.map(\.message))")
        #expect(try fixture.store.subscriber(email: "alice@dead.test")?.status == .bounced)
        #expect(try fixture.store.subscriber(email: "bob@remote.test")?.status == .bounced)
        #expect(try fixture.store.subscriber(email: "carol@full.test")?.status == .confirmed)
        #expect(try fixture.store.subscriber(email: "erin@slow.test")?.status == .confirmed)
        #expect(try fixture.store.subscriber(email: "oscar@ok.test")?.status == .confirmed)
        let report = try fixture.store.report(of: send)
        #expect(report.hardBounced == 2 && report.softBounced == 2 && report.delivered == 3)
        #expect(lines.contains { $0.message.contains("Hard bounce on send #\(send.id) for bob@remote.test: 5.1.1") })
        // A second run finds nothing new.
        #expect(try processor.process(maildir: postfix.maildir).processed == 0)
    }
}
