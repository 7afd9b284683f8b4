import CSHA256

/// A SHA-256 state that is a plain value (libcrypto's context, `CSHA256`): the hash of a fixed
/// prefix is kept once and each use finishes a copy of it. Every recipient of a send needs
/// three such hashes (its Message-ID at the freeze, two signed tokens in its message); with
/// swift-crypto's `SHA256`, whose context sits behind a reference, each copy allocated.
public struct HashState: Sendable {
    private var state = hogmail_sha256()

    public init() {
        hogmail_sha256_start(&state)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hogmail_sha256_update(&state, bytes.baseAddress, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of what was hashed so far followed by `bytes`; this state does not change.
    public func digest(appending bytes: UnsafeRawBufferPointer) -> Digest {
        var digest = Digest()
        withUnsafePointer(to: state) { state in
            withUnsafeMutableBytes(of: &digest.words) { out in
                hogmail_sha256_digest(state, bytes.baseAddress, bytes.count, out.baseAddress)
            }
        }
        return digest
    }

    public func digest(appending bytes: [UInt8] = []) -> Digest {
        bytes.withUnsafeBytes { digest(appending: $0) }
    }

    /// 32 bytes, held inline.
    public struct Digest: Sendable, Equatable {
        fileprivate var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        public static func == (a: Digest, b: Digest) -> Bool { a.words == b.words }

        public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            try Swift.withUnsafeBytes(of: words, body)
        }

        public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

        /// The first `count` bytes in lower-case hexadecimal.
        public func hex(bytes count: Int = 32) -> String {
            withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0.prefix(count)).hexString }
        }

        /// `hex(bytes:)` appended to `out` as UTF-8.
        public func appendHex(bytes count: Int = 32, to out: inout [UInt8]) {
            withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0.prefix(count)).appendHex(to: &out) }
        }
    }
}
