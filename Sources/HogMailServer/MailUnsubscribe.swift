import Foundation
import HogMail

/// `hogmail subscribers process-mail DIR`: messages sent to the List-Unsubscribe mailto
/// (`unsubscribe+TOKEN@example.com`) in a Maildir; each valid token unsubscribes its subscriber.
/// Processed messages move from new/ to cur/ with the Seen flag, so a second run skips them.
public struct MailUnsubscribeProcessor: Sendable {
    public var service: SubscriptionService

    public init(service: SubscriptionService) { self.service = service }

    public struct Result: Sendable, Equatable {
        public var unsubscribed: [String] = []
        /// File name → why it was not acted on.
        public var skipped: [String: String] = [:]
    }

    public func process(maildir: URL) throws -> Result {
        let manager = FileManager.default
        let new = maildir.appendingPathComponent("new"), cur = maildir.appendingPathComponent("cur")
        guard let names = try? manager.contentsOfDirectory(atPath: new.path) else {
            throw HogMailError(file: maildir.path, "This is not a Maildir: it has no new/ folder. Point `process-mail` at the folder your mail server delivers unsubscribe requests to.")
        }
        try manager.createDirectory(at: cur, withIntermediateDirectories: true)
        var result = Result()
        let local = String(service.configuration.list.unsubscribeMailbox.split(separator: "@").first ?? "unsubscribe")
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = new.appendingPathComponent(name)
            // Only the head is read (at most 256 KB), on bytes: a huge or broken message costs nothing.
            guard let headers = try? MessageHeaders.read(contentsOf: url) else {
                result.skipped[name] = "the message cannot be read"
                continue
            }
            // Delivered-To and X-Original-To carry the envelope address; To as written by the client.
            let pattern = "(?i)\\b" + NSRegularExpression.escapedPattern(for: local) + "\\+([A-Za-z0-9._-]+)@"
            let tokens = ["Delivered-To", "X-Original-To", "To", "Envelope-To"].flatMap(headers.values)
                .compactMap { value -> String? in
                    guard let range = value.range(of: pattern, options: .regularExpression) else { return nil }
                    return String(value[range].dropFirst(local.count + 1).dropLast())
                }
            var outcome = "no unsubscribe token in the address"
            for token in tokens {
                if case .done(let subscriber) = try service.unsubscribe(token: token, actor: "mail") {
                    result.unsubscribed.append(subscriber.email)
                    outcome = ""
                    break
                }
                outcome = "the token in the address is not valid"
            }
            if !outcome.isEmpty { result.skipped[name] = outcome }
            let seen = name.contains(":2,") ? name : name + ":2,S"
            try? manager.moveItem(at: url, to: cur.appendingPathComponent(seen))
        }
        return result
    }
}
