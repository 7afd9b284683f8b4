import Foundation
import HogMailStore

/// The PostgreSQL server of `make test` (scripts/with-postgres.sh), found in the environment.
/// `swift test` run by hand without it skips the PostgreSQL half of each engine test; under
/// `make test` (HOGMAIL_REQUIRE_POSTGRES=1) a missing server is a failure, never a skip.
public enum PostgresTestServer {
    public static let url = ProcessInfo.processInfo.environment["HOGMAIL_TEST_POSTGRES_URL"]
    public static let adminURL = ProcessInfo.processInfo.environment["HOGMAIL_TEST_POSTGRES_ADMIN_URL"]
    public static let required = ProcessInfo.processInfo.environment["HOGMAIL_REQUIRE_POSTGRES"] == "1"

    /// The engines a test written once runs on.
    public static var engines: [StoreEngineKind] {
        if url != nil || required { return [.sqlite, .postgres] }
        return [.sqlite]
    }

    /// Whether the PostgreSQL-only tests run.
    public static var isAvailable: Bool { url != nil || required }

    /// A new, empty database on the test server. It is not dropped: scripts/with-postgres.sh
    /// removes the whole cluster when the tests end.
    public static func freshDatabase() throws -> PostgresLocation {
        guard let adminURL, let url else {
            throw StoreEngineError.connection("No PostgreSQL test server: run the tests through scripts/with-postgres.sh (make test does).")
        }
        let name = "hogmail_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try PostgresStoreDatabase(location: try PostgresLocation(url: adminURL)).withoutTransaction { session in
            _ = try session.execute("CREATE DATABASE \(name)", [])
        }
        var location = try PostgresLocation(url: url)
        location.database = name
        return location
    }

    /// A new, empty database, dropped after `body`.
    public static func withFreshDatabase<T>(_ body: (PostgresLocation) throws -> T) throws -> T {
        let location = try freshDatabase()
        defer {
            if let adminURL, let admin = try? PostgresLocation(url: adminURL) {
                _ = try? PostgresStoreDatabase(location: admin).withoutTransaction { session in
                    try session.execute("DROP DATABASE IF EXISTS \(location.database) WITH (FORCE)", [])
                }
            }
        }
        return try body(location)
    }

    /// A fresh database of `engine`: a new SQLite file, or a new PostgreSQL database.
    public static func withFreshDatabase<T>(_ engine: StoreEngineKind, _ body: (any StoreDatabase) throws -> T) throws -> T {
        switch engine {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-engine-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            return try body(try SQLiteStoreDatabase(path: folder.appendingPathComponent("s.sqlite").path))
        case .postgres:
            return try withFreshDatabase { location in try body(PostgresStoreDatabase(location: location)) }
        }
    }

    /// A new, empty store on `engine` with its local files in `folder` (an SQLite file there, or
    /// a fresh database on the test server).
    public static func store(_ engine: StoreEngineKind, folder: URL) throws -> SubscriberStore {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        switch engine {
        case .sqlite: return try SubscriberStore(path: folder.appendingPathComponent("hogmail.sqlite").path)
        case .postgres: return try SubscriberStore(postgres: try freshDatabase(), localFolder: folder.path)
        }
    }
}
