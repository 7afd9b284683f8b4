import Foundation
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// The claims several senders share a send with (PostgreSQL only).
@Suite struct SharedSendTests {
    let start = Date(timeIntervalSince1970: 1_767_000_000)

    func sendTo(_ count: Int) throws -> (SubscriberStore, SendRecord) {
        let (store, send, _) = try frozenSend(.postgres, to: (1...count).map { "r\($0)@example.com" }, messageIDs: { _ in { "<\($0)>" } })
        return (store, send)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func twoSendersClaimDisjointBatchesInIdOrder() throws {
        let (store, send) = try sendTo(5)
        let a = try store.claimRecipients(of: send, sender: "a", limit: 3, lease: 60, now: start)
        let b = try store.claimRecipients(of: send, sender: "b", limit: 3, lease: 60, now: start)
        #expect(a.map(\.email) == ["r1@example.com", "r2@example.com", "r3@example.com"])
        #expect(b.map(\.email) == ["r4@example.com", "r5@example.com"])
        #expect(try store.claimRecipients(of: send, sender: "c", limit: 3, lease: 60, now: start).isEmpty)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func aClaimNotRenewedIsTakenWhenItsLeaseRunsOutAndARenewedOneIsNot() throws {
        let (store, send) = try sendTo(2)
        let held = try store.claimRecipients(of: send, sender: "a", limit: 1, lease: 60, now: start)
        _ = try store.claimRecipients(of: send, sender: "b", limit: 1, lease: 60, now: start)
        // a renews at 50 s; b does not.
        try store.renewClaims(of: send, sender: "a", lease: 60, now: start.addingTimeInterval(50))
        let taken = try store.claimRecipients(of: send, sender: "c", limit: 5, lease: 60, now: start.addingTimeInterval(61))
        #expect(taken.map(\.email) == ["r2@example.com"])
        #expect(!taken.contains { $0.id == held[0].id })
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func anAcceptedMessageEndsTheClaimAndIsNeverClaimedAgain() throws {
        let (store, send) = try sendTo(2)
        let claimed = try store.claimRecipients(of: send, sender: "a", limit: 2, lease: 60, now: start)
        try store.recordAccepted(recipientID: claimed[0].id, messageID: claimed[0].messageID!, at: start)
        try store.record(claimed[1], outcome: .retrying, response: "451 later", messageID: nil, nextAttempt: start.addingTimeInterval(30))
        #expect(try store.progress(of: send) == SendProgress(total: 2, sent: 1, pending: 0, retrying: 1, failed: 0))
        // The retry is anyone's once due, though a's lease would still run.
        #expect(try store.claimRecipients(of: send, sender: "b", limit: 5, lease: 60, now: start.addingTimeInterval(29)).isEmpty)
        #expect(try store.claimRecipients(of: send, sender: "b", limit: 5, lease: 60, now: start.addingTimeInterval(30)).map(\.id) == [claimed[1].id])
        // A second journal line for the same message changes nothing.
        try store.recordAccepted(recipientID: claimed[0].id, messageID: "<other>", at: start)
        #expect(try store.engine.read { try $0.value(Int.self, "SELECT attempts FROM send_recipient WHERE id = ?", claimed[0].id) } == 1)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func severalAcceptedLinesGoInOneStatementAndASentRowKeepsItsFirstMessageIDAndTime() throws {
        let (store, send) = try sendTo(3)
        let claimed = try store.claimRecipients(of: send, sender: "a", limit: 3, lease: 60, now: start)
        try store.recordAccepted([AcceptedLine(recipientID: claimed[0].id, messageID: "<kept>", sentAt: start)])
        try store.recordAccepted(claimed.map { AcceptedLine(recipientID: $0.id, messageID: "<late>", sentAt: start.addingTimeInterval(9)) })
        let rows = try store.engine.read { try $0.rows("SELECT state, attempts, sent_at, message_id, claimed_by FROM send_recipient ORDER BY id") }
        #expect(try rows.map { try $0.get("state") as String } == ["sent", "sent", "sent"])
        #expect(try rows.map { try $0.get("attempts") as Int } == [1, 1, 1])
        #expect(try rows[0].get("sent_at") as Double == start.timeIntervalSince1970)
        #expect(try rows[1].get("sent_at") as Double == start.timeIntervalSince1970 + 9)
        // Frozen with their Message-IDs: the journal never replaces one.
        #expect(try rows.map { try $0.get("message_id") as String } == ["<r1@example.com>", "<r2@example.com>", "<r3@example.com>"])
        #expect(try rows.allSatisfy { try $0.get("claimed_by") as String? == nil })
        #expect(try store.progress(of: send) == SendProgress(total: 3, sent: 3, pending: 0, retrying: 0, failed: 0))
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func theClaimsOfADeadProcessOnThisHostAreFreedAtOnceAndALiveOnesAreNot() throws {
        let (store, send) = try sendTo(3)
        _ = try store.claimRecipients(of: send, sender: "here:111:x", limit: 1, lease: 60, now: Date())
        _ = try store.claimRecipients(of: send, sender: "here:222:y", limit: 1, lease: 60, now: Date())
        _ = try store.claimRecipients(of: send, sender: "elsewhere:111:z", limit: 1, lease: 60, now: Date())
        let released = try store.releaseClaimsOfDeadLocalSenders(of: send, host: "here", isAlive: { $0 == 222 })
        #expect(released == 1)
        #expect(try store.claimRecipients(of: send, sender: "new", limit: 5, lease: 60, now: Date()).map(\.email) == ["r1@example.com"])
        #expect(try store.nextClaimExpiry(of: send, except: "new") != nil)
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func theRateBudgetIsOneForTheWholeSend() throws {
        let (store, send) = try sendTo(1)
        // Two senders asking for ten slots each at 10 a second get back-to-back windows.
        let first = try store.reserveSlots(of: send, count: 10, interval: 0.1, now: start)
        let second = try store.reserveSlots(of: send, count: 10, interval: 0.1, now: start)
        #expect(first == start)
        #expect(abs(second.timeIntervalSince(start) - 1.0) < 1e-6)
        // After an idle spell the budget starts from now, not from the past.
        let later = try store.reserveSlots(of: send, count: 1, interval: 0.1, now: start.addingTimeInterval(100))
        #expect(later == start.addingTimeInterval(100))
    }

    /// A late failure report from a sender whose lease ran out must not undo another sender's
    /// delivery: the row stays sent and is never claimed again.
    @Test(arguments: PostgresTestServer.engines)
    func aFailureRecordedAfterTheMessageWasSentChangesNothing(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try frozenSend(engine, messageIDs: { _ in { "<\($0)>" } })
        try store.recordSent([(recipientID: recipients[0].id, sentAt: 1_767_000_000, messageID: recipients[0].messageID!)])
        try store.record(recipients[0], outcome: .retrying, response: "451 later", messageID: nil, nextAttempt: start)
        #expect(try store.progress(of: send) == SendProgress(total: 2, sent: 1, pending: 1, retrying: 0, failed: 0))
    }

    /// One sender finishing its part must not mark complete a send another sender paused.
    @Test(arguments: PostgresTestServer.engines)
    func aPausedSendIsNotMarkedCompleted(engine: StoreEngineKind) throws {
        let (store, send, _) = try frozenSend(engine)
        try store.setState(of: send, to: .paused, note: "25 messages in a row failed", pauseKind: .failures)
        try store.completeIfRunning(send)
        #expect(try store.send(id: send.id)?.state == .paused)
        #expect(try store.send(id: send.id)?.note == "25 messages in a row failed")
        try store.setState(of: send, to: .running)
        try store.completeIfRunning(send)
        #expect(try store.send(id: send.id)?.state == .completed)
    }
}
