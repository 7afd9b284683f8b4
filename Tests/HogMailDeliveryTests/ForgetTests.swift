import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// Issue #11, item 11: after `forget`, the address was still in the send journal (and so in
/// the store's file). Forget now leaves no byte of it, and says what it cannot reach.
@Suite struct ForgetAfterSendTests {
    let address = "grace.hopper@example.com"
    let name = "Grace Hopper"

    func subscribe(_ fixture: SendFixture) throws {
        let consent = Subscriber.Consent(at: Date(), method: .form, source: "test form")
        let (s, _) = try fixture.store.requestSubscription(email: address, name: name, consent: consent, actor: "test")
        try fixture.store.confirm(publicID: s.publicID)
        try fixture.confirmed("reader@example.com")
    }

    /// The store's own files, read as raw bytes: the database and its write-ahead log.
    func storeFiles(_ fixture: SendFixture) throws -> [(String, Data)] {
        try [fixture.store.path, fixture.store.path + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }
            .map { ($0, try Data(contentsOf: URL(fileURLWithPath: $0))) }
    }

    @Test func forgetAfterASendLeavesNoByteOfTheAddressOrNameInTheStoreFiles() async throws {
        let fixture = try SendFixture()
        try subscribe(fixture)
        let (send, _) = try await fixture.job(RecordingTransport()).run(fixture.issue, decision: .start)!
        #expect(try storeFiles(fixture).contains { $0.1.range(of: Data(address.utf8)) != nil }, "the journal held the address before")

        let report = try fixture.store.forget(email: address)
        #expect(report.found)
        #expect(report.journalRowsScrubbed == 1)
        #expect(report.deliveredMessages == 1)
        #expect(report.filesRewritten)
        let files = try storeFiles(fixture)
        #expect(files.count == 2)
        for (path, bytes) in files {
            #expect(bytes.range(of: Data("grace.hopper".utf8)) == nil, "\(path) still holds the address")
            #expect(bytes.range(of: Data(name.utf8)) == nil, "\(path) still holds the name")
        }
        // The send's counts stay as they were.
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 2, sent: 2, pending: 0, retrying: 0, failed: 0))
    }

    @Test func aBounceThatQuotedTheAddressLeavesNoByteOfItAfterForget() async throws {
        let fixture = try SendFixture()
        try subscribe(fixture)
        let (send, _) = try await fixture.job(RecordingTransport()).run(fixture.issue, decision: .start)!
        let grace = try fixture.store.subscriber(email: address)!
        _ = try fixture.store.apply(DeliveryFeedback(kind: .softBounce, sendID: send.id, publicID: grace.publicID, statusCode: "4.2.2",
                                                     detail: "452 4.2.2 <\(address)>: mailbox full", source: "mail", reference: "r1"))
        try fixture.store.forget(email: address)
        for (path, bytes) in try storeFiles(fixture) {
            #expect(bytes.range(of: Data("grace.hopper".utf8)) == nil, "\(path) still holds the address")
        }
        // The send still counts the soft bounce.
        #expect(try fixture.store.report(of: send).softBounced == 1)
    }

    @Test func aMessageStillDueToAForgottenAddressIsNeverSent() async throws {
        let fixture = try SendFixture()
        try subscribe(fixture)
        let transport = RecordingTransport()
        transport.failures[address] = [.temporary("451 4.2.0 <\(address)>: greylisted")]
        let (send, _) = try await fixture.job(transport).run(fixture.issue, decision: .start)!
        #expect(try fixture.store.progress(of: send).retrying == 1)

        let report = try fixture.store.forget(email: address)
        #expect(report.cancelledMessages == 1)
        #expect(report.deliveredMessages == 0)
        let (_, again) = try await fixture.job(transport).run(fixture.issue, decision: .resume(send))!
        #expect(again.ending == .completed)
        #expect(transport.delivered.map(\.to) == ["reader@example.com"])
        let failure = try #require(try fixture.store.failures(of: send).first)
        #expect(failure.email.hasPrefix("forgotten-") && failure.email.hasSuffix("@invalid"))
        #expect(failure.name == nil)
        #expect(failure.lastResponse == "not sent: the recipient was forgotten before the message went out")
        for (path, bytes) in try storeFiles(fixture) {
            #expect(bytes.range(of: Data("grace.hopper".utf8)) == nil, "\(path) still holds the address")
        }
    }

    @Test func outboxFilesThatContainTheAddressAreListedForTheEditor() async throws {
        let fixture = try SendFixture()
        try subscribe(fixture)
        let outbox = OutboxTransport(directory: fixture.folder.appendingPathComponent("outbox"))
        _ = try await fixture.job(outbox).run(fixture.issue, decision: .start)
        let files = try outbox.messages(containing: "Grace.Hopper@example.com")
        #expect(files.count == 1)
        #expect(try String(contentsOf: files[0], encoding: .utf8).contains("To: \(name) <\(address)>"))
        #expect(try outbox.messages(containing: "nobody@example.com").isEmpty)
    }
}
