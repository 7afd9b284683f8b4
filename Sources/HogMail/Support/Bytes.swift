/// Lower-case hexadecimal of bytes (digests, ids). Written out by hand: `String(format:)`
/// per byte was a tenth of a send's CPU time when every message needed a Message-ID.
extension Sequence where Element == UInt8 {
    public var hexString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        appendHex(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `hexString`'s characters appended to `out` as UTF-8.
    public func appendHex(to out: inout [UInt8]) {
        let digits = hexDigits
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
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
        var bytes: [UInt8] = []
        var text = self
        text.withUTF8 { bytes.appendLowercasedUTF8(UnsafeRawBufferPointer($0)) }
        return bytes
    }
}

extension Array where Element == UInt8 {
    /// Appends UTF-8 text lower-cased (`String.lowercasedUTF8` of it): ASCII by hand,
    /// anything else through `lowercased()`.
    public mutating func appendLowercasedUTF8(_ text: UnsafeRawBufferPointer) {
        if text.contains(where: { $0 >= 128 }) {
            append(contentsOf: String(decoding: text, as: UTF8.self).lowercased().utf8)
            return
        }
        let start = count
        append(contentsOf: text)
        for index in start..<count where (65...90).contains(self[index]) { self[index] += 32 }
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
