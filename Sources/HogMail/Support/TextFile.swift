import Foundation

enum TextFile {
    /// Decodes UTF-8 (with or without a byte-order mark); otherwise names the first bad line.
    static func decode(_ data: Data, file: String) throws -> String {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        if let text = String(validating: bytes, as: UTF8.self) {
            return text.replacingOccurrences(of: "\r\n", with: "\n")
        }
        // Find the first line that is not valid UTF-8, to point at it.
        var line = 1
        var start = bytes.startIndex
        for index in bytes.indices where bytes[index] == 0x0A {
            if String(validating: bytes[start..<index], as: UTF8.self) == nil { break }
            line += 1
            start = bytes.index(after: index)
        }
        throw HogMailError(file: file, line: line, "The file is not UTF-8 text. Save it as UTF-8 (in most editors: \"Save with encoding\" → UTF-8).")
    }
}

/// A draft as it is on disk, for rewriting it without changing anything else: its byte-order
/// mark, and each line with its own ending (`\r\n`, `\n`, or none on a last line without one).
public struct DraftFileText: Sendable, Equatable {
    public var byteOrderMark: Bool
    /// The lines without their endings.
    public var lines: [String]
    /// The ending of each line, as written.
    public var endings: [String]

    /// Splits the file's bytes at each LF (a CR before it stays with the line's ending).
    public init(_ data: Data, file: String) throws {
        _ = try TextFile.decode(data, file: file)  // Names the first line that is not UTF-8.
        var bytes = [UInt8](data)
        byteOrderMark = bytes.starts(with: [0xEF, 0xBB, 0xBF])
        if byteOrderMark { bytes.removeFirst(3) }
        lines = []
        endings = []
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            let hasCR = index > start && bytes[index - 1] == 0x0D
            lines.append(String(decoding: bytes[start..<(hasCR ? index - 1 : index)], as: UTF8.self))
            endings.append(hasCR ? "\r\n" : "\n")
            start = index + 1
        }
        if start < bytes.count {
            lines.append(String(decoding: bytes[start...], as: UTF8.self))
            endings.append("")
        }
    }

    /// Text without a byte-order mark (`\r\n` endings kept).
    public init(text: String) {
        // Parsed on bytes: Swift reads "\r\n" as one Character.
        self = (try? DraftFileText(Data(text.utf8), file: "")) ?? DraftFileText(byteOrderMark: false, lines: [], endings: [])
    }

    init(byteOrderMark: Bool, lines: [String], endings: [String]) {
        self.byteOrderMark = byteOrderMark
        self.lines = lines
        self.endings = endings
    }

    /// The ending new lines get: the file's first one, else LF.
    public var newline: String { endings.first { !$0.isEmpty } ?? "\n" }

    public var text: String { zip(lines, endings).map { $0 + $1 }.joined() }

    public var data: Data { Data((byteOrderMark ? [0xEF, 0xBB, 0xBF] : []) + Array(text.utf8)) }

    /// Inserts `new` lines before the 0-based `position`; a last line without an ending gets one first.
    mutating func insert(_ new: [String], at position: Int) {
        if position == lines.count, let last = endings.indices.last, endings[last].isEmpty { endings[last] = newline }
        let ending = newline
        lines.insert(contentsOf: new, at: position)
        endings.insert(contentsOf: new.map { _ in ending }, at: position)
    }
}
