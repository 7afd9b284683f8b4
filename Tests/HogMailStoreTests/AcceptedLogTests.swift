import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// The log of accepted messages: one line per message the server took, folded into the journal.
@Suite struct AcceptedLogTests {
    /// A store with two confirmed subscribers and a frozen send to them.
    func sendToTwo() throws -> (SubscriberStore, SendRecord, [SendRecipient]) {
        let (store, _) = try temporaryStore()
        for address in ["ada@example.com", "bob@example.com"] {
            let (subscriber, _) = try store.requestSubscription(email: address, name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: subscriber.publicID)
        }
        let send = try store.freezeSend(issue: "1", contentHash: "abc")
        return (store, send, try store.dueRecipients(of: send, limit: 10))
    }

    @Test func aFoldMarksTheLoggedMessagesSentAndEmptiesTheLog() throws {
        let (store, send, recipients) = try sendToTwo()
        let log = try AcceptedLog(store: store)
        try log.append(recipientID: recipients[0].id, messageID: "<a1@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000.5))
        #expect(try store.progress(of: send).sent == 0)
        #expect(try log.fold(into: store) == 1)
        #expect(try store.progress(of: send) == SendProgress(total: 2, sent: 1, pending: 1, retrying: 0, failed: 0))
        #expect(try Data(contentsOf: URL(fileURLWithPath: log.path)).isEmpty)
        #expect(try log.fold(into: store) == 0)
    }

    @Test func foldingTheSameLinesTwiceCountsOneAttempt() throws {
        let (store, send, recipients) = try sendToTwo()
        let log = try AcceptedLog(store: store)
        let line = "\(recipients[1].id) 1767000000.0 <b1@example.com>\n"
        // A crash between the fold's commit and the emptying of the file: the lines come again.
        for _ in 0..<2 {
            try Data(line.utf8).write(to: URL(fileURLWithPath: log.path))
            try log.fold(into: store)
        }
        let row = try #require(try store.database.read { db in
            try Row.fetchOne(db, sql: "SELECT state, attempts FROM send_recipient WHERE id = ?", arguments: [recipients[1].id])
        })
        #expect(row["state"] as String == "sent" && row["attempts"] as Int == 1)
        #expect(try store.progress(of: send).sent == 1)
    }

    @Test func aLineCutShortIsNotFoldedAndItsMessageStaysDue() {
        let lines = AcceptedLog.parse(Array("7 1767000000.25 <a@example.com>\n8 1767000001.0 <b@exa".utf8))
        #expect(lines.map(\.recipientID) == [7])
        #expect(lines.first?.messageID == "<a@example.com>")
        #expect(lines.first?.sentAt == 1_767_000_000.25)
    }

    @Test func aLineThatIsNotIdSecondsMessageIDIsSkipped() {
        let lines = AcceptedLog.parse(Array("x 1 <a@example.com>\n9 nan-ish\n\n10 5 <c@example.com>\n".utf8))
        #expect(lines.map(\.recipientID) == [10])
    }

    @Test func aMessageIDWithALineBreakIsRefused() throws {
        let (store, _, recipients) = try sendToTwo()
        let log = try AcceptedLog(store: store)
        #expect(throws: HogMailError.self) { try log.append(recipientID: recipients[0].id, messageID: "<a@x>\n9 1 <b@x>", at: Date()) }
    }
}
