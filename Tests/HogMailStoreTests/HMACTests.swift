import Crypto
import Foundation
import HogMail
import Testing

@testable import HogMailStore

/// `HashState` and `KeyedMAC` (libcrypto's SHA-256 with plain-value states) give exactly what
/// swift-crypto's `SHA256` and `HMAC<SHA256>` give, for every length around the 64-byte block.
@Suite struct HMACTests {
    /// Bytes that differ from length to length and position to position.
    func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ ($0 >> 3)) }
    }

    @Test func aHashStateDigestIsSHA256OfEverythingFedToIt() {
        for prefixLength in [0, 1, 55, 56, 63, 64, 65, 200] {
            var state = HashState()
            let prefix = bytes(prefixLength, seed: 1)
            state.update(prefix)
            for length in [0, 1, 8, 55, 56, 63, 64, 65, 127, 128, 300] {
                let tail = bytes(length, seed: length)
                #expect(state.digest(appending: tail).bytes == Array(SHA256.hash(data: prefix + tail)), "prefix \(prefixLength), tail \(length)")
            }
        }
    }

    @Test func takingADigestLeavesTheStateAsItWas() {
        var state = HashState()
        state.update(Array("send:1:abc\u{0}".utf8))
        let first = state.digest(appending: Array("ada@example.com".utf8))
        _ = state.digest(appending: Array("bob@example.com".utf8))
        #expect(state.digest(appending: Array("ada@example.com".utf8)) == first)
    }

    @Test func keyedMACIsHMACSHA256WithThePrefixInFront() {
        for keyLength in [1, 16, 32, 63, 64, 65, 100] {
            let key = bytes(keyLength, seed: 3)
            for prefixLength in [0, 17] {
                let prefix = bytes(prefixLength, seed: 5)
                let mac = KeyedMAC(key: key, prefix: prefix)
                for length in [0, 1, 46, 47, 64, 120] {
                    let payload = bytes(length, seed: 9)
                    let expected = Array(HMAC<SHA256>.authenticationCode(for: prefix + payload, using: SymmetricKey(data: key)))
                    let got = payload.withUnsafeBytes { mac.code($0) }.bytes
                    #expect(got == expected, "key \(keyLength), prefix \(prefixLength), payload \(length)")
                }
            }
        }
    }

    @Test func aDigestPrintsAsLowerCaseHex() {
        let digest = HashState().digest(appending: Array("abc".utf8))
        #expect(digest.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest.hex(bytes: 4) == "ba7816bf")
    }

    /// Tokens built on bytes (unsubscribe and bounce, one each per message sent) are
    /// `payload.<first 16 bytes of HMAC-SHA256(secret, list id NUL payload), base64url>`.
    @Test func tokensAreTheirPayloadAndItsHMAC() {
        let secret = String(repeating: "k", count: 40)
        let signer = TokenSigner(secret: secret, listID: "hogmail.example.com")
        func expected(_ payload: String) -> String {
            let code = HMAC<SHA256>.authenticationCode(for: Array("hogmail.example.com\u{0}\(payload)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
            let mac = Data(Array(code).prefix(16)).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            return "\(payload).\(mac)"
        }
        for publicID in ["abc123", TokenSigner.newPublicID(), "", "é-ü_0"] {
            #expect(signer.unsubscribeToken(publicID: publicID) == expected("u1.\(publicID)"))
            for sendID: Int64 in [0, 1, 9, 10, 35, 36, 1_295, 1_296, 123_456_789, .max, -1, -36, .min] {
                #expect(signer.bounceToken(sendID: sendID, publicID: publicID) == expected("b1.\(String(sendID, radix: 36)).\(publicID)"), "send \(sendID)")
            }
        }
    }
}
