import Foundation
import GRDB
import HogMail

/// `hogmail subscribers import FILE.csv`: one transaction, streamed, every refused row
/// reported with its number and reason. Nobody is added without evidence of consent.
public struct ImportReport: Sendable, Equatable {
    public enum Refusal: String, Sendable, CaseIterable {
        case invalidAddress = "invalid address"
        case invalidName = "invalid name"
        case noConsent = "no consent evidence"
        case badDate = "bad date"
        case suppressed = "unsubscribed or suppressed"
        case duplicate = "already in the list"
    }

    public var confirmed = 0
    public var pending = 0
    public var refused: [Refusal: Int] = [:]
    /// The first problems, by row (a header is row 1); counts cover them all.
    public var problems: [(row: Int, reason: String)] = []
    /// Public ids of the pending rows, for `--send-confirmations`.
    public var pendingIDs: [String] = []
    public var dryRun = false

    public var refusedTotal: Int { refused.values.reduce(0, +) }
    public static let problemLimit = 1_000

    public static func == (lhs: ImportReport, rhs: ImportReport) -> Bool {
        lhs.confirmed == rhs.confirmed && lhs.pending == rhs.pending && lhs.refused == rhs.refused
            && lhs.problems.map(\.row) == rhs.problems.map(\.row) && lhs.problems.map(\.reason) == rhs.problems.map(\.reason)
    }

    mutating func refuse(_ refusal: Refusal, row: Int, _ reason: String) {
        refused[refusal, default: 0] += 1
        if problems.count < Self.problemLimit { problems.append((row, reason)) }
    }
}

extension SubscriberStore {
    public func importCSV(at url: URL, displayPath: String, dryRun: Bool = false, now: Date = Date()) throws -> ImportReport {
        var reader: CSVReader
        do { reader = try CSVReader(url: url) } catch {
            throw HogMailError(file: displayPath, "The file cannot be read: \(error.localizedDescription).")
        }
        defer { reader.close() }
        var report = ImportReport()
        report.dryRun = dryRun
        do {
            if engineKind == .sqlite {
                // Prepared statements stepped in one transaction: a million rows in seconds.
                try database.inTransaction { db in
                    let sink = try SQLiteImportSink(db: db)
                    try importRows(from: &reader, into: sink, report: &report, displayPath: displayPath, now: now)
                    return dryRun ? .rollback : .commit
                }
            } else {
                // One transaction on the server too; a dry run rolls it back.
                struct DryRun: Error { var report: ImportReport }
                do {
                    try engine.write { session in
                        try importRows(from: &reader, into: SessionImportSink(session: session), report: &report, displayPath: displayPath, now: now)
                        if dryRun { throw DryRun(report: report) }
                    }
                } catch let dry as DryRun {
                    report = dry.report
                }
            }
        } catch let problem as CSVReader.Problem {
            switch problem {
            case .unterminatedQuote(let line):
                throw HogMailError(file: displayPath, line: line, "A quoted field starting on this line is never closed. Nothing was imported; close the quote and run the import again.")
            case .notUTF8(let line):
                throw HogMailError(file: displayPath, line: line, "This row is not UTF-8 text. Nothing was imported; save the file as UTF-8 and run the import again.")
            }
        }
        return report
    }

    private func importRows(from reader: inout CSVReader, into sink: some ImportSink, report: inout ImportReport, displayPath: String, now: Date) throws {
        guard let header = try reader.next() else {
            throw HogMailError(file: displayPath, line: 1, "The file is empty. The first line must name the columns: email, consented_at, consent_source, confirmed_at, name, ip.")
        }
        let columns = Dictionary(header.enumerated().map { ($1.trimmingCharacters(in: .whitespaces).lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        guard columns["email"] != nil else {
            throw HogMailError(file: displayPath, line: 1, "There is no `email` column. The first line must name the columns: email, consented_at, consent_source, confirmed_at, name, ip.")
        }
        let fileName = URL(fileURLWithPath: displayPath).lastPathComponent
        // Rows go to the store in batches (one round trip for many on a server). Refusals found
        // here wait with them, so the report still lists problems in the file's order.
        var batch: [ImportCandidate] = []
        var refusals: [(refusal: ImportReport.Refusal, row: Int, reason: String)] = []
        batch.reserveCapacity(sink.batchSize)
        func flush() throws {
            let verdicts = batch.isEmpty ? [] : try sink.add(batch)
            var next = 0
            for (candidate, verdict) in zip(batch, verdicts) {
                while next < refusals.count, refusals[next].row < candidate.row {
                    report.refuse(refusals[next].refusal, row: refusals[next].row, refusals[next].reason)
                    next += 1
                }
                switch verdict {
                case .added:
                    if candidate.status == .confirmed { report.confirmed += 1 } else { report.pending += 1; report.pendingIDs.append(candidate.publicID) }
                case .suppressed:
                    report.refuse(.suppressed, row: candidate.row, "\(candidate.email) unsubscribed, bounced or asked to be forgotten; an import never adds them back")
                case .duplicate:
                    report.refuse(.duplicate, row: candidate.row, "\(candidate.email) is already in the list (or earlier in this file)")
                }
            }
            for refusal in refusals[next...] { report.refuse(refusal.refusal, row: refusal.row, refusal.reason) }
            batch.removeAll(keepingCapacity: true)
            refusals.removeAll(keepingCapacity: true)
        }
        while let fields = try reader.next() {
            if batch.count >= sink.batchSize || refusals.count >= 1_000 { try flush() }
            let row = reader.recordLine
            func value(_ name: String) -> String? {
                guard let index = columns[name], index < fields.count else { return nil }
                var text = fields[index]
                // Trim only when needed: CharacterSet trimming is slow, and this runs per field.
                if let first = text.utf8.first, let last = text.utf8.last, first == 32 || first == 9 || last == 32 || last == 9 {
                    text = text.trimmingCharacters(in: .whitespaces)
                }
                // `hogmail subscribers list --format csv` writes `'=…` for `=…` (formula guard).
                if text.utf8.first == UInt8(ascii: "'") { text = CSVWriter.unguard(text) }
                return text.isEmpty ? nil : text
            }
            let raw = value("email") ?? ""
            guard let email = Subscriber.normalize(raw), Subscriber.firstForbidden(in: raw) == nil else {
                refusals.append((.invalidAddress, row: row, Subscriber.validateAddress(raw) ?? "`\(raw)` is not an email address"))
                continue
            }
            let name = value("name")
            if let name, let problem = Subscriber.validateName(name) {
                refusals.append((.invalidName, row: row, problem))
                continue
            }
            guard let consentText = value("consented_at"), let source = value("consent_source") else {
                refusals.append((.noConsent, row: row, "no consent evidence: `consented_at` and `consent_source` are required; HogMail never adds people who did not opt in"))
                continue
            }
            guard let consentedAt = Self.parseDate(consentText) else {
                refusals.append((.badDate, row: row, "`consented_at` is `\(Subscriber.visible(consentText))`, which is not a date (use YYYY-MM-DD or 2026-01-07T10:30:00Z)"))
                continue
            }
            var confirmedAt: Date?
            if let confirmedText = value("confirmed_at") {
                guard let date = Self.parseDate(confirmedText) else {
                    refusals.append((.badDate, row: row, "`confirmed_at` is `\(Subscriber.visible(confirmedText))`, which is not a date (use YYYY-MM-DD or 2026-01-07T10:30:00Z)"))
                    continue
                }
                guard date >= consentedAt else {
                    refusals.append((.badDate, row: row, "`confirmed_at` (\(Subscriber.visible(confirmedText))) is before `consented_at` (\(Subscriber.visible(consentText)))"))
                    continue
                }
                confirmedAt = date
            }
            // An export says who left; importing it elsewhere must not subscribe them again.
            if let listed = value("status").flatMap({ Subscriber.Status(rawValue: $0.lowercased()) }), listed.isSuppression {
                refusals.append((.suppressed, row: row, "\(email) is marked `\(listed.rawValue)` in the file's status column; an import never adds people who left or bounced"))
                continue
            }
            let hash = hasher.hash(email)
            let status: Subscriber.Status = confirmedAt == nil ? .pending : .confirmed
            let publicID = TokenSigner.newPublicID()
            batch.append(ImportCandidate(row: row, email: email, hash: hash, publicID: publicID, status: status, subscriber: [
                .text(publicID), .text(email), name.sqlValue, .text(status.rawValue), now.sqlValue, consentedAt.sqlValue,
                .text("\(source) (imported from \(fileName), row \(row))"), value("consent_text").sqlValue, value("ip").sqlValue,
                value("user_agent").sqlValue, confirmedAt.sqlValue, .text(hash),
            ], event: [now.sqlValue, .text(status.rawValue), .text("imported from \(fileName), row \(row)")]))
        }
        try flush()
    }

    static func parseDate(_ text: String) -> Date? {
        if let date = fastDate(text) { return date }
        // Dates are ASCII. Foundation's formatters trap on some other input (`make fuzz` found
        // a combining mark after a digit), so anything else is refused before it gets there.
        guard text.utf8.count <= 64, text.utf8.allSatisfy({ (32...126).contains($0) }) else { return nil }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM:SSZ`, the forms exports use, without a formatter
    /// (creating one per row made a million-row import take minutes).
    static func fastDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard index < bytes.count, (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard bytes.count == 10 || (bytes.count == 20 && bytes[10] == UInt8(ascii: "T") && bytes[19] == UInt8(ascii: "Z")
                                    && bytes[13] == UInt8(ascii: ":") && bytes[16] == UInt8(ascii: ":")),
              bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let date = CalendarDate(year: year, month: month, day: day) else { return nil }
        var seconds = 0
        if bytes.count == 20 {
            guard let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
                  hour < 24, minute < 60, second < 61 else { return nil }
            seconds = hour * 3600 + minute * 60 + second
        }
        return Date(timeIntervalSince1970: TimeInterval(date.dayNumber * 86_400 + seconds))
    }
}

/// A row of an import file that passed every check of its own, ready for the store.
struct ImportCandidate {
    var row: Int
    var email: String
    var hash: String
    var publicID: String
    var status: Subscriber.Status
    /// Public id, email, name, status, created, consented, source, consent text, ip, user agent,
    /// confirmed, address hash.
    var subscriber: [SQLValue]
    /// The event's time, status and reason.
    var event: [SQLValue]
}

/// What the store made of a candidate.
enum ImportVerdict: Equatable { case added, suppressed, duplicate }

/// Where an import's rows go, inside its one transaction.
protocol ImportSink {
    /// How many candidates `add` takes at once.
    var batchSize: Int { get }
    /// Adds each candidate and its event unless its address is suppressed or already there
    /// (in the store, or earlier in the batch): one verdict a candidate, in order.
    func add(_ batch: [ImportCandidate]) throws -> [ImportVerdict]
}

extension SubscriberStore {
    static let importInsertColumns = """
        subscriber (public_id, email, name, status, created_at, consent_at, consent_method, consent_source,
                    consent_text, consent_ip, consent_user_agent, confirmed_at, address_hash)
        """
    static let importValues = "(?, ?, ?, ?, ?, ?, 'import', ?, ?, ?, ?, ?, ?)"
}

/// SQLite: statements prepared once and stepped per row.
struct SQLiteImportSink: ImportSink {
    let db: Database
    let insert: Statement, event: Statement, suppressed: Statement
    var batchSize: Int { 256 }

    init(db: Database) throws {
        self.db = db
        insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO \(SubscriberStore.importInsertColumns) VALUES \(SubscriberStore.importValues)")
        event = try db.makeStatement(sql: "INSERT INTO subscriber_event (subscriber_id, at, from_status, to_status, actor, reason) VALUES (?, ?, NULL, ?, 'import', ?)")
        suppressed = try db.makeStatement(sql: "SELECT 1 FROM suppression WHERE address_hash = ?")
    }

    func add(_ batch: [ImportCandidate]) throws -> [ImportVerdict] {
        try batch.map { candidate in
            if try Bool.fetchOne(suppressed, arguments: [candidate.hash]) ?? false { return .suppressed }
            try insert.execute(arguments: StatementArguments(candidate.subscriber.map(\.databaseValue)))
            guard db.changesCount == 1 else { return .duplicate }
            try event.execute(arguments: StatementArguments([db.lastInsertedRowID.databaseValue] + candidate.event.map(\.databaseValue)))
            return .added
        }
    }
}

/// PostgreSQL: a batch in two round trips, whatever its size: which of its addresses are
/// suppressed, then one statement that inserts the others and their events, the first of
/// an address in the batch winning, and says which went in.
struct SessionImportSink: ImportSink {
    let session: any StoreSession
    var batchSize: Int { 500 }

    func add(_ batch: [ImportCandidate]) throws -> [ImportVerdict] {
        let marks = Array(repeating: "?", count: batch.count).joined(separator: ", ")
        let suppressed = Set(try session.rows("SELECT address_hash FROM suppression WHERE address_hash IN (\(marks))", batch.map { .text($0.hash) })
            .map { try $0.get("address_hash") as String })
        let candidates = batch.filter { !suppressed.contains($0.hash) }
        var added: Set<String> = []
        if !candidates.isEmpty {
            let tuple = "(?::BIGINT, ?::TEXT, ?::TEXT, ?::TEXT, ?::TEXT, ?::DOUBLE PRECISION, ?::DOUBLE PRECISION, ?::TEXT, ?::TEXT, ?::TEXT, ?::TEXT, ?::DOUBLE PRECISION, ?::TEXT, ?::DOUBLE PRECISION, ?::TEXT, ?::TEXT)"
            var values: [SQLValue] = []
            values.reserveCapacity(candidates.count * 16)
            for (ordinal, candidate) in candidates.enumerated() {
                values.append(.integer(Int64(ordinal)))
                values += candidate.subscriber
                values += candidate.event
            }
            let rows = try session.rows("""
                WITH v(ordinal, public_id, email, name, status, created_at, consent_at, consent_source, consent_text, consent_ip,
                       consent_user_agent, confirmed_at, address_hash, event_at, event_status, event_reason)
                    AS (VALUES \(Array(repeating: tuple, count: candidates.count).joined(separator: ", "))),
                added AS (
                    INSERT INTO \(SubscriberStore.importInsertColumns)
                    SELECT public_id, email, name, status, created_at, consent_at, 'import', consent_source, consent_text, consent_ip,
                           consent_user_agent, confirmed_at, address_hash FROM v ORDER BY ordinal
                    ON CONFLICT DO NOTHING RETURNING id, public_id
                ),
                events AS (
                    INSERT INTO subscriber_event (subscriber_id, at, from_status, to_status, actor, reason)
                    SELECT a.id, v.event_at, NULL, v.event_status, 'import', v.event_reason FROM added a JOIN v ON v.public_id = a.public_id
                )
                SELECT public_id FROM added
                """, values)
            added = Set(try rows.map { try $0.get("public_id") as String })
        }
        return batch.map { candidate in
            if suppressed.contains(candidate.hash) { return .suppressed }
            return added.contains(candidate.publicID) ? .added : .duplicate
        }
    }
}
