import Foundation

/// CSV that spreadsheets open safely and the importer reads back exactly.
///
/// RFC 4180: fields with `"`, `,`, CR or LF are quoted, `"` doubled, lines end in CRLF.
/// OWASP "CSV Injection": a cell starting with `=`, `+`, `-`, `@`, TAB or CR is a formula to
/// Excel, LibreOffice and Google Sheets (`=HYPERLINK(…)`, `+cmd|' /C calc'!A0`), so it gets a
/// leading `'`, which makes it text. The importer takes exactly that `'` off again.
public enum CSVWriter {
    /// One field, guarded and quoted as needed.
    public static func field(_ value: String) -> String {
        var text = value
        if startsLikeAFormula(afterQuotes: value) { text = "'" + text }
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: ",") || $0 == 13 || $0 == 10 }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One record: the fields, separated by commas, ending in CRLF.
    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// The field as it was before `field(_:)` guarded it: one leading `'` is dropped when what
    /// follows (after any further `'`) starts like a formula. The writer adds a `'` to exactly
    /// those values, including ones that already started with `'`, so every value round-trips.
    public static func unguard(_ value: String) -> String {
        guard value.utf8.first == UInt8(ascii: "'"), startsLikeAFormula(afterQuotes: value) else { return value }
        return String(value.dropFirst())
    }

    static let formulaStarts: Set<UInt8> = [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 9, 13]

    /// True for `=x`, `'=x`, `''+x`…: a formula start, possibly behind quotes the writer added.
    static func startsLikeAFormula(afterQuotes value: String) -> Bool {
        guard let first = value.utf8.first(where: { $0 != UInt8(ascii: "'") }) else { return false }
        return formulaStarts.contains(first)
    }
}

/// The subscriber list as CSV (`hogmail subscribers list --format csv`): the columns the
/// importer reads, so an export imports into another store as it was.
public enum SubscriberCSV {
    public static let columns = ["email", "name", "status", "consented_at", "consent_method", "consent_source", "consent_text", "ip", "user_agent", "confirmed_at"]
}

extension SubscriberStore {
    /// Streams the header and one line per subscriber (optionally of one status) to `write`.
    public func exportCSV(status: Subscriber.Status? = nil, _ write: (String) throws -> Void) throws {
        let iso = ISO8601DateFormatter()
        func date(_ value: Date?) -> String { value.map(iso.string) ?? "" }
        try write(CSVWriter.line(SubscriberCSV.columns))
        try forEach(status: status) { s in
            try write(CSVWriter.line([s.email, s.name ?? "", s.status.rawValue, date(s.consent.at), s.consent.method.rawValue, s.consent.source,
                                      s.consent.text ?? "", s.consent.ip ?? "", s.consent.userAgent ?? "", date(s.consent.confirmedAt)]))
        }
    }
}
