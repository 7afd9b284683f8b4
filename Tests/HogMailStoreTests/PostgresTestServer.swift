import Foundation
import PostgresTestSupport
import Testing

@testable import HogMailStore

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
