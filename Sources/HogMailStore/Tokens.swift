import Foundation
import HogMail

/// Tokens in links: HMAC-SHA256 over what the token is for, the list and the subscriber's
/// random public id. They reveal neither the address nor a sequential id, cannot be
/// forged without the key, and are compared in constant time.
public struct TokenSigner: Sendable {
    public enum Purpose: String, Sendable {
        case unsubscribe = "u1"
        case confirm = "c1"
    }

    public enum Failure: Error, Equatable {
        case malformed, forged, expired
    }

    /// HMAC-SHA256 keyed with the secret, the list id already fed in.
    private let keyed: KeyedMAC

    public static let minimumSecretLength = 32

    public init(secret: String, listID: String) {
        keyed = KeyedMAC(key: Array(secret.utf8), prefix: Array("\(listID)\u{0}".utf8))
    }

    /// Reads the secret from the variable `hogmail.yml` names; a clear error when it is missing or short.
    public static func fromEnvironment(_ configuration: Configuration, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TokenSigner {
        let name = configuration.tokenKeyEnvironmentVariable
        guard let secret = environment[name], !secret.isEmpty else {
            throw HogMailError("The environment variable \(name) is not set; links to confirm and unsubscribe are signed with it. Set it to a long random value, e.g. `export \(name)=$(openssl rand -hex 32)`, and keep it: changing it breaks the links in emails already sent.")
        }
        guard secret.utf8.count >= minimumSecretLength else {
            throw HogMailError("The secret in \(name) is \(secret.utf8.count) characters; use at least \(minimumSecretLength) random characters, e.g. `export \(name)=$(openssl rand -hex 32)`.")
        }
        return TokenSigner(secret: secret, listID: configuration.list.id)
    }

    /// `u1.<public id>.<mac>`: never expires, so an old email still lets the reader leave.
    /// Built in one buffer (a send makes one per message): the same bytes as `payload.mac(payload)`.
    public func unsubscribeToken(publicID: String) -> String {
        var token: [UInt8] = []
        token.reserveCapacity(publicID.utf8.count + 27)
        token += Purpose.unsubscribe.rawValue.utf8
        token.append(UInt8(ascii: "."))
        token += publicID.utf8
        return signed(&token)
    }

    /// `c1.<public id>.<expiry>.<mac>`: expires, because a confirmation is an act of consent now.
    public func confirmationToken(publicID: String, expires: Date) -> String {
        let payload = "\(Purpose.confirm.rawValue).\(publicID).\(String(Int(expires.timeIntervalSince1970), radix: 36))"
        return "\(payload).\(mac(payload))"
    }

    /// `b1.<send id>.<public id>.<mac>`, the `+TOKEN` of a message's envelope sender (VERP): a
    /// bounce or complaint sent back to it names the send and the recipient, and cannot be forged.
    public func bounceToken(sendID: Int64, publicID: String) -> String {
        var token: [UInt8] = []
        token.reserveCapacity(publicID.utf8.count + 40)
        token += "b1.".utf8
        Self.appendBase36(sendID, to: &token)
        token.append(UInt8(ascii: "."))
        token += publicID.utf8
        return signed(&token)
    }

    /// `payload.<mac of payload>`: the payload's bytes, to which the mac is appended.
    private func signed(_ token: inout [UInt8]) -> String {
        let code = token.withUnsafeBytes { keyed.code($0) }
        token.append(UInt8(ascii: "."))
        code.withUnsafeBytes { Self.appendBase64URL(UnsafeRawBufferPointer(rebasing: $0.prefix(16)), to: &token) }
        return String(decoding: token, as: UTF8.self)
    }

    /// `String(value, radix: 36)`'s digits (lower case, "-" first when negative), without the String.
    static func appendBase36(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = out.count
        repeat {
            let digit = UInt8(magnitude % 36)
            out.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
            magnitude /= 36
        } while magnitude > 0
        out[start...].reverse()
    }

    /// The send and recipient a bounce token was made for.
    public func verifyBounce(_ token: String) throws(Failure) -> (sendID: Int64, publicID: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "b1", parts.allSatisfy({ !$0.isEmpty && $0.count <= 64 }),
              let sendID = Int64(parts[1], radix: 36) else { throw .malformed }
        let payload = parts.dropLast().joined(separator: ".")
        guard Self.constantTimeEqual(Data(mac(payload).utf8), Data(parts[3].utf8)) else { throw .forged }
        return (sendID, parts[2])
    }

    /// `bounces+TOKEN@example.com` for `bounces@example.com`.
    public static func verpAddress(_ bounceAddress: String, token: String) -> String {
        guard let at = bounceAddress.lastIndex(of: "@") else { return bounceAddress }
        return bounceAddress[..<at] + "+" + token + bounceAddress[at...]
    }

    /// The public id the token was made for.
    public func verify(_ token: String, purpose: Purpose, now: Date = Date()) throws(Failure) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let expected = purpose == .unsubscribe ? 3 : 4
        guard parts.count == expected, parts[0] == purpose.rawValue, parts.allSatisfy({ !$0.isEmpty && $0.count <= 64 }) else { throw .malformed }
        let payload = parts.dropLast().joined(separator: ".")
        // Compared as text, not decoded: base64 has several spellings of the same last bits, and
        // a link must have exactly one valid form.
        guard Self.constantTimeEqual(Data(parts.last!.utf8), Data(mac(payload).utf8)) else { throw .forged }
        if purpose == .confirm {
            guard let seconds = Int(parts[2], radix: 36) else { throw .malformed }
            if Date(timeIntervalSince1970: TimeInterval(seconds)) < now { throw .expired }
        }
        return parts[1]
    }

    /// A new random public id: 16 bytes, base64url; not derived from anything guessable.
    public static func newPublicID() -> String {
        var generator = SystemRandomNumberGenerator()
        let (a, b) = (generator.next(), generator.next())
        return withUnsafeBytes(of: (a, b)) { base64URL($0) }
    }

    private func mac(_ payload: String) -> String {
        keyed.code(payload).withUnsafeBytes { Self.base64URL(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }

    public static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0 && a.count == b.count
    }

    /// Base64url without padding (RFC 4648 §5), byte by byte: new ids are made for every imported row.
    static func base64URL(_ data: Data) -> String {
        data.withUnsafeBytes { base64URL($0) }
    }

    private static let base64URLAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func base64URL(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        appendBase64URL(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendBase64URL(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let alphabet = base64URLAlphabet
        var index = 0
        while index + 2 < bytes.count {
            let n = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            out.append(alphabet[n >> 18 & 63])
            out.append(alphabet[n >> 12 & 63])
            out.append(alphabet[n >> 6 & 63])
            out.append(alphabet[n & 63])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = Int(bytes[index]) << 16
            out.append(alphabet[n >> 18 & 63])
            out.append(alphabet[n >> 12 & 63])
        } else if rest == 2 {
            let n = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8
            out.append(alphabet[n >> 18 & 63])
            out.append(alphabet[n >> 12 & 63])
            out.append(alphabet[n >> 6 & 63])
        }
    }

    static func base64URLDecode(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

/// HMAC-SHA256 (RFC 2104) with the key, and any fixed prefix of the message, already hashed in:
/// each code only copies the two hash states and adds its payload. Written over `HashState`
/// (libcrypto's plain-struct context) rather than `HMAC<SHA256>`, whose generic code and key
/// set-up cost a fifth of assembling a message, or swift-crypto's `SHA256`, whose copies
/// allocate. `HMACTests` checks it against `HMAC<SHA256>`.
struct KeyedMAC: Sendable {
    /// After `(key ⊕ ipad) ‖ prefix`.
    let inner: HashState
    /// After `key ⊕ opad`.
    let outer: HashState

    init(key: [UInt8], prefix: [UInt8] = []) {
        // Keys longer than the block are hashed first (RFC 2104 §2); shorter ones are zero-padded.
        var block = key.count > 64 ? HashState().digest(appending: key).bytes : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        var inner = HashState()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(prefix)
        var outer = HashState()
        outer.update(block.map { $0 ^ 0x5c })
        self.inner = inner
        self.outer = outer
    }

    func code(_ payload: String) -> HashState.Digest {
        var payload = payload
        return payload.withUTF8 { code(UnsafeRawBufferPointer($0)) }
    }

    func code(_ payload: UnsafeRawBufferPointer) -> HashState.Digest {
        inner.digest(appending: payload).withUnsafeBytes { outer.digest(appending: $0) }
    }
}
