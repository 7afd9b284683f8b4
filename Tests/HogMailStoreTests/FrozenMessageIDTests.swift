import Foundation
import GRDB
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// Each recipient's Message-ID is written at the freeze, so marking a message sent does not
/// touch the Message-ID index, and a resumed send repeats a message with the id it had.
@Suite struct FrozenMessageIDTests {
    /// A store with two confirmed subscribers and a send frozen with `<address@ids>` ids.
    func frozen(_ engine: StoreEngineKind = .sqlite) throws -> (SubscriberStore, SendRecord, [SendRecipient]) {
        try frozenSend(engine, messageIDs: { sendID in { "<\(sendID).\($0)@ids>" } })
    }

    func messageID(_ store: SubscriberStore, _ id: Int64) throws -> String? {
        try store.engine.read { session in try session.value(String.self, "SELECT message_id FROM send_recipient WHERE id = ?", id) }
    }

    @Test(arguments: PostgresTestServer.engines)
    func theFreezeWritesEachRecipientsMessageID(engine: StoreEngineKind) throws {
        let (_, send, recipients) = try frozen(engine)
        #expect(recipients.map(\.messageID) == ["<\(send.id).ada@example.com@ids>", "<\(send.id).bob@example.com@ids>"])
    }

    @Test(arguments: PostgresTestServer.engines)
    func aFreezeWithoutIDsLeavesThemToTheSend(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        let (subscriber, _) = try store.requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form")
        try store.confirm(publicID: subscriber.publicID)
        let send = try store.freezeSend(issue: "1", contentHash: "abc")
        #expect(try store.dueRecipients(of: send, limit: 10).map(\.messageID) == [nil])
    }

    @Test(arguments: PostgresTestServer.engines)
    func foldingKeepsTheFrozenMessageID(engine: StoreEngineKind) throws {
        let (store, _, recipients) = try frozen(engine)
        try store.recordSent([(recipientID: recipients[0].id, sentAt: 1_767_000_000, messageID: "<other@example.com>")])
        #expect(try messageID(store, recipients[0].id) == recipients[0].messageID)
    }

    @Test(arguments: PostgresTestServer.engines)
    func foldingARowFrozenWithoutAnIDWritesTheLoggedOne(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try frozen(engine)
        // A row frozen by a HogMail from before the ids were written at the freeze.
        try store.engine.write { session in try session.execute("UPDATE send_recipient SET message_id = NULL WHERE id = ?", recipients[1].id) }
        try store.recordSent([(recipientID: recipients[1].id, sentAt: 1_767_000_000, messageID: "<b1@example.com>")])
        #expect(try messageID(store, recipients[1].id) == "<b1@example.com>")
        #expect(try store.progress(of: send).sent == 1)
    }

    /// SQLite rewrites the entries of every index on a column an UPDATE names, even when the
    /// value stays the same: the fold of a frozen row must not name `message_id`.
    @Test func theFoldOfAFrozenRowOpensNoMessageIDIndex() throws {
        let (store, _) = try temporaryStore()
        try store.database.read { db in
            let roots = try Row.fetchAll(db, sql: "SELECT name, rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'send_recipient'")
            let names = Dictionary(uniqueKeysWithValues: roots.map { ($0["rootpage"] as Int, $0["name"] as String) })
            func written(_ sql: String, _ arguments: StatementArguments) throws -> Set<String> {
                Set(try Row.fetchAll(db, sql: "EXPLAIN " + sql, arguments: arguments)
                    .filter { $0["opcode"] as String == "OpenWrite" }
                    .compactMap { names[$0["p2"] as Int] })
            }
            for batch in SubscriberStore.foldBatches {
                let frozen = try written(batch.sql, StatementArguments(Array(repeating: 0, count: batch.count * 2)))
                #expect(!frozen.contains("send_recipient_message_id"))
                #expect(frozen.contains("send_recipient_pending"))
            }
            // The check can fail: the statement for an older row does write that index.
            #expect(try written(SubscriberStore.foldWithoutIDSQL, ["<a@b>", 0, 1]).contains("send_recipient_message_id"))
        }
    }

    /// A message the server accepted stays pending until the accepted-log is folded; a report
    /// about it may come first, and is the running send's, not the subscriber's previous one.
    @Test(arguments: PostgresTestServer.engines)
    func aReportNamingAFrozenMessageIDIsCountedForItsRowBeforeTheFold(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try frozen(engine)
        let report = DeliveryFeedback(kind: .hardBounce, messageID: recipients[0].messageID, email: "ada@example.com",
                                      detail: "550 no such user", source: "ses", reference: "r1")
        #expect(try store.apply(report) == .applied(email: "ada@example.com", sendID: send.id, newStatus: .bounced))
        #expect(try store.feedbackCounts(of: send).hardBounced == 1)
    }

    @Test(arguments: PostgresTestServer.engines)
    func foldingTheSameLineTwiceOnAFrozenRowCountsOneAttempt(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try frozen(engine)
        for _ in 0..<2 {
            try store.recordSent([(recipientID: recipients[0].id, sentAt: 1_767_000_000, messageID: recipients[0].messageID!)])
        }
        let attempts = try store.engine.read { session in
            try session.value(Int.self, "SELECT attempts FROM send_recipient WHERE id = ?", recipients[0].id)
        }
        #expect(attempts == 1)
        #expect(try store.progress(of: send) == SendProgress(total: 2, sent: 1, pending: 1, retrying: 0, failed: 0))
    }

    /// HogMail's own ids: SQLite's freeze writes them from the address's bytes, PostgreSQL's
    /// through `messageID(recipient:)`; both are that function's ids.
    @Test(arguments: PostgresTestServer.engines)
    func theFreezeWritesHogMailsMessageIDsAsTheyAreMade(engine: StoreEngineKind) throws {
        let store = try temporaryStore(engine)
        for address in ["Ada@Example.com", "bob@example.com"] {
            let (subscriber, _) = try store.requestSubscription(email: address, name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: subscriber.publicID)
        }
        let send = try store.freezeSend(issue: "1", contentHash: "abc", messageIDs: { MessageIDs(sendKey: "key-\($0)", domain: "example.com") })
        let ids = MessageIDs(sendKey: "key-\(send.id)", domain: "example.com")
        let rows = try store.dueRecipients(of: send, limit: 10)
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0.messageID == ids.messageID(recipient: $0.email) })
    }

    /// A function that gives an empty id (any caller's own) freezes an empty id, not a crash.
    @Test func anEmptyIDFromTheCallersFunctionIsFrozenAsItIs() throws {
        let (_, _, recipients) = try frozenSend(.sqlite, messageIDs: { _ in { _ in "" } })
        #expect(recipients.map(\.messageID) == ["", ""])
    }

    /// A fold of more lines than one statement takes (500), and not a sum of round sizes: every
    /// row is marked with its own time; a row already sent keeps its time, and one frozen
    /// without an id gets the logged one.
    @Test func aFoldOfManyBatchesMarksEachRowWithItsOwnTime() throws {
        let (store, send, _) = try frozenSend(.sqlite, to: (1...1_203).map { "r\($0)@example.com" }, messageIDs: { _ in { "<\($0)>" } })
        let rows = try store.dueRecipients(of: send, limit: 2_000)
        #expect(rows.count == 1_203)
        try store.recordSent([(recipientID: rows[600].id, sentAt: 1_000, messageID: rows[600].messageID!)])
        try store.engine.write { session in try session.execute("UPDATE send_recipient SET message_id = NULL WHERE id = ?", rows[1_100].id) }
        try store.recordSent(rows.map { (recipientID: $0.id, sentAt: 1_767_000_000 + Double($0.id) / 4, messageID: "<logged-\($0.id)>") })
        let written = try store.engine.read { session in
            try session.rows("SELECT id, state, attempts, sent_at, message_id FROM send_recipient WHERE send_id = ? ORDER BY id", send.id)
        }
        #expect(written.count == 1_203)
        for (row, frozen) in zip(written, rows) {
            let id = try row.get("id", as: Int64.self)
            #expect(try row.get("state", as: String.self) == "sent" && row.get("attempts", as: Int.self) == 1)
            #expect(try row.get("sent_at", as: Double.self) == (id == rows[600].id ? 1_000 : 1_767_000_000 + Double(id) / 4))
            #expect(try row.get("message_id", as: String.self) == (id == rows[1_100].id ? "<logged-\(id)>" : frozen.messageID))
        }
        #expect(try store.progress(of: send).sent == 1_203)
    }

    /// A row logged twice in one fold is marked with the first time logged, as one line at a
    /// time marked it.
    @Test func aRowLoggedTwiceInOneFoldKeepsTheFirstTime() throws {
        let (store, _, recipients) = try frozenSend(.sqlite, messageIDs: { _ in { "<\($0)>" } })
        try store.recordSent([(recipientID: recipients[0].id, sentAt: 100, messageID: "<x>"), (recipientID: recipients[1].id, sentAt: 150, messageID: "<y>"),
                              (recipientID: recipients[0].id, sentAt: 200, messageID: "<x>")])
        let times = try store.engine.read { session in
            try session.rows("SELECT sent_at, attempts FROM send_recipient ORDER BY id").map { [try $0.get("sent_at", as: Double.self), Double(try $0.get("attempts", as: Int.self))] }
        }
        #expect(times == [[100, 1], [150, 1]])
    }

    @Test(arguments: PostgresTestServer.engines)
    func forgettingDropsTheIDOfAMessageNeverDeliveredAndKeepsTheOneSent(engine: StoreEngineKind) throws {
        let (store, _, recipients) = try frozenSend(engine, to: ["ada@example.com", "bob@example.com", "cy@example.com"],
                                                    messageIDs: { _ in { "<\($0)@ids>" } })
        try store.recordSent([(recipientID: recipients[1].id, sentAt: 1_767_000_000, messageID: recipients[1].messageID!)])
        // Its message could not be made: failed, with the id from the freeze.
        try store.record(recipients[2], outcome: .failed, response: "The message could not be made", messageID: nil)
        for address in ["ada@example.com", "bob@example.com", "cy@example.com"] { _ = try store.forget(email: address) }
        #expect(try messageID(store, recipients[0].id) == nil)
        #expect(try messageID(store, recipients[1].id) == recipients[1].messageID)
        #expect(try messageID(store, recipients[2].id) == nil)
    }
}
