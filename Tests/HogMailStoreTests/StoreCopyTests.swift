import Foundation
import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// `hogmail store copy`: every table from one engine to the other, checked by counts and hashes.
@Suite struct StoreCopyTests {
    let start = Date(timeIntervalSince1970: 1_767_000_000)

    /// A store with something in every table: confirmed, pending, unsubscribed and forgotten
    /// people, a send with a delivered, a bounced and a pending recipient, a queued request and a
    /// rate-limit event.
    func populated(_ engine: StoreEngineKind) throws -> SubscriberStore {
        let store = try temporaryStore(engine)
        for (index, address) in ["ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"].enumerated() {
            let (s, _) = try store.requestSubscription(email: address, name: index == 0 ? "Ada Lovelace, Countess" : nil, consent: formConsent,
                                                       actor: "form", now: start)
            if index < 3 { try store.confirm(publicID: s.publicID, now: start.addingTimeInterval(60)) }
        }
        try store.forget(email: "gone@example.com", now: start)
        let send = try store.freezeSend(issue: "1", contentHash: "abc", now: start, messageIDs: { id in { "<\(id).\($0)@ids>" } })
        let recipients = try store.dueRecipients(of: send, limit: 10)
        try store.recordSent([(recipientID: recipients[0].id, sentAt: 1_767_000_100.25, messageID: recipients[0].messageID!)])
        try store.recordSent([(recipientID: recipients[1].id, sentAt: 1_767_000_100.5, messageID: recipients[1].messageID!)])
        _ = try store.apply(DeliveryFeedback(kind: .hardBounce, messageID: recipients[1].messageID, email: nil, detail: "550 gone",
                                             source: "ses", reference: "r1"), now: start)
        try store.suppress(email: "cy@example.com", as: .unsubscribed, actor: "one-click", reason: "left", sendID: send.id, now: start)
        try store.enqueueSubscriptionRequest(email: "new@example.com", name: "New", consent: formConsent, now: start)
        _ = try store.allowEvent(scope: "subscribe-client", key: "203.0.113.9", limit: 5, window: 3600, now: start)
        return store
    }

    /// Another handle on `store`, as a later `hogmail` run opens it (it reads the copied store key).
    func reopen(_ store: SubscriberStore) throws -> SubscriberStore {
        store.engineKind == .sqlite ? try SubscriberStore(path: store.path) : try SubscriberStore(postgres: (store.engine as! PostgresStoreDatabase).location)
    }

    @Test(arguments: PostgresTestServer.engines, PostgresTestServer.engines)
    func everyTableArrivesWithTheSameRowsAndHash(from: StoreEngineKind, to: StoreEngineKind) throws {
        let source = try populated(from)
        let target = try temporaryStore(to)
        var told: [String] = []
        let reports = try StoreCopy.copy(from: source, to: target) { told.append($0.table) }
        #expect(told == StoreCopy.tables.map(\.name))
        #expect(reports.first { $0.table == "subscriber" }?.rows == 4)
        #expect(reports.first { $0.table == "send_recipient" }?.rows == 3)
        #expect(try StoreCopy.counts(source) == StoreCopy.counts(target))

        let copied = try reopen(target)
        // The suppression key came along: the forgotten and the unsubscribed stay out.
        #expect(try copied.isSuppressed("gone@example.com"))
        #expect(try copied.isSuppressed("cy@example.com"))
        #expect(try copied.subscriber(email: "ada@example.com")?.name == "Ada Lovelace, Countess")
        let send = try #require(try copied.latestSend(issue: "1"))
        #expect(try copied.report(of: send) == source.report(of: send))
        #expect(try copied.events(of: try #require(try copied.subscriber(email: "cy@example.com"))).map(\.to) == [.pending, .confirmed, .unsubscribed])
        // New rows get new ids, after the copied ones.
        let (added, _) = try copied.requestSubscription(email: "eve@example.com", name: nil, consent: formConsent, actor: "form")
        #expect(added.id > 4)
        #expect(try copied.claimSubscriptionRequests(limit: 5, lease: 60, now: start).map(\.email) == ["new@example.com"])
    }

    @Test(arguments: PostgresTestServer.engines)
    func aTargetThatHoldsDataIsRefusedUnlessReplaced(engine: StoreEngineKind) throws {
        let source = try populated(.sqlite)
        let target = try temporaryStore(engine)
        try target.requestSubscription(email: "other@example.com", name: nil, consent: formConsent, actor: "form")
        #expect {
            try StoreCopy.copy(from: source, to: target)
        } throws: { error in
            "\(error)".contains("is not empty (subscriber 1, subscriber_event 1)") && "\(error)".contains("--replace")
        }
        #expect(try target.subscriber(email: "other@example.com") != nil)
        try StoreCopy.copy(from: source, to: target, replace: true)
        let copied = try reopen(target)
        #expect(try copied.subscriber(email: "other@example.com") == nil)
        #expect(try StoreCopy.counts(copied) == StoreCopy.counts(source))
    }

    /// A row written by a HogMail from before stored address hashes (NULL) gets its hash on the
    /// way: a server store has no SQL function to work it out at the freeze.
    @Test(arguments: PostgresTestServer.engines)
    func aSubscriberWithoutAStoredHashGetsOneAndCanBeSentTo(engine: StoreEngineKind) throws {
        let source = try temporaryStore(.sqlite)
        let (s, _) = try source.requestSubscription(email: "old@example.com", name: nil, consent: formConsent, actor: "form")
        try source.confirm(publicID: s.publicID)
        try source.engine.write { session in try session.execute("UPDATE subscriber SET address_hash = NULL", []) }
        let target = try temporaryStore(engine)
        try StoreCopy.copy(from: source, to: target)
        let copied = try reopen(target)
        #expect(try copied.engine.read { session in try session.value(String.self, "SELECT address_hash FROM subscriber") } != nil)
        #expect(try copied.eligibleRecipients().count == 1)
    }

    @Test func aStoreIsNotCopiedOntoItself() throws {
        let store = try temporaryStore(.sqlite)
        #expect(throws: HogMailError.self) { try StoreCopy.copy(from: store, to: try SubscriberStore(path: store.path)) }
    }

    @Test func theContentHashTellsKindsOfValueApart() {
        #expect(StoreCopy.encode(.integer(1)) != StoreCopy.encode(.real(1)))
        #expect(StoreCopy.encode(.text("1")) != StoreCopy.encode(.blob(Array("1".utf8))))
        // Lengths are part of it: ("ab", "c") and ("a", "bc") differ.
        #expect(StoreCopy.encode(.text("ab")) + StoreCopy.encode(.text("c")) != StoreCopy.encode(.text("a")) + StoreCopy.encode(.text("bc")))
    }

    /// The same server database named another way (127.0.0.1 against localhost) is the
    /// project's own store: `--replace` must not empty it.
    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func theSameServerDatabaseUnderAnotherNameIsRefused() throws {
        let source = try populated(.postgres)
        var other = (source.engine as! PostgresStoreDatabase).location
        other.host = "localhost"
        let target = try SubscriberStore(postgres: other)
        #expect(throws: HogMailError.self) { try StoreCopy.copy(from: source, to: target, replace: true) }
        #expect(try StoreCopy.counts(source)["subscriber"] == 4)
    }
}
