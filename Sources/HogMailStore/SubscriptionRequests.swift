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
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO subscription_request (email, name, consent_at, consent_method, consent_source, consent_text, consent_ip,
                                                  consent_user_agent, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [email, name, consent.at.timeIntervalSince1970, consent.method.rawValue, consent.source, consent.text,
                                 consent.ip, consent.userAgent, now.timeIntervalSince1970])
        }
    }

    /// Requests whose (next) attempt is due, oldest first.
    public func dueSubscriptionRequests(limit: Int = 50, now: Date = Date()) throws -> [SubscriptionRequest] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscription_request WHERE next_attempt_at <= ? ORDER BY id LIMIT ?",
                             arguments: [now.timeIntervalSince1970, limit]).map(Self.subscriptionRequest)
        }
    }

    static func subscriptionRequest(_ row: Row) -> SubscriptionRequest {
        SubscriptionRequest(
            id: row["id"], email: row["email"], name: row["name"],
            consent: Subscriber.Consent(at: Date(timeIntervalSince1970: row["consent_at"]),
                                        method: Subscriber.ConsentMethod(rawValue: row["consent_method"]) ?? .form,
                                        source: row["consent_source"], text: row["consent_text"], ip: row["consent_ip"],
                                        userAgent: row["consent_user_agent"]),
            attempts: row["attempts"], lastError: row["last_error"])
    }

    /// Done (confirmation sent, or nothing to send): the row and its copy of the address go.
    public func completeSubscriptionRequest(_ request: SubscriptionRequest) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM subscription_request WHERE id = ?", arguments: [request.id]) }
    }

    /// A failed attempt, tried again at `nextAttempt` by whichever worker claims it then.
    public func deferSubscriptionRequest(_ request: SubscriptionRequest, error: String, nextAttempt: Date) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE subscription_request SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, claimed_until = NULL WHERE id = ?",
                           arguments: [String(error.prefix(500)), nextAttempt.timeIntervalSince1970, request.id])
        }
    }

    /// Requests not yet worked through (for `status` and tests).
    public func subscriptionRequestCount() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subscription_request") ?? 0 }
    }

    /// When the next deferred request is due, if any.
    public func nextSubscriptionRequestAttempt() throws -> Date? {
        try database.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_attempt_at) FROM subscription_request").map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Requests for one address, dropped by `forget`.
    static func deleteSubscriptionRequests(_ db: Database, email: String) throws {
        try db.execute(sql: "DELETE FROM subscription_request WHERE lower(email) = lower(?)", arguments: [email])
    }
}
