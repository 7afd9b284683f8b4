import Foundation

/// The encodings of RFC 2045 (quoted-printable), RFC 2047 (encoded words) and
/// RFC 5322 (header folding, dates), written for exactly what HogMail sends.
public enum MIME {
    /// A header that would not be a header any more: CR, LF or NUL in a value.
    public static func checkHeaderValue(_ value: String, header: String) throws {
        if value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
            throw HogMailError("The \(header) header would contain a line break or NUL character (\(value.debugDescription)); that could inject headers, so the message was refused. Remove the line break from the value it comes from.")
        }
    }

    // MARK: - Headers

    /// `Name: value` folded to lines of at most 78 characters where the value allows it (RFC 5322 §2.2.3),
    /// breaking only before spaces, so unfolding restores the value exactly.
    public static func header(_ name: String, _ value: String) -> String {
        if name.utf8.count + 2 + value.utf8.count <= 78 { return name + ": " + value }
        // Counted and split in UTF-8 bytes, in one pass: this runs for long headers of every message.
        var result: [UInt8] = []
        result.reserveCapacity(name.utf8.count + value.utf8.count + 16)
        result += name.utf8
        result.append(UInt8(ascii: ":"))
        var lineLength = result.count
        var lineHasSpace = false
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: " ") { end += 1 }
                let length = end - start
                if lineLength + 1 + length > 78 && lineHasSpace {
                    result += [13, 10]
                    lineLength = 0
                }
                result.append(UInt8(ascii: " "))
                result += bytes[start..<end]
                lineLength += 1 + length
                lineHasSpace = true
                start = end + 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Subject and other unstructured text: as is when it is plain ASCII, else RFC 2047 encoded words.
    public static func unstructured(_ text: String) -> String {
        isPlainASCII(text) && !hasUnfoldableWord(text) ? text : encodedWords(text)
    }

    /// A word too long to fold (header lines may not exceed 998 bytes, and should stay
    /// within 78): encoded words split it into pieces that can go on lines of their own.
    static func hasUnfoldableWord(_ text: String) -> Bool {
        text.utf8.split(separator: UInt8(ascii: " ")).contains { $0.count > 60 }
    }

    /// A mailbox for From/To/Reply-To: `"Name" <addr>`, with the name encoded when it is not ASCII.
    public static func mailbox(_ mailbox: Mailbox) -> String {
        guard let name = mailbox.name, !name.isEmpty else { return mailbox.address }
        return "\(phrase(name)) <\(mailbox.address)>"
    }

    /// A display name: an atom sequence as is, a quoted string if it has specials, encoded words if not ASCII.
    public static func phrase(_ name: String) -> String {
        if !isPlainASCII(name) || hasUnfoldableWord(name) { return encodedWords(name) }
        let specials = Set("()<>[]:;@\\,.\"")
        if name.contains(where: { specials.contains($0) }) {
            return "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return name
    }

    /// RFC 2047 `B` encoded words of at most 75 characters, split between whole characters,
    /// separated by spaces so a folding point falls between them.
    public static func encodedWords(_ text: String) -> String {
        // 56 base64 characters + "=?utf-8?B?" + "?=" = 68: after "Subject: " or "Reply-To: " a line stays within 78.
        let maximumBytes = 42
        var words: [String] = []
        var chunk: [UInt8] = []
        func flush() {
            guard !chunk.isEmpty else { return }
            words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=")
            chunk.removeAll()
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            if bytes.count > maximumBytes {
                // A very long grapheme (a long emoji sequence): split between its scalars.
                for scalar in character.unicodeScalars {
                    let scalarBytes = Array(String(scalar).utf8)
                    if chunk.count + scalarBytes.count > maximumBytes { flush() }
                    chunk += scalarBytes
                }
                continue
            }
            if chunk.count + bytes.count > maximumBytes { flush() }
            chunk += bytes
        }
        flush()
        return words.joined(separator: " ")
    }

    static func isPlainASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// `Wed, 07 Jan 2026 16:00:00 +0000` in `zone` (RFC 5322 §3.3).
    public static func date(_ instant: Date, in zone: TimeZone) -> String {
        // Arithmetic instead of Calendar, which is slow on Linux and runs for every message sent.
        let offset = zone.secondsFromGMT(for: instant)
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let seconds = local - days * 86_400
        let day = CalendarDate(dayNumber: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let minutes = abs(offset) / 60
        return "\(weekdays[((days % 7) + 7) % 7]), \(two(day.day)) \(months[day.month - 1]) \(day.year) "
            + "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) \(offset < 0 ? "-" : "+")\(two(minutes / 60))\(two(minutes % 60))"
    }

    // MARK: - Bodies

    /// Quoted-printable (RFC 2045 §6.7) with CRLF line ends and encoded lines of at most 76 characters.
    /// `softBreakAtEnd` ends the output with `=` CRLF, which decodes to nothing: encoded pieces
    /// can then be joined, each starting a fresh line, and decode to the joined text.
    public static func quotedPrintable(_ text: String, softBreakAtEnd: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        appendQuotedPrintable(text, to: &output, softBreakAtEnd: softBreakAtEnd)
        return String(decoding: output, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// `quotedPrintable`, appended to a buffer: a message's per-recipient fields are encoded
    /// straight into the message.
    public static func appendQuotedPrintable(_ text: String, to output: inout [UInt8], softBreakAtEnd: Bool = false) {
        var text = text
        text.withUTF8 { appendQuotedPrintable(bytes: $0, to: &output, softBreakAtEnd: softBreakAtEnd) }
    }

    static func appendQuotedPrintable(bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8], softBreakAtEnd: Bool) {
        let hex = hexDigits
        // Short printable text without spaces (a URL, an address), the common per-recipient field:
        // only "=" needs escaping and no line can overflow.
        if bytes.count <= 25 || (bytes.count <= 72 && bytes.count + 2 * bytes.count(where: { $0 == UInt8(ascii: "=") }) <= 75) {
            if !bytes.isEmpty, bytes[0] != UInt8(ascii: "."), bytes[0] != UInt8(ascii: "F"), bytes.allSatisfy({ (33...126).contains($0) }) {
                for byte in bytes {
                    if byte == UInt8(ascii: "=") {
                        output.append(UInt8(ascii: "="))
                        output.append(UInt8(ascii: "3"))
                        output.append(UInt8(ascii: "D"))
                    } else {
                        output.append(byte)
                    }
                }
                if softBreakAtEnd {
                    output.append(UInt8(ascii: "="))
                    output.append(13)
                    output.append(10)
                }
                return
            }
        }
        var column = 0
        var index = 0
        func softBreak() {
            output += [UInt8(ascii: "="), 13, 10]
            column = 0
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 10 {  // LF (and CRLF) → hard line break
                output += [13, 10]
                column = 0
                index += 1
                continue
            }
            if byte == 13, index + 1 < bytes.count, bytes[index + 1] == 10 {
                index += 1
                continue
            }
            let next = index + 1 < bytes.count ? bytes[index + 1] : nil
            // A bare CR is not a line end: it is encoded (=0D) and takes room on this line.
            let atLineEnd = next == nil || next == 10 || (next == 13 && index + 2 < bytes.count && bytes[index + 2] == 10)
            let literal: Bool
            switch byte {
            case 33...60, 62...126: literal = true
            case 32, 9: literal = !atLineEnd  // trailing white space would be lost in transit
            default: literal = false
            }
            // "From " at a line start is mangled by mbox tools; a lone "." ends SMTP DATA.
            let guarded = byte == UInt8(ascii: ".") || (byte == UInt8(ascii: "F") && bytes[index...].starts(with: "From ".utf8))
            var encode = !literal || (column == 0 && guarded)
            var width = encode ? 3 : 1
            // Leave room for the soft break's "=", unless this is the last thing on the line.
            let limit = atLineEnd && !(softBreakAtEnd && next == nil) ? 76 : 75
            if column + width > limit {
                softBreak()
                if guarded && !encode { encode = true; width = 3 }
            }
            if encode {
                output.append(UInt8(ascii: "="))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            } else {
                output.append(byte)
            }
            column += width
            index += 1
        }
        if softBreakAtEnd && column > 0 { softBreak() }
    }
}
