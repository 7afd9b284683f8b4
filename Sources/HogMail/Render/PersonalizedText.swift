import Foundation

/// Rendered text with holes for the per-recipient fields, so an issue is rendered once
/// and each recipient's copy is a cheap fill-in rather than a new render.
public struct PersonalizedText: Equatable, Sendable {
    /// U+E000 (private use) marks a field; drafts containing it are refused, so the
    /// marker can never collide with content.
    public static let marker: Unicode.Scalar = "\u{E000}"

    public enum Field: String, CaseIterable, Sendable {
        case unsubscribeURL = "unsubscribe_url"
        case recipientEmail = "recipient_email"

        /// What a template sees in place of the value: marker, name, marker.
        public var placeholder: String { "\(PersonalizedText.marker)\(rawValue)\(PersonalizedText.marker)" }
    }

    enum Segment: Equatable, Sendable {
        case literal(String)
        case field(Field)
    }

    private(set) var segments: [Segment]

    /// Splits rendered output at placeholders.
    public init(rendering text: String) {
        var segments: [Segment] = []
        let parts = text.unicodeScalars.split(separator: PersonalizedText.marker, omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            let string = String(String.UnicodeScalarView(part))
            if index % 2 == 1, let field = Field(rawValue: string) {
                segments.append(.field(field))
            } else if !string.isEmpty {
                segments.append(.literal(string))
            }
        }
        self.segments = segments
    }

    /// The text for one recipient. Values are escaped by the caller for the context (HTML or text).
    public func filled(_ values: [Field: String]) -> String {
        var result = ""
        for segment in segments {
            switch segment {
            case .literal(let text): result += text
            case .field(let field): result += values[field] ?? ""
            }
        }
        return result
    }

    public var fields: Set<Field> {
        Set(segments.compactMap { if case .field(let field) = $0 { return field } else { return nil } })
    }
}
