import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// A page of pending recipients is read through SQLite's own calls; it must give exactly what
/// GRDB's rows give, NULLs, non-ASCII text and times included.
@Suite struct RecipientReadingTests {
    @Test func steppingAStatementReadsWhatRowsRead() throws {
        let (store, send, all) = try frozenSend(to: ["ada@example.com", "zoe@example.com", "bob@example.com"],
                                                names: ["Ada Lovelace", "Zoë «Z» Ünal", nil], messageIDs: { _ in { "<\($0)@ids>" } })
        try store.record(all[1], outcome: .retrying, response: "421 später", messageID: all[1].messageID,
                         nextAttempt: Date(timeIntervalSince1970: 1_767_000_000.25))
        try store.database.write { db in
            // Retrying rows are read by the other query; make them pending again with their new values.
            try db.execute(sql: "UPDATE send_recipient SET state = 'pending' WHERE id = ?", arguments: [all[1].id])
            let sql = "SELECT \(SubscriberStore.recipientColumns) FROM send_recipient WHERE send_id = ? ORDER BY id"
            let expected = try Row.fetchAll(db, sql: sql, arguments: [send.id]).map(SubscriberStore.recipient)
            let statement = try db.makeStatement(sql: sql)
            try statement.setArguments([send.id])
            let read = try SubscriberStore.recipients(stepping: statement, in: db)
            #expect(read == expected)
            #expect(read.map(\.name) == ["Ada Lovelace", "Zoë «Z» Ünal", nil])
            #expect(read[1].nextAttemptAt == Date(timeIntervalSince1970: 1_767_000_000.25))
            #expect(read[1].attempts == 1 && read[1].lastResponse == "421 später")
            // Stepped to the end and reset: the same statement reads the page again.
            #expect(try SubscriberStore.recipients(stepping: statement, in: db) == expected)
        }
    }

    @Test func aRowWithoutItsAddressIsReadAsEmptyNotACrash() throws {
        let (store, _) = try temporaryStore()
        try store.database.write { db in
            // A journal row written behind HogMail's back, in a table without the constraints.
            try db.execute(sql: "CREATE TEMP TABLE loose (id INTEGER, subscriber_id INTEGER, email TEXT, name TEXT, public_id TEXT, state TEXT, attempts INTEGER, next_attempt_at REAL, last_response TEXT, message_id TEXT)")
            try db.execute(sql: "INSERT INTO loose VALUES (7, NULL, NULL, NULL, NULL, 'sideways', 0, NULL, NULL, NULL)")
            let statement = try db.makeStatement(sql: "SELECT \(SubscriberStore.recipientColumns) FROM loose")
            let read = try SubscriberStore.recipients(stepping: statement, in: db)
            #expect(read.map(\.id) == [7] && read[0].email == "" && read[0].state == .pending)
        }
    }
}
