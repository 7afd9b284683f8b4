import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// Where a PostgreSQL store is: `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]`.
/// The password never appears in the URL (it would end up in hogmail.yml, in logs and in error
/// messages); it comes from the environment variable `store.password_env` names.
public struct PostgresLocation: Sendable, Equatable {
    /// libpq's `sslmode` values, with libpq's meanings.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS if the server offers it (libpq's `allow` and `prefer`), without checking its certificate.
        case allow, prefer
        /// TLS or no connection; the certificate is not checked (libpq's meaning).
        case require
        /// TLS, and the certificate must chain to a trusted root.
        case verifyCA = "verify-ca"
        /// TLS, a trusted certificate, and one issued for the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// The trusted roots for `verify-ca`/`verify-full`, a PEM file; the system's when nil.
    public var rootCertificate: String?
    public var password: String?

    /// The URL without its password, for messages.
    public var displayURL: String {
        var text = "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        var query: [String] = []
        if tls != .prefer { query.append("sslmode=\(tls.rawValue)") }
        if let rootCertificate { query.append("sslrootcert=\(rootCertificate)") }
        if !query.isEmpty { text += "?" + query.joined(separator: "&") }
        return text
    }

    /// Parses `url`; `password` is the value of the environment variable named by
    /// `store.password_env` (nil when there is none: trust or peer authentication).
    public init(url: String, password: String? = nil) throws(StoreEngineError) {
        func fail(_ problem: String) -> StoreEngineError {
            .location("The store URL \(Self.redacted(url)) \(problem) The form is postgres://USER@HOST:PORT/DATABASE, with ?sslmode=disable|allow|prefer|require|verify-ca|verify-full if needed.")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw fail("is not a PostgreSQL URL.")
        }
        if components.password != nil {
            throw .location("The store URL \(Self.redacted(url)) holds a password. Take it out of the URL and put it in an environment variable, named by store.password_env in hogmail.yml (or by --password-env for `hogmail store copy`), so it stays out of files and of every message.")
        }
        guard let user = components.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw fail("names no user (USER@ before the host).")
        }
        guard let host = components.host, !host.isEmpty else { throw fail("names no host.") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard let decoded = database.removingPercentEncoding, !decoded.isEmpty, !decoded.contains("/") else {
            throw fail("names no database (the path after the host, as in /hogmail).")
        }
        self.user = user
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw fail("has port \(port), which is not between 1 and 65535.") }
        self.database = decoded
        self.tls = .prefer
        self.password = password
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw fail("has sslmode=\(item.value ?? ""), which is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                tls = mode
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else { throw fail("has an empty sslrootcert.") }
                rootCertificate = value
            case let name where name.lowercased() == "password":
                throw .location("The store URL \(Self.redacted(url)) holds a password. Take it out of the URL and put it in an environment variable, named by store.password_env in hogmail.yml (or by --password-env for `hogmail store copy`), so it stays out of files and of every message.")
            default:
                throw fail("has the parameter \(item.name), which HogMail does not know (it knows sslmode and sslrootcert).")
            }
        }
    }

    /// The URL for an error message: a password in its user part or in a `password=`
    /// parameter replaced by `…` (the last `@` before the path ends the user part, so a
    /// password with an `@` of its own is hidden whole).
    static func redacted(_ url: String) -> String {
        var text = url
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                let credentials = rest[..<at]
                if let colon = credentials.firstIndex(of: ":") {
                    text = String(text[..<scheme.upperBound]) + credentials[..<colon] + ":…" + text[at...]
                }
            }
        }
        return text.replacing(/(?i)(password=)[^&#]*/) { "\($0.output.1)…" }
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tlsSetting: PostgresConnection.Configuration.TLS
        do {
            var client = TLSConfiguration.makeClientConfiguration()
            if let rootCertificate { client.trustRoots = .file(rootCertificate) }
            switch tls {
            case .disable: tlsSetting = .disable
            case .allow, .prefer:
                client.certificateVerification = .none
                tlsSetting = .prefer(try NIOSSLContext(configuration: client))
            case .require:
                client.certificateVerification = .none
                tlsSetting = .require(try NIOSSLContext(configuration: client))
            case .verifyCA:
                client.certificateVerification = .noHostnameVerification
                tlsSetting = .require(try NIOSSLContext(configuration: client))
            case .verifyFull:
                client.certificateVerification = .fullVerification
                tlsSetting = .require(try NIOSSLContext(configuration: client))
            }
        } catch {
            throw StoreEngineError.connection("TLS for \(displayURL) cannot be set up: \(error). Check sslrootcert (a PEM file of trusted certificates).")
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: tlsSetting)
        configuration.options.connectTimeout = .seconds(10)
        if tls == .verifyFull { configuration.options.tlsServerName = host }
        return configuration
    }
}

/// A PostgreSQL store's connections. Every call blocks its thread until the server answers,
/// as SQLite's do: the store is synchronous on both engines. The waits are on NIO futures,
/// which complete on NIO's own threads, never on Swift's cooperative pool, so a blocked caller
/// cannot starve the reply it waits for.
public final class PostgresStoreDatabase: StoreDatabase {
    public let location: PostgresLocation
    public var engine: StoreEngineKind { .postgres }
    private let group: any EventLoopGroup
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    private let logger: Logger
    /// How long a statement may go without an answer before its connection is closed and the
    /// statement fails. A server that vanished without a word (a half-open connection, a
    /// firewall that drops the flow) would otherwise hold a sender forever; no statement of
    /// HogMail's takes minutes.
    public let answerTimeout: TimeInterval

    public init(location: PostgresLocation, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, answerTimeout: TimeInterval = 300) {
        self.location = location
        self.group = group
        self.answerTimeout = answerTimeout
        // postgres-nio logs at debug and trace: nothing a user needs on the terminal. Failures
        // reach the caller as errors.
        self.logger = Logger(label: "hogmail.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    deinit {
        for connection in idle.withLock({ $0 }) { Self.close(connection) }
    }

    /// Checks that the server answers and the login works.
    public func ping() throws {
        _ = try read { session in try session.rows("SELECT 1", []) }
    }

    public func read<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    @discardableResult public func write<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try transaction("BEGIN", body)
    }

    @discardableResult public func single<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        try withoutTransaction(body)
    }

    /// Runs `body` outside any transaction (schema work that manages its own, `VACUUM`).
    public func withoutTransaction<T>(_ body: (any StoreSession) throws -> T) throws -> T {
        let connection = try acquire()
        let session = PostgresSession(connection: connection, logger: logger, answerTimeout: answerTimeout)
        do {
            let result = try body(session)
            release(connection)
            return result
        } catch {
            release(connection, broken: session.isBroken)
            throw error
        }
    }

    /// Takes the session-level advisory lock `key` on a connection of its own, kept until the
    /// returned lock is released: the server drops it when the process dies (its connection
    /// closes), as the kernel drops an `flock`. Nil, with who holds it, when another session has it.
    public func takeSessionLock(_ key: Int64) throws -> Result<PostgresSessionLock, PostgresSessionLock.Held> {
        let connection = try acquire()
        let session = PostgresSession(connection: connection, logger: logger, answerTimeout: answerTimeout)
        do {
            let taken = try session.value(Bool.self, "SELECT pg_try_advisory_lock(?)", key) ?? false
            if taken { return .success(PostgresSessionLock(connection: connection, key: key, logger: logger)) }
            // Who has it, from the server's own views, as far as this user may see them (another
            // role's session shows no address or start without pg_read_all_stats).
            let holder = try? session.row("""
                SELECT COALESCE(host(a.client_addr), 'a local socket') AS client, a.pid AS pid,
                    CAST(EXTRACT(EPOCH FROM a.backend_start) AS DOUBLE PRECISION) AS since
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid = CAST((? >> 32) AS OID) AND l.objid = CAST((? & 4294967295) AS OID) AND l.objsubid = 1
                LIMIT 1
                """, key, key)
            release(connection)
            var description = "another sender"
            if let holder, let client = try? holder.get("client", as: String.self), let pid = try? holder.get("pid", as: Int.self) {
                description = "a sender connected from \(client) (server process \(pid)"
                if let since = try? holder.get("since", as: Date.self) { description += ", since \(ISO8601DateFormatter().string(from: since))" }
                description += ")"
            }
            return .failure(PostgresSessionLock.Held(holder: description))
        } catch {
            release(connection, broken: session.isBroken)
            throw error
        }
    }

    private func transaction<T>(_ begin: String, _ body: (any StoreSession) throws -> T) throws -> T {
        let connection = try acquire()
        let session = PostgresSession(connection: connection, logger: logger, answerTimeout: answerTimeout)
        do {
            try session.execute(begin, [])
            let result = try body(session)
            try session.execute("COMMIT", [])
            release(connection)
            return result
        } catch {
            if !session.isBroken, (try? session.execute("ROLLBACK", [])) != nil {
                release(connection)
            } else {
                release(connection, broken: true)
            }
            throw error
        }
    }

    private func acquire() throws -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let configuration = try location.connectionConfiguration()
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration,
                                                  id: nextID.add(1, ordering: .relaxed).oldValue, logger: logger).wait()
        } catch {
            throw StoreEngineError.connection("HogMail cannot connect to the PostgreSQL store at \(location.displayURL): \(PostgresSession.explain(error)). Check that the server runs and accepts this user from this host, and that the environment variable store.password_env names holds the password.")
        }
    }

    private func release(_ connection: PostgresConnection, broken: Bool = false) {
        if broken || connection.isClosed {
            Self.close(connection)
            return
        }
        // A few idle connections are kept; more would only hold server slots.
        let kept = idle.withLock { idle -> Bool in
            guard idle.count < 8 else { return false }
            idle.append(connection)
            return true
        }
        if !kept { Self.close(connection) }
    }

    /// Closes and waits for the socket to be closed (postgres-nio requires a connection to be
    /// closed before it is released). A connection the server already dropped closes at once.
    private static func close(_ connection: PostgresConnection) {
        let closed: EventLoopFuture<Void> = connection.close()
        // Never block one of NIO's own threads (a deinit could run there): the close completes anyway.
        guard !connection.eventLoop.inEventLoop else { return }
        try? closed.wait()
    }
}

/// One PostgreSQL connection, inside a transaction or not.
final class PostgresSession: StoreSession {
    let connection: PostgresConnection
    let logger: Logger
    /// Set when the connection failed (not the statement): it goes back to no pool.
    private(set) var isBroken = false
    var engine: StoreEngineKind { .postgres }

    /// Seconds a statement may wait for its answer (`PostgresStoreDatabase.answerTimeout`).
    let answerTimeout: TimeInterval

    init(connection: PostgresConnection, logger: Logger, answerTimeout: TimeInterval = 300) {
        self.connection = connection
        self.logger = logger
        self.answerTimeout = answerTimeout
    }

    @discardableResult func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        let result = try run(sql, arguments)
        return result.metadata.rows ?? 0
    }

    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        var rows: [SQLRow] = []
        rows.reserveCapacity(result.rows.count)
        for row in result.rows {
            var columns: [String] = []
            var values: [SQLValue] = []
            for cell in row {
                columns.append(cell.columnName)
                values.append(try Self.value(of: cell))
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    func serialize(on key: Int64) throws {
        _ = try rows("SELECT 1 FROM pg_advisory_xact_lock(?)", [.integer(key)])
    }

    private func run(_ sql: String, _ arguments: [SQLValue]) throws -> PostgresQueryResult {
        let (text, count) = try Self.numberingPlaceholders(sql)
        guard count == arguments.count else {
            throw StoreEngineError.statement(sqlState: nil, "A statement has \(count) placeholders but was given \(arguments.count) values: \(sql)")
        }
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .real(let real): binds.append(real)
            case .text(let text): binds.append(text)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        // No answer in time: the connection is closed, which fails the statement. The answer
        // and the timer both run on the connection's event loop, so a statement answered just
        // in time keeps its connection.
        let flag = TimeoutFlag()
        let answered = connection.query(PostgresQuery(unsafeSQL: text, binds: binds), logger: logger)
        answered.whenComplete { _ in flag.answered.store(true, ordering: .relaxed) }
        let timer = connection.eventLoop.scheduleTask(in: .nanoseconds(Int64(answerTimeout * 1e9))) { [connection] in
            guard !flag.answered.load(ordering: .relaxed) else { return }
            flag.timedOut.store(true, ordering: .relaxed)
            let closed: EventLoopFuture<Void> = connection.close()
            _ = closed
        }
        defer { timer.cancel() }
        do {
            return try answered.wait()
        } catch _ where flag.timedOut.load(ordering: .relaxed) {
            isBroken = true
            throw StoreEngineError.connection("The PostgreSQL store gave no answer to a statement in \(String(format: "%g", answerTimeout)) seconds, so HogMail closed the connection. Check that the server is up and reachable from this machine, and what holds it (pg_stat_activity), then run the command again.")
        } catch let error as PSQLError where error.code == .server {
            let message = error.serverInfo?[.message] ?? "the server rejected it"
            let detail = error.serverInfo?[.detail].map { " \($0)" } ?? ""
            throw StoreEngineError.statement(sqlState: error.serverInfo?[.sqlState], "PostgreSQL refused a statement of the store: \(message).\(detail)")
        } catch {
            isBroken = true
            throw StoreEngineError.connection("The connection to the PostgreSQL store failed: \(Self.explain(error)).")
        }
    }

    /// The cell as one of the five kinds of value.
    static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .integer(try cell.decode(Int64.self))
        case .float4, .float8: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .numeric:
            // SUM of integers: whole numbers stay integers.
            let decimal = try cell.decode(Decimal.self)
            let number = NSDecimalNumber(decimal: decimal)
            if let integer = Int64(exactly: number.doubleValue), Decimal(integer) == decimal { return .integer(integer) }
            return .real(number.doubleValue)
        case .text, .varchar, .bpchar, .name: return .text(try cell.decode(String.self))
        case .bytea:
            let buffer = try cell.decode(ByteBuffer.self)
            return .blob(Array(buffer.readableBytesView))
        case .timestamptz, .timestamp: return .real(try cell.decode(Date.self).timeIntervalSince1970)
        default:
            throw StoreEngineError.column(cell.columnName, "Column \(cell.columnName) has the PostgreSQL type \(cell.dataType), which the store does not read. Cast it in the query (to BIGINT, DOUBLE PRECISION or TEXT).")
        }
    }

    /// `?` → `$1`, `$2`… outside quoted strings, quoted names and comments; how many there were.
    static func numberingPlaceholders(_ sql: String) throws -> (String, Int) {
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var count = 0
        var index = 0
        func copy(through end: Int) {
            out.append(contentsOf: bytes[index..<min(end, bytes.count)])
            index = min(end, bytes.count)
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A doubled quote inside is part of the string: the scan simply closes and reopens.
                var end = index + 1
                while end < bytes.count, bytes[end] != byte { end += 1 }
                guard end < bytes.count else {
                    throw StoreEngineError.statement(sqlState: nil, "A statement has an unclosed quote: \(sql)")
                }
                copy(through: end + 1)
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                var end = index
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                copy(through: end)
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                var end = index + 2
                while end + 1 < bytes.count, !(bytes[end] == UInt8(ascii: "*") && bytes[end + 1] == UInt8(ascii: "/")) { end += 1 }
                guard end + 1 < bytes.count else {
                    throw StoreEngineError.statement(sqlState: nil, "A statement has an unclosed comment: \(sql)")
                }
                copy(through: end + 2)
            case UInt8(ascii: "$"):
                // Dollar quoting and $n placeholders are PostgreSQL's own: the shared SQL has neither.
                throw StoreEngineError.statement(sqlState: nil, "A statement written for both engines contains $, which only PostgreSQL reads: \(sql)")
            case UInt8(ascii: "?"):
                count += 1
                out.append(contentsOf: Array("$\(count)".utf8))
                index += 1
            default:
                out.append(byte)
                index += 1
            }
        }
        return (String(decoding: out, as: UTF8.self), count)
    }

    /// A sentence about a connection failure. PSQLError's own description is deliberately
    /// vague (it may carry query text); its code and the server's message are not.
    static func explain(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}

/// A session-level advisory lock held on its own connection (`takeSessionLock`). Released when
/// this object goes, or by the server when the process dies.
public final class PostgresSessionLock: @unchecked Sendable {
    public struct Held: Error, Sendable {
        public var holder: String
    }

    private let connection: PostgresConnection
    private let key: Int64
    private let logger: Logger

    init(connection: PostgresConnection, key: Int64, logger: Logger) {
        self.connection = connection
        self.key = key
        self.logger = logger
    }

    deinit {
        let session = PostgresSession(connection: connection, logger: logger)
        _ = try? session.rows("SELECT pg_advisory_unlock(?)", [.integer(key)])
        let closed: EventLoopFuture<Void> = connection.close()
        guard !connection.eventLoop.inEventLoop else { return }
        try? closed.wait()
    }
}

/// A statement's answer and its timer, both set on the connection's event loop.
private final class TimeoutFlag: Sendable {
    let answered = Atomic<Bool>(false)
    let timedOut = Atomic<Bool>(false)
}
