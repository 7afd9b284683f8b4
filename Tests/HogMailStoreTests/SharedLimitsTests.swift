import Foundation
import GRDB
import HogMail
import Synchronization
import PostgresTestSupport
import Testing

@testable import HogMailStore

/// The form's rate limits and the confirmation queue's claims, kept in the store.
@Suite struct SharedLimitsTests {
    let start = Date(timeIntervalSince1970: 1_767_000_000)

    @Test(arguments: PostgresTestServer.engines)
    func aKeyGetsItsLimitPerWindowAndRefusalsDoNotCount(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            let tries = try (0..<4).map { i in
                try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(Double(i)))
            }
            #expect(tries == [true, true, true, false])
            // An hour after the first, one slot is free again (the refused try took none).
            #expect(try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(3600.5)))
            #expect(try !store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(3600.6)))
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func scopesAndKeysCountApart(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            #expect(try store.allowEvent(scope: "a", key: "k", limit: 1, window: 60, now: start))
            #expect(try store.allowEvent(scope: "b", key: "k", limit: 1, window: 60, now: start))
            #expect(try store.allowEvent(scope: "a", key: "other", limit: 1, window: 60, now: start))
            #expect(try !store.allowEvent(scope: "a", key: "k", limit: 1, window: 60, now: start))
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func twoHandlesOnOneFileShareTheLimit(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, reopen) throws in
            let other = try reopen()
            var allowed = 0
            for i in 0..<10 {
                if try (i.isMultiple(of: 2) ? store : other).allowEvent(scope: "s", key: "203.0.113.9", limit: 4, window: 3600, now: start) { allowed += 1 }
            }
            #expect(allowed == 4)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func theKeyIsKeptOnlyAsAHash(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            _ = try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start)
            let kept = try store.engine.read { session in try session.rows("SELECT key_hash FROM rate_limit_event").map { try $0.get(0, as: String.self) } }
            // The hash is hex, so it may hold "ada" by chance (CI, 2026-12-03): what must not be
            // there is the address or any part of it that hex cannot spell.
            #expect(kept.count == 1 && !kept[0].contains("@") && !kept[0].contains("example") && kept[0] != "ada@example.com")
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func aSweepDropsOldEventsOfItsScope(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            _ = try store.allowEvent(scope: "s", key: "a", limit: 3, window: 60, now: start)
            _ = try store.allowEvent(scope: "t", key: "a", limit: 3, window: 60, now: start)
            try store.sweepEvents(scope: "s", window: 60, now: start.addingTimeInterval(61))
            let left = try store.engine.read { session in try session.rows("SELECT scope FROM rate_limit_event").map { try $0.get(0, as: String.self) } }
            #expect(left == ["t"])
        }
    }

    @Test func forgettingAnAddressDropsItsEvents() throws {
        let (store, _) = try temporaryStore()
        _ = try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600)
        try store.forget(email: "ada@example.com")
        #expect(try store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rate_limit_event") } == 0)
    }

    func enqueue(_ store: SubscriberStore, _ count: Int) throws {
        for i in 0..<count {
            try store.enqueueSubscriptionRequest(email: "r\(i)@example.com", name: nil, consent: formConsent, now: start)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func twoWorkersClaimDifferentRequests(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, reopen) throws in
            let other = try reopen()
            try enqueue(store, 5)
            let a = try store.claimSubscriptionRequests(limit: 3, lease: 600, now: start)
            let b = try other.claimSubscriptionRequests(limit: 3, lease: 600, now: start)
            #expect(a.count == 3 && b.count == 2)
            #expect(Set(a.map(\.id)).isDisjoint(with: b.map(\.id)))
            #expect(try store.claimSubscriptionRequests(limit: 3, lease: 600, now: start).isEmpty)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func aClaimThatIsNotFinishedIsTakenAgainWhenItsLeaseEnds(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            try enqueue(store, 1)
            let claimed = try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start)
            #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(599)).isEmpty)
            #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(600)).map(\.id) == claimed.map(\.id))
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func aDeferredRequestIsFreeForAnyWorkerWhenItIsDue(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, _) throws in
            try enqueue(store, 1)
            let request = try #require(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start).first)
            try store.deferSubscriptionRequest(request, error: "421 busy", nextAttempt: start.addingTimeInterval(30))
            #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(29)).isEmpty)
            #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(30)).first?.attempts == 1)
        }
    }
}

/// Two handles on one store used at the same moment from different threads: two `serve`
/// processes (or hosts) on one PostgreSQL store, or two connections to one SQLite file.
@Suite struct ConcurrentHandleTests {
    let start = Date(timeIntervalSince1970: 1_767_000_000)

    /// Runs `body(i)` for i in 0..<count on `count` threads released together.
    func atOnce(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        for i in 0..<count {
            group.enter()
            Thread.detachNewThread {
                gate.wait()
                body(i)
                group.leave()
            }
        }
        for _ in 0..<count { gate.signal() }
        group.wait()
    }

    @Test(arguments: PostgresTestServer.engines)
    func thirtyTriesAtOnceThroughTwoHandlesGetExactlyTheLimit(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, reopen) throws in
            let handles = [store, try reopen()]
            let allowed = Mutex(0), failures = Mutex<[String]>([])
            atOnce(30) { i in
                do {
                    if try handles[i % 2].allowEvent(scope: "subscribe-client", key: "203.0.113.9", limit: 20, window: 3600, now: start) {
                        allowed.withLock { $0 += 1 }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(allowed.withLock { $0 } == 20)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func workersClaimingAtOnceNeverShareARequest(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, reopen) throws in
            for i in 0..<60 {
                try store.enqueueSubscriptionRequest(email: "r\(i)@example.com", name: nil, consent: formConsent, now: start)
            }
            let handles = [store, try reopen()]
            let claimed = Mutex<[Int64]>([]), failures = Mutex<[String]>([])
            atOnce(8) { i in
                do {
                    while true {
                        let batch = try handles[i % 2].claimSubscriptionRequests(limit: 4, lease: 600, now: start)
                        if batch.isEmpty { return }
                        claimed.withLock { $0 += batch.map(\.id) }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            let ids = claimed.withLock { $0 }
            #expect(ids.count == 60)
            #expect(Set(ids).count == 60)
        }
    }

    @Test(arguments: PostgresTestServer.engines)
    func oneAddressSubscribingTwiceAtOnceIsOneSubscriber(engine: StoreEngineKind) throws {
        try withTemporaryStore(engine) { (store, reopen) throws in
            let handles = [store, try reopen()]
            let failures = Mutex<[String]>([])
            atOnce(6) { i in
                do {
                    _ = try handles[i % 2].requestSubscription(email: "ada@example.com", name: nil, consent: formConsent, actor: "form")
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            #expect(try store.counts() == [.pending: 1])
            #expect(try store.events(of: try #require(try store.subscriber(email: "ada@example.com"))).count == 1)
        }
    }
}
