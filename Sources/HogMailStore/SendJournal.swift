import Foundation
import GRDB
import GRDBSQLite
import HogMail

/// The send journal: a send is frozen at its start (issue, content hash, recipients), and
/// each recipient is a row that goes pending → sent / retrying / failed. A row is marked
/// sent only after the server accepted the message, so a re-run resumes without losing
/// anyone and repeats only what was in flight.
public struct SendRecord: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case running, paused, completed }
    public var id: Int64
    public var issue: String
    public var contentHash: String
    public var createdAt: Date
    public var state: State
    public var note: String?
    /// Why a paused send stopped.
    public var pauseKind: PauseKind?
    /// The editor chose to go on although the reputation breaker paused it.
    public var acceptRisk = false

    public enum PauseKind: String, Sendable, Codable {
        /// Many messages in a row failed.
        case failures
        /// The bounce or complaint rate crossed its threshold.
        case breaker
        /// The transport is misconfigured (TLS, AUTH): nothing goes until it is fixed.
        case configuration
    }
}

public struct SendRecipient: Sendable, Equatable {
    public enum State: String, Sendable, Codable { case pending, sent, retrying, failed }
    public var id: Int64
    public var subscriberID: Int64?
    public var email: String
    public var name: String?
    public var publicID: String
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var lastResponse: String?
    public var messageID: String?
}

public struct SendProgress: Sendable, Equatable {
    public var total = 0, sent = 0, pending = 0, retrying = 0, failed = 0
    public var isDone: Bool { pending == 0 && retrying == 0 }
}

extension SubscriberStore {
    /// After the feedback migration (4): stores made before it get the index too.
    static func registerPendingIndex(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("5 pending recipients in order") { db in
            // The next page of pending recipients (`id > cursor ORDER BY id`) read straight off
            // an index in id order. Through `send_recipient_due` SQLite found every pending row of
            // the send and sorted them for each page of 500: a million-recipient send sorted
            // half a million rows two thousand times.
            try db.execute(sql: "CREATE INDEX send_recipient_pending ON send_recipient(send_id, id) WHERE state = 'pending'")
        }
    }

    /// Each subscriber's suppression hash, kept with the row (written by every insert), so
    /// freezing a send compares stored hashes instead of computing an HMAC per subscriber.
    static func registerAddressHashes(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("6 subscriber address hashes") { db in
            try db.execute(sql: "ALTER TABLE subscriber ADD COLUMN address_hash TEXT")
            let hasher = try Self.addressHasher(db)
            let update = try db.makeStatement(sql: "UPDATE subscriber SET address_hash = ? WHERE id = ?")
            // A cursor, not an array: a list of a million rows is hashed without holding it.
            let rows = try Row.fetchCursor(db, sql: "SELECT id, email FROM subscriber")
            while let row = try rows.next() {
                try update.execute(arguments: [hasher.hash(row[1]), row[0] as Int64])
            }
        }
    }

    /// Marking a message sent touched seven index entries, freezing a recipient seven more:
    /// `send_recipient_due` held every row of every send (and moved each one from pending to
    /// sent), and the Message-ID and sent-at indexes held a NULL for every row not yet sent.
    /// (Since session 9 the freeze writes each row's Message-ID, so that index holds every row
    /// frozen with one; marking a row sent no longer touches it.)
    /// Partial indexes keep only the rows their queries look for: retries, failures, rows
    /// with a Message-ID or a time sent. Replaying a send's statements on 30,000 rows, the
    /// fold of accepted messages went from 7.9 to 5.9 µs a row and the freeze from 3.3 to 2.8.
    static func registerPartialJournalIndexes(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("8 partial journal indexes") { db in
            try db.execute(sql: """
                DROP INDEX send_recipient_due;
                CREATE INDEX send_recipient_retrying ON send_recipient(send_id, next_attempt_at) WHERE state = 'retrying';
                CREATE INDEX send_recipient_failed ON send_recipient(send_id, id) WHERE state = 'failed';
                DROP INDEX send_recipient_sent_at;
                CREATE INDEX send_recipient_sent_at ON send_recipient(sent_at) WHERE sent_at IS NOT NULL;
                DROP INDEX send_recipient_message_id;
                CREATE INDEX send_recipient_message_id ON send_recipient(message_id) WHERE message_id IS NOT NULL;
                """)
        }
    }

    static func registerJournal(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("2 send journal") { db in
            try db.execute(sql: """
                CREATE TABLE send (
                    id INTEGER PRIMARY KEY,
                    issue TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('running','paused','completed')),
                    note TEXT
                );
                CREATE INDEX send_issue ON send(issue);
                CREATE TABLE send_recipient (
                    id INTEGER PRIMARY KEY,
                    send_id INTEGER NOT NULL REFERENCES send(id),
                    subscriber_id INTEGER REFERENCES subscriber(id) ON DELETE SET NULL,
                    email TEXT NOT NULL,
                    name TEXT,
                    public_id TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending','sent','retrying','failed')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL,
                    last_response TEXT,
                    message_id TEXT,
                    sent_at REAL,
                    UNIQUE (send_id, email)
                );
                CREATE INDEX send_recipient_due ON send_recipient(send_id, state, next_attempt_at);
                CREATE INDEX send_recipient_sent_at ON send_recipient(sent_at);
                """)
        }
    }

    /// The latest send of an issue, if any.
    public func latestSend(issue: String) throws -> SendRecord? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM send WHERE issue = ? ORDER BY id DESC LIMIT 1", arguments: [issue]).map(Self.send)
        }
    }

    public func sends(issue: String? = nil) throws -> [SendRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM send WHERE (? IS NULL OR issue = ?) ORDER BY id", arguments: [issue, issue]).map(Self.send)
        }
    }

    /// Freezes a send: the issue, its content hash, and every subscriber who may get it now —
    /// confirmed, with a consent record, and not suppressed — in one transaction.
    ///
    /// `messageIDs` gives, for the new send's id, each recipient's Message-ID; every row then
    /// holds its id from the start. Marking a message sent leaves the Message-ID index alone
    /// (an id is a hash, so each insert lands on a random page of it: written at the freeze,
    /// in one transaction, the index pages are written once instead of once per fold), and a
    /// resume sends with the id frozen here even if the configuration changed meanwhile.
    public func freezeSend(issue: String, contentHash: String, now: Date = Date(),
                           messageIDs: ((_ sendID: Int64) -> @Sendable (_ email: String) -> String)? = nil) throws -> SendRecord {
        try database.write { db in
            try db.execute(sql: "INSERT INTO send (issue, content_hash, created_at, state) VALUES (?, ?, ?, 'running')",
                           arguments: [issue, contentHash, now.timeIntervalSince1970])
            let sendID = db.lastInsertedRowID
            freezing.make = messageIDs?(sendID)
            defer { freezing.make = nil }
            try db.execute(sql: """
                INSERT INTO send_recipient (send_id, subscriber_id, email, name, public_id, state, message_id)
                SELECT ?, id, email, name, public_id, 'pending', hogmail_message_id(email) FROM subscriber
                WHERE \(Self.mayReceive)
                ORDER BY id
                """, arguments: [sendID])
            Failpoint.reach("freeze")
            return Self.send(try Row.fetchOne(db, sql: "SELECT * FROM send WHERE id = ?", arguments: [sendID])!)
        }
    }

    /// Who may get an issue: the one definition, used by the freeze and `--dry-run`. The hash
    /// is the row's own (migration 6), or worked out for a row written without one (a row
    /// inserted by an older HogMail on the same file).
    static let mayReceive = """
        status = 'confirmed' AND confirmed_at IS NOT NULL AND consent_at IS NOT NULL AND consent_source <> ''
        AND COALESCE(address_hash, hogmail_address_hash(email)) NOT IN (SELECT address_hash FROM suppression)
        """

    /// The recipients a send would freeze now, without freezing (for `--dry-run`).
    public func eligibleRecipients(limit: Int? = nil) throws -> (count: Int, sample: [String]) {
        try database.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subscriber WHERE \(Self.mayReceive)") ?? 0
            let sample = try String.fetchAll(db, sql: "SELECT email FROM subscriber WHERE \(Self.mayReceive) ORDER BY id LIMIT ?", arguments: [limit ?? count])
            return (count, sample)
        }
    }

    /// The send's counts: the rows of each state other than sent through that state's partial
    /// index, the total through `(send_id, email)`, and sent as the rest, so a million-row send
    /// is counted without reading its rows.
    public func progress(of send: SendRecord) throws -> SendProgress {
        try database.read { db in
            func count(_ state: SendRecipient.State? = nil) throws -> Int {
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM send_recipient WHERE send_id = ?" + (state.map { " AND state = '\($0.rawValue)'" } ?? ""),
                                 arguments: [send.id]) ?? 0
            }
            var progress = SendProgress()
            progress.total = try count()
            progress.pending = try count(.pending)
            progress.retrying = try count(.retrying)
            progress.failed = try count(.failed)
            progress.sent = progress.total - progress.pending - progress.retrying - progress.failed
            return progress
        }
    }

    /// The next recipients due now: retries whose time has come, then pending rows in id order.
    /// Pending rows are read by primary key from a cursor, so a million-row send never sorts.
    /// The next page of pending recipients, in id order from a cursor: read off the index
    /// `send_recipient_pending` in order, never sorted (a test checks the query plan).
    static let pendingPageSQL = "SELECT \(recipientColumns) FROM send_recipient WHERE id > ? AND send_id = ? AND state = 'pending' ORDER BY id LIMIT ?"

    public func dueRecipients(of send: SendRecord, limit: Int, after cursor: Int64 = 0, now: Date = Date()) throws -> [SendRecipient] {
        try database.read { db in
            var rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'retrying' AND next_attempt_at <= ? LIMIT ?
                """, arguments: [send.id, now.timeIntervalSince1970, limit]).map(Self.recipient)
            if rows.count < limit {
                let statement = try db.cachedStatement(sql: Self.pendingPageSQL)
                try statement.setArguments([cursor, send.id, limit - rows.count])
                rows += try Self.recipients(stepping: statement, in: db)
            }
            return rows
        }
    }

    /// When the next retry is due, if only retries are left.
    public func nextRetry(of send: SendRecord) throws -> Date? {
        try database.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM send_recipient WHERE send_id = ? AND state = 'retrying'", arguments: [send.id])
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func failures(of send: SendRecord) throws -> [SendRecipient] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'failed' ORDER BY id", arguments: [send.id]).map(Self.recipient)
        }
    }

    /// Records the outcome of one attempt. Only `.sent` after the server accepted the message.
    /// `feedback`: a refusal during the transaction that counts as a hard bounce.
    public func record(_ recipient: SendRecipient, outcome: SendRecipient.State, response: String?, messageID: String?,
                       nextAttempt: Date? = nil, feedback: DeliveryFeedback.Kind? = nil, now: Date = Date()) throws {
        try database.write { db in
            try db.execute(sql: """
                UPDATE send_recipient SET state = ?, attempts = attempts + 1, last_response = ?, message_id = COALESCE(?, message_id), next_attempt_at = ?,
                    sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, feedback = COALESCE(?, feedback)
                WHERE id = ?
                """, arguments: [outcome.rawValue, response.map { String($0.prefix(500)) }, messageID, nextAttempt?.timeIntervalSince1970,
                                 outcome.rawValue, now.timeIntervalSince1970, feedback?.rawValue, recipient.id])
        }
    }

    /// Marks messages the server accepted, in one transaction, as the fold of the accepted-log
    /// does (the same statements): for callers that have the recipients at hand.
    public func recordSent(_ accepted: [(recipient: SendRecipient, messageID: String)], now: Date = Date()) throws {
        try recordSent(accepted.map { (recipientID: $0.recipient.id, sentAt: now.timeIntervalSince1970, messageID: $0.messageID) })
    }

    public func setState(of send: SendRecord, to state: SendRecord.State, note: String? = nil, pauseKind: SendRecord.PauseKind? = nil) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE send SET state = ?, note = ?, pause_kind = ? WHERE id = ?",
                           arguments: [state.rawValue, note, state == .paused ? (pauseKind ?? .failures).rawValue : nil, send.id])
        }
    }

    /// `send --resume --accept-risk`: the breaker no longer pauses this send.
    public func acceptRisk(of send: SendRecord) throws {
        try database.write { db in try db.execute(sql: "UPDATE send SET accept_risk = 1 WHERE id = ?", arguments: [send.id]) }
    }

    /// The retrying recipients of a send, soonest first.
    public func retrying(of send: SendRecord) throws -> [SendRecipient] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'retrying' ORDER BY next_attempt_at, id", arguments: [send.id]).map(Self.recipient)
        }
    }

    /// Messages accepted in the last `interval`, across every send: the hourly limit holds across resumes.
    public func sentCount(since: Date) throws -> Int {
        try database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM send_recipient WHERE sent_at >= ?", arguments: [since.timeIntervalSince1970]) ?? 0
        }
    }

    static func send(_ row: Row) -> SendRecord {
        SendRecord(id: row["id"], issue: row["issue"], contentHash: row["content_hash"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
                   state: SendRecord.State(rawValue: row["state"]) ?? .running, note: row["note"],
                   pauseKind: (row["pause_kind"] as String?).flatMap(SendRecord.PauseKind.init), acceptRisk: row["accept_risk"] ?? false)
    }

    /// The columns `recipient(_:)` reads, in its order; a query may select more after them.
    static let recipientColumns = "id, subscriber_id, email, name, public_id, state, attempts, next_attempt_at, last_response, message_id"

    /// Every row of a statement that selects `recipientColumns`, read through SQLite's own calls:
    /// a send reads each recipient once, and through GRDB's `Row` each value was copied into a
    /// row object first (a tenth of a send's CPU time). Same values as `recipient(_:)`.
    static func recipients(stepping statement: Statement, in db: Database) throws -> [SendRecipient] {
        let raw = statement.sqliteStatement
        defer { sqlite3_reset(raw) }
        func text(_ column: Int32) -> String? {
            guard sqlite3_column_type(raw, column) != SQLITE_NULL, let bytes = sqlite3_column_text(raw, column) else { return nil }
            return String(decoding: UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(raw, column))), as: UTF8.self)
        }
        func integer(_ column: Int32) -> Int64? {
            sqlite3_column_type(raw, column) == SQLITE_NULL ? nil : sqlite3_column_int64(raw, column)
        }
        var recipients: [SendRecipient] = []
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { return recipients }
            guard code == SQLITE_ROW else { throw stepFailure(code, db, sql: statement.sql) }
            recipients.append(SendRecipient(
                id: sqlite3_column_int64(raw, 0), subscriberID: integer(1), email: text(2) ?? "", name: text(3), publicID: text(4) ?? "",
                state: text(5).flatMap(SendRecipient.State.init) ?? .pending, attempts: Int(sqlite3_column_int64(raw, 6)),
                nextAttemptAt: sqlite3_column_type(raw, 7) == SQLITE_NULL ? nil : Date(timeIntervalSince1970: sqlite3_column_double(raw, 7)),
                lastResponse: text(8), messageID: text(9)))
        }
    }

    /// A statement stepped through SQLite's own calls failed: the error GRDB would have thrown.
    static func stepFailure(_ code: Int32, _ db: Database, sql: String) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
    }

    /// A row that starts with `recipientColumns`. Read by position: a send reads every row
    /// once, and a lookup by name lower-cases the name each time.
    static func recipient(_ row: Row) -> SendRecipient {
        SendRecipient(id: row[0], subscriberID: row[1], email: row[2], name: row[3], publicID: row[4],
                      state: SendRecipient.State(rawValue: row[5]) ?? .pending, attempts: row[6],
                      nextAttemptAt: (row[7] as Double?).map { Date(timeIntervalSince1970: $0) },
                      lastResponse: row[8], messageID: row[9])
    }
}
