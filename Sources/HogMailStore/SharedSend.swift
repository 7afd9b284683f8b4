import Foundation
import HogMail

/// Several senders on one send (PostgreSQL): recipients are claimed in batches with a lease
/// (`FOR UPDATE SKIP LOCKED`, so two senders never take the same row), each accepted message is
/// journaled on the server before its connection carries another, and the send's rate is one
/// budget of time slots kept in the store. A sender that dies stops renewing its claims; when
/// they expire, another sender takes those recipients, and repeats only the messages that were
/// on the wire, each with the Message-ID it was frozen with.
extension SubscriberStore {
    /// Whether sends on this store are shared by any number of senders (a server store) or held
    /// by one sender at a time (an SQLite file).
    public var sharesSends: Bool { engineKind == .postgres }

    /// Claims up to `limit` recipients that are due now and not claimed by a live lease: retries
    /// whose time has come, then pending rows in id order after `cursor`. The claim lasts
    /// `lease` seconds. A sender passes the highest id it claimed, so it does not walk again
    /// the index entries of rows already sent (PostgreSQL keeps them until its VACUUM); with
    /// nothing after it, it asks again from 0 for rows a dead sender left behind.
    public func claimRecipients(of send: SendRecord, sender: String, limit: Int, lease: TimeInterval, after cursor: Int64 = 0,
                                now: Date = Date()) throws -> [SendRecipient] {
        precondition(sharesSends, "claims are a server store's")
        return try engine.write { session in
            // Two statements, each on its partial index (`send_recipient_retrying`, `_pending`):
            // one condition with OR would walk the send's rows in id order past every row sent.
            // Rows another live sender holds are skipped, locked ones without waiting.
            func claim(_ due: String, _ arguments: [SQLValue], limit: Int) throws -> [SendRecipient] {
                try session.rows("""
                    UPDATE send_recipient SET claimed_by = ?, claimed_until = ?
                    WHERE id IN (
                        SELECT id FROM send_recipient
                        WHERE send_id = ? AND \(due) AND (claimed_until IS NULL OR claimed_until <= ?)
                        ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED
                    )
                    RETURNING \(Self.recipientColumns)
                    """, [.text(sender), .real(now.timeIntervalSince1970 + lease), .integer(send.id)] + arguments
                        + [now.sqlValue, .integer(Int64(limit))]).map(Self.recipient)
            }
            var claimed = try claim("state = 'retrying' AND next_attempt_at <= ?", [now.sqlValue], limit: limit)
            if claimed.count < limit {
                claimed += try claim("state = 'pending' AND id > ?", [.integer(cursor)], limit: limit - claimed.count)
            }
            return claimed.sorted { $0.id < $1.id }
        }
    }

    /// Extends this sender's claims on rows not finished yet: a live sender keeps what it holds.
    public func renewClaims(of send: SendRecord, sender: String, lease: TimeInterval, now: Date = Date()) throws {
        try engine.single { session in
            // Rows are locked in id order, as the journal locks them (`recordAccepted`): two
            // statements of one sender that locked the same rows in other orders deadlocked.
            try session.execute("""
                UPDATE send_recipient SET claimed_until = ?
                WHERE id IN (SELECT id FROM send_recipient
                             WHERE send_id = ? AND claimed_by = ? AND state IN ('pending', 'retrying') AND claimed_until IS NOT NULL
                             ORDER BY id FOR UPDATE)
                """, now.timeIntervalSince1970 + lease, send.id, sender)
        }
    }

    /// Gives back what this sender claimed and did not finish (a run that stops early).
    public func releaseClaims(of send: SendRecord, sender: String) throws {
        try engine.write { session in
            try session.execute("""
                UPDATE send_recipient SET claimed_by = NULL, claimed_until = NULL
                WHERE id IN (SELECT id FROM send_recipient
                             WHERE send_id = ? AND claimed_by = ? AND state IN ('pending', 'retrying') AND claimed_until IS NOT NULL
                             ORDER BY id FOR UPDATE)
                """, send.id, sender)
        }
    }

    /// When the earliest live claim of another sender on an unfinished row runs out; nil when no
    /// other sender holds anything.
    public func nextClaimExpiry(of send: SendRecord, except sender: String, now: Date = Date()) throws -> Date? {
        try engine.read { session in
            try session.value(Date.self, """
                SELECT MIN(claimed_until) FROM send_recipient
                WHERE send_id = ? AND claimed_until IS NOT NULL AND claimed_until > ? AND claimed_by <> ? AND state IN ('pending', 'retrying')
                """, send.id, now, sender)
        }
    }

    /// Frees at once the claims of senders on this host whose process is gone (a sender killed
    /// here and started again need not wait for its lease). A sender's name is
    /// `host:pid:nonce`; a pid that exists again (reused) counts as alive, and its claims wait
    /// for their lease as any other host's do.
    public func releaseClaimsOfDeadLocalSenders(of send: SendRecord, host: String, isAlive: (Int32) -> Bool, now: Date = Date()) throws -> Int {
        let holders = try engine.read { session in
            try session.rows("""
                SELECT DISTINCT claimed_by FROM send_recipient
                WHERE send_id = ? AND claimed_until IS NOT NULL AND claimed_until > ? AND state IN ('pending', 'retrying')
                """, send.id, now).map { try $0.get(0, as: String?.self) }
        }
        var released = 0
        for case let holder? in holders {
            let parts = holder.split(separator: ":")
            guard parts.count == 3, parts[0] == host, let pid = Int32(parts[1]), !isAlive(pid) else { continue }
            try releaseClaims(of: send, sender: holder)
            released += 1
        }
        return released
    }

    /// Journals one accepted message at once (what the accepted-log does on SQLite): one
    /// statement, committed before the connection carries another message.
    public func recordAccepted(recipientID: Int64, messageID: String, at date: Date) throws {
        try recordAccepted([AcceptedLine(recipientID: recipientID, messageID: messageID, sentAt: date)])
    }

    /// Journals accepted messages in one statement, committed at once (several connections'
    /// lines share a round trip). A row already sent stays as it is: a late report from another
    /// sender never turns it back, and its first Message-ID and time are kept.
    public func recordAccepted(_ lines: [AcceptedLine]) throws {
        guard !lines.isEmpty else { return }
        precondition(sharesSends, "Only a server store journals accepted messages one by one; SQLite folds its log.")
        let tuples = Array(repeating: "(?::BIGINT, ?::DOUBLE PRECISION, ?::TEXT)", count: lines.count).joined(separator: ", ")
        let values = lines.flatMap { [SQLValue.integer($0.recipientID), .real($0.sentAt.timeIntervalSince1970), .text($0.messageID)] }
        // The rows are locked in id order first (a join with VALUES locks them in whatever
        // order its plan reads them), as `renewClaims` and `releaseClaims` lock theirs.
        let sql = """
            WITH v(id, sent_at, message_id) AS (VALUES \(tuples)),
            locked AS (SELECT r.id FROM send_recipient r WHERE r.id IN (SELECT id FROM v) AND r.state <> 'sent' ORDER BY r.id FOR UPDATE)
            UPDATE send_recipient AS r SET state = 'sent', attempts = r.attempts + 1, last_response = 'accepted', next_attempt_at = NULL,
                sent_at = v.sent_at, message_id = COALESCE(r.message_id, v.message_id), claimed_by = NULL, claimed_until = NULL
            FROM v WHERE r.id = v.id AND r.id IN (SELECT id FROM locked) AND r.state <> 'sent'
            """
        // One statement in its own transaction: one the server ended for a deadlock changed
        // nothing, so it is made again (another process's statements may still lock in
        // another order).
        var attempt = 1
        while true {
            do {
                try engine.single { session in try session.execute(sql, values) }
                return
            } catch StoreEngineError.statement(let state, _) where state == "40P01" && attempt < 5 {
                attempt += 1
            }
        }
    }

    /// Reserves `count` send slots `interval` seconds apart from the send's one budget, so the
    /// rate holds for the whole send however many senders share it. Returns the first slot's time.
    public func reserveSlots(of send: SendRecord, count: Int, interval: TimeInterval, now: Date = Date()) throws -> Date {
        try engine.single { session in
            let end = try session.value(Double.self, """
                UPDATE send SET next_slot = GREATEST(COALESCE(next_slot, 0), ?) + ? WHERE id = ? RETURNING next_slot
                """, now, Double(count) * interval, send.id) ?? now.timeIntervalSince1970
            return Date(timeIntervalSince1970: end - Double(count) * interval)
        }
    }
}

/// One message a server accepted, for the journal.
public struct AcceptedLine: Sendable, Equatable {
    public var recipientID: Int64
    public var messageID: String
    public var sentAt: Date

    public init(recipientID: Int64, messageID: String, sentAt: Date) {
        self.recipientID = recipientID
        self.messageID = messageID
        self.sentAt = sentAt
    }
}
