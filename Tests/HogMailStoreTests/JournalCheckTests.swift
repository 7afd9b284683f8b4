import Foundation
import GRDB
import GRDBSQLite
import HogMail
import Testing

@testable import HogMailStore

/// The journal's CHECKs are comparisons joined by OR (migration 9): an `IN` list of more than
/// two constants made SQLite build a temporary table each time a fold `UPDATE` ran.
@Suite struct JournalCheckTests {
    @Test func theFoldBuildsNoTemporaryTable() throws {
        let (store, _) = try temporaryStore()
        try store.database.read { db in
            // The fold's per-row statement (rows frozen without a Message-ID); its batches open
            // two temporary tables per run by design (the VALUES, and the rows to update).
            let opcodes = try Row.fetchAll(db, sql: "EXPLAIN " + SubscriberStore.foldWithoutIDSQL, arguments: ["<a@b>", 0, 1]).map { $0["opcode"] as String }
            #expect(!opcodes.contains("OpenEphemeral"))
            #expect(opcodes.contains("Halt"))
        }
    }

    @Test func aStateOrFeedbackOutsideTheListIsStillRefused() throws {
        let (store, _, recipients) = try frozenSend(.sqlite, messageIDs: nil)
        try store.database.write { db in
            for state in ["pending", "sent", "retrying", "failed"] {
                try db.execute(sql: "UPDATE send_recipient SET state = ? WHERE id = ?", arguments: [state, recipients[0].id])
            }
            for feedback in ["soft_bounce", "hard_bounce", "complaint"] {
                try db.execute(sql: "UPDATE send_recipient SET feedback = ? WHERE id = ?", arguments: [feedback, recipients[0].id])
            }
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE send_recipient SET state = 'sent ' WHERE id = ?", arguments: [recipients[0].id]) }
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE send_recipient SET state = NULL WHERE id = ?", arguments: [recipients[0].id]) }
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE send_recipient SET feedback = 'bounce' WHERE id = ?", arguments: [recipients[0].id]) }
        }
    }

    /// A store made before migration 9, with a send in it: the table's text is rewritten in
    /// place, its rows and indexes are intact, and other connections read the new text.
    @Test func aStoreFromBeforeTheMigrationIsRewrittenInPlace() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("hogmail.sqlite").path
        do {
            let old = try DatabaseQueue(path: path)
            try SubscriberStore.migrator.migrate(old, upTo: "8 partial journal indexes")
            try old.write { db in
                try db.execute(sql: "INSERT INTO send (issue, content_hash, created_at, state) VALUES ('1', 'h', 0, 'running')")
                for i in 1...300 {
                    try db.execute(sql: "INSERT INTO send_recipient (send_id, email, public_id, state, message_id) VALUES (1, ?, ?, ?, ?)",
                                   arguments: ["r\(i)@example.com", "p\(i)", i % 3 == 0 ? "sent" : "pending", "<\(i)@x>"])
                }
            }
            let before = try old.read { db in try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'send_recipient'") }
            #expect(before?.contains("state IN (") == true)
        }
        let store = try SubscriberStore(path: path)
        try store.database.read { db in
            let table = try #require(try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'send_recipient'"))
            #expect(!table.contains(" IN ("))
            #expect(table.contains("CHECK (state = 'pending' OR state = 'sent' OR state = 'retrying' OR state = 'failed')"))
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM send_recipient WHERE state = 'pending'") == 200)
        }
        let other = try DatabaseQueue(path: path)
        #expect(throws: DatabaseError.self) { try other.write { db in try db.execute(sql: "UPDATE send_recipient SET state = 'gone' WHERE id = 1") } }
    }

    /// A read of the store leaves the connection's prepared statements valid: GRDB's read
    /// (`PRAGMA query_only`) expired them all, and a send's fold compiled its statement anew
    /// after every page of recipients read.
    @Test func aReadDoesNotMakeTheFoldCompileItsStatementAgain() throws {
        let (store, send, recipients) = try frozenSend(.sqlite, messageIDs: { _ in { "<\($0)>" } })
        try store.recordSent([(recipientID: recipients[0].id, sentAt: 1_767_000_000, messageID: "<a>")])
        _ = try store.dueRecipients(of: send, limit: 10)
        _ = try store.progress(of: send)
        try store.recordSent([(recipientID: recipients[1].id, sentAt: 1_767_000_001, messageID: "<b>")])
        let single = try #require(SubscriberStore.foldBatches.last)
        #expect(single.count == 1)
        let recompiled = try store.database.inDatabase { db in
            Int(sqlite3_stmt_status(try db.cachedStatement(sql: single.sql).sqliteStatement, SQLITE_STMTSTATUS_REPREPARE, 0))
        }
        #expect(recompiled == 0)
        #expect(try store.progress(of: send).sent == 2)
    }

    /// The read that keeps statements still refuses to write, and leaves nothing written:
    /// rows, the schema, the header (a pragma), a statement that changes no row.
    @Test(arguments: ["UPDATE send_recipient SET attempts = 9", "CREATE TABLE intruder (x)", "PRAGMA user_version = 7",
                      "DELETE FROM send_recipient WHERE id < 0"])
    func aReadThatWritesIsRefusedAndRolledBack(write: String) throws {
        let (store, _, _) = try frozenSend(.sqlite)
        #expect(throws: DatabaseError.self) {
            try store.engine.read { session in try session.execute(write) }
        }
        let after = try store.engine.read { session in
            [try session.value(Int.self, "SELECT MAX(attempts) FROM send_recipient"),
             try session.value(Int.self, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'intruder'"),
             try session.value(Int.self, "PRAGMA user_version")]
        }
        #expect(after == [0, 0, 0])
    }

    /// Each of the fold's batch statements reads its VALUES and finds each row by its id: a
    /// plan that scanned the journal would read every row of every send per batch.
    @Test func eachFoldBatchFindsItsRowsByID() throws {
        let (store, _) = try temporaryStore()
        try store.database.read { db in
            for batch in SubscriberStore.foldBatches {
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + batch.sql, arguments: StatementArguments(Array(repeating: 0, count: batch.count * 2)))
                    .map { $0["detail"] as String }
                #expect(plan.contains("SEARCH send_recipient USING INTEGER PRIMARY KEY (rowid=?)"), "\(batch.count): \(plan)")
                #expect(!plan.contains { $0.hasPrefix("SCAN send_recipient") }, "\(batch.count): \(plan)")
            }
        }
    }
}
