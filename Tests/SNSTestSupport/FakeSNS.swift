import Crypto
import Foundation
import X509
import _CryptoExtras

/// Amazon SNS as far as HogMail's SES webhook sees it: a throwaway RSA key and self-signed
/// certificate, the certificate served over plain http by Tests/servers/sns_server.py on
/// 127.0.0.1 (killed with SIGKILL when this goes away), and messages signed with the key the
/// way AWS documents it, written out here independently of the code under test.
public final class FakeSNS: @unchecked Sendable {
    public let folder: URL
    public let port: Int
    let process = Process()
    let key: _RSA.Signing.PrivateKey

    public static let topicARN = "arn:aws:sns:eu-west-1:123456789012:hogmail-feedback"

    /// `host:port`, for `transport.ses.sns_cert_hosts`.
    public var host: String { "127.0.0.1:\(port)" }
    public var certificateURL: String { "http://\(host)/SimpleNotificationService-test.pem" }

    /// One key for every test: RSA key generation is slow in a debug build.
    static let sharedKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    public init(certificateValidity: ClosedRange<Date> = Date(timeIntervalSinceNow: -86_400)...Date(timeIntervalSinceNow: 86_400)) throws {
        key = Self.sharedKey
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-sns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let name = try DistinguishedName { CommonName("sns.test.invalid") }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: certificateValidity.lowerBound, notValidAfter: certificateValidity.upperBound,
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption, extensions: .init(),
            issuerPrivateKey: .init(key))
        try Data(certificate.serializeAsPEM().pemString.utf8).write(to: folder.appendingPathComponent("SimpleNotificationService-test.pem"))

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("servers/sns_server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, folder.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
            kill(process.processIdentifier, SIGKILL)
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sns_server.py did not start: \(String(decoding: line, as: UTF8.self))"])
        }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    /// The paths the server was asked for, in order.
    public func requests() -> [String] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("requests.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    // MARK: - Messages

    /// An SNS Notification carrying `message`, signed (SignatureVersion 1: SHA-1, 2: SHA-256).
    public func notification(_ message: String, messageID: String = UUID().uuidString, subject: String? = nil,
                             timestamp: Date = Date(), topicARN: String = FakeSNS.topicARN, version: String = "1",
                             certificateURL: String? = nil) -> [String: String] {
        var fields = ["Type": "Notification", "MessageId": messageID, "TopicArn": topicARN, "Message": message,
                      "Timestamp": Self.timestamp(timestamp), "SignatureVersion": version,
                      "SigningCertURL": certificateURL ?? self.certificateURL,
                      "UnsubscribeURL": "http://\(host)/?Action=Unsubscribe&SubscriptionArn=\(topicARN):1"]
        if let subject { fields["Subject"] = subject }
        return signed(fields)
    }

    /// An SNS SubscriptionConfirmation whose SubscribeURL points at this server.
    public func subscriptionConfirmation(token: String = "2336412f37fb687f5d51e6e2425dacbba9ec", timestamp: Date = Date(),
                                         version: String = "2", subscribeURL: String? = nil) -> [String: String] {
        signed(["Type": "SubscriptionConfirmation", "MessageId": UUID().uuidString, "Token": token, "TopicArn": Self.topicARN,
                "Message": "You have chosen to subscribe to the topic \(Self.topicARN).\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                "SubscribeURL": subscribeURL ?? "http://\(host)/?Action=ConfirmSubscription&TopicArn=\(Self.topicARN)&Token=\(token)",
                "Timestamp": Self.timestamp(timestamp), "SignatureVersion": version, "SigningCertURL": certificateURL])
    }

    /// Signs `fields` as SNS does: the documented fields, in order, "Name\nValue\n" each.
    public func signed(_ fields: [String: String]) -> [String: String] {
        let names = fields["Type"] == "Notification"
            ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
            : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        let text = names.compactMap { name in fields[name].map { "\(name)\n\($0)\n" } }.joined()
        let signature: _RSA.Signing.RSASignature
        if fields["SignatureVersion"] == "2" {
            signature = try! key.signature(for: SHA256.hash(data: Data(text.utf8)), padding: .insecurePKCS1v1_5)
        } else {
            signature = try! key.signature(for: Insecure.SHA1.hash(data: Data(text.utf8)), padding: .insecurePKCS1v1_5)
        }
        var result = fields
        result["Signature"] = signature.rawRepresentation.base64EncodedString()
        return result
    }

    /// The body SNS posts.
    public static func body(_ fields: [String: String]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    // MARK: - SES notifications (the SNS Message)

    /// An SES bounce notification for a message HogMail sent with `messageIDHeader`.
    public static func sesBounce(_ bounceType: String, recipient: String, messageIDHeader: String, status: String = "5.1.1",
                                 diagnostic: String = "smtp; 550 5.1.1 user unknown", eventPublishing: Bool = false) -> String {
        sesMessage([
            (eventPublishing ? "eventType" : "notificationType"): "Bounce",
            "bounce": [
                "bounceType": bounceType, "bounceSubType": bounceType == "Permanent" ? "General" : "MailboxFull",
                "bouncedRecipients": [["emailAddress": recipient, "action": "failed", "status": status, "diagnosticCode": diagnostic]],
                "timestamp": timestamp(Date()), "feedbackId": "0102017-\(UUID().uuidString)",
            ],
        ], recipient: recipient, messageIDHeader: messageIDHeader)
    }

    public static func sesComplaint(recipient: String, messageIDHeader: String, type: String = "abuse") -> String {
        sesMessage([
            "notificationType": "Complaint",
            "complaint": [
                "complainedRecipients": [["emailAddress": recipient]], "complaintFeedbackType": type,
                "timestamp": timestamp(Date()), "feedbackId": "0102017-\(UUID().uuidString)",
            ],
        ], recipient: recipient, messageIDHeader: messageIDHeader)
    }

    static func sesMessage(_ body: [String: Any], recipient: String, messageIDHeader: String) -> String {
        var object = body
        object["mail"] = [
            "timestamp": timestamp(Date()), "source": "bounces@example.com",
            // SES's own id: not the Message-ID header, and not what the journal holds.
            "messageId": "0102018c-ses-\(UUID().uuidString)-000000",
            "destination": [recipient], "headersTruncated": false,
            "headers": [["name": "From", "value": "HogMail <hogmail@example.com>"], ["name": "Message-ID", "value": messageIDHeader]],
            "commonHeaders": ["from": ["HogMail <hogmail@example.com>"], "to": [recipient], "messageId": messageIDHeader],
        ] as [String: Any]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
