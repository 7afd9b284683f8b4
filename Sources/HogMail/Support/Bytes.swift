/// Lower-case hexadecimal of bytes (digests, ids). Written out by hand: `String(format:)`
/// per byte was a tenth of a send's CPU time when every message needed a Message-ID.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// Whether any UTF-8 byte matches: over the string's contiguous bytes when it has them, which
    /// is several times faster than walking its `UTF8View` (this runs on every field of every message).
    public func containsUTF8Byte(where predicate: (UInt8) -> Bool) -> Bool {
        if let found = utf8.withContiguousStorageIfAvailable({ $0.contains(where: predicate) }) { return found }
        return utf8.contains(where: predicate)
    }
}
