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

    /// The journal's CHECKs as comparisons joined by OR, not `IN (…)` lists. SQLite codes an
    /// `IN` of more than two constants as a temporary table, built again each time the
    /// statement runs: every fold `UPDATE` (it sets `state`, so the check runs) opened a new
    /// b-tree and its pager and zeroed their pages. That was over half of the fold's
    /// instructions (callgrind of a replay on 30,000 rows: 58,700 a row before, 26,400 after).
    ///
    /// The rows allowed are the same, so the table's text is changed in place, as SQLite's
    /// documentation describes for removing or changing a CHECK (ALTER TABLE, "making other
    /// kinds of table schema changes"): `writable_schema`, then a new schema version, in the
    /// migration's transaction. A store whose text differs (written by hand) keeps its checks,
    /// and so does one whose SQLite refuses to write the schema (`SQLITE_DBCONFIG_DEFENSIVE`):
    /// the store then works as before, only its fold is slower. No foreign key is touched, so
    /// they stay on (`.immediate`): GRDB's default checks every one in the store afterwards.
    static func rewriteJournalChecks(_ db: Database) throws {
        guard let table = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'send_recipient'") else { return }
        let rewritten = journalChecks.reduce(table) { $0.replacingOccurrences(of: $1.list, with: $1.comparisons) }
        guard rewritten != table else { return }
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        try db.execute(sql: "PRAGMA writable_schema = ON")
        defer { try? db.execute(sql: "PRAGMA writable_schema = OFF") }
        // A SQLite in defensive mode leaves the pragma off without an error.
        guard try Bool.fetchOne(db, sql: "PRAGMA writable_schema") == true else { return }
        do {
            try db.execute(sql: "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'send_recipient'", arguments: [rewritten])
        } catch {
            return
        }
        try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
        try db.execute(sql: "PRAGMA writable_schema = OFF")
        // The new text is read back now, inside the transaction: a table SQLite could not
        // parse would fail here, and the migration would roll back.
        _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM send_recipient WHERE id = 0")
    }

    /// Each check as migrations 2 and 4 wrote it, and as migration 9 writes it.
    static let journalChecks: [(list: String, comparisons: String)] = [
        ("CHECK (state IN ('pending','sent','retrying','failed'))",
         "CHECK (state = 'pending' OR state = 'sent' OR state = 'retrying' OR state = 'failed')"),
        ("CHECK (feedback IN ('soft_bounce','hard_bounce','complaint'))",
         "CHECK (feedback = 'soft_bounce' OR feedback = 'hard_bounce' OR feedback = 'complaint')"),
    ]

    static func registerJournalChecksWithoutLists(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("9 journal checks without IN lists", foreignKeyChecks: .immediate) { db in
            try rewriteJournalChecks(db)
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
        try engine.read { session in
            try session.row("SELECT * FROM send WHERE issue = ? ORDER BY id DESC LIMIT 1", issue).map(Self.send)
        }
    }

    public func sends(issue: String? = nil) throws -> [SendRecord] {
        try engine.read { session in
            if let issue { return try session.rows("SELECT * FROM send WHERE issue = ? ORDER BY id", issue).map(Self.send) }
            return try session.rows("SELECT * FROM send ORDER BY id").map(Self.send)
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
        try freezeSend(issue: issue, contentHash: contentHash, now: now, maker: messageIDs.map { make in { .closure(make($0)) } })
    }

    /// `freezeSend` with HogMail's own Message-IDs (`MessageIDs`), which SQLite's freeze
    /// writes from the address's bytes: no `String` per recipient on either side.
    public func freezeSend(issue: String, contentHash: String, now: Date = Date(),
                           messageIDs: @escaping (_ sendID: Int64) -> MessageIDs) throws -> SendRecord {
        try freezeSend(issue: issue, contentHash: contentHash, now: now, maker: { .ids(messageIDs($0)) })
    }

    private func freezeSend(issue: String, contentHash: String, now: Date, maker: ((Int64) -> FreezingMessageIDs.Maker)?) throws -> SendRecord {
        guard engineKind == .sqlite else {
            return try freezeSendInBatches(issue: issue, contentHash: contentHash, now: now, messageIDs: maker.map { maker in
                { sendID in
                    switch maker(sendID) {
                    case .closure(let make): return make
                    case .ids(let ids): return ids.messageID(recipient:)
                    }
                }
            })
        }
        return try database.write { db in
            try db.execute(sql: "INSERT INTO send (issue, content_hash, created_at, state) VALUES (?, ?, ?, 'running')",
                           arguments: [issue, contentHash, now.timeIntervalSince1970])
            let sendID = db.lastInsertedRowID
            freezing.maker = maker?(sendID)
            defer { freezing.maker = nil }
            try db.execute(sql: """
                INSERT INTO send_recipient (send_id, subscriber_id, email, name, public_id, state, message_id)
                SELECT ?, id, email, name, public_id, 'pending', hogmail_message_id(email) FROM subscriber
                WHERE \(Self.mayReceive)
                ORDER BY id
                """, arguments: [sendID])
            Failpoint.reach("freeze")
            return try Self.send(SQLiteSession(db: db).row("SELECT * FROM send WHERE id = ?", sendID)!)
        }
    }

    /// The freeze on PostgreSQL, which cannot call back into Swift for the Message-IDs: the
    /// recipients are read and written a page at a time, in the one transaction.
    private func freezeSendInBatches(issue: String, contentHash: String, now: Date,
                                     messageIDs: ((_ sendID: Int64) -> @Sendable (_ email: String) -> String)?) throws -> SendRecord {
        try engine.write { session in
            let sendID = try session.value(Int64.self, "INSERT INTO send (issue, content_hash, created_at, state) VALUES (?, ?, ?, 'running') RETURNING id",
                                           issue, contentHash, now)!
            let make = messageIDs?(sendID)
            var cursor: Int64 = 0
            let page = 1_000
            while true {
                let rows = try session.rows("""
                    SELECT id, email, name, public_id FROM subscriber WHERE id > ? AND \(Self.mayReceiveOnServer) ORDER BY id LIMIT ?
                    """, cursor, page)
                guard let last = rows.last else { break }
                var values: [SQLValue] = []
                values.reserveCapacity(rows.count * 6)
                for row in rows {
                    let email = try row.get("email", as: String.self)
                    values += [.integer(sendID), try row.get("id", as: Int64.self).sqlValue, .text(email), try row.get("name", as: String?.self).sqlValue,
                               .text(try row.get("public_id")), make.map { .text($0(email)) } ?? .null]
                }
                let tuples = Array(repeating: "(?, ?, ?, ?, ?, 'pending', ?)", count: rows.count).joined(separator: ", ")
                try session.execute("INSERT INTO send_recipient (send_id, subscriber_id, email, name, public_id, state, message_id) VALUES " + tuples, values)
                cursor = try last.get("id")
            }
            Failpoint.reach("freeze")
            return try Self.send(session.row("SELECT * FROM send WHERE id = ?", sendID)!)
        }
    }

    /// Who may get an issue: the one definition, used by the freeze and `--dry-run`. The hash
    /// is the row's own (migration 6), or worked out for a row written without one (a row
    /// inserted by an older HogMail on the same file).
    static let mayReceive = """
        status = 'confirmed' AND confirmed_at IS NOT NULL AND consent_at IS NOT NULL AND consent_source <> ''
        AND COALESCE(address_hash, hogmail_address_hash(email)) NOT IN (SELECT address_hash FROM suppression)
        """

    /// `mayReceive` where the store has no `hogmail_address_hash` (PostgreSQL): every row there
    /// was written with its hash (by HogMail, or by `store copy`, which fills in missing ones).
    static let mayReceiveOnServer = """
        status = 'confirmed' AND confirmed_at IS NOT NULL AND consent_at IS NOT NULL AND consent_source <> ''
        AND address_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM suppression WHERE suppression.address_hash = subscriber.address_hash)
        """

    /// The recipients a send would freeze now, without freezing (for `--dry-run`).
    public func eligibleRecipients(limit: Int? = nil) throws -> (count: Int, sample: [String]) {
        try engine.read { session in
            let rule = session.engine == .sqlite ? Self.mayReceive : Self.mayReceiveOnServer
            let count = try session.value(Int.self, "SELECT COUNT(*) FROM subscriber WHERE \(rule)") ?? 0
            let sample = try session.rows("SELECT email FROM subscriber WHERE \(rule) ORDER BY id LIMIT ?", limit ?? count).map { try $0.get(0, as: String.self) }
            return (count, sample)
        }
    }

    /// The send's counts: the rows of each state other than sent through that state's partial
    /// index, the total through `(send_id, email)`, and sent as the rest, so a million-row send
    /// is counted without reading its rows.
    public func progress(of send: SendRecord) throws -> SendProgress {
        try engine.read { session in
            func count(_ state: SendRecipient.State? = nil) throws -> Int {
                try session.value(Int.self, Self.progressCountSQL(state), send.id) ?? 0
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

    /// The count of a send's rows in `state` (all rows when nil). The state is written into the
    /// statement, not bound: SQLite uses a partial index (`WHERE state = 'pending'`) only for a
    /// query whose own WHERE names that value (a test reads the plan).
    static func progressCountSQL(_ state: SendRecipient.State?) -> String {
        "SELECT COUNT(*) FROM send_recipient WHERE send_id = ?" + (state.map { " AND state = '\($0.rawValue)'" } ?? "")
    }

    /// The next recipients due now: retries whose time has come, then pending rows in id order.
    /// Pending rows are read by primary key from a cursor, so a million-row send never sorts.
    /// The next page of pending recipients, in id order from a cursor: read off the index
    /// `send_recipient_pending` in order, never sorted (a test checks the query plan).
    static let pendingPageSQL = "SELECT \(recipientColumns) FROM send_recipient WHERE id > ? AND send_id = ? AND state = 'pending' ORDER BY id LIMIT ?"

    public func dueRecipients(of send: SendRecord, limit: Int, after cursor: Int64 = 0, now: Date = Date()) throws -> [SendRecipient] {
        let retriesSQL = "SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'retrying' AND next_attempt_at <= ? LIMIT ?"
        guard engineKind == .sqlite else {
            return try engine.read { session in
                var rows = try session.rows(retriesSQL, send.id, now, limit).map(Self.recipient)
                if rows.count < limit {
                    rows += try session.rows(Self.pendingPageSQL, cursor, send.id, limit - rows.count).map(Self.recipient)
                }
                return rows
            }
        }
        return try database.readKeepingStatements { db in
            // Both statements kept: a send reads a page every few hundred messages.
            let retries = try db.cachedStatement(sql: retriesSQL)
            try retries.setArguments([send.id, now.timeIntervalSince1970, limit])
            var rows = try Self.recipients(stepping: retries, in: db)
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
        try engine.read { session in
            try session.value(Date.self, "SELECT MIN(next_attempt_at) FROM send_recipient WHERE send_id = ? AND state = 'retrying'", send.id)
        }
    }

    public func failures(of send: SendRecord) throws -> [SendRecipient] {
        try engine.read { session in
            try session.rows("SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'failed' ORDER BY id", send.id).map(Self.recipient)
        }
    }

    /// Records the outcome of one attempt. Only `.sent` after the server accepted the message.
    /// `feedback`: a refusal during the transaction that counts as a hard bounce.
    public func record(_ recipient: SendRecipient, outcome: SendRecipient.State, response: String?, messageID: String?,
                       nextAttempt: Date? = nil, feedback: DeliveryFeedback.Kind? = nil, now: Date = Date()) throws {
        // The outcome is decided here, not in SQL: PostgreSQL cannot type a parameter compared
        // with a literal only (`? = 'sent'`).
        let sentAt: Date? = outcome == .sent ? now : nil
        // On a server store the outcome also ends this sender's claim: a retry is anyone's when due.
        let claim = engineKind == .postgres ? ", claimed_by = NULL, claimed_until = NULL" : ""
        try engine.write { session in
            try session.execute("""
                UPDATE send_recipient SET state = ?, attempts = attempts + 1, last_response = ?, message_id = COALESCE(?, message_id), next_attempt_at = ?,
                    sent_at = COALESCE(?, sent_at), feedback = COALESCE(?, feedback)\(claim)
                WHERE id = ? AND state <> 'sent'
                """, outcome.rawValue, response.map { String($0.prefix(500)) }, messageID, nextAttempt, sentAt, feedback?.rawValue, recipient.id)
        }
    }

    /// Marks messages the server accepted, in one transaction, as the fold of the accepted-log
    /// does (the same statements): for callers that have the recipients at hand.
    public func recordSent(_ accepted: [(recipient: SendRecipient, messageID: String)], now: Date = Date()) throws {
        try recordSent(accepted.map { (recipientID: $0.recipient.id, sentAt: now.timeIntervalSince1970, messageID: $0.messageID) })
    }

    /// The send as the store has it now (another sender may have changed its state).
    public func send(id: Int64) throws -> SendRecord? {
        try engine.read { session in try session.row("SELECT * FROM send WHERE id = ?", id).map(Self.send) }
    }

    /// Marks a send completed unless it is paused: on a shared send, another sender may have
    /// paused it while this one finished its part.
    public func completeIfRunning(_ send: SendRecord) throws {
        try engine.write { session in
            try session.execute("UPDATE send SET state = 'completed', note = NULL, pause_kind = NULL WHERE id = ? AND state = 'running'", send.id)
        }
    }

    public func setState(of send: SendRecord, to state: SendRecord.State, note: String? = nil, pauseKind: SendRecord.PauseKind? = nil) throws {
        try engine.write { session in
            try session.execute("UPDATE send SET state = ?, note = ?, pause_kind = ? WHERE id = ?",
                                state.rawValue, note, state == .paused ? (pauseKind ?? .failures).rawValue : nil, send.id)
        }
    }

    /// `send --resume --accept-risk`: the breaker no longer pauses this send.
    public func acceptRisk(of send: SendRecord) throws {
        try engine.write { session in try session.execute("UPDATE send SET accept_risk = 1 WHERE id = ?", send.id) }
    }

    /// The retrying recipients of a send, soonest first.
    public func retrying(of send: SendRecord) throws -> [SendRecipient] {
        try engine.read { session in
            try session.rows("SELECT \(Self.recipientColumns) FROM send_recipient WHERE send_id = ? AND state = 'retrying' ORDER BY next_attempt_at, id", send.id).map(Self.recipient)
        }
    }

    /// Messages accepted in the last `interval`, across every send: the hourly limit holds across resumes.
    public func sentCount(since: Date) throws -> Int {
        try engine.read { session in
            try session.value(Int.self, "SELECT COUNT(*) FROM send_recipient WHERE sent_at >= ?", since) ?? 0
        }
    }

    static func send(_ row: SQLRow) throws -> SendRecord {
        SendRecord(id: try row.get("id"), issue: try row.get("issue"), contentHash: try row.get("content_hash"), createdAt: try row.get("created_at"),
                   state: SendRecord.State(rawValue: try row.get("state")) ?? .running, note: try row.get("note"),
                   pauseKind: try row.get("pause_kind", as: String?.self).flatMap(SendRecord.PauseKind.init), acceptRisk: try row.get("accept_risk", as: Bool?.self) ?? false)
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
    static func recipient(_ row: SQLRow) throws -> SendRecipient {
        SendRecipient(id: try row.get(0), subscriberID: try row.get(1), email: try row.get(2), name: try row.get(3), publicID: try row.get(4),
                      state: SendRecipient.State(rawValue: try row.get(5)) ?? .pending, attempts: try row.get(6),
                      nextAttemptAt: try row.get(7), lastResponse: try row.get(8), messageID: try row.get(9))
    }

    static func recipient(_ row: Row) -> SendRecipient {
        SendRecipient(id: row[0], subscriberID: row[1], email: row[2], name: row[3], publicID: row[4],
                      state: SendRecipient.State(rawValue: row[5]) ?? .pending, attempts: row[6],
                      nextAttemptAt: (row[7] as Double?).map { Date(timeIntervalSince1970: $0) },
                      lastResponse: row[8], messageID: row[9])
    }
}
