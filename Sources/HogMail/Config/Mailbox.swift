import Foundation

/// An address with an optional display name: `HogMail <hogmail@example.com>`.
public struct Mailbox: Equatable, Sendable, CustomStringConvertible {
    public var name: String?
    public var address: String

    public init(name: String? = nil, address: String) {
        self.name = name
        self.address = address
    }

    public var domain: String { String(address.split(separator: "@").last ?? "") }
    public var description: String { name.map { "\($0) <\(address)>" } ?? address }

    /// Accepts `addr@domain`, `Name <addr@domain>` and `"Name, Inc." <addr@domain>`.
    public static func parse(_ text: String, field: String, file: String? = nil, line: Int? = nil) throws -> Mailbox {
        try checkHeaderSafe(text, path: field, file: file, line: line)
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var name: String?
        var address = trimmed
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var display = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            if display.count >= 2, display.hasPrefix("\""), display.hasSuffix("\"") {
                display = String(display.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            name = display.isEmpty ? nil : display
        }
        guard isValidAddress(address) else {
            throw HogMailError(file: file, line: line, "`\(field)` is `\(text)`, which is not an email address. Write it as `name@example.com` or `Name <name@example.com>`.")
        }
        return Mailbox(name: name, address: address)
    }

    /// A practical check (RFC 5321 dot-atom local part, a dotted domain of LDH labels): what a
    /// form or import should accept. Hand-written, not a regex: imports call it for every row.
    /// RFC 5322 `atext` besides letters and digits.
    private static let atextSymbols = Set("!#$%&'*+/=?^_`{|}~-".utf8)

    public static func isValidAddress(_ address: String) -> Bool {
        let bytes = Array(address.utf8)
        guard bytes.count <= 254, let at = bytes.lastIndex(of: UInt8(ascii: "@")), at > 0, at <= 64, at < bytes.count - 1 else { return false }
        let local = bytes[..<at], domain = bytes[(at + 1)...]
        func isAlphanumeric(_ b: UInt8) -> Bool { (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) }
        guard local.first != UInt8(ascii: "."), local.last != UInt8(ascii: ".") else { return false }
        var previousDot = false
        for byte in local {
            let dot = byte == UInt8(ascii: ".")
            guard isAlphanumeric(byte) || atextSymbols.contains(byte) || dot, !(dot && previousDot) else { return false }
            previousDot = dot
        }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard (1...63).contains(label.count), isAlphanumeric(label.first!), isAlphanumeric(label.last!),
                  label.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }
}
