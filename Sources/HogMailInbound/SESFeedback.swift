import Foundation
import HogMailStore

/// What an SES notification (`notificationType`) or published event (`eventType`) says, as
/// store reports: a Bounce or Complaint becomes one `DeliveryFeedback` per recipient it names.
///
/// https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html and
/// https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
public enum SESFeedback {
    public enum Reading: Sendable, Equatable {
        case feedback([DeliveryFeedback])
        /// Nothing to apply (a delivery, an open, a not-spam report): why, in a sentence.
        case ignored(String)
        /// Not an SES notification HogMail understands: why.
        case unreadable(String)
    }

    /// Reads `message`, the `Message` of an SNS notification. `snsMessageID` names the
    /// notification: SNS retries carry the same one, so a retry is recognised as a duplicate.
    public static func read(_ message: String, snsMessageID: String) -> Reading {
        guard let object = try? JSONSerialization.jsonObject(with: Data(message.utf8)) as? [String: Any] else {
            return .unreadable("its Message is not a JSON object (not an SES notification)")
        }
        guard let type = (object["notificationType"] ?? object["eventType"]) as? String else {
            return .unreadable("its Message has no notificationType or eventType (not an SES notification)")
        }
        let mail = object["mail"] as? [String: Any] ?? [:]
        let messageID = ourMessageID(mail)
        func feedback(_ kind: DeliveryFeedback.Kind, email: String, statusCode: String?, detail: String) -> DeliveryFeedback {
            DeliveryFeedback(kind: kind, messageID: messageID, email: email, statusCode: statusCode, detail: detail, source: "ses",
                             reference: "\(snsMessageID)|\(email.lowercased())")
        }
        switch type {
        case "Bounce":
            guard let bounce = object["bounce"] as? [String: Any] else { return .unreadable("a Bounce without its `bounce` part") }
            let bounceType = bounce["bounceType"] as? String ?? "Undetermined"
            let subType = bounce["bounceSubType"] as? String ?? ""
            // Permanent: the address is gone or refused for good. Transient (mailbox full, too
            // large, a temporary failure given up on) and Undetermined count as soft.
            let kind: DeliveryFeedback.Kind = bounceType == "Permanent" ? .hardBounce : .softBounce
            let recipients = (bounce["bouncedRecipients"] as? [[String: Any]] ?? []).compactMap { recipient -> DeliveryFeedback? in
                guard let email = address(recipient["emailAddress"]) else { return nil }
                let status = (recipient["status"] as? String).flatMap(statusCode)
                let diagnostic = (recipient["diagnosticCode"] as? String).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                let detail = diagnostic.flatMap { $0.isEmpty ? nil : $0 } ?? "SES \(bounceType) bounce\(subType.isEmpty ? "" : " (\(subType))")"
                return feedback(kind, email: email, statusCode: status, detail: detail)
            }
            return recipients.isEmpty ? .unreadable("a Bounce that names no recipient") : .feedback(recipients)
        case "Complaint":
            guard let complaint = object["complaint"] as? [String: Any] else { return .unreadable("a Complaint without its `complaint` part") }
            let type = complaint["complaintFeedbackType"] as? String
            // RFC 5965's not-spam: the reader says it is *not* spam. Nothing to hold against them.
            if type?.lowercased() == "not-spam" { return .ignored("a not-spam report") }
            let detail = "complaint via SES" + (type.map { " (\($0))" } ?? "")
            let recipients = (complaint["complainedRecipients"] as? [[String: Any]] ?? []).compactMap { recipient -> DeliveryFeedback? in
                address(recipient["emailAddress"]).map { feedback(.complaint, email: $0, statusCode: nil, detail: detail) }
            }
            return recipients.isEmpty ? .unreadable("a Complaint that names no recipient") : .feedback(recipients)
        default:
            return .ignored("an SES \(SNSNotification.visible(type)) notification, which changes nothing here")
        }
    }

    /// HogMail's own Message-ID of the message the report is about: the header as sent
    /// (`mail.headers`), else `commonHeaders.messageId`. `mail.messageId` is SES's own id, not ours.
    static func ourMessageID(_ mail: [String: Any]) -> String? {
        let headers = mail["headers"] as? [[String: Any]] ?? []
        let fromHeaders = headers.first { ($0["name"] as? String)?.caseInsensitiveCompare("Message-ID") == .orderedSame }?["value"] as? String
        let common = (mail["commonHeaders"] as? [String: Any])?["messageId"] as? String
        for candidate in [fromHeaders, common] {
            // SES ids have no @: such a value is not one HogMail wrote.
            if let id = candidate?.trimmingCharacters(in: .whitespaces), id.contains("@"), id.utf8.count <= 998 { return id }
        }
        return nil
    }

    /// `"Ada <ada@example.com>"` or `ada@example.com` → `ada@example.com`.
    static func address(_ value: Any?) -> String? {
        guard var text = (value as? String)?.trimmingCharacters(in: .whitespaces), text.contains("@") else { return nil }
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            text = String(text[text.index(after: open)..<close])
        }
        return text.isEmpty || text.utf8.count > 254 ? nil : text
    }

    /// An enhanced status code (RFC 3463) such as `5.1.1`, or nil.
    static func statusCode(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.range(of: #"^[245]\.[0-9]{1,3}\.[0-9]{1,3}$"#, options: .regularExpression) != nil ? trimmed : nil
    }
}
