import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// The journal's indexes are partial (migration 8): each query a send, `status` or a bounce
/// makes must still find its rows through one, never by reading every row of the send.
@Suite struct JournalIndexTests {
    func plan(_ sql: String, _ arguments: StatementArguments) throws -> String {
        let (store, _) = try temporaryStore()
        return try store.database.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }.joined(separator: "; ")
        }
    }

    @Test func dueRetriesAreFoundThroughTheRetryingIndex() throws {
        let detail = try plan("SELECT id FROM send_recipient WHERE send_id = ? AND state = 'retrying' AND next_attempt_at <= ? LIMIT ?", [1, 0, 500])
        #expect(detail.contains("send_recipient_retrying"))
    }

    @Test func failuresAreFoundThroughTheFailedIndex() throws {
        let detail = try plan("SELECT id FROM send_recipient WHERE send_id = ? AND state = 'failed' ORDER BY id", [1])
        #expect(detail.contains("send_recipient_failed") && !detail.contains("TEMP B-TREE"))
    }

    @Test func aBounceFindsItsMessageThroughTheMessageIDIndex() throws {
        let detail = try plan(SubscriberStore.recipientByMessageIDSQL, ["<a@example.com>"])
        #expect(detail.contains("send_recipient_message_id"))
    }

    @Test func theHourlyCountUsesTheSentAtIndex() throws {
        let detail = try plan("SELECT COUNT(*) FROM send_recipient WHERE sent_at >= ?", [0])
        #expect(detail.contains("send_recipient_sent_at"))
    }

    @Test func theProgressCountsUseIndexesOnly() throws {
        // The statements `progress(of:)` runs, not copies of them.
        for state in [SendRecipient.State.pending, .retrying, .failed] {
            let detail = try plan(SubscriberStore.progressCountSQL(state), [1])
            #expect(detail.contains("INDEX send_recipient_\(state.rawValue)"), "\(state): \(detail)")
        }
        #expect(try plan(SubscriberStore.progressCountSQL(nil), [1]).contains("COVERING INDEX"))
    }

    @Test func progressCountsEveryState() throws {
        let (store, _) = try temporaryStore()
        for address in ["a@example.com", "b@example.com", "c@example.com", "d@example.com"] {
            let (subscriber, _) = try store.requestSubscription(email: address, name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: subscriber.publicID)
        }
        let send = try store.freezeSend(issue: "1", contentHash: "abc")
        let rows = try store.dueRecipients(of: send, limit: 10)
        try store.recordSent([(rows[0], "<a1@example.com>")])
        try store.record(rows[1], outcome: .failed, response: "550 no", messageID: "<b1@example.com>")
        try store.record(rows[2], outcome: .retrying, response: "421 later", messageID: "<c1@example.com>", nextAttempt: Date())
        #expect(try store.progress(of: send) == SendProgress(total: 4, sent: 1, pending: 1, retrying: 1, failed: 1))
    }
}
