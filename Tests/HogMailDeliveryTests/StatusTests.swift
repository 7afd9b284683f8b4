import Foundation
import HogMail
import Testing

@testable import HogMailStore

/// `hogmail status ISSUE`: every recipient still owed the issue or given up on, with the
/// server's last answer, so a send that keeps retrying says why.
@Suite(.serialized) struct StatusTests {
    @Test func statusListsRetryingRecipientsWithTheirNextAttemptAndLastAnswer() throws {
        let server = try SMTPTestServer(["--temp-fail", "1"])
        let fixture = try SendFixture()
        try fixture.confirmed("later@example.com")
        try fixture.writeSMTP(url: "smtp://127.0.0.1:\(server.port)", tls: "none", username: nil)

        let send = try fixture.hogmail(["send", "1", "--yes"])
        let status = try fixture.hogmail(["status", "1"])

        #expect(send.status == 75, "\(send.stderr)")
        let line = try #require(status.stdout.components(separatedBy: "\n").first { $0.hasPrefix("  retrying") }, "\(status.stdout)")
        #expect(line.hasPrefix("  retrying (next try 20"), "\(line)")
        #expect(line.hasSuffix("): later@example.com: 451 4.3.0 try again later"), "\(line)")
    }

    @Test func statusListsFailedRecipientsWithTheirLastAnswer() throws {
        let server = try SMTPTestServer(["--reject-550", "nobody"])
        let fixture = try SendFixture()
        try fixture.confirmed("nobody@example.com")
        try fixture.writeSMTP(url: "smtp://127.0.0.1:\(server.port)", tls: "none", username: nil)

        _ = try fixture.hogmail(["send", "1", "--yes"])
        let status = try fixture.hogmail(["status", "1"])

        #expect(status.stdout.contains("  failed: nobody@example.com: 550 5.1.1 <nobody@example.com>: user unknown"), "\(status.stdout)")
    }

    /// A send killed after the server accepted a message but before the log was folded into
    /// the journal: `status` (with no send running) counts it as sent.
    @Test func statusCountsMessagesOnlyInAKilledSendsLogAsSent() throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let send = try fixture.store.freezeSend(issue: "1", contentHash: "abc")
        let row = try #require(try fixture.store.dueRecipients(of: send, limit: 10).first)
        let storePath = fixture.folder.appendingPathComponent("hogmail.sqlite").path
        FileManager.default.createFile(atPath: storePath + ".send-lock", contents: nil)
        try Data("\(row.id) 1767000000.0 <ada1@example.com>\n".utf8).write(to: URL(fileURLWithPath: storePath + ".accepted"))

        let status = try fixture.hogmail(["status", "1"])

        #expect(status.stdout.contains("1/1 sent"), "\(status.stdout)")
        #expect(try fixture.store.progress(of: send).sent == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: storePath + ".accepted")).isEmpty)
    }
}
