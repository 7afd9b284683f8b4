import Crypto
import Foundation
import GRDB
import HogMail

/// What came back after a message was accepted: a bounce (a delivery status notification, an
/// SES notification) or a complaint (an ARF report, an SES complaint). Applied once per
/// `reference`, so reading the same mailbox or notification twice changes nothing.
public struct DeliveryFeedback: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The address does not exist, or the mail was refused for good.
        case hardBounce = "hard_bounce"
        /// Mailbox full, delayed, a temporary failure given up on: counted; only repeated ones suppress.
        case softBounce = "soft_bounce"
        /// The reader reported the message as spam.
        case complaint

        /// complaint > hard > soft: a send row keeps the worst that happened to it.
        var severity: Int {
            switch self {
            case .softBounce: 1
            case .hardBounce: 2
            case .complaint: 3
            }
        }

        public var label: String {
            switch self {
            case .hardBounce: "hard bounce"
            case .softBounce: "soft bounce"
            case .complaint: "complaint"
            }
        }
    }

    public var kind: Kind
    /// From a verified VERP token (`sendID` 0: a message outside any send, such as a confirmation).
    public var sendID: Int64?
    public var publicID: String?
    /// Our Message-ID of the message it is about (`<…@example.com>`), as SES reports it.
    public var messageID: String?
    /// The address the report names; used alone only when nothing signed names the recipient.
    public var email: String?
    /// The enhanced status code (RFC 3463), like `5.1.1`.
    public var statusCode: String?
    /// The remote server's words, or the report's type, for the subscriber's history.
    public var detail: String
    /// `mail` (process-mail) or `ses` (the SNS webhook).
    public var source: String
    /// Names the report: the same report applied again is recognised and skipped.
    public var reference: String

    public init(kind: Kind, sendID: Int64? = nil, publicID: String? = nil, messageID: String? = nil, email: String? = nil,
                statusCode: String? = nil, detail: String, source: String, reference: String) {
        self.kind = kind
        self.sendID = sendID
        self.publicID = publicID
        self.messageID = messageID
        self.email = email
        self.statusCode = statusCode
        self.detail = detail
        self.source = source
        self.reference = reference
    }
}

public enum FeedbackOutcome: Sendable, Equatable {
    /// Recorded. `newStatus` is set when the subscriber's status changed (bounced, complained).
    case applied(email: String, sendID: Int64?, newStatus: Subscriber.Status?)
    /// This report was applied before.
    case duplicate
    /// Nothing in the store matches: the reason, in a sentence.
    case unattributed(String)
}

/// A send's numbers after the fact: what the editor and the reputation breaker look at.
public struct SendReport: Sendable, Equatable, Codable {
    public var sendID: Int64
    public var total = 0
    /// Accepted by the receiving server (or relay).
    public var accepted = 0
    /// Accepted and not bounced afterwards.
    public var delivered = 0
    /// Refused during the SMTP transaction or bounced afterwards (5.x.x).
    public var hardBounced = 0
    public var softBounced = 0
    public var complained = 0
    /// Subscribers who left through this send's unsubscribe links.
    public var unsubscribed = 0
    public var failed = 0
    public var retrying = 0
    public var pending = 0

    /// Messages that reached a server's verdict: the denominator of the bounce rate.
    public var out: Int { accepted + failed }
    public var bounceRate: Double { out == 0 ? 0 : Double(hardBounced) / Double(out) }
    public var complaintRate: Double { accepted == 0 ? 0 : Double(complained) / Double(accepted) }
    public var unsubscribeRate: Double { accepted == 0 ? 0 : Double(unsubscribed) / Double(accepted) }
}

extension SendReport {
    /// `0.0525` → `5.25%`, `0.05` → `5%`: rates as the editor reads them.
    public static func percent(_ value: Double) -> String {
        var text = String(format: "%.2f", value * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text + "%"
    }
}

extension SubscriberStore {
    static func registerFeedback(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("4 delivery feedback") { db in
            try db.execute(sql: """
                ALTER TABLE send_recipient ADD COLUMN feedback TEXT CHECK (feedback IN ('soft_bounce','hard_bounce','complaint'));
                CREATE INDEX send_recipient_message_id ON send_recipient(message_id);
                CREATE INDEX send_recipient_subscriber ON send_recipient(subscriber_id, send_id);
                -- Bounces and complaints of a send, counted by the breaker while the send runs
                -- without reading the send's other rows.
                CREATE INDEX send_recipient_feedback ON send_recipient(send_id, feedback) WHERE feedback IS NOT NULL;
                ALTER TABLE subscriber_event ADD COLUMN send_id INTEGER;
                CREATE INDEX subscriber_event_send ON subscriber_event(send_id) WHERE send_id IS NOT NULL;
                -- Why a send is paused (failures, breaker, configuration) and whether its editor
                -- chose to go on despite the breaker.
                ALTER TABLE send ADD COLUMN pause_kind TEXT;
                ALTER TABLE send ADD COLUMN accept_risk INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE delivery_feedback (
                    id INTEGER PRIMARY KEY,
                    -- A hash naming the report: applied once.
                    reference TEXT NOT NULL UNIQUE,
                    at REAL NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('soft_bounce','hard_bounce','complaint')),
                    source TEXT NOT NULL,
                    send_id INTEGER,
                    recipient_id INTEGER REFERENCES send_recipient(id),
                    subscriber_id INTEGER REFERENCES subscriber(id) ON DELETE SET NULL,
                    status_code TEXT,
                    detail TEXT
                );
                CREATE INDEX delivery_feedback_send ON delivery_feedback(send_id);
                """)
        }
    }

    /// Records a bounce or complaint once: the recipient's send row keeps the worst outcome,
    /// the subscriber's history gets an event, a complaint or hard bounce suppresses the
    /// subscriber, and a soft bounce on each of the last `softBounceLimit` sends the subscriber
    /// got makes them bounced. One transaction.
    public func apply(_ feedback: DeliveryFeedback, softBounceLimit: Int = 3, now: Date = Date()) throws -> FeedbackOutcome {
        try engine.write { session -> FeedbackOutcome in
            let reference = SHA256.hash(data: Data("\(feedback.source)\u{0}\(feedback.reference)\u{0}\(feedback.kind.rawValue)".utf8)).hexString
            // The same report read by two processes at once: the second waits, then sees it applied.
            try session.serialize(on: "feedback:" + reference)
            if try session.row("SELECT 1 FROM delivery_feedback WHERE reference = ?", reference) != nil {
                return .duplicate
            }
            let lock = session.engine == .postgres ? " FOR UPDATE" : ""
            // Who it is about: a signed (send, recipient) first, then our Message-ID, then the address.
            var recipientRow: SQLRow?
            var subscriberRow: SQLRow?
            if let publicID = feedback.publicID {
                if let sendID = feedback.sendID, sendID > 0 {
                    recipientRow = try session.row("SELECT * FROM send_recipient WHERE send_id = ? AND public_id = ?" + lock, sendID, publicID)
                }
                subscriberRow = try session.row("SELECT * FROM subscriber WHERE public_id = ?" + lock, publicID)
                if recipientRow == nil, subscriberRow == nil {
                    return .unattributed("its signed token names a subscriber who is no longer in the store (forgotten?)")
                }
            } else if let messageID = feedback.messageID.map(Self.bracketed), !messageID.isEmpty,
                      let row = try session.row(Self.recipientByMessageIDSQL + lock, messageID) {
                recipientRow = row
            }
            if subscriberRow == nil, let subscriberID = try recipientRow?.get("subscriber_id", as: Int64?.self) {
                subscriberRow = try session.row("SELECT * FROM subscriber WHERE id = ?" + lock, subscriberID)
            }
            if subscriberRow == nil, recipientRow == nil, let email = feedback.email, let normalized = Subscriber.normalize(email) {
                subscriberRow = try session.row("SELECT * FROM subscriber WHERE email = ?" + lock, normalized)
                if let id = try subscriberRow?.get("id", as: Int64.self) {
                    // The latest message this person was sent is the one the report is about.
                    recipientRow = try session.row("""
                        SELECT * FROM send_recipient WHERE subscriber_id = ? AND state = 'sent' ORDER BY send_id DESC LIMIT 1
                        """ + lock, id)
                }
            }
            guard subscriberRow != nil || recipientRow != nil else {
                let who = feedback.email.map { "`\(Subscriber.visible($0))`" } ?? "the recipient"
                return .unattributed("\(who) is not a subscriber, and nothing in the report names a message HogMail sent")
            }
            let recipientID = try recipientRow?.get("id", as: Int64.self)
            let sendID: Int64? = try recipientRow?.get("send_id", as: Int64.self) ?? (feedback.sendID.flatMap { $0 > 0 ? $0 : nil })
            try session.execute("""
                INSERT INTO delivery_feedback (reference, at, kind, source, send_id, recipient_id, subscriber_id, status_code, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, reference, now, feedback.kind.rawValue, feedback.source, sendID,
                recipientID, try subscriberRow?.get("id", as: Int64.self), feedback.statusCode, String(feedback.detail.prefix(500)))
            if let recipientID, let recipientRow {
                let current = try recipientRow.get("feedback", as: String?.self).flatMap(DeliveryFeedback.Kind.init)
                if (current?.severity ?? 0) < feedback.kind.severity {
                    try session.execute("UPDATE send_recipient SET feedback = ? WHERE id = ?", feedback.kind.rawValue, recipientID)
                }
            }
            let email: String = try subscriberRow?.get("email") ?? recipientRow?.get("email") ?? ""
            guard let subscriberRow else { return .applied(email: email, sendID: sendID, newStatus: nil) }
            let subscriber = try Self.subscriber(subscriberRow)
            let code = feedback.statusCode.map { "\($0) " } ?? ""
            let onSend = sendID.map { " on send #\($0)" } ?? ""
            let reason = "\(feedback.kind.label)\(onSend) (\(feedback.source)): \(code)\(Subscriber.visible(feedback.detail, limit: 300))"
            var target: Subscriber.Status?
            switch feedback.kind {
            case .complaint:
                target = .complained
            case .hardBounce:
                // Someone who already left stays as they left; the event still records the bounce.
                target = subscriber.status.isSuppression ? nil : .bounced
            case .softBounce:
                if !subscriber.status.isSuppression,
                   try Self.softBouncedOnLastSends(session, subscriberID: subscriber.id, limit: softBounceLimit) {
                    target = .bounced
                }
            }
            if let target, target != subscriber.status {
                let why = feedback.kind == .softBounce ? "\(reason); soft bounces on \(softBounceLimit) sends in a row" : reason
                try suppress(session, subscriber, as: target, actor: feedback.source, reason: why, sendID: sendID, now: now)
                return .applied(email: subscriber.email, sendID: sendID, newStatus: target)
            }
            try Self.log(session, subscriber.id, from: subscriber.status, to: subscriber.status, actor: feedback.source, reason: reason, sendID: sendID, now: now)
            return .applied(email: subscriber.email, sendID: sendID, newStatus: nil)
        }
    }

    /// True when each of the subscriber's last `limit` messages from sends bounced (softly or not).
    static func softBouncedOnLastSends(_ session: any StoreSession, subscriberID: Int64, limit: Int) throws -> Bool {
        guard limit > 0 else { return false }
        let recent = try session.rows("""
            SELECT feedback FROM send_recipient WHERE subscriber_id = ? AND state IN ('sent', 'failed') ORDER BY send_id DESC LIMIT ?
            """, subscriberID, limit).map { try $0.get(0, as: String?.self) }
        return recent.count == limit && recent.allSatisfy { $0 == DeliveryFeedback.Kind.softBounce.rawValue || $0 == DeliveryFeedback.Kind.hardBounce.rawValue }
    }


    /// The journal row a report's Message-ID names, in any state: ids are written at the freeze,
    /// and a message the server accepted stays pending until the accepted-log is next folded
    /// (or, after a kill, until the next run), so a report about it may come first.
    static let recipientByMessageIDSQL = "SELECT * FROM send_recipient WHERE message_id = ? ORDER BY id DESC LIMIT 1"

    static func bracketed(_ messageID: String) -> String {
        let trimmed = messageID.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return "" }
        return trimmed.hasPrefix("<") ? trimmed : "<\(trimmed)>"
    }

    /// A send's numbers: accepted, bounced, complained, unsubscribed through its links.
    public func report(of send: SendRecord) throws -> SendReport {
        try engine.read { session in
            var report = SendReport(sendID: send.id)
            // CASE, not a comparison's 0/1: PostgreSQL does not sum booleans.
            func count(_ condition: String) -> String { "COALESCE(SUM(CASE WHEN \(condition) THEN 1 ELSE 0 END), 0)" }
            if let row = try session.row("""
                SELECT COUNT(*) AS total,
                    \(count("state = 'sent'")) AS accepted,
                    \(count("state = 'sent' AND COALESCE(feedback, '') <> 'hard_bounce'")) AS delivered,
                    \(count("feedback = 'hard_bounce'")) AS hard,
                    \(count("feedback = 'soft_bounce'")) AS soft,
                    \(count("feedback = 'complaint'")) AS complaints,
                    \(count("state = 'failed'")) AS failed,
                    \(count("state = 'retrying'")) AS retrying,
                    \(count("state = 'pending'")) AS pending
                FROM send_recipient WHERE send_id = ?
                """, send.id) {
                report.total = try row.get("total")
                report.accepted = try row.get("accepted")
                report.delivered = try row.get("delivered")
                report.hardBounced = try row.get("hard")
                report.softBounced = try row.get("soft")
                report.complained = try row.get("complaints")
                report.failed = try row.get("failed")
                report.retrying = try row.get("retrying")
                report.pending = try row.get("pending")
            }
            report.unsubscribed = try session.value(Int.self, """
                SELECT COUNT(DISTINCT subscriber_id) FROM subscriber_event WHERE send_id = ? AND to_status = 'unsubscribed' AND from_status <> 'unsubscribed'
                """, send.id) ?? 0
            return report
        }
    }

    /// A send's hard bounces and complaints so far (both refusals during the send and reports
    /// processed since), read through the partial index: cheap enough for every page of a send.
    public func feedbackCounts(of send: SendRecord) throws -> (hardBounced: Int, complained: Int) {
        try engine.read { session in
            var result = (hardBounced: 0, complained: 0)
            for row in try session.rows("""
                SELECT feedback, COUNT(*) AS n FROM send_recipient WHERE send_id = ? AND feedback IN ('hard_bounce', 'complaint') GROUP BY feedback
                """, send.id) {
                if try row.get("feedback", as: String.self) == "hard_bounce" { result.hardBounced = try row.get("n") } else { result.complained = try row.get("n") }
            }
            return result
        }
    }

    /// Whether a send with this id exists (an unsubscribe link's `s` parameter is checked against it).
    public func sendExists(id: Int64) throws -> Bool {
        try engine.read { session in try session.row("SELECT 1 FROM send WHERE id = ?", id) != nil }
    }
}

extension SubscriberStore {
    /// The recipients of a send that bounced or complained after the fact (asynchronous
    /// feedback), with the latest report's words.
    public func feedbackRecipients(of send: SendRecord) throws -> [(recipient: SendRecipient, kind: DeliveryFeedback.Kind, detail: String)] {
        try engine.read { session in
            try session.rows("""
                SELECT \(Self.recipientColumns), feedback,
                    (SELECT f.detail FROM delivery_feedback f WHERE f.recipient_id = r.id ORDER BY f.id DESC LIMIT 1) AS feedback_detail
                FROM send_recipient r WHERE r.send_id = ? AND r.feedback IS NOT NULL AND r.state = 'sent' ORDER BY r.id
                """, send.id).map { row in
                (try Self.recipient(row), DeliveryFeedback.Kind(rawValue: try row.get("feedback")) ?? .softBounce, try row.get("feedback_detail", as: String?.self) ?? "")
            }
        }
    }
}
