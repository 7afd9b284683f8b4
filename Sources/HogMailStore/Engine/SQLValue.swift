import Foundation

/// A value bound to a statement or read from a row, the same on both engines: SQLite's five
/// storage classes, which PostgreSQL's columns of the store map onto (BIGINT, DOUBLE PRECISION,
/// TEXT, BYTEA; a BOOLEAN reads as 0 or 1). Times are seconds since 1970 on both, so a store
/// moves between engines value for value.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift type stored as one column.
public protocol SQLValueConvertible {
    var sqlValue: SQLValue { get }
    /// Nil when the value cannot be read as this type (the caller names the column).
    static func fromSQL(_ value: SQLValue) -> Self?
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self) }
    public static func fromSQL(_ value: SQLValue) -> Int64? {
        switch value {
        case .integer(let integer): integer
        // An exact whole number only: 2.5 is not an id.
        case .real(let real): Int64(exactly: real)
        default: nil
        }
    }
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int? { Int64.fromSQL(value).flatMap { Int(exactly: $0) } }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .real(self) }
    public static func fromSQL(_ value: SQLValue) -> Double? {
        switch value {
        case .real(let real): real
        case .integer(let integer): Double(integer)
        default: nil
        }
    }
}

extension Bool: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
    public static func fromSQL(_ value: SQLValue) -> Bool? { Int64.fromSQL(value).map { $0 != 0 } }
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public static func fromSQL(_ value: SQLValue) -> String? {
        if case .text(let text) = value { return text }
        return nil
    }
}

extension Data: SQLValueConvertible {
    public var sqlValue: SQLValue { .blob([UInt8](self)) }
    public static func fromSQL(_ value: SQLValue) -> Data? {
        if case .blob(let bytes) = value { return Data(bytes) }
        return nil
    }
}

/// A time as the store keeps it: seconds since 1970, fractions included.
extension Date: SQLValueConvertible {
    public var sqlValue: SQLValue { .real(timeIntervalSince1970) }
    public static func fromSQL(_ value: SQLValue) -> Date? { Double.fromSQL(value).map(Date.init(timeIntervalSince1970:)) }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
    /// NULL reads as nil; any other value must be a `Wrapped`.
    public static func fromSQL(_ value: SQLValue) -> Wrapped?? {
        if case .null = value { return .some(nil) }
        return Wrapped.fromSQL(value).map { .some($0) }
    }
}

/// One row of a result, its columns by name.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        precondition(columns.count == values.count, "a row has one value for each column")
        self.columns = columns
        self.values = values
    }

    /// The column `name` as `T`. Throws when the row has no such column or its value is not a
    /// `T` (NULL into a non-optional, text into a number): the store's schema and its code
    /// disagree, which a test must catch, not a reader.
    public func get<T: SQLValueConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let index = columns.firstIndex(of: name) else {
            throw StoreEngineError.column(name, "The query returned no column named \(name) (columns: \(columns.joined(separator: ", "))).")
        }
        return try get(index, as: type)
    }

    public func get<T: SQLValueConvertible>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard values.indices.contains(index) else {
            throw StoreEngineError.column("#\(index)", "The query returned \(values.count) columns; column \(index) does not exist.")
        }
        guard let value = T.fromSQL(values[index]) else {
            throw StoreEngineError.column(columns[index], "Column \(columns[index]) holds \(values[index].summary), not a value of type \(T.self).")
        }
        return value
    }
}

extension SQLValue {
    /// The kind of value, never the value itself (it may be an address).
    var summary: String {
        switch self {
        case .null: "NULL"
        case .integer: "an integer"
        case .real: "a real number"
        case .text: "text"
        case .blob: "a blob"
        }
    }
}

/// An engine's failure, in a sentence for the person running HogMail.
public enum StoreEngineError: Error, Equatable, CustomStringConvertible {
    /// A row did not have the column, or the value, the code expected.
    case column(String, String)
    /// The store's location (`store.url`) cannot be used as written.
    case location(String)
    /// The server could not be reached, or refused the login.
    case connection(String)
    /// The server rejected a statement.
    case statement(sqlState: String?, String)

    public var description: String {
        switch self {
        case .column(_, let message), .location(let message), .connection(let message): message
        case .statement(let state, let message): state.map { "\(message) (SQLSTATE \($0))" } ?? message
        }
    }

    /// PostgreSQL's code for a unique or primary-key violation: a concurrent writer won.
    public var isUniqueViolation: Bool {
        if case .statement(let state, _) = self { return state == "23505" }
        return false
    }
}
