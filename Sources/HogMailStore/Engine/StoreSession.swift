import Foundation
import GRDB
import GRDBSQLite
import HogMail

/// Which database a store lives in.
public enum StoreEngineKind: String, Sendable {
    /// One file beside the project (the default): one sender at a time.
    case sqlite
    /// A server shared by several senders and `serve` processes.
    case postgres
}

/// The statements of one transaction, on either engine. SQL is written once, with `?` for
/// each argument; the PostgreSQL session numbers them (`$1`, `$2`…) before sending.
///
/// What both engines accept is the common ground the store's SQL keeps to: `INSERT … ON
/// CONFLICT`, `RETURNING`, `LIMIT`, integers, doubles and text. A statement that has to differ
/// asks `engine`.
public protocol StoreSession {
    var engine: StoreEngineKind { get }
    /// Runs a statement that returns no rows; the number of rows it changed.
    @discardableResult func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int
    /// Runs a query; every row, in order.
    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow]
    /// Makes every other write transaction that serializes on `key` wait until this one ends,
    /// for a read-then-write that must not interleave (a rate limit's count and insert). On
    /// SQLite a write transaction already excludes every other writer; on PostgreSQL this takes
    /// a transaction-scoped advisory lock.
    func serialize(on key: Int64) throws
}

extension StoreSession {
    /// `serialize(on:)` with a key made from text (the first 8 bytes of its SHA-256).
    public func serialize(on text: String) throws {
        let digest = HashState().digest(appending: Array(text.utf8)).bytes
        try serialize(on: digest.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) })
    }

    @discardableResult public func execute(_ sql: String, _ arguments: SQLValueConvertible...) throws -> Int {
        try execute(sql, arguments.map(\.sqlValue))
    }

    public func rows(_ sql: String, _ arguments: SQLValueConvertible...) throws -> [SQLRow] {
        try rows(sql, arguments.map(\.sqlValue))
    }

    /// The first row, if any.
    public func row(_ sql: String, _ arguments: SQLValueConvertible...) throws -> SQLRow? {
        try rows(sql, arguments.map(\.sqlValue)).first
    }

    /// The first column of the first row; nil when there is no row or the value is NULL.
    public func value<T: SQLValueConvertible>(_ type: T.Type = T.self, _ sql: String, _ arguments: SQLValueConvertible...) throws -> T? {
        guard let row = try rows(sql, arguments.map(\.sqlValue)).first else { return nil }
        return try row.get(0, as: T?.self)
    }
}

/// A store's database: transactions on one engine or the other.
public protocol StoreDatabase: Sendable {
    var engine: StoreEngineKind { get }
    /// A read: one consistent view of the data, and no writes.
    func read<T>(_ body: (any StoreSession) throws -> T) throws -> T
    /// A write: everything `body` does is committed together, or nothing if it throws.
    @discardableResult func write<T>(_ body: (any StoreSession) throws -> T) throws -> T
    /// One statement that needs no transaction around it (it is atomic by itself): on a server,
    /// one round trip instead of three (BEGIN, the statement, COMMIT).
    @discardableResult func single<T>(_ body: (any StoreSession) throws -> T) throws -> T
}

// MARK: - SQLite (GRDB)

/// The embedded engine: GRDB's queue on the store's file.
public struct SQLiteStoreDatabase: StoreDatabase {
    let queue: DatabaseQueue
    public var engine: StoreEngineKind { .sqlite }

    public init(queue: DatabaseQueue) { self.queue = queue }

    /// A bare database file (no store schema): for tests of the engine layer itself.
    public init(path: String) throws { queue = try DatabaseQueue(path: path) }

    public func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try queue.readKeepingStatements { db in try body(SQLiteSession(db: db)) }
    }

    @discardableResult public func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try queue.write { db in try body(SQLiteSession(db: db)) }
    }

    @discardableResult public func single<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try write(body)
    }
}

extension DatabaseQueue {
    /// GRDB's `read` without its `PRAGMA query_only`, which SQLite answers by expiring every
    /// prepared statement of the connection: after each read, each statement kept for reuse was
    /// compiled again on its next run. A send reads between its folds, and the fold's statement
    /// (hundreds of bound pairs) took longer to compile than to run.
    ///
    /// The same guarantees as `read`: one deferred transaction (one snapshot of the file), and a
    /// block that writes is refused: if the transaction became a write transaction (rows, the
    /// schema, a pragma that writes the header, a temporary table), it is rolled back and the
    /// block throws. Unlike GRDB's read, a write is refused after it ran, not before, so it may
    /// first wait for another process's write lock.
    func readKeepingStatements<T>(_ body: (Database) throws -> T) throws -> T {
        try inDatabase { db in
            var result: T?
            try db.inTransaction(.deferred) {
                result = try body(db)
                guard sqlite3_txn_state(db.sqliteConnection, nil) != SQLITE_TXN_WRITE else {
                    throw DatabaseError(resultCode: .SQLITE_READONLY, message: "A read of the store changed it; the change was rolled back.")
                }
                return .commit
            }
            return result!
        }
    }
}

/// A GRDB connection inside one of its transactions.
struct SQLiteSession: StoreSession {
    let db: Database
    var engine: StoreEngineKind { .sqlite }

    @discardableResult func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try db.execute(sql: sql, arguments: StatementArguments(arguments.map(\.databaseValue)))
        return db.changesCount
    }

    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = statement.columnNames
        return try Row.fetchAll(statement, arguments: StatementArguments(arguments.map(\.databaseValue))).map { row in
            SQLRow(columns: columns, values: (0..<row.count).map { SQLValue(row[$0] as DatabaseValue) })
        }
    }

    /// GRDB's writes are IMMEDIATE transactions: this one already holds the only write lock.
    func serialize(on key: Int64) throws {}
}

extension SQLValue {
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let integer): self = .integer(integer)
        case .double(let real): self = .real(real)
        case .string(let text): self = .text(text)
        case .blob(let data): self = .blob([UInt8](data))
        }
    }

    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let integer): integer.databaseValue
        case .real(let real): real.databaseValue
        case .text(let text): text.databaseValue
        case .blob(let bytes): Data(bytes).databaseValue
        }
    }
}
