import Foundation
import GRDB
import HogMail

/// What several `hogmail serve` processes on one store must share: the subscribe form's rate
/// limits, and the queue of confirmation emails, each claimed by one worker at a time. Kept in
/// the store, so two servers behind a load balancer hold the same limits as one and send each
/// confirmation once.
extension SubscriberStore {
    static func registerSharedLimits(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("7 shared rate limits and request claims") { db in
            try db.execute(sql: """
                CREATE TABLE rate_limit_event (
                    scope TEXT NOT NULL,
                    key_hash TEXT NOT NULL,
                    at REAL NOT NULL
                );
                CREATE INDEX rate_limit_event_key ON rate_limit_event(scope, key_hash, at);
                CREATE INDEX rate_limit_event_at ON rate_limit_event(at);
                ALTER TABLE subscription_request ADD COLUMN claimed_until REAL;
                """)
        }
    }

    /// A sliding window per key: at most `limit` events per `window` for `key` in `scope`.
    /// Records the attempt and returns true, or returns false (and records nothing) when the
    /// key is at its limit. The key is kept only as a keyed hash (it is an address or a
    /// client's IP). One immediate transaction, so two processes cannot both take the last slot.
    public func allowEvent(scope: String, key: String, limit: Int, window: TimeInterval, now: Date = Date()) throws -> Bool {
        try engine.write { session in
            let hash = hasher.hash(key)
            // The count and the insert must not interleave with another server's for this key.
            try session.serialize(on: "rate:\(scope):\(hash)")
            let since = now.timeIntervalSince1970 - window
            try session.execute("DELETE FROM rate_limit_event WHERE scope = ? AND key_hash = ? AND at <= ?", scope, hash, since)
            let count = try session.value(Int.self, "SELECT COUNT(*) FROM rate_limit_event WHERE scope = ? AND key_hash = ?", scope, hash) ?? 0
            guard count < limit else { return false }
            try session.execute("INSERT INTO rate_limit_event (scope, key_hash, at) VALUES (?, ?, ?)", scope, hash, now)
            return true
        }
    }

    /// Drops the events of `scope` older than `window` (keys that never came back).
    public func sweepEvents(scope: String, window: TimeInterval, now: Date = Date()) throws {
        try engine.write { session in
            try session.execute("DELETE FROM rate_limit_event WHERE scope = ? AND at <= ?", scope, now.timeIntervalSince1970 - window)
        }
    }

    /// Claims up to `limit` requests due now that no other worker holds, for `lease` seconds:
    /// until then no other worker on the store takes them. A worker that dies holding some
    /// loses them when the lease ends, and another sends them.
    public func claimSubscriptionRequests(limit: Int = 50, lease: TimeInterval, now: Date = Date()) throws -> [SubscriptionRequest] {
        try engine.write { session in
            // On PostgreSQL two workers claiming at once take different rows: each skips the rows
            // the other has locked. On SQLite the write transaction already excludes the other.
            let skipLocked = session.engine == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let claimed = try session.rows("""
                SELECT * FROM subscription_request
                WHERE next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
                ORDER BY id LIMIT ?
                """ + skipLocked, now, now, limit).map(Self.subscriptionRequest)
            for request in claimed {
                try session.execute("UPDATE subscription_request SET claimed_until = ? WHERE id = ?", now.timeIntervalSince1970 + lease, request.id)
            }
            return claimed
        }
    }
}
