import Foundation

/// What a transport says about one message, in the terms the sender acts on.
public enum DeliveryError: Error, Equatable, Sendable {
    /// 4xx, a dropped connection, a timeout: try again later.
    case temporary(String)
    /// 5xx: do not try again. `mailboxUnknown` (550 5.1.1 and the like) marks the subscriber bounced.
    case permanent(String, mailboxUnknown: Bool)
    /// 421/454 or HTTP 429: the server asks the whole send to slow down.
    case slowDown(String, retryAfter: TimeInterval?)
    /// HogMail's settings do not fit the server (an untrusted certificate, no STARTTLS, a refused
    /// login): every message would fail the same way, so the send stops until they are fixed.
    /// The text is a whole sentence naming the setting to change.
    case configuration(String)

    public var response: String {
        switch self {
        case .temporary(let text), .permanent(let text, _), .slowDown(let text, _), .configuration(let text): return text
        }
    }

    /// Classifies an SMTP reply (code and text) the way the sender needs it.
    public static func smtp(code: Int, text: String) -> DeliveryError {
        let response = "\(code) \(text)".trimmingCharacters(in: .whitespaces)
        if code == 421 || code == 454 { return .slowDown(response, retryAfter: nil) }
        // "Bad sequence of commands" is about the connection, not the recipient: try again.
        if code == 503 { return .temporary(response) }
        if (400..<500).contains(code) { return .temporary(response) }
        let lowered = text.lowercased()
        let unknown = code == 550 || code == 551 || code == 553
            ? (lowered.contains("5.1.1") || lowered.contains("5.1.10") || lowered.contains("no such user") || lowered.contains("user unknown")
               || lowered.contains("does not exist") || lowered.contains("mailbox unavailable") || lowered.contains("unknown recipient"))
            : false
        return .permanent(response, mailboxUnknown: unknown)
    }
}

extension DeliveryError: CustomStringConvertible {
    /// For people: what the server said and what happens next, never a Swift value.
    public var sentence: String {
        switch self {
        case .temporary(let text):
            return "The mail server could not take the message now (\(text)). This is a temporary failure: check that the server named in hogmail.yml's `transport` is up and reachable; a send retries such messages by itself."
        case .permanent(let text, _):
            return "The mail server refused the message for good (\(text))."
        case .slowDown(let text, _):
            return "The mail server asked HogMail to slow down (\(text)). Wait a little and try again; a send slows down and retries by itself."
        case .configuration(let sentence):
            return sentence
        }
    }

    public var description: String { sentence }
}
