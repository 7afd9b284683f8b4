import Foundation
import Testing

@testable import HogMailStore

/// The PostgreSQL server of `make test` (scripts/with-postgres.sh), found in the environment.
/// `swift test` run by hand without it skips the PostgreSQL half of each engine test; under
/// `make test` (HOGMAIL_REQUIRE_POSTGRES=1) a missing server is a failure, never a skip.
enum PostgresTestServer {
    static let url = ProcessInfo.processInfo.environment["HOGMAIL_TEST_POSTGRES_URL"]
    static let adminURL = ProcessInfo.processInfo.environment["HOGMAIL_TEST_POSTGRES_ADMIN_URL"]
    static let required = ProcessInfo.processInfo.environment["HOGMAIL_REQUIRE_POSTGRES"] == "1"

    /// The engines a test written once runs on.
    static var engines: [StoreEngineKind] {
        if url != nil || required { return [.sqlite, .postgres] }
        return [.sqlite]
    }

    /// A new, empty database on the test server, dropped after `body`.
    static func withFreshDatabase<T>(_ body: (PostgresLocation) throws -> T) throws -> T {
        guard let adminURL, let url else {
            throw StoreEngineError.connection("No PostgreSQL test server: run the tests through scripts/with-postgres.sh (make test does).")
        }
        let admin = PostgresStoreDatabase(location: try PostgresLocation(url: adminURL))
        let name = "hogmail_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try admin.withoutTransaction { session in _ = try session.execute("CREATE DATABASE \(name)", []) }
        defer {
            _ = try? admin.withoutTransaction { session in try session.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", []) }
        }
        var location = try PostgresLocation(url: url)
        location.database = name
        return try body(location)
    }

    /// A fresh database of `engine`: a new SQLite file, or a new PostgreSQL database.
    static func withFreshDatabase<T>(_ engine: StoreEngineKind, _ body: (any StoreDatabase) throws -> T) throws -> T {
        switch engine {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-engine-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            return try body(SQLiteStoreDatabase(queue: try .init(path: folder.appendingPathComponent("s.sqlite").path)))
        case .postgres:
            return try withFreshDatabase { location in try body(PostgresStoreDatabase(location: location)) }
        }
    }
}

/// A new, empty store on `engine`, and a way to open a second handle on the same store (another
/// process's view: a second SQLite connection, or a second PostgreSQL connection pool).
func withTemporaryStore<T>(_ engine: StoreEngineKind, _ body: (SubscriberStore, _ reopen: () throws -> SubscriberStore) throws -> T) throws -> T {
    switch engine {
    case .sqlite:
        let (store, folder) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(store, { try SubscriberStore(path: store.path) })
    case .postgres:
        return try PostgresTestServer.withFreshDatabase { location in
            try body(try SubscriberStore(postgres: location), { try SubscriberStore(postgres: location) })
        }
    }
}

/// Under `make test` the server must be there: this fails instead of letting every PostgreSQL
/// half skip quietly.
@Suite struct PostgresTestServerTests {
    @Test func theTestServerIsThereWhenMakeTestRequiresIt() throws {
        guard PostgresTestServer.required else { return }
        #expect(PostgresTestServer.url != nil, "HOGMAIL_REQUIRE_POSTGRES=1 but HOGMAIL_TEST_POSTGRES_URL is not set: run through scripts/with-postgres.sh")
        guard let url = PostgresTestServer.url else { return }
        try PostgresStoreDatabase(location: try PostgresLocation(url: url)).ping()
    }
}
