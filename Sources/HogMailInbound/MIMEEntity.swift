import Foundation
import HogMail

/// A received message, or one of its parts, read on bytes (RFC 2045/2046): its header, its
/// content type and, for a multipart, its parts. Built for reports that come back to HogMail
/// (bounces, complaints, auto-replies): bounded in depth and part count, never trapping on
/// broken input, and a truncated message simply has fewer or shorter parts.
struct MIMEEntity: Sendable {
    var headers: MessageHeaders
    /// The body as it is on the wire (still transfer-encoded).
    var body: ArraySlice<UInt8>
    var contentType: ContentType
    var parts: [MIMEEntity]

    static let maximumDepth = 8
    static let maximumParts = 200

    struct ContentType: Sendable, Equatable {
        /// `type/subtype`, lower-cased; `text/plain` when the header is missing or unreadable (RFC 2045 §5.2).
        var value: String
        /// Parameter names lower-cased; values unquoted.
        var parameters: [String: String]

        init(_ header: String?) {
            guard let header, !header.isEmpty else {
                value = "text/plain"
                parameters = [:]
                return
            }
            var pieces = ContentType.split(header)
            let type = pieces.isEmpty ? "" : pieces.removeFirst().trimmingCharacters(in: .whitespaces).lowercased()
            value = type.contains("/") ? type : "text/plain"
            var parameters: [String: String] = [:]
            for piece in pieces {
                guard let equals = piece.firstIndex(of: "=") else { continue }
                let name = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
                var value = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                if parameters[name] == nil { parameters[name] = value }
            }
            self.parameters = parameters
        }

        /// Splits at `;` outside quotes.
        static func split(_ text: String) -> [String] {
            var result: [String] = []
            var current = ""
            var quoted = false
            var escaped = false
            for character in text {
                if escaped { current.append(character); escaped = false; continue }
                if character == "\\" && quoted { current.append(character); escaped = true; continue }
                if character == "\"" { quoted.toggle() }
                if character == ";" && !quoted {
                    result.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            result.append(current)
            return result
        }
    }

    init(parsing bytes: ArraySlice<UInt8>, depth: Int = 0, defaultType: String = "text/plain") {
        let (head, body) = Self.splitHead(bytes)
        headers = MessageHeaders(parsing: head, limit: head.count + 1)
        self.body = body
        let declared = headers.values("Content-Type").first
        contentType = ContentType(declared ?? defaultType)
        parts = []
        guard depth < Self.maximumDepth else { return }
        if contentType.value.hasPrefix("multipart/"), let boundary = contentType.parameters["boundary"], !boundary.isEmpty, boundary.utf8.count <= 200 {
            // A multipart/digest's parts are messages unless they say otherwise (RFC 2046 §5.1.5).
            let inner = contentType.value == "multipart/digest" ? "message/rfc822" : "text/plain"
            parts = Self.splitParts(body, boundary: Array(boundary.utf8)).prefix(Self.maximumParts).map {
                MIMEEntity(parsing: $0, depth: depth + 1, defaultType: inner)
            }
        } else if contentType.value == "message/rfc822" || contentType.value == "message/global" {
            parts = [MIMEEntity(parsing: ArraySlice(decodedBody()), depth: depth + 1)]
        }
    }

    init(parsing bytes: [UInt8]) { self.init(parsing: bytes[...]) }

    /// Every entity in the tree, depth first, this one included.
    var all: [MIMEEntity] {
        var result: [MIMEEntity] = []
        var stack = [self]
        while let entity = stack.popLast() {
            result.append(entity)
            stack.append(contentsOf: entity.parts.reversed())
        }
        return result
    }

    /// The body with its transfer encoding (base64, quoted-printable) undone.
    func decodedBody() -> [UInt8] {
        switch headers.values("Content-Transfer-Encoding").first?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "base64"?: Self.decodeBase64(body)
        case "quoted-printable"?: Self.decodeQuotedPrintable(body)
        default: Array(body)
        }
    }

    /// The decoded body as text: UTF-8 where it is valid, Latin-1 otherwise (old bounces).
    func text() -> String {
        let bytes = decodedBody()
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    // MARK: - Bytes

    /// The header ends at the first empty line (CRLF CRLF or LF LF); a message without one is all header.
    static func splitHead(_ bytes: ArraySlice<UInt8>) -> (head: ArraySlice<UInt8>, body: ArraySlice<UInt8>) {
        var index = bytes.startIndex
        var lineStart = index
        while index < bytes.endIndex {
            if bytes[index] == 10 {
                let line = bytes[lineStart..<index]
                if line.isEmpty || (line.count == 1 && line.first == 13) {
                    return (bytes[bytes.startIndex..<lineStart], bytes[(index + 1)...])
                }
                lineStart = index + 1
            }
            index += 1
        }
        // A part that starts with an empty line has no header.
        return (bytes, bytes[bytes.endIndex...])
    }

    /// The parts between `--boundary` lines, without the CRLF that belongs to each delimiter.
    static func splitParts(_ body: ArraySlice<UInt8>, boundary: [UInt8]) -> [ArraySlice<UInt8>] {
        let delimiter: [UInt8] = [45, 45] + boundary
        var starts: [(lineStart: Int, afterLine: Int, closing: Bool)] = []
        var lineStart = body.startIndex
        while lineStart < body.endIndex {
            let lineEnd = body[lineStart...].firstIndex(of: 10) ?? body.endIndex
            let line = body[lineStart..<lineEnd]
            if line.count >= delimiter.count, line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                let closing = rest.starts(with: [45, 45])
                // Only white space may follow a delimiter (RFC 2046 §5.1.1).
                if closing || rest.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
                    starts.append((lineStart, min(lineEnd + 1, body.endIndex), closing))
                    if closing { break }
                }
            }
            lineStart = lineEnd + 1
        }
        var parts: [ArraySlice<UInt8>] = []
        for (index, start) in starts.enumerated() where !start.closing {
            var end = index + 1 < starts.count ? starts[index + 1].lineStart : body.endIndex
            // The line break before a delimiter is part of the delimiter.
            if end > start.afterLine, index + 1 < starts.count {
                end -= 1
                if end > start.afterLine, body[end - 1] == 13 { end -= 1 }
            }
            parts.append(body[start.afterLine..<max(start.afterLine, end)])
        }
        return parts
    }

    static func decodeBase64(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(byte)] = UInt8(index) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            if byte == 61 { break }
            let value = table[Int(byte)]
            guard value != 255 else { continue }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }

    static func decodeQuotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: byte - 48
            case 65...70: byte - 55
            case 97...102: byte - 87
            default: nil
            }
        }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == 61 {
                let next = index + 1
                if next < bytes.endIndex, bytes[next] == 10 { index = next + 1; continue }
                if next + 1 < bytes.endIndex, bytes[next] == 13, bytes[next + 1] == 10 { index = next + 2; continue }
                if next + 1 < bytes.endIndex, let high = hex(bytes[next]), let low = hex(bytes[next + 1]) {
                    output.append(high << 4 | low)
                    index = next + 2
                    continue
                }
            }
            output.append(byte)
            index += 1
        }
        return output
    }
}

extension MessageHeaders {
    /// Header blocks separated by empty lines, as in a `message/delivery-status` body (RFC 3464 §2.1).
    static func blocks(_ bytes: [UInt8]) -> [MessageHeaders] {
        var blocks: [MessageHeaders] = []
        var rest = bytes[...]
        while !rest.isEmpty, blocks.count < 1000 {
            // Skip empty lines between blocks.
            while let first = rest.first, first == 10 || first == 13 { rest = rest.dropFirst() }
            guard !rest.isEmpty else { break }
            let (head, body) = MIMEEntity.splitHead(rest)
            let block = MessageHeaders(parsing: head, limit: head.count + 1)
            if !block.fields.isEmpty { blocks.append(block) }
            if body.isEmpty { break }
            rest = body
        }
        return blocks
    }

    /// The first value of a field, or nil.
    func first(_ name: String) -> String? { values(name).first }
}
