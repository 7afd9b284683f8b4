import Foundation
import HogMail
import HogMailStore

/// What a message that came back to HogMail is: a delivery status notification (RFC 3464),
/// a bounce without one (old MTAs, in words), a feedback report (RFC 5965 ARF), an automatic
/// reply (RFC 3834), or none of these. Reads only the message; who it is about is decided by
/// `MailboxProcessor` from signed tokens.
public struct ReturnedMail: Sendable {
    public enum Kind: String, Sendable, Codable {
        case hardBounce = "hard_bounce"
        case softBounce = "soft_bounce"
        case complaint
        /// Out of office, vacation, "I have a new address": not about delivery, ignored.
        case autoReply = "auto_reply"
        /// A DSN that reports success or a relay (`Action: delivered`, `relayed`, `expanded`).
        case notFailure = "not_failure"
        /// Something else: a person's reply, a challenge, spam. Left for a person to read.
        case other

        public var feedback: DeliveryFeedback.Kind? {
            switch self {
            case .hardBounce: .hardBounce
            case .softBounce: .softBounce
            case .complaint: .complaint
            default: nil
            }
        }
    }

    public var kind: Kind
    /// The address that failed or was reported, as the report names it (lower-cased), if it does.
    public var recipient: String?
    /// The enhanced status code (`5.1.1`), if one was given or found.
    public var statusCode: String?
    /// In a sentence fragment: the remote server's words, or the report's type.
    public var detail: String
    /// How it was recognised: `dsn`, `arf`, `heuristic`, `auto-submitted`, …
    public var evidence: String
    /// The header fields of the message as it came back (for the VERP address it was sent to).
    public var headers: MessageHeaders
    /// The header fields of the message it reports on, when it encloses them (for the tokens
    /// HogMail put there: List-Unsubscribe, Message-ID, Return-Path).
    public var originalHeaders: [MessageHeaders]
    /// The report's text parts, for tokens quoted in a bounce that encloses nothing.
    public var text: String

    /// Reads a message (at most its first `limit` bytes were given: a longer one is judged on those).
    public init(bytes: [UInt8]) {
        let entity = MIMEEntity(parsing: bytes)
        headers = entity.headers
        let all = entity.all
        originalHeaders = all.compactMap { part -> MessageHeaders? in
            switch part.contentType.value {
            case "message/rfc822", "message/global": part.parts.first?.headers
            case "text/rfc822-headers", "message/rfc822-headers", "message/global-headers":
                MessageHeaders(parsing: part.decodedBody())
            default: nil
            }
        }
        // The report's own words: text parts outside the enclosed message, at most 256 KB.
        var words = ""
        for part in Self.ownParts(entity) where part.contentType.value.hasPrefix("text/plain") || part.contentType.value == "text/html" {
            words += part.contentType.value == "text/html" ? Self.stripTags(part.text()) : part.text()
            words += "\n"
            if words.utf8.count > 256 * 1024 { break }
        }
        text = words
        recipient = nil
        statusCode = nil
        detail = ""
        evidence = ""
        kind = .other
        if classifyReport(entity, all) { return }
        if classifyBounceInWords() { return }
        if classifyAutoReply() { return }
        detail = "not a bounce, complaint, auto-reply or unsubscribe request"
        evidence = "none"
    }

    // MARK: - RFC 3464 and RFC 5965 reports

    private mutating func classifyReport(_ entity: MIMEEntity, _ all: [MIMEEntity]) -> Bool {
        if let status = all.first(where: { ["message/delivery-status", "message/global-delivery-status"].contains($0.contentType.value) }) {
            return classifyDSN(status)
        }
        if let feedback = all.first(where: { $0.contentType.value == "message/feedback-report" }) {
            return classifyFeedback(MessageHeaders.blocks(feedback.decodedBody()).first ?? MessageHeaders(parsing: [UInt8]()))
        }
        // Microsoft's JMRP and a few others send the complaint as the reported message attached,
        // without an ARF part; their subject and sender say what it is.
        let subject = headers.first("Subject")?.lowercased() ?? ""
        let from = headers.first("From")?.lowercased() ?? ""
        if !originalHeaders.isEmpty, subject.contains("complaint about message") || from.contains("abuse_report") || from.contains("feedbackloop") {
            kind = .complaint
            evidence = "feedback-loop"
            recipient = reportedRecipient()
            detail = "reported as spam (feedback loop: \(Subscriber.visible(headers.first("Subject") ?? "", limit: 120)))"
            return true
        }
        return false
    }

    private mutating func classifyDSN(_ part: MIMEEntity) -> Bool {
        let blocks = MessageHeaders.blocks(part.decodedBody())
        // Per-recipient blocks name a recipient; the per-message block (Reporting-MTA) does not.
        let recipients = blocks.filter { !$0.values("Final-Recipient").isEmpty || !$0.values("Original-Recipient").isEmpty || !$0.values("Action").isEmpty }
        var best: (rank: Int, kind: Kind, recipient: String?, status: String?, diagnostic: String)?
        for block in recipients {
            let action = block.first("Action")?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            let status = Self.statusCode(in: block.first("Status") ?? "")
            let diagnostic = Self.diagnostic(block.first("Diagnostic-Code") ?? "")
            let recipient = Self.address(in: block.first("Final-Recipient") ?? block.first("Original-Recipient") ?? "")
            let kind: Kind
            if action.hasPrefix("failed") {
                kind = Self.bounceKind(status: status, words: diagnostic) ?? .hardBounce
            } else if action.hasPrefix("delayed") {
                kind = .softBounce
            } else if ["delivered", "relayed", "expanded"].contains(where: action.hasPrefix) {
                kind = .notFailure
            } else {
                // No or unknown Action: the status decides (some MTAs leave Action out).
                kind = Self.bounceKind(status: status, words: diagnostic) ?? .other
            }
            let rank = [Kind.hardBounce: 4, .softBounce: 3, .notFailure: 1][kind] ?? 0
            if rank > (best?.rank ?? -1) { best = (rank, kind, recipient, status, diagnostic) }
        }
        guard let best, best.kind != .other else {
            // A delivery-status part with nothing readable in it: read the words instead.
            evidence = "dsn"
            return classifyBounceInWords(force: true)
        }
        kind = best.kind
        recipient = best.recipient
        statusCode = best.status
        evidence = "dsn"
        let said = best.diagnostic.isEmpty ? (best.status.map { "status \($0)" } ?? "no reason given") : best.diagnostic
        detail = Subscriber.visible(said, limit: 300)
        return true
    }

    private mutating func classifyFeedback(_ report: MessageHeaders) -> Bool {
        let type = report.first("Feedback-Type")?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        evidence = "arf"
        // Removal-Recipient: the early opt-out drafts' name for the reader.
        recipient = Self.address(in: report.first("Original-Rcpt-To") ?? report.first("Removal-Recipient") ?? "") ?? reportedRecipient()
        switch type {
        case "abuse", "fraud", "opt-out", "opt-out-list":
            // opt-out: an early ARF draft's type for a reader who asked their provider to stop the mail.
            kind = .complaint
            let what = type == "abuse" ? "spam" : type == "fraud" ? "fraud" : "unwanted (opt-out)"
            detail = "reported as \(what) (feedback report\(report.first("User-Agent").map { " from \(Subscriber.visible($0, limit: 80))" } ?? ""))"
        case "not-spam":
            kind = .notFailure
            detail = "a not-spam report (the reader moved it out of spam)"
        default:
            // auth-failure (RFC 6591), virus, other: not a reader's complaint; a person may want to read it.
            kind = .other
            detail = "a feedback report of type `\(Subscriber.visible(type, limit: 40))`, which is not a complaint"
        }
        return true
    }

    /// The reader a complaint is about, from the enclosed message: Microsoft's
    /// `X-HmXmrOriginalRecipient`, else its `To` when that is one address.
    func reportedRecipient() -> String? {
        for original in originalHeaders {
            if let value = original.first("X-HmXmrOriginalRecipient"), let address = Self.address(in: value) { return address }
            let to = original.values("To").joined(separator: ",")
            if to.filter({ $0 == "@" }).count == 1, let address = Self.address(in: to) { return address }
        }
        return nil
    }

    // MARK: - Bounces in words

    /// A bounce without a delivery-status part: sent by a mailer daemon (its sender, its subject
    /// or Exim's `X-Failed-Recipients` say so) and explained in words. `force`: the message is
    /// already known to be a bounce.
    private mutating func classifyBounceInWords(force: Bool = false) -> Bool {
        let from = headers.first("From")?.lowercased() ?? ""
        let subject = headers.first("Subject")?.lowercased() ?? ""
        let failed = headers.values("X-Failed-Recipients").joined(separator: ",")
        let fromDaemon = Self.daemonSenders.contains { from.contains($0) }
        let bounceSubject = Self.bounceSubjects.contains { subject.contains($0) }
        guard force || !failed.isEmpty || fromDaemon || bounceSubject else { return false }
        // A vacation reply from postmaster@ is still a vacation reply.
        if !force, failed.isEmpty, !bounceSubject, isAutoReply() { return false }
        // Only the bounce's own words: a returned message quoted below them carries version
        // numbers and addresses that would read as a status or a recipient ("MTA v4.6.1").
        let own = Self.withoutQuotedMessage(text)
        let lowered = own.lowercased()
        let status = Self.statusCode(in: lowered)
        recipient = Self.address(in: failed) ?? Self.failedAddress(in: own)
        if evidence.isEmpty { evidence = "heuristic" }
        if let kind = Self.bounceKind(status: status, words: lowered) {
            self.kind = kind
        } else if fromDaemon || !failed.isEmpty || bounceSubject {
            // A mailer daemon says it could not deliver but not why: counted, never suppressing alone.
            kind = .softBounce
        } else {
            return false
        }
        statusCode = status
        detail = Subscriber.visible(Self.reasonLine(in: own) ?? headers.first("Subject") ?? "undeliverable", limit: 300)
        return true
    }

    /// A bounce in words up to where it quotes the returned message (a separator line such as
    /// "------- Returned Message --------" or "--- Below this line is a copy of the message.",
    /// or the quoted message's own header lines).
    static func withoutQuotedMessage(_ text: String) -> String {
        var kept: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let lowered = line.lowercased().trimmingCharacters(in: .whitespaces)
            if lowered.range(of: #"^-+ ?(returned message|original message|below this line|this is a copy|the original message|returned mail|unsent message)"#, options: .regularExpression) != nil
                || lowered.range(of: #"^(received|return-path|message-id|dkim-signature): "#, options: .regularExpression) != nil {
                break
            }
            kept.append(line)
        }
        return kept.joined(separator: "\n")
    }

    /// Hard or soft, from an enhanced status code and the server's words; nil when neither says.
    static func bounceKind(status: String?, words: String) -> Kind? {
        let lowered = words.lowercased()
        if let status {
            // 5.2.2 mailbox full is the reader's to fix; it may be fixed by the next issue.
            if status == "5.2.2" || status.hasPrefix("4.") { return .softBounce }
            if status.hasPrefix("5.") { return .hardBounce }
        }
        if softPhrases.contains(where: lowered.contains) { return .softBounce }
        if hardPhrases.contains(where: lowered.contains) { return .hardBounce }
        if let code = basicCode(in: lowered) {
            if code == 552 || code / 100 == 4 { return .softBounce }
            if code / 100 == 5 { return .hardBounce }
        }
        if temporaryPhrases.contains(where: lowered.contains) { return .softBounce }
        return nil
    }

    static let daemonSenders = ["mailer-daemon", "mailer_daemon", "mailerdaemon", "postmaster@", "mail delivery", "mail-daemon"]
    static let bounceSubjects = [
        "undeliverable", "undelivered mail", "delivery status notification", "failure notice", "returned mail",
        "mail delivery failed", "delivery failure", "could not be delivered", "delivery has failed", "non remis",
        "unzustellbar", "nondeliverable", "non-deliverable", "mail system error", "returned to sender", "delivery problem",
        "message not delivered", "undeliverable mail", "delivery notification: delivery has failed", "rejected:",
        "warning: message", "delayed mail", "delivery delayed", "mail could not be delivered", "unable to deliver",
    ]
    /// The mailbox is there but cannot take mail now.
    static let softPhrases = [
        "mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "exceeds the quota",
        "mailbox size limit", "insufficient storage", "storage allocation", "out of storage", "disk full", "user is over",
        "would exceed", "has exceeded", "mailbox has exceeded", "account is full", "full mailbox",
    ]
    /// The address does not exist or refuses mail for good.
    static let hardPhrases = [
        "user unknown", "unknown user", "no such user", "no such mailbox", "unknown recipient", "recipient unknown",
        "does not exist", "doesn't exist", "not exist", "mailbox unavailable", "mailbox not found", "invalid recipient",
        "recipient not found", "address rejected", "recipient address rejected", "user not found", "unknown address",
        "no mailbox", "mailbox is disabled", "account has been disabled", "account disabled", "account is disabled",
        "account has been deactivated", "not a valid mailbox", "invalid mailbox", "unrouteable address", "no longer available",
        "address not found", "bad destination mailbox", "this user doesn't have", "not our customer", "unknown local part",
        "permanent fatal errors", "permanent error", "no valid recipients", "host unknown", "domain not found",
        "name or service not known", "user doesn't exist", "is not a valid", "addressee unknown", "unknown or illegal alias",
        "not listed in", "no such recipient", "recipient rejected", "unknown recipient", "undeliverable address",
    ]
    /// Try again: deferred, delayed, greylisted.
    static let temporaryPhrases = [
        "temporarily", "temporary failure", "try again later", "deferred", "delayed", "has not yet been delivered",
        "will retry", "still trying", "greylist", "rate limited",
    ]

    /// The first enhanced status code (RFC 3463) in a text: `5.1.1`, `4.2.0`.
    static func statusCode(in text: String) -> String? {
        // Not inside a version number ("v4.6.1", "5.5.1960.3").
        guard let range = text.range(of: #"(?<![0-9A-Za-z.])[245]\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9]|\.[0-9])"#, options: .regularExpression) else { return nil }
        let code = String(text[range])
        return code.hasPrefix("2.") ? nil : code
    }

    /// The first SMTP reply code in a text (`550 `, `452-`).
    static func basicCode(in text: String) -> Int? {
        guard let range = text.range(of: #"(?<![0-9])[45][0-5][0-9](?=[ -])"#, options: .regularExpression) else { return nil }
        return Int(text[range])
    }

    /// `smtp; 550 5.1.1 <a@b>: Recipient address rejected` → the words after the type.
    static func diagnostic(_ value: String) -> String {
        guard let semicolon = value.firstIndex(of: ";") else { return value.trimmingCharacters(in: .whitespaces) }
        return value[value.index(after: semicolon)...].trimmingCharacters(in: .whitespaces)
    }

    /// `rfc822; Ada@Example.com` or `<ada@example.com>` → `ada@example.com`.
    static func address(in value: String) -> String? {
        let afterType = value.contains(";") ? String(value[value.index(after: value.firstIndex(of: ";")!)...]) : value
        for piece in afterType.split(whereSeparator: { " ,<>\t\"'();".contains($0) }) where piece.contains("@") {
            let candidate = piece.trimmingCharacters(in: CharacterSet(charactersIn: ".:[]"))
            if Mailbox.isValidAddress(candidate) { return candidate.lowercased() }
        }
        return nil
    }

    /// In a bounce in words, the address that failed: on the line that says why (qmail's
    /// `<a@b>:`, a line with a status code or "user unknown"), or the first address after a line
    /// that introduces the failed recipients ("did not reach the following recipient(s):",
    /// "The following address(es) failed:"), or just before a reason line that names none.
    static func failedAddress(in text: String) -> String? {
        let lines = text.split(whereSeparator: \.isNewline).prefix(300).map(String.init)
        var introduced = false
        var previous: String?
        for line in lines {
            let lowered = line.lowercased()
            let address = lowered.contains("@") ? address(in: line) : nil
            let reason = hardPhrases.contains(where: lowered.contains) || softPhrases.contains(where: lowered.contains)
                || lowered.range(of: #"[45]\.[0-9]\.[0-9]"#, options: .regularExpression) != nil
            if let address {
                if introduced || reason || lowered.range(of: #"^\s*<[^>]+@[^>]+>:?\s*$"#, options: .regularExpression) != nil {
                    return address
                }
                previous = address
            } else if reason {
                if let previous { return previous }
                // Lotus Notes: the reason, then the address on the next line.
                introduced = true
            }
            if introductions.contains(where: lowered.contains) { introduced = true }
        }
        return nil
    }

    /// Lines after which a bounce lists the addresses that failed.
    static let introductions = [
        "following recipient", "following address", "address to which", "addresses to which", "not reach the following",
        "delivered to the following", "following destination", "failed recipient", "could not be delivered to:",
        "was not delivered to", "undeliverable to",
    ]

    /// The line of a bounce in words that gives the reason.
    static func reasonLine(in text: String) -> String? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.prefix(300)
        return lines.first { line in
            let lowered = line.lowercased()
            return hardPhrases.contains(where: lowered.contains) || softPhrases.contains(where: lowered.contains)
                || lowered.range(of: #"(?<![0-9])[45][0-5][0-9][ -]"#, options: .regularExpression) != nil
        }
    }

    // MARK: - Automatic replies

    private mutating func classifyAutoReply() -> Bool {
        guard isAutoReply() else { return false }
        kind = .autoReply
        evidence = "auto-reply"
        detail = "an automatic reply (\(Subscriber.visible(headers.first("Subject") ?? "no subject", limit: 120)))"
        return true
    }

    /// RFC 3834's `Auto-Submitted`, and the fields and subjects common responders use instead.
    func isAutoReply() -> Bool {
        // Apple Mail's and others' "unsubscribe" messages are automatic but are requests, not replies.
        let subjectText = headers.first("Subject")?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if !headers.values("X-Apple-Unsubscribe").isEmpty || subjectText == "unsubscribe" { return false }
        if let submitted = headers.first("Auto-Submitted")?.lowercased(), !submitted.trimmingCharacters(in: .whitespaces).hasPrefix("no") { return true }
        for name in ["X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Autogenerated", "X-Auto-Response-Suppress", "X-AutoReply-From", "X-Mail-Autoreply"]
        where !headers.values(name).isEmpty { return true }
        if let precedence = headers.first("Precedence")?.lowercased(), precedence.contains("auto_reply") { return true }
        if headers.first("X-POST-MessageClass")?.lowercased().contains("autoreply") == true { return true }
        let subject = headers.first("Subject")?.lowercased() ?? ""
        return Self.autoReplySubjects.contains { subject.hasPrefix($0) || subject.contains(": " + $0) }
    }

    static let autoReplySubjects = [
        "auto:", "automatic reply", "autoreply", "auto-reply", "auto reply", "auto response", "autoresponse", "out of office",
        "out of the office", "abwesenheitsnotiz", "automatische antwort", "réponse automatique", "respuesta automática",
        "risposta automatica", "automatisch antwoord", "vacation", "on vacation", "away from", "i am away", "absence",
    ]

    // MARK: - Helpers

    /// Parts that are the report's own, not inside an enclosed message.
    static func ownParts(_ entity: MIMEEntity) -> [MIMEEntity] {
        var result: [MIMEEntity] = []
        var stack = [entity]
        while let part = stack.popLast() {
            if part.contentType.value.hasPrefix("message/") { continue }
            if part.parts.isEmpty { result.append(part) } else { stack.append(contentsOf: part.parts.reversed()) }
        }
        return result
    }

    static func stripTags(_ html: String) -> String {
        html.replacingOccurrences(of: "<br[^>]*>|</p>|</div>|</tr>", with: "\n", options: [.regularExpression, .caseInsensitive])
            .replacingOccurrences(of: "<[^>]*>", with: " ", options: .regularExpression)
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&nbsp;", with: " ").replacingOccurrences(of: "&amp;", with: "&")
    }
}
