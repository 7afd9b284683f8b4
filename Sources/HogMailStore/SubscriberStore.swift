import Crypto
import Foundation
import GRDB
import GRDBSQLite
import HogMail

/// Subscribers, their consent and history, and suppressions: in one SQLite file (the default)
/// or in a PostgreSQL database shared by several processes and machines.
/// The schema lives in named, ordered migrations; every change is a transaction.
public final class SubscriberStore: Sendable {
    /// The engine every ported operation runs on.
    let engine: any StoreDatabase
    /// The SQLite file's queue, for what only SQLite has (the send's hot paths, VACUUM); nil on PostgreSQL.
    private let sqlite: DatabaseQueue?
    /// Where the store is: the SQLite file's path, or the PostgreSQL URL without its password.
    public let path: String
    /// The suppression hashes' key, read once: it never changes after the store is made.
    let hasher: AddressHasher
    /// The Message-IDs of the send being frozen, read by the SQL function `hogmail_message_id`.
    let freezing = FreezingMessageIDs()
    /// This machine's log of messages accepted and not yet folded into the journal (`AcceptedLog`):
    /// beside the SQLite file, or in the folder given for a PostgreSQL store.
    public let acceptedLogPath: String

    public var engineKind: StoreEngineKind { engine.engine }

    /// The SQLite queue. Only SQLite-specific paths use it, each behind a check of the engine;
    /// reaching it on PostgreSQL is a bug in HogMail, not a user's mistake.
    var database: DatabaseQueue {
        guard let sqlite else { preconditionFailure("An SQLite-only path of the store ran on PostgreSQL.") }
        return sqlite
    }

    /// Opens (and migrates) the PostgreSQL store at `location`. `localFolder` holds what stays
    /// on this machine: the log of accepted messages a send writes before each commit (the
    /// project's folder; the system's temporary folder when nil).
    public init(postgres location: PostgresLocation, localFolder: String? = nil) throws {
        let database = PostgresStoreDatabase(location: location)
        do {
            try PostgresSchema.migrate(database)
            guard let key = try database.read({ session in try session.value(Data.self, "SELECT key FROM store_key") }) else {
                throw StoreEngineError.location("The PostgreSQL store at \(location.displayURL) has no store key (table store_key is empty). It was not made by HogMail, or was changed by hand; restore it from a backup.")
            }
            hasher = AddressHasher(key: key)
        } catch let error as StoreEngineError {
            throw HogMailError("The subscriber store cannot be opened: \(error). Check `store.url` in hogmail.yml.")
        }
        engine = database
        sqlite = nil
        path = location.displayURL
        let folder = localFolder ?? FileManager.default.temporaryDirectory.path
        // One log per server store, named by its URL: a project pointed at another store
        // never folds this one's lines into it.
        let name = HashState().digest(appending: Array(location.displayURL.utf8)).hex(bytes: 6)
        acceptedLogPath = URL(fileURLWithPath: folder).appendingPathComponent("accepted-\(name).log").path
        do {
            try PrivateFiles.createDirectory(at: URL(fileURLWithPath: folder))
        } catch {
            throw HogMailError(file: folder, "The folder for this machine's log of accepted messages cannot be created: \(error.localizedDescription). Check its permissions.")
        }
    }

    /// Opens (and creates, on first use) the store at `path`.
    public init(path: String) throws {
        self.path = path
        acceptedLogPath = path + ".accepted"
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(10)
        // WAL with synchronous=NORMAL: a commit survives a killed process (what a send must
        // survive) without an fsync per message, which capped sending at a few hundred a second.
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in
            // Deleted rows are overwritten, so `forget` leaves no trace in the file.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Up to 64 MB of pages (SQLite's default is 2 MB): a million-recipient journal's
            // Message-ID index takes random inserts, and with the default cache most of them
            // read and write pages through the kernel (so did a big import's). Grown only as
            // pages are used.
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        // The store holds people's addresses and consent: owner only. A new file is made 0600
        // before SQLite opens it (SQLite gives its -wal and -shm the main file's mode), and an
        // old one readable by everyone is closed to others.
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try PrivateFiles.createDirectory(at: folder)
            if try !PrivateFiles.createFile(atPath: path) { PrivateFiles.closeToOthers(path) }
        } catch {
            throw HogMailError(file: path, "The subscriber store cannot be created: \(error.localizedDescription). Check `store.path` in hogmail.yml and the permissions of \(folder.path).")
        }
        do {
            let database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
            sqlite = database
            engine = SQLiteStoreDatabase(queue: database)
            let hasher = try database.read { db in try Self.addressHasher(db) }
            self.hasher = hasher
            let mode = PrivateFiles.mode(ofPath: path) ?? PrivateFiles.fileMode
            for companion in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: companion) {
                chmod(companion, mode & 0o660)
            }
            // The suppression hash as a SQL function, so "who may receive" is one query.
            try database.writeWithoutTransaction { db in
                db.add(function: DatabaseFunction("hogmail_address_hash", argumentCount: 1, pure: true) { values in
                    String.fromDatabaseValue(values[0]).map(hasher.hash)
                })
                // Registered once: removing a function while any statement runs fails, and it
                // drops every cached statement of the connection.
                try freezing.register(on: db)
            }
        } catch let error as DatabaseError {
            throw HogMailError(file: path, "The subscriber store cannot be opened: \(error.message ?? "\(error)"). Check `store.path` in hogmail.yml and the file's permissions.")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1 subscribers, events, suppressions") { db in
            try db.execute(sql: """
                CREATE TABLE subscriber (
                    id INTEGER PRIMARY KEY,
                    public_id TEXT NOT NULL UNIQUE,
                    email TEXT NOT NULL UNIQUE,
                    name TEXT,
                    status TEXT NOT NULL CHECK (status IN ('pending','confirmed','unsubscribed','bounced','complained')),
                    created_at REAL NOT NULL,
                    consent_at REAL NOT NULL,
                    consent_method TEXT NOT NULL CHECK (consent_method IN ('form','import','api','cli')),
                    consent_source TEXT NOT NULL,
                    consent_text TEXT,
                    consent_ip TEXT,
                    consent_user_agent TEXT,
                    confirmed_at REAL
                );
                CREATE INDEX subscriber_status ON subscriber(status);
                CREATE TABLE subscriber_event (
                    id INTEGER PRIMARY KEY,
                    subscriber_id INTEGER NOT NULL REFERENCES subscriber(id) ON DELETE CASCADE,
                    at REAL NOT NULL,
                    from_status TEXT,
                    to_status TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                CREATE INDEX subscriber_event_subscriber ON subscriber_event(subscriber_id);
                -- Outlives `forget`: a keyed hash of the address, never the address.
                CREATE TABLE suppression (
                    address_hash TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    at REAL NOT NULL
                );
                -- A random key made with the store, for the suppression hashes.
                CREATE TABLE store_key (key BLOB NOT NULL);
                """)
            var generator = SystemRandomNumberGenerator()
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try db.execute(sql: "INSERT INTO store_key (key) VALUES (?)", arguments: [key])
        }
        registerJournal(&migrator)
        registerSubscriptionRequests(&migrator)
        registerFeedback(&migrator)
        registerPendingIndex(&migrator)
        registerAddressHashes(&migrator)
        registerSharedLimits(&migrator)
        registerPartialJournalIndexes(&migrator)
        registerJournalChecksWithoutLists(&migrator)
        return migrator
    }

    // MARK: - Reading

    public func subscriber(email: String) throws -> Subscriber? {
        guard let normalized = Subscriber.normalize(email) else { return nil }
        return try engine.read { session in try session.row("SELECT * FROM subscriber WHERE email = ?", normalized).map(Self.subscriber) }
    }

    public func subscriber(publicID: String) throws -> Subscriber? {
        try engine.read { session in try session.row("SELECT * FROM subscriber WHERE public_id = ?", publicID).map(Self.subscriber) }
    }

    public func events(of subscriber: Subscriber) throws -> [SubscriberEvent] {
        try engine.read { session in
            try session.rows("SELECT * FROM subscriber_event WHERE subscriber_id = ? ORDER BY id", subscriber.id).map { row in
                SubscriberEvent(at: try row.get("at"), from: try row.get("from_status", as: String?.self).flatMap(Subscriber.Status.init),
                                to: try Self.status(row, "to_status"), actor: try row.get("actor"), reason: try row.get("reason"),
                                sendID: try row.get("send_id"))
            }
        }
    }

    /// Subscribers in id order, optionally of one status, streamed page by page.
    public func forEach(status: Subscriber.Status? = nil, _ body: (Subscriber) throws -> Void) throws {
        var lastID: Int64 = 0
        while true {
            let page = try engine.read { session in
                if let status {
                    return try session.rows("SELECT * FROM subscriber WHERE id > ? AND status = ? ORDER BY id LIMIT 1000", lastID, status.rawValue).map(Self.subscriber)
                }
                return try session.rows("SELECT * FROM subscriber WHERE id > ? ORDER BY id LIMIT 1000", lastID).map(Self.subscriber)
            }
            guard let last = page.last else { return }
            try page.forEach(body)
            lastID = last.id
        }
    }

    public func counts() throws -> [Subscriber.Status: Int] {
        try engine.read { session in
            var result: [Subscriber.Status: Int] = [:]
            for row in try session.rows("SELECT status, COUNT(*) AS n FROM subscriber GROUP BY status") {
                if let status = Subscriber.Status(rawValue: try row.get("status")) { result[status] = try row.get("n") }
            }
            return result
        }
    }

    public func isSuppressed(_ email: String) throws -> Bool {
        guard let normalized = Subscriber.normalize(email) else { return false }
        return try engine.read { session in try isSuppressed(normalized, session) }
    }

    // MARK: - Changing

    public enum AddOutcome: Equatable, Sendable {
        /// A new pending subscriber, or a returning one asking again: send a confirmation.
        case needsConfirmation
        /// Already confirmed: nothing to do (the caller must not reveal this).
        case alreadyConfirmed
    }

    /// A double opt-in request (form, CLI, API). A new opt-in is the one way back after leaving.
    @discardableResult
    public func requestSubscription(email: String, name: String?, consent: Subscriber.Consent, actor: String,
                                    now: Date = Date()) throws -> (Subscriber, AddOutcome) {
        if let problem = Subscriber.validateAddress(email) { throw HogMailError(problem) }
        if let name, let problem = Subscriber.validateName(name) { throw HogMailError(problem) }
        guard let normalized = Subscriber.normalize(email) else {
            throw HogMailError("`\(Subscriber.visible(email))` is not an email address. Write it as name@example.com.")
        }
        return try engine.write { session in
            // Two servers taking the same new address at once: the second waits, then finds the first's row.
            try session.serialize(on: "subscriber:" + normalized)
            // FOR UPDATE on PostgreSQL: a confirm or forget of this row waits for this request.
            let lock = session.engine == .postgres ? " FOR UPDATE" : ""
            if let row = try session.row("SELECT * FROM subscriber WHERE email = ?" + lock, normalized) {
                let existing = try Self.subscriber(row)
                if existing.status == .confirmed { return (existing, .alreadyConfirmed) }
                try session.execute("""
                    UPDATE subscriber SET name = COALESCE(?, name), status = 'pending', consent_at = ?, consent_method = ?, consent_source = ?,
                        consent_text = ?, consent_ip = ?, consent_user_agent = ?, confirmed_at = NULL WHERE id = ?
                    """, name, consent.at, consent.method.rawValue, consent.source, consent.text, consent.ip, consent.userAgent, existing.id)
                if existing.status != .pending {
                    try Self.log(session, existing.id, from: existing.status, to: .pending, actor: actor, reason: "new opt-in request", now: now)
                }
                guard let updated = try session.row("SELECT * FROM subscriber WHERE id = ?", existing.id) else {
                    throw HogMailError("The subscriber \(Subscriber.visible(normalized)) was deleted while their request was recorded. Send the request again.")
                }
                return (try Self.subscriber(updated), .needsConfirmation)
            }
            let subscriber = try insert(session, email: normalized, name: name, status: .pending, consent: consent, now: now)
            try Self.log(session, subscriber.id, from: nil, to: .pending, actor: actor, reason: "opt-in requested via \(consent.method.rawValue)", now: now)
            return (subscriber, .needsConfirmation)
        }
    }

    /// Confirms a pending subscriber; confirming twice changes nothing.
    @discardableResult
    public func confirm(publicID: String, now: Date = Date()) throws -> Subscriber? {
        try engine.write { session in
            // FOR UPDATE on PostgreSQL: two servers confirming at once log one confirmation.
            let lock = session.engine == .postgres ? " FOR UPDATE" : ""
            guard let row = try session.row("SELECT * FROM subscriber WHERE public_id = ?" + lock, publicID) else { return nil }
            let subscriber = try Self.subscriber(row)
            guard subscriber.status == .pending else { return subscriber }
            try session.execute("UPDATE subscriber SET status = 'confirmed', confirmed_at = ? WHERE id = ?", now, subscriber.id)
            // A confirmed new opt-in lifts an old suppression.
            try session.execute("DELETE FROM suppression WHERE address_hash = ?", hasher.hash(subscriber.email))
            try Self.log(session, subscriber.id, from: .pending, to: .confirmed, actor: "confirm-link", reason: "confirmed the opt-in", now: now)
            return try Self.subscriber(try session.row("SELECT * FROM subscriber WHERE id = ?", subscriber.id)!)
        }
    }

    /// Moves a subscriber to a suppression status (idempotent) and records the suppression.
    /// `sendID`: the send whose link or message led to it (an unsubscribe link's `s`), counted in `status`.
    @discardableResult
    public func suppress(publicID: String? = nil, email: String? = nil, as status: Subscriber.Status, actor: String, reason: String,
                         sendID: Int64? = nil, now: Date = Date()) throws -> Subscriber? {
        precondition(status.isSuppression)
        return try engine.write { session in
            let lock = session.engine == .postgres ? " FOR UPDATE" : ""
            let row: SQLRow?
            if let publicID {
                row = try session.row("SELECT * FROM subscriber WHERE public_id = ?" + lock, publicID)
            } else if let email, let normalized = Subscriber.normalize(email) {
                row = try session.row("SELECT * FROM subscriber WHERE email = ?" + lock, normalized)
            } else {
                row = nil
            }
            guard let row else { return nil }
            return try suppress(session, Self.subscriber(row), as: status, actor: actor, reason: reason, sendID: sendID, now: now)
        }
    }

    /// The row of `subscriber` must be locked by the caller on PostgreSQL (`FOR UPDATE`), so two
    /// processes suppressing at once log the change once.
    @discardableResult
    func suppress(_ session: any StoreSession, _ subscriber: Subscriber, as status: Subscriber.Status, actor: String, reason: String,
                  sendID: Int64?, now: Date) throws -> Subscriber {
        try Self.recordSuppression(session, hash: hasher.hash(subscriber.email), status: status.rawValue, now: now)
        guard subscriber.status != status else { return subscriber }
        try session.execute("UPDATE subscriber SET status = ? WHERE id = ?", status.rawValue, subscriber.id)
        try Self.log(session, subscriber.id, from: subscriber.status, to: status, actor: actor, reason: reason, sendID: sendID, now: now)
        var changed = subscriber
        changed.status = status
        return changed
    }

    /// Adds or replaces the suppression of an address hash (the same statement on both engines).
    static func recordSuppression(_ session: any StoreSession, hash: String, status: String, now: Date) throws {
        try session.execute("""
            INSERT INTO suppression (address_hash, status, at) VALUES (?, ?, ?)
            ON CONFLICT (address_hash) DO UPDATE SET status = excluded.status, at = excluded.at
            """, hash, status, now)
    }

    /// Everything held about a person, for `export`.
    public func export(email: String) throws -> Data? {
        guard let subscriber = try subscriber(email: email) else { return nil }
        struct Export: Encodable {
            var subscriber: Subscriber
            var events: [SubscriberEvent]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(Export(subscriber: subscriber, events: events(of: subscriber)))
    }

    /// What `forget` did, and what it cannot reach.
    public struct ForgetReport: Sendable, Equatable {
        /// There was a subscriber with this address.
        public var found = false
        /// Send journal rows whose address and name were replaced by a placeholder; their
        /// states stay, so a send's counts stay right.
        public var journalRowsScrubbed = 0
        /// Messages the journal records as accepted for the address: they are in the person's
        /// mailbox (or the outbox) and cannot be recalled.
        public var deliveredMessages = 0
        /// Messages still due for the address in an unfinished send: now failed, never sent.
        public var cancelledMessages = 0
        /// False when another process (`hogmail serve`, a running send) kept the write-ahead
        /// log from being emptied: old copies of the rows may stay in the files until it is.
        /// Always false on PostgreSQL, whose server keeps old row versions until its own VACUUM,
        /// and its write-ahead log and backups until they rotate out.
        public var filesRewritten = true
    }

    /// Deletes everything about the person (GDPR erasure) and keeps only a keyed hash of the
    /// address as a suppression, so no import can add them back. The send journal keeps its
    /// rows for the counts, with the address replaced by `forgotten-<hash>@invalid`.
    @discardableResult
    public func forget(email: String, now: Date = Date()) throws -> ForgetReport {
        guard let normalized = Subscriber.normalize(email) else { return ForgetReport() }
        var report = try engine.write { session -> ForgetReport in
            var report = ForgetReport()
            let hash = hasher.hash(normalized)
            let lock = session.engine == .postgres ? " FOR UPDATE" : ""
            let existing = try session.row("SELECT status FROM subscriber WHERE email = ?" + lock, normalized)
            report.found = existing != nil
            let status = try existing?.get("status", as: String.self)
            try Self.recordSuppression(session, hash: hash, status: status.flatMap { Subscriber.Status(rawValue: $0)?.isSuppression == true ? $0 : nil } ?? "unsubscribed", now: now)
            // The form's rate limits keep the same hash for an hour; they go now.
            try session.execute("DELETE FROM rate_limit_event WHERE key_hash = ?", hash)
            try session.execute("DELETE FROM subscriber_event WHERE subscriber_id IN (SELECT id FROM subscriber WHERE email = ?)", normalized)
            // Bounce and complaint records stay for the send's counts, without the server's words (which quote the address).
            try session.execute("""
                UPDATE delivery_feedback SET detail = NULL, subscriber_id = NULL
                WHERE subscriber_id IN (SELECT id FROM subscriber WHERE email = ?)
                   OR recipient_id IN (SELECT id FROM send_recipient WHERE email = ?)
                """, normalized, normalized)
            try session.execute("DELETE FROM subscriber WHERE email = ?", normalized)

            // The journal: the address, the name, the token id and any server reply (which can
            // quote the address) go; the row, its state and the Message-ID (a hash) of a message
            // that was delivered stay. Any other row had its id from the freeze: it goes too.
            for row in try session.rows("SELECT state, COUNT(*) AS n FROM send_recipient WHERE email = ? GROUP BY state", normalized) {
                let n: Int = try row.get("n")
                report.journalRowsScrubbed += n
                switch SendRecipient.State(rawValue: try row.get("state")) {
                case .sent?: report.deliveredMessages += n
                case .pending?, .retrying?: report.cancelledMessages += n
                default: break
                }
            }
            try session.execute("""
                UPDATE send_recipient SET email = ?, name = NULL, public_id = 'forgotten', next_attempt_at = NULL,
                    message_id = CASE WHEN state = 'sent' THEN message_id END,
                    last_response = CASE state
                        WHEN 'sent' THEN 'accepted'
                        WHEN 'failed' THEN 'failed; the reply was erased when the recipient was forgotten'
                        ELSE 'not sent: the recipient was forgotten before the message went out' END,
                    state = CASE WHEN state IN ('pending', 'retrying') THEN 'failed' ELSE state END
                WHERE email = ?
                """, "forgotten-\(hash.prefix(16))@invalid", normalized)
            // A paused send's note quotes the last server reply, which can name the address.
            let contains = session.engine == .sqlite ? "instr(note, ?) > 0" : "strpos(note, ?) > 0"
            try session.execute("UPDATE send SET note = replace(note, ?, '(a forgotten address)') WHERE " + contains, normalized, normalized)
            // Subscribe requests not yet worked through hold the address too.
            try Self.deleteSubscriptionRequests(session, email: normalized)
            return report
        }
        guard engineKind == .sqlite else {
            // PostgreSQL frees deleted rows' space with its own VACUUM and never zeroes it; its
            // write-ahead log and backups keep old copies until they rotate out.
            report.filesRewritten = false
            return report
        }
        // Old pages and the write-ahead log must not keep a copy of the address: secure_delete
        // zeroes what was deleted, VACUUM rewrites the file, and the checkpoint empties the log.
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM")
            // (busy, log frames, checkpointed frames): busy = 1 when a reader kept the log.
            let checkpoint = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            report.filesRewritten = (checkpoint?[0] as Int?) == 0
        }
        return report
    }

    // MARK: - Internals shared with the importer

    func insert(_ session: any StoreSession, email: String, name: String?, status: Subscriber.Status, consent: Subscriber.Consent, now: Date) throws -> Subscriber {
        let publicID = TokenSigner.newPublicID()
        let id = try session.value(Int64.self, """
            INSERT INTO subscriber (public_id, email, name, status, created_at, consent_at, consent_method, consent_source,
                                    consent_text, consent_ip, consent_user_agent, confirmed_at, address_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """, publicID, email, name, status.rawValue, now, consent.at, consent.method.rawValue, consent.source,
            consent.text, consent.ip, consent.userAgent, consent.confirmedAt, hasher.hash(email))
        return Subscriber(id: id!, publicID: publicID, email: email, name: name, status: status, createdAt: now, consent: consent)
    }

    static func log(_ session: any StoreSession, _ id: Int64, from: Subscriber.Status?, to: Subscriber.Status, actor: String, reason: String,
                    sendID: Int64? = nil, now: Date) throws {
        try session.execute("INSERT INTO subscriber_event (subscriber_id, at, from_status, to_status, actor, reason, send_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            id, now, from?.rawValue, to.rawValue, actor, reason, sendID)
    }

    /// The hasher keyed with this store's key (`store_key`, made with the store).
    static func addressHasher(_ db: Database) throws -> AddressHasher {
        AddressHasher(key: try Data.fetchOne(db, sql: "SELECT key FROM store_key")!)
    }

    static func addressHash(_ normalizedEmail: String, _ db: Database) throws -> String {
        try addressHasher(db).hash(normalizedEmail)
    }

    func isSuppressed(_ normalizedEmail: String, _ session: any StoreSession) throws -> Bool {
        try session.row("SELECT 1 FROM suppression WHERE address_hash = ?", hasher.hash(normalizedEmail)) != nil
    }

    static func status(_ row: SQLRow, _ column: String) throws -> Subscriber.Status {
        let text = try row.get(column, as: String.self)
        guard let status = Subscriber.Status(rawValue: text) else {
            throw StoreEngineError.column(column, "Column \(column) holds the status \(text), which HogMail does not know. The store was changed by hand or by a newer HogMail.")
        }
        return status
    }

    static func subscriber(_ row: SQLRow) throws -> Subscriber {
        Subscriber(
            id: try row.get("id"), publicID: try row.get("public_id"), email: try row.get("email"), name: try row.get("name"),
            status: Subscriber.Status(rawValue: try row.get("status")) ?? .pending,
            createdAt: try row.get("created_at"),
            consent: Subscriber.Consent(
                at: try row.get("consent_at"),
                method: Subscriber.ConsentMethod(rawValue: try row.get("consent_method")) ?? .cli, source: try row.get("consent_source"),
                text: try row.get("consent_text"), ip: try row.get("consent_ip"), userAgent: try row.get("consent_user_agent"),
                confirmedAt: try row.get("confirmed_at")))
    }
}

/// The suppression list's key for an address: HMAC-SHA256 of the whole address lower-cased
/// (a suppression must hold whatever case an import uses), in hex. The list keeps these, not
/// addresses. Set up once per key: a send's freeze hashes every subscriber.
struct AddressHasher: Sendable {
    private let mac: KeyedMAC

    init(key: Data) {
        mac = KeyedMAC(key: Array(key))
    }

    func hash(_ normalizedEmail: String) -> String {
        normalizedEmail.lowercasedUTF8.withUnsafeBytes { mac.code($0) }.hex()
    }
}

/// The Message-IDs of the send being frozen, for the SQL function `hogmail_message_id` (NULL
/// when none is set). Set and cleared inside the freeze's write, so only the store's one
/// writer connection, one statement at a time, reads it.
final class FreezingMessageIDs: @unchecked Sendable {
    enum Maker {
        /// Any function of the address (tests, and callers with their own ids).
        case closure(@Sendable (String) -> String)
        /// HogMail's ids, made from the address's bytes into `buffer`.
        case ids(MessageIDs)
    }

    var maker: Maker?
    /// The last id made, reused: SQLite copies the result before the next call.
    private var buffer: [UInt8] = []

    /// Registers `hogmail_message_id(email)` on the connection through SQLite's own call, not
    /// GRDB's `DatabaseFunction`, which wraps each call's argument and result in Swift values:
    /// the freeze calls it once per recipient, and that wrapping was a fifth of the freeze.
    /// The connection holds this object until it closes (or the function is replaced).
    func register(on db: Database) throws {
        let code = sqlite3_create_function_v2(db.sqliteConnection, "hogmail_message_id", 1, SQLITE_UTF8,
                                              Unmanaged.passRetained(self).toOpaque(), { context, _, values in
            guard let context, let data = sqlite3_user_data(context) else { return }
            Unmanaged<FreezingMessageIDs>.fromOpaque(data).takeUnretainedValue().call(context, values?[0])
        }, nil, nil, { data in
            if let data { Unmanaged<FreezingMessageIDs>.fromOpaque(data).release() }
        })
        // On failure SQLite has already called the destroy function, which released the object.
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    private func call(_ context: OpaquePointer, _ value: OpaquePointer?) {
        guard let maker, let value, sqlite3_value_type(value) != SQLITE_NULL, let text = sqlite3_value_text(value) else {
            return sqlite3_result_null(context)
        }
        let email = UnsafeRawBufferPointer(start: text, count: Int(sqlite3_value_bytes(value)))
        switch maker {
        case .closure(let make):
            var id = make(String(decoding: email, as: UTF8.self))
            id.withUTF8 { buffer.replaceSubrange(buffer.indices, with: $0) }
        case .ids(let ids):
            ids.write(recipient: email, to: &buffer)
        }
        // SQLITE_TRANSIENT: SQLite copies the text before this returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        buffer.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_result_text(context, "", 0, transient) }
            sqlite3_result_text(context, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
        }
    }
}
