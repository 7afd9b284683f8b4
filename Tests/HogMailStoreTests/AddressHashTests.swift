import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// Each subscriber row keeps its suppression hash (migration 6), so the freeze compares stored
/// hashes; a row without one (written by an older HogMail) is still checked.
@Suite struct AddressHashTests {
    func storedHash(_ store: SubscriberStore, _ email: String) throws -> String? {
        try store.database.read { db in try String.fetchOne(db, sql: "SELECT address_hash FROM subscriber WHERE email = ?", arguments: [email]) }
    }

    func expectedHash(_ store: SubscriberStore, _ email: String) throws -> String {
        try store.database.read { db in try SubscriberStore.addressHash(email, db) }
    }

    func storeWithAdaAndBob() throws -> SubscriberStore {
        let (store, _) = try temporaryStore()
        for address in ["ada@example.com", "bob@example.com"] {
            let (subscriber, _) = try store.requestSubscription(email: address, name: nil, consent: formConsent, actor: "form")
            try store.confirm(publicID: subscriber.publicID)
        }
        return store
    }

    @Test func aSubscriberFromTheFormHasItsHash() throws {
        let (store, _) = try temporaryStore()
        _ = try store.requestSubscription(email: "Ada@Example.com", name: nil, consent: formConsent, actor: "form")
        let email = try #require(try store.database.read { db in try String.fetchOne(db, sql: "SELECT email FROM subscriber") })
        #expect(try storedHash(store, email) == expectedHash(store, "ada@example.com"))
    }

    @Test func anImportedSubscriberHasItsHash() throws {
        let (store, folder) = try temporaryStore()
        let csv = folder.appendingPathComponent("s.csv")
        try Data("email,consented_at,consent_source,confirmed_at\nbob@example.com,2025-03-01,form,2025-03-01\n".utf8).write(to: csv)
        _ = try store.importCSV(at: csv, displayPath: "s.csv")
        #expect(try storedHash(store, "bob@example.com") == expectedHash(store, "bob@example.com"))
    }

    @Test func aSuppressedRowWithoutAStoredHashIsStillLeftOut() throws {
        let store = try storeWithAdaAndBob()
        let hash = try expectedHash(store, "bob@example.com")
        try store.database.write { db in
            try db.execute(sql: "UPDATE subscriber SET address_hash = NULL")
            try db.execute(sql: "INSERT INTO suppression (address_hash, status, at) VALUES (?, 'unsubscribed', 0)", arguments: [hash])
        }
        let send = try store.freezeSend(issue: "1", contentHash: "abc")
        #expect(try store.dueRecipients(of: send, limit: 10).map(\.email) == ["ada@example.com"])
    }

    @Test func aSuppressedRowWithItsHashIsLeftOut() throws {
        let store = try storeWithAdaAndBob()
        let hash = try expectedHash(store, "ada@example.com")
        try store.database.write { db in
            try db.execute(sql: "INSERT INTO suppression (address_hash, status, at) VALUES (?, 'unsubscribed', 0)", arguments: [hash])
        }
        let send = try store.freezeSend(issue: "1", contentHash: "abc")
        #expect(try store.dueRecipients(of: send, limit: 10).map(\.email) == ["bob@example.com"])
    }

    @Test func theMigrationHashesTheRowsOfAnOlderStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("hogmail.sqlite").path
        // A store as the version before migration 6 left it, with one subscriber.
        do {
            let queue = try DatabaseQueue(path: path)
            try SubscriberStore.migrator.migrate(queue, upTo: "5 pending recipients in order")
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO subscriber (public_id, email, status, created_at, consent_at, consent_method, consent_source)
                    VALUES ('p1', 'old@example.com', 'confirmed', 0, 0, 'form', 'form')
                    """)
            }
        }
        let store = try SubscriberStore(path: path)
        #expect(try storedHash(store, "old@example.com") == expectedHash(store, "old@example.com"))
    }
}
