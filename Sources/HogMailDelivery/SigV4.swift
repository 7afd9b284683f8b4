import Crypto
import Foundation

/// AWS Signature Version 4 for one request (header-based).
public struct SigV4: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var region: String
    public var service: String

    public init(accessKeyID: String, secretAccessKey: String, region: String, service: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The headers to add (`x-amz-date`, `authorization`) for a request with these headers
    /// (names lower-cased; `host` included) and body. `path` is already URI-encoded.
    public func sign(method: String, path: String, query: String = "", headers: [String: String], body: Data, date: Date) -> [String: String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        let day = String(amzDate.prefix(8))
        var all = headers
        all["x-amz-date"] = amzDate
        let names = all.keys.map { $0.lowercased() }.sorted()
        let canonicalHeaders: String = names.map { name -> String in
            let value = all.first { $0.key.lowercased() == name }!.value
            return "\(name):\(value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))\n"
        }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalParts: [String] = [method, path, query, canonicalHeaders, signedHeaders, Self.hex(SHA256.hash(data: body))]
        let canonicalRequest = canonicalParts.joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signingParts: [String] = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
        let stringToSign = signingParts.joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        return [
            "x-amz-date": amzDate,
            "authorization": "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
        ]
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.hexString
    }
}
