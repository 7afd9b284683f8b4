import Foundation
import Synchronization

/// The encodings of RFC 2045 (quoted-printable), RFC 2047 (encoded words) and
/// RFC 5322 (header folding, dates), written for exactly what HogMail sends.
public enum MIME {
    /// A header that would not be a header any more: CR, LF or NUL in a value.
    public static func checkHeaderValue(_ value: String, header: String) throws {
        // One loop over the UTF-8 bytes (five values of every message are checked).
        if value.containsUTF8Byte(where: { $0 <= 13 && ($0 == 13 || $0 == 10 || $0 == 0) }) {
            throw HogMailError("The \(header) header would contain a line break or NUL character (\(value.debugDescription)); that could inject headers, so the message was refused. Remove the line break from the value it comes from.")
        }
    }

    // MARK: - Headers

    /// `Name: value` folded to lines of at most 78 characters where the value allows it (RFC 5322 §2.2.3),
    /// breaking only before spaces, so unfolding restores the value exactly.
    public static func header(_ name: String, _ value: String) -> String {
        var result: [UInt8] = []
        result.reserveCapacity(name.utf8.count + value.utf8.count + 16)
        appendHeader(name, value, to: &result, lineEnd: false)
        return String(decoding: result, as: UTF8.self)
    }

    /// `header`, appended to a message being built, with its CRLF unless `lineEnd` is false.
    /// Counted and split in UTF-8 bytes, in one pass: this runs for every header of every message.
    public static func appendHeader(_ name: String, _ value: String, to result: inout [UInt8], lineEnd: Bool = true) {
        result += name.utf8
        result.append(UInt8(ascii: ":"))
        var value = value
        value.withUTF8 { bytes in
            if name.utf8.count + 2 + bytes.count <= 78 {
                result.append(UInt8(ascii: " "))
                result.append(contentsOf: bytes)
                return
            }
            var lineLength = name.utf8.count + 1
            var lineHasSpace = false
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: " ") { end += 1 }
                let length = end - start
                if lineLength + 1 + length > 78 && lineHasSpace {
                    result.append(13)
                    result.append(10)
                    lineLength = 0
                }
                result.append(UInt8(ascii: " "))
                result += UnsafeBufferPointer(rebasing: bytes[start..<end])
                lineLength += 1 + length
                lineHasSpace = true
                start = end + 1
            }
        }
        if lineEnd {
            result.append(13)
            result.append(10)
        }
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
        var bytes: [UInt8] = []
        appendDate(instant, in: zone, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let weekdays = Array("ThuFriSatSunMonTueWed".utf8)  // 1970-01-01 was a Thursday
    private static let months = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// `date`, appended to a message being built: arithmetic instead of Calendar, which is slow
    /// on Linux, and bytes instead of string pieces, as this runs for every message sent.
    public static func appendDate(_ instant: Date, in zone: TimeZone, to out: inout [UInt8]) {
        let offset = ZoneOffsets.shared.secondsFromGMT(zone, at: instant)
        let local = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let seconds = local - days * 86_400
        let day = CalendarDate(dayNumber: days)
        func two(_ n: Int) {
            out.append(UInt8(ascii: "0") + UInt8(n / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(n % 10))
        }
        let weekday = ((days % 7) + 7) % 7 * 3
        out += weekdays[weekday..<weekday + 3]
        out.append(UInt8(ascii: ","))
        out.append(UInt8(ascii: " "))
        two(day.day)
        out.append(UInt8(ascii: " "))
        out += months[(day.month - 1) * 3..<day.month * 3]
        out.append(UInt8(ascii: " "))
        out += String(day.year).utf8
        out.append(UInt8(ascii: " "))
        two(seconds / 3600)
        out.append(UInt8(ascii: ":"))
        two(seconds / 60 % 60)
        out.append(UInt8(ascii: ":"))
        two(seconds % 60)
        let minutes = abs(offset) / 60
        out.append(UInt8(ascii: " "))
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        two(minutes / 60)
        two(minutes % 60)
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
        // Printable text without spaces (a URL, an address) is the common per-recipient field.
        if softBreakAtEnd, isPrintableWord(bytes) {
            appendQuotedPrintableWord(bytes: bytes, to: &output)
        } else {
            appendQuotedPrintableText(bytes: bytes, to: &output, softBreakAtEnd: softBreakAtEnd)
        }
    }

    /// `=` CRLF. Appended byte by byte: an array literal appended is an array made and freed,
    /// and these run several times for every message sent.
    @inline(__always)
    static func appendSoftBreak(to output: inout [UInt8]) {
        output.append(UInt8(ascii: "="))
        output.append(13)
        output.append(10)
    }

    /// Every byte printable ASCII other than space (33...126).
    static func isPrintableWord(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for byte in bytes where byte < 33 || byte > 126 { return false }
        return true
    }

    /// Printable text without spaces or line breaks, ending in a soft break: only "=" and a "."
    /// starting a line need escaping, and every line may take 75 characters before its soft
    /// break. Gives what `appendQuotedPrintableText` gives, with a fraction of its tests per byte.
    /// Runs of bytes that need no escaping are copied whole (a URL is mostly one or two runs):
    /// appending byte by byte checked the array's capacity and uniqueness for every byte.
    static func appendQuotedPrintableWord(bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        let hex = hexDigits
        let equals = UInt8(ascii: "=")
        var column = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == equals || (column == 0 && byte == UInt8(ascii: ".")) {
                if column + 3 > 75 {
                    appendSoftBreak(to: &output)
                    column = 0
                }
                output.append(equals)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
                column += 3
                index += 1
                continue
            }
            if column == 75 {
                // A soft break, then this byte again: at the start of a line a "." is escaped.
                appendSoftBreak(to: &output)
                column = 0
                continue
            }
            // This byte and those after it on the line, up to the next "=".
            let limit = min(bytes.count, index + 75 - column)
            var end = index + 1
            while end < limit, bytes[end] != equals { end += 1 }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
            column += end - index
            index = end
        }
        if column > 0 { appendSoftBreak(to: &output) }
    }

    /// Any text: line breaks become CRLF, and trailing white space, "From " and "." at a line
    /// start are guarded.
    static func appendQuotedPrintableText(bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8], softBreakAtEnd: Bool) {
        let hex = hexDigits
        var column = 0
        var index = 0
        func softBreak() {
            appendSoftBreak(to: &output)
            column = 0
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 10 {  // LF (and CRLF) → hard line break
                output.append(13)
                output.append(10)
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

/// A zone's offset from UTC, kept until its next transition: asking the zone (ICU) cost a
/// microsecond for every message's Date header, and the answer is the same for a whole send
/// but across a daylight-saving change.
final class ZoneOffsets: Sendable {
    static let shared = ZoneOffsets()

    private struct Span {
        var zone: TimeZone
        /// The instants, in seconds since 1970, for which `offset` holds: [from, until).
        var from: Double
        var until: Double
        var offset: Int
    }

    private let last = Mutex<Span?>(nil)

    func secondsFromGMT(_ zone: TimeZone, at instant: Date) -> Int {
        let seconds = instant.timeIntervalSince1970
        if let span = last.withLock({ $0 }), span.zone == zone, span.from <= seconds, seconds < span.until {
            return span.offset
        }
        let offset = zone.secondsFromGMT(for: instant)
        // The offset holds from this instant to the zone's next transition (for ever, for a zone
        // without one); an instant before it (a clock set back) asks the zone again.
        let until = zone.nextDaylightSavingTimeTransition(after: instant)?.timeIntervalSince1970 ?? .infinity
        last.withLock { $0 = Span(zone: zone, from: seconds, until: until, offset: offset) }
        return offset
    }
}
