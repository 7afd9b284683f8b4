import Foundation

/// RFC 4180 CSV, read in chunks: quoted fields, doubled quotes, commas and newlines
/// inside quotes, CRLF or LF. Memory stays flat whatever the file's size.
struct CSVReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// 1-based line where the current record started (records can span lines).
    private(set) var recordLine = 0
    private var line = 1

    init(url: URL) throws {
        handle = try FileHandle(forReadingFrom: url)
    }

    mutating func close() { try? handle.close() }

    /// Makes sure a byte is buffered; false at the end of the file.
    private mutating func fill() throws -> Bool {
        if position < buffer.count { return true }
        if atEnd { return false }
        let chunk = try handle.read(upToCount: 1 << 16) ?? Data()
        if chunk.isEmpty { atEnd = true; return false }
        buffer = Array(chunk)
        position = 0
        return true
    }

    private mutating func nextByte() throws -> UInt8? {
        guard try fill() else { return nil }
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func peekByte() throws -> UInt8? {
        guard try fill() else { return nil }
        return buffer[position]
    }

    enum Problem: Error { case unterminatedQuote(line: Int), notUTF8(line: Int) }

    /// The next record's fields, or nil at the end of the file.
    mutating func next() throws -> [String]? {
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var sawAnything = false
        recordLine = line
        func finish() throws {
            guard let text = String(validating: field, as: UTF8.self) else { throw Problem.notUTF8(line: recordLine) }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
        }
        while let byte = try nextByte() {
            sawAnything = true
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if try peekByte() == UInt8(ascii: "\"") { _ = try nextByte(); field.append(byte) } else { quoted = false }
                } else {
                    if byte == 10 { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): quoted = true
            case UInt8(ascii: ","): try finish()
            case 13: continue
            case 10:
                line += 1
                try finish()
                // A blank line is not a record.
                if fields == [""] { fields.removeAll(); recordLine = line; sawAnything = false; continue }
                return fields
            default: field.append(byte)
            }
        }
        if quoted { throw Problem.unterminatedQuote(line: recordLine) }
        guard sawAnything else { return nil }
        try finish()
        return fields == [""] ? nil : fields
    }
}
