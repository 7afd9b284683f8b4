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

// MARK: - What a name and an address may hold

extension Subscriber {
    /// Longest name kept, in characters as people count them (the subscribe form's limit too).
    public static let maximumNameLength = 200
    /// And in UTF-8 bytes, so one "character" with thousands of combining marks cannot pass.
    public static let maximumNameBytes = 1_000

    /// Why `name` cannot be a subscriber's name, as a sentence, or nil when it can.
    /// A name goes into the `To` header of every issue: a line break there would stop the
    /// send (or inject headers), so control characters and line separators are refused here,
    /// where the person who typed them can still be told.
    public static func validateName(_ name: String) -> String? {
        if let scalar = firstForbidden(in: name) {
            return "The name `\(visible(name))` contains \(describe(scalar)); a name must be one line of text without control characters. Remove it."
        }
        let bytes = name.utf8.count
        // Counting characters walks grapheme clusters; a name of at most 200 bytes needs no count.
        if bytes > maximumNameLength, name.count > maximumNameLength || bytes > maximumNameBytes {
            return "The name `\(visible(name))` is \(name.count) characters (\(bytes) bytes) long; a name may have at most \(maximumNameLength) characters and \(maximumNameBytes) bytes. Shorten it."
        }
        return nil
    }

    /// Why `address` cannot be a subscriber's address, as a sentence, or nil when it can.
    /// Spaces around it are allowed (they are trimmed); control characters anywhere are not.
    public static func validateAddress(_ address: String) -> String? {
        if let scalar = firstForbidden(in: address) {
            return "The address `\(visible(address))` contains \(describe(scalar)); write it on one line as name@example.com."
        }
        if normalize(address) == nil {
            return "`\(visible(address))` is not an email address. Write it as name@example.com."
        }
        return nil
    }

    static func firstForbidden(in value: String) -> Unicode.Scalar? {
        // Imports check every row: bytes first. Every forbidden scalar is an ASCII control, DEL,
        // or starts with 0xC2 (U+0080–U+009F) or 0xE2 (U+2028, U+2029) in UTF-8.
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return nil }
        return value.unicodeScalars.first(where: isForbidden)
    }

    /// Unicode general category Cc (C0 and C1 controls, DEL, NUL, CR, LF, TAB) and the line
    /// and paragraph separators U+2028/U+2029, which some mail and web software treat as line breaks.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// The value with its forbidden characters spelled out (`\u{D}`), cut at `limit` characters:
    /// safe to print in an error, a log line or a terminal.
    public static func visible(_ value: String, limit: Int = 60) -> String {
        var result = ""
        for (index, character) in value.enumerated() {
            if index == limit { result += "…"; break }
            for scalar in character.unicodeScalars {
                result += isForbidden(scalar) ? "\\u{\(String(scalar.value, radix: 16, uppercase: true))}" : String(scalar)
            }
        }
        return result
    }

    static func describe(_ scalar: Unicode.Scalar) -> String {
        let code = "U+" + String(repeating: "0", count: max(0, 4 - String(scalar.value, radix: 16).count)) + String(scalar.value, radix: 16, uppercase: true)
        switch scalar.value {
        case 0x0D: return "a carriage return (\(code))"
        case 0x0A: return "a line feed (\(code))"
        case 0x00: return "a NUL character (\(code))"
        case 0x09: return "a tab (\(code))"
        case 0x2028: return "a line separator (\(code))"
        case 0x2029: return "a paragraph separator (\(code))"
        default: return "the control character \(code)"
        }
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
    /// The send whose message or link it came from, if any.
    public var sendID: Int64?
}
