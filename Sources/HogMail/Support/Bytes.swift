/// Lower-case hexadecimal of bytes (digests, ids). Written out by hand: `String(format:)`
/// per byte was a tenth of a send's CPU time when every message needed a Message-ID.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = hexDigits
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

extension String {
    /// Whether any UTF-8 byte matches: over the string's contiguous bytes when it has them, which
    /// is several times faster than walking its `UTF8View` (this runs on every field of every message).
    public func containsUTF8Byte(where predicate: (UInt8) -> Bool) -> Bool {
        if let found = utf8.withContiguousStorageIfAvailable({ $0.contains(where: predicate) }) { return found }
        return utf8.contains(where: predicate)
    }
}

extension String {
    /// The string lower-cased, as UTF-8 bytes: ASCII by hand (addresses nearly always are),
    /// anything else through `lowercased()`. Hashes of addresses are taken over these.
    public var lowercasedUTF8: [UInt8] {
        var bytes = Array(utf8)
        if bytes.contains(where: { $0 >= 128 }) { return Array(lowercased().utf8) }
        for index in bytes.indices where (65...90).contains(bytes[index]) { bytes[index] += 32 }
        return bytes
    }
}

extension String {
    /// Curly quotes made straight (’ ‘ to ', “ ” to "): the form the lint's word lists and
    /// shapes are written in. One pass, and none for ASCII text; it runs on every word linted.
    public func straighteningQuotes() -> String {
        guard containsUTF8Byte(where: { $0 >= 0x80 }) else { return self }
        var scalars = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            switch scalar {
            case "\u{2018}", "\u{2019}": scalars.append("'")
            case "\u{201C}", "\u{201D}": scalars.append("\"")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
