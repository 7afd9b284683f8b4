import Foundation
import GRDB
import HogMail

/// A subscribe form submission, recorded as it arrived and worked through later by `serve`'s
/// confirmation worker. The form's answer then costs one insert whatever the address: it
/// cannot tell a known address from an unknown one by its time or status, nor fail because the
/// mail relay is slow or down.
public struct SubscriptionRequest: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var name: String?
    public var consent: Subscriber.Consent
    public var attempts: Int
    public var lastError: String?
}

extension SubscriberStore {
    static func registerSubscriptionRequests(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("3 subscription requests") { db in
            try db.execute(sql: """
                CREATE TABLE subscription_request (
                    id INTEGER PRIMARY KEY,
                    email TEXT NOT NULL,
                    name TEXT,
                    consent_at REAL NOT NULL,
                    consent_method TEXT NOT NULL,
                    consent_source TEXT NOT NULL,
                    consent_text TEXT,
                    consent_ip TEXT,
                    consent_user_agent TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    last_error TEXT
                );
                CREATE INDEX subscription_request_due ON subscription_request(next_attempt_at);
                """)
        }
    }

    /// Records a request; the same single insert whatever the address.
    public func enqueueSubscriptionRequest(email: String, name: String?, consent: Subscriber.Consent, now: Date = Date()) throws {
        try engine.write { session in
            try session.execute("""
                INSERT INTO subscription_request (email, name, consent_at, consent_method, consent_source, consent_text, consent_ip,
                                                  consent_user_agent, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, email, name, consent.at, consent.method.rawValue, consent.source, consent.text, consent.ip, consent.userAgent, now)
        }
    }

    /// Requests whose (next) attempt is due, oldest first.
    public func dueSubscriptionRequests(limit: Int = 50, now: Date = Date()) throws -> [SubscriptionRequest] {
        try engine.read { session in
            try session.rows("SELECT * FROM subscription_request WHERE next_attempt_at <= ? ORDER BY id LIMIT ?", now, limit).map(Self.subscriptionRequest)
        }
    }

    static func subscriptionRequest(_ row: SQLRow) throws -> SubscriptionRequest {
        SubscriptionRequest(
            id: try row.get("id"), email: try row.get("email"), name: try row.get("name"),
            consent: Subscriber.Consent(at: try row.get("consent_at"),
                                        method: Subscriber.ConsentMethod(rawValue: try row.get("consent_method")) ?? .form,
                                        source: try row.get("consent_source"), text: try row.get("consent_text"), ip: try row.get("consent_ip"),
                                        userAgent: try row.get("consent_user_agent")),
            attempts: try row.get("attempts"), lastError: try row.get("last_error"))
    }

    /// Done (confirmation sent, or nothing to send): the row and its copy of the address go.
    public func completeSubscriptionRequest(_ request: SubscriptionRequest) throws {
        try engine.write { session in try session.execute("DELETE FROM subscription_request WHERE id = ?", request.id) }
    }

    /// A failed attempt, tried again at `nextAttempt` by whichever worker claims it then.
    public func deferSubscriptionRequest(_ request: SubscriptionRequest, error: String, nextAttempt: Date) throws {
        try engine.write { session in
            try session.execute("UPDATE subscription_request SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                                String(error.prefix(500)), nextAttempt, request.id)
        }
    }

    /// Requests not yet worked through (for `status` and tests).
    public func subscriptionRequestCount() throws -> Int {
        try engine.read { session in try session.value(Int.self, "SELECT COUNT(*) FROM subscription_request") ?? 0 }
    }

    /// When the next deferred request is due, if any.
    public func nextSubscriptionRequestAttempt() throws -> Date? {
        try engine.read { session in try session.value(Date.self, "SELECT MIN(next_attempt_at) FROM subscription_request") }
    }

    /// Requests for one address, dropped by `forget`.
    static func deleteSubscriptionRequests(_ session: any StoreSession, email: String) throws {
        try session.execute("DELETE FROM subscription_request WHERE lower(email) = lower(?)", email)
    }
}
