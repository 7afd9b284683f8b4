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
