import Foundation
import HogMail

public struct Subscriber: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case pending, confirmed, unsubscribed, bounced, complained

        /// Statuses that keep someone off every list until a new opt-in.
        public var isSuppression: Bool { self == .unsubscribed || self == .bounced || self == .complained }
    }

    public enum ConsentMethod: String, Sendable, Codable, CaseIterable {
        case form, `import`, api, cli
    }

    /// The evidence that this person asked to get the newsletter.
    public struct Consent: Sendable, Equatable, Codable {
        public var at: Date
        public var method: ConsentMethod
        /// Form URL, or import file and row.
        public var source: String
        /// What the person was shown when they agreed.
        public var text: String?
        public var ip: String?
        public var userAgent: String?
        public var confirmedAt: Date?

        public init(at: Date, method: ConsentMethod, source: String, text: String? = nil, ip: String? = nil,
                    userAgent: String? = nil, confirmedAt: Date? = nil) {
            self.at = at
            self.method = method
            self.source = source
            self.text = text
            self.ip = ip
            self.userAgent = userAgent
            self.confirmedAt = confirmedAt
        }
    }

    public var id: Int64
    /// Random, for tokens; never the row id, so tokens cannot be enumerated.
    public var publicID: String
    public var email: String
    public var name: String?
    public var status: Status
    public var createdAt: Date
    public var consent: Consent

    /// Trimmed, domain lower-cased, local part as given (RFC 5321: it may be case-sensitive).
    public static func normalize(_ address: String) -> String? {
        var trimmed = address
        if let first = address.unicodeScalars.first, let last = address.unicodeScalars.last,
           first.properties.isWhitespace || last.properties.isWhitespace {
            trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let at = trimmed.lastIndex(of: "@") else { return nil }
        let normalized = String(trimmed[..<at]) + "@" + trimmed[trimmed.index(after: at)...].lowercased()
        return Mailbox.isValidAddress(normalized) ? normalized : nil
    }
}

/// One line of a subscriber's history: nothing is overwritten.
public struct SubscriberEvent: Sendable, Equatable, Codable {
    public var at: Date
    public var from: Subscriber.Status?
    public var to: Subscriber.Status
    /// Who or what changed it: `form`, `one-click`, `cli`, `import`, `mail`, `send`.
    public var actor: String
    public var reason: String
}
