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

    /// A practical check (RFC 5321 dot-atom local part, a dotted domain): what a form or import should accept.
    public static func isValidAddress(_ address: String) -> Bool {
        address.range(of: #"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"#,
                      options: .regularExpression) != nil
            && !address.hasPrefix(".") && !address.contains("..") && !address.contains(".@") && address.utf8.count <= 254
    }
}
