import Crypto
import Foundation
import GRDB
import HogMail

/// Subscribers, their consent and history, and suppressions, in one SQLite file.
/// The schema lives in named, ordered migrations; every change is a transaction.
public final class SubscriberStore: Sendable {
    let database: DatabaseQueue
    public let path: String
    /// The Message-IDs of the send being frozen, read by the SQL function `hogmail_message_id`.
    let freezing = FreezingMessageIDs()

    /// Opens (and creates, on first use) the store at `path`.
    public init(path: String) throws {
        self.path = path
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
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
            let mode = PrivateFiles.mode(ofPath: path) ?? PrivateFiles.fileMode
            for companion in [path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: companion) {
                chmod(companion, mode & 0o660)
            }
            // The suppression hash as a SQL function, so "who may receive" is one query.
            try database.writeWithoutTransaction { db in
                let hasher = try Self.addressHasher(db)
                db.add(function: DatabaseFunction("hogmail_address_hash", argumentCount: 1, pure: true) { values in
                    String.fromDatabaseValue(values[0]).map(hasher.hash)
                })
                // Registered once: removing a function while any statement runs fails, and it
                // drops every cached statement of the connection.
                let freezing = freezing
                db.add(function: DatabaseFunction("hogmail_message_id", argumentCount: 1, pure: false) { values in
                    guard let make = freezing.make, let email = String.fromDatabaseValue(values[0]) else { return nil }
                    return make(email)
                })
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
        return migrator
    }

    // MARK: - Reading

    public func subscriber(email: String) throws -> Subscriber? {
        guard let normalized = Subscriber.normalize(email) else { return nil }
        return try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE email = ?", arguments: [normalized]).map(Self.subscriber) }
    }

    public func subscriber(publicID: String) throws -> Subscriber? {
        try database.read { db in try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE public_id = ?", arguments: [publicID]).map(Self.subscriber) }
    }

    public func events(of subscriber: Subscriber) throws -> [SubscriberEvent] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscriber_event WHERE subscriber_id = ? ORDER BY id", arguments: [subscriber.id]).map { row in
                SubscriberEvent(at: Date(timeIntervalSince1970: row["at"]), from: (row["from_status"] as String?).flatMap(Subscriber.Status.init),
                                to: Subscriber.Status(rawValue: row["to_status"])!, actor: row["actor"], reason: row["reason"], sendID: row["send_id"])
            }
        }
    }

    /// Subscribers in id order, optionally of one status, streamed page by page.
    public func forEach(status: Subscriber.Status? = nil, _ body: (Subscriber) throws -> Void) throws {
        var lastID: Int64 = 0
        while true {
            let page = try database.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM subscriber WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT 1000",
                                 arguments: [lastID, status?.rawValue, status?.rawValue]).map(Self.subscriber)
            }
            guard let last = page.last else { return }
            try page.forEach(body)
            lastID = last.id
        }
    }

    public func counts() throws -> [Subscriber.Status: Int] {
        try database.read { db in
            var result: [Subscriber.Status: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM subscriber GROUP BY status") {
                if let status = Subscriber.Status(rawValue: row["status"]) { result[status] = row["n"] }
            }
            return result
        }
    }

    public func isSuppressed(_ email: String) throws -> Bool {
        guard let normalized = Subscriber.normalize(email) else { return false }
        return try database.read { db in try Self.isSuppressed(normalized, db) }
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
        return try database.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE email = ?", arguments: [normalized]) {
                let existing = Self.subscriber(row)
                if existing.status == .confirmed { return (existing, .alreadyConfirmed) }
                try db.execute(sql: """
                    UPDATE subscriber SET name = COALESCE(?, name), status = 'pending', consent_at = ?, consent_method = ?, consent_source = ?,
                        consent_text = ?, consent_ip = ?, consent_user_agent = ?, confirmed_at = NULL WHERE id = ?
                    """, arguments: [name, consent.at.timeIntervalSince1970, consent.method.rawValue, consent.source, consent.text,
                                     consent.ip, consent.userAgent, existing.id])
                if existing.status != .pending {
                    try Self.log(db, existing.id, from: existing.status, to: .pending, actor: actor, reason: "new opt-in request", now: now)
                }
                return (Self.subscriber(try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE id = ?", arguments: [existing.id])!), .needsConfirmation)
            }
            let subscriber = try Self.insert(db, email: normalized, name: name, status: .pending, consent: consent, now: now)
            try Self.log(db, subscriber.id, from: nil, to: .pending, actor: actor, reason: "opt-in requested via \(consent.method.rawValue)", now: now)
            return (subscriber, .needsConfirmation)
        }
    }

    /// Confirms a pending subscriber; confirming twice changes nothing.
    @discardableResult
    public func confirm(publicID: String, now: Date = Date()) throws -> Subscriber? {
        try database.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE public_id = ?", arguments: [publicID]) else { return nil }
            let subscriber = Self.subscriber(row)
            guard subscriber.status == .pending else { return subscriber }
            try db.execute(sql: "UPDATE subscriber SET status = 'confirmed', confirmed_at = ? WHERE id = ?",
                           arguments: [now.timeIntervalSince1970, subscriber.id])
            // A confirmed new opt-in lifts an old suppression.
            try db.execute(sql: "DELETE FROM suppression WHERE address_hash = ?", arguments: [try Self.addressHash(subscriber.email, db)])
            try Self.log(db, subscriber.id, from: .pending, to: .confirmed, actor: "confirm-link", reason: "confirmed the opt-in", now: now)
            return Self.subscriber(try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE id = ?", arguments: [subscriber.id])!)
        }
    }

    /// Moves a subscriber to a suppression status (idempotent) and records the suppression.
    /// `sendID`: the send whose link or message led to it (an unsubscribe link's `s`), counted in `status`.
    @discardableResult
    public func suppress(publicID: String? = nil, email: String? = nil, as status: Subscriber.Status, actor: String, reason: String,
                         sendID: Int64? = nil, now: Date = Date()) throws -> Subscriber? {
        precondition(status.isSuppression)
        return try database.write { db in
            let row: Row?
            if let publicID {
                row = try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE public_id = ?", arguments: [publicID])
            } else if let email, let normalized = Subscriber.normalize(email) {
                row = try Row.fetchOne(db, sql: "SELECT * FROM subscriber WHERE email = ?", arguments: [normalized])
            } else {
                row = nil
            }
            guard let row else { return nil }
            return try Self.suppress(db, Self.subscriber(row), as: status, actor: actor, reason: reason, sendID: sendID, now: now)
        }
    }

    @discardableResult
    static func suppress(_ db: Database, _ subscriber: Subscriber, as status: Subscriber.Status, actor: String, reason: String,
                         sendID: Int64?, now: Date) throws -> Subscriber {
        try db.execute(sql: "INSERT OR REPLACE INTO suppression (address_hash, status, at) VALUES (?, ?, ?)",
                       arguments: [try addressHash(subscriber.email, db), status.rawValue, now.timeIntervalSince1970])
        guard subscriber.status != status else { return subscriber }
        try db.execute(sql: "UPDATE subscriber SET status = ? WHERE id = ?", arguments: [status.rawValue, subscriber.id])
        try log(db, subscriber.id, from: subscriber.status, to: status, actor: actor, reason: reason, sendID: sendID, now: now)
        var changed = subscriber
        changed.status = status
        return changed
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
        public var filesRewritten = true
    }

    /// Deletes everything about the person (GDPR erasure) and keeps only a keyed hash of the
    /// address as a suppression, so no import can add them back. The send journal keeps its
    /// rows for the counts, with the address replaced by `forgotten-<hash>@invalid`.
    @discardableResult
    public func forget(email: String, now: Date = Date()) throws -> ForgetReport {
        guard let normalized = Subscriber.normalize(email) else { return ForgetReport() }
        var report = try database.write { db -> ForgetReport in
            var report = ForgetReport()
            let hash = try Self.addressHash(normalized, db)
            let existing = try Row.fetchOne(db, sql: "SELECT status FROM subscriber WHERE email = ?", arguments: [normalized])
            report.found = existing != nil
            try db.execute(sql: "INSERT OR REPLACE INTO suppression (address_hash, status, at) VALUES (?, ?, ?)",
                           arguments: [hash, (existing?["status"] as String?).flatMap { Subscriber.Status(rawValue: $0)?.isSuppression == true ? $0 : nil } ?? "unsubscribed",
                                       now.timeIntervalSince1970])
            // The form's rate limits keep the same hash for an hour; they go now.
            try db.execute(sql: "DELETE FROM rate_limit_event WHERE key_hash = ?", arguments: [hash])
            try db.execute(sql: "DELETE FROM subscriber_event WHERE subscriber_id IN (SELECT id FROM subscriber WHERE email = ?)", arguments: [normalized])
            // Bounce and complaint records stay for the send's counts, without the server's words (which quote the address).
            try db.execute(sql: """
                UPDATE delivery_feedback SET detail = NULL, subscriber_id = NULL
                WHERE subscriber_id IN (SELECT id FROM subscriber WHERE email = ?)
                   OR recipient_id IN (SELECT id FROM send_recipient WHERE email = ?)
                """, arguments: [normalized, normalized])
            try db.execute(sql: "DELETE FROM subscriber WHERE email = ?", arguments: [normalized])

            // The journal: the address, the name, the token id and any server reply (which can
            // quote the address) go; the row, its state and the Message-ID (a hash) of a message
            // that was delivered stay. Any other row had its id from the freeze: it goes too.
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM send_recipient WHERE email = ? GROUP BY state", arguments: [normalized]) {
                let n: Int = row["n"]
                report.journalRowsScrubbed += n
                switch SendRecipient.State(rawValue: row["state"]) {
                case .sent?: report.deliveredMessages += n
                case .pending?, .retrying?: report.cancelledMessages += n
                default: break
                }
            }
            try db.execute(sql: """
                UPDATE send_recipient SET email = ?, name = NULL, public_id = 'forgotten', next_attempt_at = NULL,
                    message_id = CASE WHEN state = 'sent' THEN message_id END,
                    last_response = CASE state
                        WHEN 'sent' THEN 'accepted'
                        WHEN 'failed' THEN 'failed; the reply was erased when the recipient was forgotten'
                        ELSE 'not sent: the recipient was forgotten before the message went out' END,
                    state = CASE WHEN state IN ('pending', 'retrying') THEN 'failed' ELSE state END
                WHERE email = ?
                """, arguments: ["forgotten-\(hash.prefix(16))@invalid", normalized])
            // A paused send's note quotes the last server reply, which can name the address.
            try db.execute(sql: "UPDATE send SET note = replace(note, ?, '(a forgotten address)') WHERE instr(note, ?) > 0",
                           arguments: [normalized, normalized])
            // Subscribe requests not yet worked through hold the address too.
            try Self.deleteSubscriptionRequests(db, email: normalized)
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

    static func insert(_ db: Database, email: String, name: String?, status: Subscriber.Status, consent: Subscriber.Consent, now: Date) throws -> Subscriber {
        let publicID = TokenSigner.newPublicID()
        try db.execute(sql: """
            INSERT INTO subscriber (public_id, email, name, status, created_at, consent_at, consent_method, consent_source,
                                    consent_text, consent_ip, consent_user_agent, confirmed_at, address_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [publicID, email, name, status.rawValue, now.timeIntervalSince1970, consent.at.timeIntervalSince1970,
                             consent.method.rawValue, consent.source, consent.text, consent.ip, consent.userAgent,
                             consent.confirmedAt?.timeIntervalSince1970, try addressHash(email, db)])
        return Subscriber(id: db.lastInsertedRowID, publicID: publicID, email: email, name: name, status: status, createdAt: now, consent: consent)
    }

    static func log(_ db: Database, _ id: Int64, from: Subscriber.Status?, to: Subscriber.Status, actor: String, reason: String,
                    sendID: Int64? = nil, now: Date) throws {
        try db.execute(sql: "INSERT INTO subscriber_event (subscriber_id, at, from_status, to_status, actor, reason, send_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, now.timeIntervalSince1970, from?.rawValue, to.rawValue, actor, reason, sendID])
    }

    /// The hasher keyed with this store's key (`store_key`, made with the store).
    static func addressHasher(_ db: Database) throws -> AddressHasher {
        AddressHasher(key: try Data.fetchOne(db, sql: "SELECT key FROM store_key")!)
    }

    static func addressHash(_ normalizedEmail: String, _ db: Database) throws -> String {
        try addressHasher(db).hash(normalizedEmail)
    }

    static func isSuppressed(_ normalizedEmail: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM suppression WHERE address_hash = ?", arguments: [try addressHash(normalizedEmail, db)]) ?? false
    }

    static func subscriber(_ row: Row) -> Subscriber {
        Subscriber(
            id: row["id"], publicID: row["public_id"], email: row["email"], name: row["name"],
            status: Subscriber.Status(rawValue: row["status"]) ?? .pending,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            consent: Subscriber.Consent(
                at: Date(timeIntervalSince1970: row["consent_at"]),
                method: Subscriber.ConsentMethod(rawValue: row["consent_method"]) ?? .cli, source: row["consent_source"],
                text: row["consent_text"], ip: row["consent_ip"], userAgent: row["consent_user_agent"],
                confirmedAt: (row["confirmed_at"] as Double?).map { Date(timeIntervalSince1970: $0) }))
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
    var make: (@Sendable (String) -> String)?
}
