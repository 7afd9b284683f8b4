import Foundation
import HogMail

/// Amazon SES v2 `SendEmail` with `Content.Raw`, signed with SigV4, over libcurl.
/// The endpoint is configurable so tests can point it at a real SES implementation on 127.0.0.1.
public final class SESTransport: Transport, @unchecked Sendable {
    public struct Settings: Sendable {
        public var region: String
        public var endpoint: String
        public var accessKeyID: String
        public var secretAccessKey: String
        public var connections: Int
        /// A request that has not completed in this time is abandoned and retried later.
        public var timeout: TimeInterval = 30

        public init(region: String, endpoint: String, accessKeyID: String, secretAccessKey: String, connections: Int = 4) {
            self.region = region
            self.endpoint = endpoint
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.connections = connections
        }
    }

    public let settings: Settings
    private let clients: [HTTPClient]
    private let lock = NSLock()
    private var next = 0
    public var name: String { "Amazon SES (\(settings.endpoint))" }
    public var parallelism: Int { clients.count }
    /// For tests: the clock requests are signed with.
    var now: @Sendable () -> Date = { Date() }

    public init(settings: Settings) throws {
        guard let url = URL(string: settings.endpoint), let scheme = url.scheme, url.host != nil else {
            throw HogMailError("`transport.ses.endpoint` is `\(settings.endpoint)`; write it as https://email.REGION.amazonaws.com.")
        }
        let loopback = url.host == "127.0.0.1" || url.host == "localhost"
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw HogMailError("`transport.ses.endpoint` must be https:// (plain http only for a test server on 127.0.0.1).")
        }
        self.settings = settings
        clients = (0..<max(1, settings.connections)).map { _ in
            let client = HTTPClient()
            client.timeout = settings.timeout
            return client
        }
    }

    /// Signs and POSTs a JSON request to the SES v2 API.
    func request(path: String, json: [String: Any]) async throws -> HTTPClient.Response {
        let body = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let url = URL(string: settings.endpoint)!
        let host = url.host! + (url.port.map { ":\($0)" } ?? "")
        var headers = ["content-type": "application/json", "host": host]
        let signer = SigV4(accessKeyID: settings.accessKeyID, secretAccessKey: settings.secretAccessKey, region: settings.region, service: "ses")
        for (name, value) in signer.sign(method: "POST", path: path, headers: headers, body: body, date: now()) { headers[name] = value }
        headers.removeValue(forKey: "host")
        let client = lock.withLock { () -> HTTPClient in
            defer { next = (next + 1) % clients.count }
            return clients[next]
        }
        var base = settings.endpoint
        while base.hasSuffix("/") { base.removeLast() }
        return try await client.post(url: base + path, headers: headers, body: body)
    }

    public func send(_ message: OutgoingMessage) async throws {
        var body: [String: Any] = [
            "FromEmailAddress": message.from,
            "Destination": ["ToAddresses": [message.to]],
            "Content": ["Raw": ["Data": Data(message.data).base64EncodedString()]],
        ]
        // Where SES forwards bounces and complaints: the VERP address that names this message.
        if let returnPath = message.returnPath { body["FeedbackForwardingEmailAddress"] = returnPath }
        let response = try await request(path: "/v2/email/outbound-emails", json: body)
        if (200..<300).contains(response.status) { return }
        let detail = Self.describe(response)
        switch response.status {
        case 429:
            throw DeliveryError.slowDown("HTTP 429 \(detail)", retryAfter: response.headers["retry-after"].flatMap(TimeInterval.init))
        case 500...:
            throw DeliveryError.temporary("HTTP \(response.status) \(detail)")
        case 403:
            // Bad credentials, signature or permissions: every message would fail the same way, so
            // the send stops at once with the fix instead of failing each recipient.
            throw DeliveryError.configuration("Amazon SES refused HogMail's request (HTTP 403 \(detail)). Check the keys in the variables that `transport.ses.access_key_id_env` and `secret_access_key_env` name, that they may call `ses:SendEmail`, and `transport.ses.region`; then run `hogmail send` again to resume.")
        default:
            throw DeliveryError.permanent("HTTP \(response.status) \(detail)", mailboxUnknown: false)
        }
    }

    static func describe(_ response: HTTPClient.Response) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            return String(decoding: response.body.prefix(200), as: UTF8.self)
        }
        let type = (object["__type"] as? String) ?? (object["Code"] as? String) ?? ""
        let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
        return [type, message].filter { !$0.isEmpty }.joined(separator: ": ")
    }
}
