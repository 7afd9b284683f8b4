import Foundation

/// The header fields of a received message (RFC 5322 §2.2), read on bytes: lines end in CRLF or
/// a bare LF, folded lines are joined, the header ends at the first empty line. Only the first
/// `limit` bytes are looked at, so a 50 MB message costs no more than a small one.
public struct MessageHeaders: Sendable, Equatable {
    public var fields: [(name: String, value: String)]

    public static let defaultLimit = 256 * 1024

    public static func == (lhs: MessageHeaders, rhs: MessageHeaders) -> Bool {
        lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }

    public init(parsing bytes: some Collection<UInt8>, limit: Int = MessageHeaders.defaultLimit) {
        var fields: [(name: String, value: String)] = []
        var current: (name: [UInt8], value: [UInt8])?
        func finish() {
            guard let field = current else { return }
            let name = String(decoding: field.name, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let value = String(decoding: field.value, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if !name.isEmpty { fields.append((name, value)) }
            current = nil
        }
        var line: [UInt8] = []
        for byte in bytes.prefix(limit) {
            guard byte == 10 else { line.append(byte); continue }
            if line.last == 13 { line.removeLast() }
            if line.isEmpty { break }
            if line[0] == 32 || line[0] == 9 {
                current?.value += [32] + line.drop { $0 == 32 || $0 == 9 }
            } else {
                finish()
                if let colon = line.firstIndex(of: 58) {
                    current = (Array(line[..<colon]), Array(line[(colon + 1)...]))
                }
            }
            line.removeAll(keepingCapacity: true)
        }
        finish()
        self.fields = fields
    }

    /// Every value of a field, in order; names compare case-insensitively.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Reads the head of a file without reading the rest of it.
    public static func read(contentsOf url: URL, limit: Int = MessageHeaders.defaultLimit) throws -> MessageHeaders {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        return MessageHeaders(parsing: try handle.read(upToCount: limit) ?? Data(), limit: limit)
    }
}
