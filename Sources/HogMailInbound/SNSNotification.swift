import Crypto
import Foundation
import HogMailDelivery
import X509
import _CryptoExtras

/// A message Amazon SNS posts to an HTTP(S) subscription: a notification, or the confirmation
/// of a subscription or unsubscription. Parsed, not yet trusted: `SNSVerifier` checks it.
///
/// https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
public struct SNSNotification: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case notification = "Notification"
        case subscriptionConfirmation = "SubscriptionConfirmation"
        case unsubscribeConfirmation = "UnsubscribeConfirmation"
    }

    public var kind: Kind
    public var messageID: String
    public var topicARN: String
    public var subject: String?
    /// For a notification, what was published (for SES, a JSON document in a string).
    public var message: String
    public var timestamp: String
    public var signatureVersion: String
    public var signature: String
    public var signingCertificateURL: String
    /// Confirmations only: the link that confirms the subscription, and its token.
    public var subscribeURL: String?
    public var token: String?

    /// The largest body SNS posts is a 256 KB message plus its envelope; anything past this is not SNS.
    public static let maximumBody = 256 * 1024

    /// Parses the JSON body SNS posts (`Content-Type: text/plain`, whatever it holds).
    public init(json body: [UInt8]) throws {
        guard body.count <= Self.maximumBody else { throw SNSRejection("the body is larger than 256 KB") }
        let envelope: Envelope
        do { envelope = try JSONDecoder().decode(Envelope.self, from: Data(body)) } catch {
            throw SNSRejection("the body is not an SNS message (not a JSON object of strings)")
        }
        guard let type = envelope.type else { throw SNSRejection("the message has no Type") }
        guard let kind = Kind(rawValue: type) else { throw SNSRejection("the message's Type `\(Self.visible(type))` is not one SNS sends") }
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value, !value.isEmpty else { throw SNSRejection("the message has no \(name): it is unsigned or incomplete") }
            return value
        }
        self.kind = kind
        messageID = try required(envelope.messageID, "MessageId")
        topicARN = try required(envelope.topicARN, "TopicArn")
        message = try required(envelope.message, "Message")
        timestamp = try required(envelope.timestamp, "Timestamp")
        signatureVersion = try required(envelope.signatureVersion, "SignatureVersion")
        signature = try required(envelope.signature, "Signature")
        signingCertificateURL = try required(envelope.signingCertURL, "SigningCertURL")
        subject = envelope.subject
        if kind == .notification {
            subscribeURL = nil
            token = nil
        } else {
            subscribeURL = try required(envelope.subscribeURL, "SubscribeURL")
            token = try required(envelope.token, "Token")
        }
    }

    /// What SNS signed: the listed fields in this order, each as "Name\nValue\n" (AWS's
    /// "Verifying the signatures of Amazon SNS messages"). Subject only when the message has one.
    public var stringToSign: String {
        var fields: [(String, String)] = [("Message", message), ("MessageId", messageID)]
        switch kind {
        case .notification:
            if let subject { fields.append(("Subject", subject)) }
            fields += [("Timestamp", timestamp), ("TopicArn", topicARN), ("Type", kind.rawValue)]
        case .subscriptionConfirmation, .unsubscribeConfirmation:
            fields += [("SubscribeURL", subscribeURL ?? ""), ("Timestamp", timestamp), ("Token", token ?? ""),
                       ("TopicArn", topicARN), ("Type", kind.rawValue)]
        }
        return fields.map { "\($0.0)\n\($0.1)\n" }.joined()
    }

    /// `Timestamp` as a date (ISO 8601 in UTC, with or without milliseconds).
    public var date: Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: timestamp) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: timestamp)
    }

    /// A value from the message, safe for a log line: one line, at most 80 characters.
    static func visible(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) }.prefix(80))
    }

    private struct Envelope: Decodable {
        var type, messageID, topicARN, subject, message, timestamp: String?
        var signatureVersion, signature, signingCertURL, subscribeURL, token: String?

        enum CodingKeys: String, CodingKey {
            case type = "Type", messageID = "MessageId", topicARN = "TopicArn", subject = "Subject", message = "Message"
            case timestamp = "Timestamp", signatureVersion = "SignatureVersion", signature = "Signature"
            case signingCertURL = "SigningCertURL", subscribeURL = "SubscribeURL", token = "Token"
        }
    }
}

/// Why a message posted to the webhook is not taken: a sentence for the log, never a secret.
public struct SNSRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The signing certificate could not be had (a network failure on an allowed host): nothing
/// says the message is forged, so SNS is asked to send it again.
public struct SNSCertificateUnavailable: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Checks that a message really comes from Amazon SNS, from a topic this list takes:
/// its signature (SignatureVersion 1, RSA with SHA-1, or 2, RSA with SHA-256) against the
/// certificate at `SigningCertURL`, which must be on an SNS host; its age; its topic.
public final class SNSVerifier: @unchecked Sendable {
    /// Hosts besides `sns.REGION.amazonaws.com` (`host` or `host:port`), http allowed: tests.
    public let extraHosts: [String]
    /// When not empty, the only topics taken.
    public let topicARNs: [String]
    /// SNS signs each message when it sends it and retries for about an hour at most.
    public var maximumAge: TimeInterval = 3600
    /// Clocks differ a little; a message from further in the future was not signed now.
    public var maximumSkew: TimeInterval = 300
    /// How many certificates are kept, by URL. SNS rotates its certificate rarely.
    public static let cacheSize = 16
    public static let maximumCertificateSize = 64 * 1024

    let fetch: @Sendable (String) async throws -> Data
    private let lock = NSLock()
    private var cache: [(url: String, certificate: Certificate)] = []

    /// `fetch` GETs a URL the verifier allowed; by default libcurl, 10 s, at most 64 KB.
    public init(extraHosts: [String] = [], topicARNs: [String] = [],
                fetch: (@Sendable (String) async throws -> Data)? = nil) {
        self.extraHosts = extraHosts.map { $0.lowercased() }
        self.topicARNs = topicARNs
        self.fetch = fetch ?? { url in
            let answer = try await HTTPFetch.get(url, timeout: 10, maximumBytes: SNSVerifier.maximumCertificateSize)
            // No such certificate on an SNS host: whoever named it did not get it from SNS.
            if (400..<500).contains(answer.status) { throw SNSRejection("the SigningCertURL answers HTTP \(answer.status): no such certificate") }
            guard answer.status == 200 else { throw DeliveryError.temporary("the server answered HTTP \(answer.status)") }
            return answer.body
        }
    }

    /// Throws `SNSRejection` (forged, expired, from another topic or host) or
    /// `SNSCertificateUnavailable` (the certificate could not be fetched now).
    public func verify(_ notification: SNSNotification, now: Date = Date()) async throws {
        let digest: any Digest
        switch notification.signatureVersion {
        case "1": digest = Insecure.SHA1.hash(data: Data(notification.stringToSign.utf8))
        case "2": digest = SHA256.hash(data: Data(notification.stringToSign.utf8))
        default: throw SNSRejection("SignatureVersion `\(SNSNotification.visible(notification.signatureVersion))` is not 1 or 2")
        }
        if !topicARNs.contains(notification.topicARN) {
            throw SNSRejection("the topic \(SNSNotification.visible(notification.topicARN)) is not in transport.ses.sns_topic_arns")
        }
        guard let date = notification.date else {
            throw SNSRejection("the Timestamp `\(SNSNotification.visible(notification.timestamp))` is not a date")
        }
        if date < now.addingTimeInterval(-maximumAge) || date > now.addingTimeInterval(maximumSkew) {
            throw SNSRejection("the message is expired: signed at \(notification.timestamp), more than an hour ago or in the future")
        }
        guard isAllowed(notification.signingCertificateURL) else {
            throw SNSRejection("the SigningCertURL is not on an SNS host (https://sns.REGION.amazonaws.com or transport.ses.sns_cert_hosts): \(SNSNotification.visible(notification.signingCertificateURL))")
        }
        guard let signatureBytes = Data(base64Encoded: notification.signature), !signatureBytes.isEmpty else {
            throw SNSRejection("the Signature is not base64")
        }
        let certificate = try await certificate(at: notification.signingCertificateURL)
        guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
            throw SNSRejection("the signing certificate is not valid now (valid \(certificate.notValidBefore) to \(certificate.notValidAfter))")
        }
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw SNSRejection("the signing certificate's key is not RSA")
        }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: signatureBytes)
        let valid: Bool
        switch digest {
        case let sha1 as Insecure.SHA1Digest: valid = key.isValidSignature(signature, for: sha1, padding: .insecurePKCS1v1_5)
        case let sha256 as SHA256Digest: valid = key.isValidSignature(signature, for: sha256, padding: .insecurePKCS1v1_5)
        default: valid = false
        }
        guard valid else { throw SNSRejection("the signature does not match the message: forged or altered") }
    }

    /// True for https on `sns.REGION.amazonaws.com` (`.com.cn` in China), and for http or https
    /// on a host listed in `transport.ses.sns_cert_hosts`. No user name, nothing but http(s).
    public func isAllowed(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), let host = components.host?.lowercased(), !host.isEmpty,
              components.user == nil, components.password == nil else { return false }
        if scheme == "https", components.port == nil || components.port == 443,
           host.range(of: #"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"#, options: .regularExpression) != nil {
            return true
        }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        return extraHosts.contains(shownHost) || extraHosts.contains("\(shownHost):\(port)")
    }

    /// The certificate at `url`, from the cache or fetched once.
    func certificate(at url: String) async throws -> Certificate {
        if let cached = lock.withLock({ cache.first { $0.url == url }?.certificate }) { return cached }
        let data: Data
        do { data = try await fetch(url) } catch let rejection as SNSRejection {
            throw rejection
        } catch {
            throw SNSCertificateUnavailable(description: "the signing certificate could not be fetched from \(SNSNotification.visible(url)): \((error as? DeliveryError)?.response ?? String(describing: error))")
        }
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: String(decoding: data, as: UTF8.self)) } catch {
            throw SNSRejection("what \(SNSNotification.visible(url)) served is not a PEM certificate")
        }
        lock.withLock {
            cache.removeAll { $0.url == url }
            cache.append((url, certificate))
            if cache.count > Self.cacheSize { cache.removeFirst(cache.count - Self.cacheSize) }
        }
        return certificate
    }

    /// Certificates in the cache (tests).
    var cachedURLs: [String] { lock.withLock { cache.map(\.url) } }
}
