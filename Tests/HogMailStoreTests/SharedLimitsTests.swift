import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// The form's rate limits and the confirmation queue's claims, kept in the store.
@Suite struct SharedLimitsTests {
    let start = Date(timeIntervalSince1970: 1_767_000_000)

    @Test func aKeyGetsItsLimitPerWindowAndRefusalsDoNotCount() throws {
        let (store, _) = try temporaryStore()
        let tries = try (0..<4).map { i in
            try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(Double(i)))
        }
        #expect(tries == [true, true, true, false])
        // An hour after the first, one slot is free again (the refused try took none).
        #expect(try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(3600.5)))
        #expect(try !store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start.addingTimeInterval(3600.6)))
    }

    @Test func scopesAndKeysCountApart() throws {
        let (store, _) = try temporaryStore()
        #expect(try store.allowEvent(scope: "a", key: "k", limit: 1, window: 60, now: start))
        #expect(try store.allowEvent(scope: "b", key: "k", limit: 1, window: 60, now: start))
        #expect(try store.allowEvent(scope: "a", key: "other", limit: 1, window: 60, now: start))
        #expect(try !store.allowEvent(scope: "a", key: "k", limit: 1, window: 60, now: start))
    }

    @Test func twoHandlesOnOneFileShareTheLimit() throws {
        let (store, _) = try temporaryStore()
        let other = try SubscriberStore(path: store.path)
        var allowed = 0
        for i in 0..<10 {
            if try (i.isMultiple(of: 2) ? store : other).allowEvent(scope: "s", key: "203.0.113.9", limit: 4, window: 3600, now: start) { allowed += 1 }
        }
        #expect(allowed == 4)
    }

    @Test func theKeyIsKeptOnlyAsAHash() throws {
        let (store, _) = try temporaryStore()
        _ = try store.allowEvent(scope: "s", key: "ada@example.com", limit: 3, window: 3600, now: start)
        let kept = try store.database.read { db in try String.fetchAll(db, sql: "SELECT key_hash FROM rate_limit_event") }
        #expect(kept.count == 1 && !kept[0].contains("ada"))
    }

    @Test func aSweepDropsOldEventsOfItsScope() throws {
        let (store, _) = try temporaryStore()
        _ = try store.allowEvent(scope: "s", key: "a", limit: 3, window: 60, now: start)
        _ = try store.allowEvent(scope: "t", key: "a", limit: 3, window: 60, now: start)
        try store.sweepEvents(scope: "s", window: 60, now: start.addingTimeInterval(61))
        let left = try store.database.read { db in try String.fetchAll(db, sql: "SELECT scope FROM rate_limit_event") }
        #expect(left == ["t"])
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

    @Test func twoWorkersClaimDifferentRequests() throws {
        let (store, _) = try temporaryStore()
        let other = try SubscriberStore(path: store.path)
        try enqueue(store, 5)
        let a = try store.claimSubscriptionRequests(limit: 3, lease: 600, now: start)
        let b = try other.claimSubscriptionRequests(limit: 3, lease: 600, now: start)
        #expect(a.count == 3 && b.count == 2)
        #expect(Set(a.map(\.id)).isDisjoint(with: b.map(\.id)))
        #expect(try store.claimSubscriptionRequests(limit: 3, lease: 600, now: start).isEmpty)
    }

    @Test func aClaimThatIsNotFinishedIsTakenAgainWhenItsLeaseEnds() throws {
        let (store, _) = try temporaryStore()
        try enqueue(store, 1)
        let claimed = try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start)
        #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(599)).isEmpty)
        #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(600)).map(\.id) == claimed.map(\.id))
    }

    @Test func aDeferredRequestIsFreeForAnyWorkerWhenItIsDue() throws {
        let (store, _) = try temporaryStore()
        try enqueue(store, 1)
        let request = try #require(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start).first)
        try store.deferSubscriptionRequest(request, error: "421 busy", nextAttempt: start.addingTimeInterval(30))
        #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(29)).isEmpty)
        #expect(try store.claimSubscriptionRequests(limit: 10, lease: 600, now: start.addingTimeInterval(30)).first?.attempts == 1)
    }
}
