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
        try database.writeWithoutTransaction { db in
            var allowed = false
            try db.inTransaction(.immediate) {
                let hash = try Self.addressHash(key, db)
                let since = now.timeIntervalSince1970 - window
                try db.execute(sql: "DELETE FROM rate_limit_event WHERE scope = ? AND key_hash = ? AND at <= ?", arguments: [scope, hash, since])
                let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM rate_limit_event WHERE scope = ? AND key_hash = ?", arguments: [scope, hash]) ?? 0
                if count < limit {
                    try db.execute(sql: "INSERT INTO rate_limit_event (scope, key_hash, at) VALUES (?, ?, ?)",
                                   arguments: [scope, hash, now.timeIntervalSince1970])
                    allowed = true
                }
                return .commit
            }
            return allowed
        }
    }

    /// Drops the events of `scope` older than `window` (keys that never came back).
    public func sweepEvents(scope: String, window: TimeInterval, now: Date = Date()) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM rate_limit_event WHERE scope = ? AND at <= ?", arguments: [scope, now.timeIntervalSince1970 - window])
        }
    }

    /// Claims up to `limit` requests due now that no other worker holds, for `lease` seconds:
    /// until then no other worker on the store takes them. A worker that dies holding some
    /// loses them when the lease ends, and another sends them.
    public func claimSubscriptionRequests(limit: Int = 50, lease: TimeInterval, now: Date = Date()) throws -> [SubscriptionRequest] {
        try database.writeWithoutTransaction { db in
            var claimed: [SubscriptionRequest] = []
            try db.inTransaction(.immediate) {
                claimed = try Row.fetchAll(db, sql: """
                    SELECT * FROM subscription_request
                    WHERE next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
                    ORDER BY id LIMIT ?
                    """, arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970, limit]).map(Self.subscriptionRequest)
                let claim = try db.makeStatement(sql: "UPDATE subscription_request SET claimed_until = ? WHERE id = ?")
                for request in claimed {
                    try claim.execute(arguments: [now.timeIntervalSince1970 + lease, request.id])
                }
                return .commit
            }
            return claimed
        }
    }
}
