import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// `SendLock.foldAcceptedMessages(into:)`, what `hogmail status` does first: a killed send's
/// log of accepted messages counts, but never behind a running send's back.
@Suite struct FoldAcceptedMessagesTests {
    @Test func aKilledSendsLogIsFoldedWhenNoSendHoldsTheLock() throws {
        let (fixture, send) = try killedSend()

        try SendLock.foldAcceptedMessages(into: fixture.store)

        #expect(try fixture.store.progress(of: send).sent == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.store.path + ".accepted")).isEmpty)
    }

    @Test func theLogIsLeftToTheSendThatHoldsTheLock() throws {
        let (fixture, send) = try killedSend()
        let running = try SendLock(storePath: fixture.store.path)
        defer { withExtendedLifetime(running) {} }

        try SendLock.foldAcceptedMessages(into: fixture.store)

        #expect(try fixture.store.progress(of: send).sent == 0)
    }

    @Test func withoutASendEverRunNoFileIsCreated() throws {
        let fixture = try SendFixture()

        try SendLock.foldAcceptedMessages(into: fixture.store)

        #expect(!FileManager.default.fileExists(atPath: fixture.store.path + ".send-lock"))
        #expect(!FileManager.default.fileExists(atPath: fixture.store.path + ".accepted"))
    }

    /// A send killed after the server accepted its one message, before the log was folded.
    private func killedSend() throws -> (SendFixture, SendRecord) {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let send = try fixture.store.freezeSend(issue: "1", contentHash: "abc")
        let row = try #require(try fixture.store.dueRecipients(of: send, limit: 10).first)
        FileManager.default.createFile(atPath: fixture.store.path + ".send-lock", contents: nil)
        try Data("\(row.id) 1767000000.0 <ada1@example.com>\n".utf8).write(to: URL(fileURLWithPath: fixture.store.path + ".accepted"))
        return (fixture, send)
    }
}
