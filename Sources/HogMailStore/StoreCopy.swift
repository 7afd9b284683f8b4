import Foundation
import HogMail

/// `hogmail store copy`: every table of one store into another, either engine to either engine,
/// in one transaction per table, then checked: the same number of rows and the same content
/// hash on both sides.
public enum StoreCopy {
    /// A table as the copy reads it: its columns in a fixed order, and the key it is read in
    /// order of (pages of rows after the last key seen).
    struct Table {
        let name: String
        let columns: [String]
        /// The key column for keyset pages; nil for a table read whole (small, no key).
        let key: String?
        /// Whether the target's identity sequence must be moved past the copied ids (PostgreSQL).
        var hasIdentity: Bool { key == "id" }
    }

    /// Parents before children: the server checks foreign keys as each table commits.
    static let tables: [Table] = [
        Table(name: "store_key", columns: ["key"], key: nil),
        Table(name: "subscriber", columns: ["id", "public_id", "email", "name", "status", "created_at", "consent_at", "consent_method",
                                            "consent_source", "consent_text", "consent_ip", "consent_user_agent", "confirmed_at", "address_hash"], key: "id"),
        Table(name: "subscriber_event", columns: ["id", "subscriber_id", "at", "from_status", "to_status", "actor", "reason", "send_id"], key: "id"),
        Table(name: "suppression", columns: ["address_hash", "status", "at"], key: "address_hash"),
        Table(name: "send", columns: ["id", "issue", "content_hash", "created_at", "state", "note", "pause_kind", "accept_risk"], key: "id"),
        Table(name: "send_recipient", columns: ["id", "send_id", "subscriber_id", "email", "name", "public_id", "state", "attempts",
                                                "next_attempt_at", "last_response", "message_id", "sent_at", "feedback"], key: "id"),
        Table(name: "delivery_feedback", columns: ["id", "reference", "at", "kind", "source", "send_id", "recipient_id", "subscriber_id",
                                                   "status_code", "detail"], key: "id"),
        Table(name: "subscription_request", columns: ["id", "email", "name", "consent_at", "consent_method", "consent_source", "consent_text",
                                                      "consent_ip", "consent_user_agent", "attempts", "next_attempt_at", "last_error", "claimed_until"], key: "id"),
        Table(name: "rate_limit_event", columns: ["scope", "key_hash", "at"], key: nil),
    ]

    public struct TableReport: Sendable, Equatable, Encodable {
        public var table: String
        public var rows: Int
        /// SHA-256 of the rows in key order, the same on both sides.
        public var contentHash: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case targetNotEmpty(target: String, rows: [String: Int])
        case mismatch(table: String, source: TableReport, target: TableReport)

        public var description: String {
            switch self {
            case .targetNotEmpty(let target, let rows):
                let held = rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                return "The target store \(target) is not empty (\(held)). Copy into an empty store, or add --replace to delete everything in it first."
            case .mismatch(let table, let source, let target):
                return "After the copy, table \(table) differs: \(source.rows) rows in the source, \(target.rows) in the target (content hash \(source.contentHash.prefix(12)) against \(target.contentHash.prefix(12))). The source changed during the copy, or the target is used by another process; stop HogMail on both and run the copy again with --replace."
            }
        }
    }

    /// Copies `source` into `target`. `progress` is told each table as it is done.
    /// Throws `targetNotEmpty` unless the target is empty or `replace` is set.
    @discardableResult
    public static func copy(from source: SubscriberStore, to target: SubscriberStore, replace: Bool = false,
                            progress: (TableReport) -> Void = { _ in }) throws -> [TableReport] {
        guard source.path != target.path, try serverDatabase(source) == nil || serverDatabase(source) != serverDatabase(target) else {
            throw HogMailError("The target is the project's own store (\(source.path), named as \(target.path)). Name another store with --to.")
        }
        // The rows a store holds of its own making: the key every new store starts with is not data.
        let held = try counts(target).filter { $0.key != "store_key" && $0.value > 0 }
        if !held.isEmpty {
            guard replace else { throw Failure.targetNotEmpty(target: target.path, rows: held) }
            try target.engine.write { session in
                for table in tables.reversed() where table.name != "store_key" {
                    try session.execute("DELETE FROM \(table.name)", [])
                }
            }
        }
        var reports: [TableReport] = []
        for table in tables {
            try target.engine.write { out in
                try source.engine.read { input in
                    if table.name == "store_key" { try out.execute("DELETE FROM store_key", []) }
                    try pages(of: table, in: input) { rows in
                        try insert(rows, into: table, out, hasher: source.hasher)
                    }
                }
                if table.hasIdentity, out.engine == .postgres {
                    // Explicit ids leave the identity where it was: the next insert would reuse 1.
                    _ = try out.rows("SELECT setval(pg_get_serial_sequence('\(table.name)', 'id'), COALESCE((SELECT MAX(id) FROM \(table.name)), 0) + 1, false)", [])
                }
            }
            let copied = try report(table, source)
            let check = try report(table, target)
            guard copied == check else { throw Failure.mismatch(table: table.name, source: copied, target: check) }
            reports.append(copied)
            progress(copied)
        }
        return reports
    }

    /// Which database a server store is, however its URL names it (host names, ports and users
    /// vary): the server's address and port as it sees them, and the database's name. Nil for SQLite.
    static func serverDatabase(_ store: SubscriberStore) throws -> [SQLValue]? {
        guard store.engineKind == .postgres else { return nil }
        return try store.engine.read { session in
            try session.row("SELECT COALESCE(host(inet_server_addr()), 'socket') AS address, COALESCE(inet_server_port(), 0) AS port, CAST(current_database() AS TEXT) AS name")?.values
        }
    }

    /// Rows in each table.
    static func counts(_ store: SubscriberStore) throws -> [String: Int] {
        try store.engine.read { session in
            var counts: [String: Int] = [:]
            for table in tables { counts[table.name] = try session.value(Int.self, "SELECT COUNT(*) FROM \(table.name)") ?? 0 }
            return counts
        }
    }

    /// A table's rows in key order, a page at a time. Text keys are compared byte by byte on
    /// both engines (PostgreSQL's `COLLATE "C"`; a server's own collation may sort otherwise).
    static func pages(of table: Table, in session: any StoreSession, _ body: ([SQLRow]) throws -> Void) throws {
        let columns = table.columns.joined(separator: ", ")
        guard let key = table.key else {
            // Small tables without a key: whole, sorted here by their bytes, which both engines agree on.
            let rows = try session.rows("SELECT \(columns) FROM \(table.name)", [])
                .map { row in (row, row.values.flatMap(encode)) }
                .sorted { $0.1.lexicographicallyPrecedes($1.1) }
                .map(\.0)
            if !rows.isEmpty { try body(rows) }
            return
        }
        let order = key == "id" || session.engine == .sqlite ? key : "\(key) COLLATE \"C\""
        let page = 500
        var cursor: SQLValue?
        while true {
            let rows: [SQLRow]
            if let cursor {
                rows = try session.rows("SELECT \(columns) FROM \(table.name) WHERE \(order) > ? ORDER BY \(order) LIMIT ?", [cursor, .integer(Int64(page))])
            } else {
                rows = try session.rows("SELECT \(columns) FROM \(table.name) ORDER BY \(order) LIMIT ?", [.integer(Int64(page))])
            }
            guard let last = rows.last else { return }
            try body(rows)
            cursor = last.values[table.columns.firstIndex(of: key)!]
            if rows.count < page { return }
        }
    }

    static func insert(_ rows: [SQLRow], into table: Table, _ session: any StoreSession, hasher: AddressHasher) throws {
        var values: [SQLValue] = []
        values.reserveCapacity(rows.count * table.columns.count)
        let hashColumn = table.name == "subscriber" ? table.columns.firstIndex(of: "address_hash") : nil
        let emailColumn = table.columns.firstIndex(of: "email")
        for row in rows {
            var rowValues = row.values
            // A row written by a HogMail from before the stored hashes gets its hash now: a
            // server store has no SQL function to work it out during a send.
            if let hashColumn, let emailColumn, rowValues[hashColumn] == .null, case .text(let email) = rowValues[emailColumn] {
                rowValues[hashColumn] = .text(hasher.hash(email))
            }
            values += rowValues
        }
        let tuple = "(" + Array(repeating: "?", count: table.columns.count).joined(separator: ", ") + ")"
        try session.execute("INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES "
                            + Array(repeating: tuple, count: rows.count).joined(separator: ", "), values)
    }

    /// A table's row count and content hash, read in key order. Each value is hashed with its
    /// kind, so 1 and 1.0 and '1' differ. A subscriber's address hash is left out: it is made
    /// from the address and the store key, both hashed, and the copy fills in any missing one.
    static func report(_ table: Table, _ store: SubscriberStore) throws -> TableReport {
        try store.engine.read { session in
            var state = HashState()
            var count = 0
            let skip = table.name == "subscriber" ? table.columns.firstIndex(of: "address_hash") : nil
            try pages(of: table, in: session) { rows in
                for row in rows {
                    count += 1
                    for (index, value) in row.values.enumerated() where index != skip {
                        state.update(encode(value))
                    }
                    state.update([0x0A])
                }
            }
            return TableReport(table: table.name, rows: count, contentHash: state.digest().hex())
        }
    }

    static func encode(_ value: SQLValue) -> [UInt8] {
        func length(_ count: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(count).bigEndian, Array.init) }
        switch value {
        case .null: return [0]
        case .integer(let integer): return [1] + withUnsafeBytes(of: integer.bigEndian, Array.init)
        case .real(let real): return [2] + withUnsafeBytes(of: real.bitPattern.bigEndian, Array.init)
        case .text(let text): return [3] + length(text.utf8.count) + Array(text.utf8)
        case .blob(let bytes): return [4] + length(bytes.count) + bytes
        }
    }
}
