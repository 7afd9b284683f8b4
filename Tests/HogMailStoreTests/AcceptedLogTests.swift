import Foundation
import GRDB
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// The log of accepted messages: one line per message the server took, folded into the journal.
@Suite struct AcceptedLogTests {
    /// A store with two confirmed subscribers and a frozen send to them.
    func sendToTwo(_ engine: StoreEngineKind = .sqlite) throws -> (SubscriberStore, SendRecord, [SendRecipient]) {
        try frozenSend(engine)
    }

    @Test(arguments: PostgresTestServer.engines)
    func aFoldMarksTheLoggedMessagesSentAndEmptiesTheLog(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try sendToTwo(engine)
        let log = try AcceptedLog(store: store)
        try log.append(recipientID: recipients[0].id, messageID: "<a1@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000.5))
        #expect(try store.progress(of: send).sent == 0)
        #expect(try log.fold(into: store) == 1)
        #expect(try store.progress(of: send) == SendProgress(total: 2, sent: 1, pending: 1, retrying: 0, failed: 0))
        #expect(try Data(contentsOf: URL(fileURLWithPath: log.path)).isEmpty)
        #expect(try log.fold(into: store) == 0)
    }

    @Test(arguments: PostgresTestServer.engines)
    func foldingTheSameLinesTwiceCountsOneAttempt(engine: StoreEngineKind) throws {
        let (store, send, recipients) = try sendToTwo(engine)
        let log = try AcceptedLog(store: store)
        let line = "\(recipients[1].id) 1767000000.0 <b1@example.com>\n"
        // A crash between the fold's commit and the emptying of the file: the lines come again.
        for _ in 0..<2 {
            try Data(line.utf8).write(to: URL(fileURLWithPath: log.path))
            try log.fold(into: store)
        }
        let row = try #require(try store.engine.read { session in
            try session.row("SELECT state, attempts FROM send_recipient WHERE id = ?", recipients[1].id)
        })
        #expect(try row.get("state", as: String.self) == "sent" && row.get("attempts", as: Int.self) == 1)
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

    @Test(arguments: ["9 nan <a@x>", "9 1e5 <a@x>", "9 -1 <a@x>", "9 1. <a@x>", "9 1.5 ", "9 1.5", "99999999999999999999 1 <a@x>", " 9 1 <a@x>"])
    func aLineWithoutDigitsWhereTheyBelongIsSkipped(line: String) {
        #expect(AcceptedLog.parse(Array((line + "\n10 2 <b@x>\n").utf8)).map(\.recipientID) == [10])
    }

    /// The seconds are read from the bytes without `Double(String)`; for every time the log
    /// writes (seconds with three decimals) and longer ones, the value is the same.
    @Test func secondsAreReadAsDoubleReadsThem() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "0.0", "1767000000.001", "1767000000.999", "9999999999999.999", "4102444800.5", "123.4567890123456789"]
        texts += (0..<2_000).map { _ in
            let milliseconds = Int64.random(in: 0...4_102_444_800_000, using: &generator)
            return "\(milliseconds / 1000).\(String(milliseconds % 1000 + 1000).dropFirst())"
        }
        let lines = AcceptedLog.parse(Array(texts.enumerated().map { "\($0.offset) \($0.element) <m@x>\n" }.joined().utf8))
        #expect(lines.count == texts.count)
        for (line, text) in zip(lines, texts) { #expect(line.sentAt == Double(text)!, "\(text)") }
    }

    @Test func aMessageIDWithALineBreakIsRefused() throws {
        let (store, _, recipients) = try sendToTwo()
        let log = try AcceptedLog(store: store)
        #expect(throws: HogMailError.self) { try log.append(recipientID: recipients[0].id, messageID: "<a@x>\n9 1 <b@x>", at: Date()) }
    }
}

/// The log is a mapped file: what a line's copy put there is in the file at once (a kill
/// loses nothing), the space reserved ahead is zeros, and a log opened after a kill goes on
/// after the complete lines.
@Suite struct MappedAcceptedLogTests {
    @Test func aLineIsInTheFileAsSoonAsItIsWrittenWithZerosAfterIt() throws {
        let (store, _, recipients) = try AcceptedLogTests().sendToTwo()
        let log = try AcceptedLog(store: store)
        try log.append(recipientID: recipients[0].id, messageID: "<a1@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000))

        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: log.path)))
        let line = Array("\(recipients[0].id) 1767000000.000 <a1@example.com>\n".utf8)
        #expect(Array(bytes.prefix(line.count)) == line)
        #expect(bytes.count >= AcceptedLog.growth && bytes.dropFirst(line.count).allSatisfy { $0 == 0 })
    }

    /// The widest line there can be (the largest row id, a time 16 digits long), written
    /// right where the reserved space ends, fits and reads back: the one bound `append` keeps.
    @Test func theWidestLineFitsAtTheEndOfTheReservedSpace() throws {
        let (store, _, _) = try AcceptedLogTests().sendToTwo()
        let log = try AcceptedLog(store: store)
        let id = "<" + String(repeating: "x", count: 60) + "@example.com>"
        let far = Date(timeIntervalSince1970: 9_999_999_999_999.999)
        var lines = 0
        // Ordinary lines up to just short of the first reservation, then the widest one.
        while (lines + 1) * 100 < AcceptedLog.growth {
            try log.append(recipientID: Int64(lines), messageID: id, at: Date(timeIntervalSince1970: 1_767_000_000))
            lines += 1
        }
        try log.append(recipientID: .max, messageID: id, at: far)
        let parsed = AcceptedLog.parse(Array(try Data(contentsOf: URL(fileURLWithPath: log.path))))
        #expect(parsed.count == lines + 1)
        #expect(parsed.last?.recipientID == .max && parsed.last?.messageID == id && parsed.last?.sentAt == 9_999_999_999_999.999)
    }

    @Test func aLogOpenedAfterAKillWritesAfterTheCompleteLinesAndDropsTheCutOne() throws {
        let (store, send, recipients) = try AcceptedLogTests().sendToTwo()
        // A killed run: one whole line, one cut by the kill, and the zeros reserved after them.
        let killed = Array("\(recipients[0].id) 1767000000.0 <a1@example.com>\n\(recipients[1].id) 17670".utf8) + [UInt8](repeating: 0, count: 4096)
        try Data(killed).write(to: URL(fileURLWithPath: store.path + ".accepted"))
        let log = try AcceptedLog(store: store)
        try log.append(recipientID: recipients[1].id, messageID: "<b1@example.com>", at: Date(timeIntervalSince1970: 1_767_000_001))

        #expect(try log.fold(into: store) == 2)
        #expect(try store.progress(of: send).sent == 2)
    }

    @Test func linesPastTheReservedSpaceGrowTheFileAndAllAreFolded() throws {
        let (store, _) = try temporaryStore()
        let log = try AcceptedLog(store: store)
        let count = AcceptedLog.growth / 20
        for id in 1...count {
            try log.append(recipientID: Int64(id), messageID: "<m\(id)@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000))
        }
        let lines = AcceptedLog.parse(Array(try Data(contentsOf: URL(fileURLWithPath: log.path))))
        #expect(lines.count == count && lines.last?.messageID == "<m\(count)@example.com>")
    }

    @Test func aClosedLogKeepsJustItsLines() throws {
        let (store, _) = try temporaryStore()
        let path = store.path + ".accepted"
        do {
            let log = try AcceptedLog(store: store)
            try log.append(recipientID: 3, messageID: "<c@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("3 1767000000.000 <c@example.com>\n".utf8))
    }

    @Test func theTimeIsWrittenWithMilliseconds() throws {
        let (store, _) = try temporaryStore()
        let path = store.path + ".accepted"
        do {
            let log = try AcceptedLog(store: store)
            try log.append(recipientID: 1234567, messageID: "<t@example.com>", at: Date(timeIntervalSince1970: 1_767_000_000.0456))
            try log.append(recipientID: 0, messageID: "<u@example.com>", at: Date(timeIntervalSince1970: 5.9996))
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "1234567 1767000000.046 <t@example.com>\n0 6.000 <u@example.com>\n")
        let lines = AcceptedLog.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(lines.map(\.sentAt) == [1_767_000_000.046, 6.0])
    }

    @Test func aMessageIDWithANulIsRefused() throws {
        let (store, _) = try temporaryStore()
        let log = try AcceptedLog(store: store)
        #expect(throws: HogMailError.self) { try log.append(recipientID: 1, messageID: "<a\u{0}@x>", at: Date()) }
    }
}
