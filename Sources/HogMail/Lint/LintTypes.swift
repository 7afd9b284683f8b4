import Foundation

public enum Severity: String, Sendable, Codable, Comparable {
    case warning, error

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .error }
}

/// The folders rules live in, and the promise each kind protects.
public enum RuleKind: String, Sendable, CaseIterable, Codable {
    case compliance, privacy
    case darkPatterns = "dark_patterns"
    case quality

    public var title: String {
        switch self {
        case .compliance: return "Compliance"
        case .privacy: return "Privacy"
        case .darkPatterns: return "Dark patterns"
        case .quality: return "Quality"
        }
    }
}

/// A draft (and, where the rule is about them, templates or settings) that a rule's
/// example builds: the examples are the rule's documentation and its tests.
public struct LintExample: Sendable {
    public var body: String
    public var frontMatter: String
    public var title: String
    /// Template name (`partials/footer.html`) → replacement text.
    public var templates: [String: String]
    public var configure: (@Sendable (inout Configuration) -> Void)?
    /// Files of the project by path (`issues/images/chart.png`): the images the draft shows.
    public var files: [String: Data]

    public init(_ body: String, frontMatter: String = "", title: String = "What we shipped this fortnight",
                templates: [String: String] = [:], files: [String: Data] = [:], configure: (@Sendable (inout Configuration) -> Void)? = nil) {
        self.body = body
        self.files = files
        self.frontMatter = frontMatter
        self.title = title
        self.templates = templates
        self.configure = configure
    }

    /// The whole draft file.
    public var draft: String {
        let quotedTitle = "\"" + title.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        let preheader = frontMatter.contains("preheader:") ? "" : "preheader: A short summary of what is inside.\n"
        return "---\ntitle: \(quotedTitle)\ndate: 2026-01-07\n\(preheader)\(frontMatter)---\n\n\(body)\n"
    }
}

public struct RuleDescription: Sendable {
    public var identifier: String
    public var name: String
    public var kind: RuleKind
    public var severity: Severity
    /// One sentence: what the rule finds.
    public var description: String
    /// Why it matters.
    public var rationale: String
    /// False for the unsubscribe and consent family: those promises cannot be waived per issue.
    public var silenceable: Bool
    public var triggeringExamples: [LintExample]
    public var nonTriggeringExamples: [LintExample]

    public init(identifier: String, name: String, kind: RuleKind, severity: Severity, description: String, rationale: String,
                silenceable: Bool = true, triggeringExamples: [LintExample], nonTriggeringExamples: [LintExample]) {
        self.identifier = identifier
        self.name = name
        self.kind = kind
        self.severity = severity
        self.description = description
        self.rationale = rationale
        self.silenceable = silenceable
        self.triggeringExamples = triggeringExamples
        self.nonTriggeringExamples = nonTriggeringExamples
    }
}

/// One problem, where it comes from, and whether the draft silenced it.
public struct Finding: Sendable, Equatable, Codable {
    public var rule: String
    public var severity: Severity
    public var message: String
    public var file: String?
    public var line: Int?
    public var excerpt: String?
    /// The reason given in the front matter, when silenced.
    public var silencedReason: String?
    /// For `hogmail lint --explain`: which shape matched which words, and how to read it.
    public var explanation: String?

    public var isSilenced: Bool { silencedReason != nil }

    /// `path:line: error: message [rule_id]`, the format editors and CI logs understand.
    public var description: String {
        let location = [file, line.map(String.init)].compactMap { $0 }.joined(separator: ":")
        let prefix = location.isEmpty ? "" : "\(location): "
        let state = silencedReason.map { "\(severity.rawValue) (silenced: \($0))" } ?? severity.rawValue
        return "\(prefix)\(state): \(message) [\(rule)]"
    }
}

/// A lint rule: one small type that describes, documents and tests itself.
public protocol Rule: Sendable {
    static var description: RuleDescription { get }
    init()
    func findings(in email: LintedEmail) -> [Finding]
}

extension Rule {
    /// A finding of this rule at its default severity.
    func finding(_ message: String, at location: SourcePosition?, excerpt: String? = nil, severity: Severity? = nil) -> Finding {
        Finding(rule: Self.description.identifier, severity: severity ?? Self.description.severity, message: message,
                file: location?.file, line: location?.line, excerpt: excerpt.map { String($0.prefix(160)) })
    }
}

public struct SourcePosition: Sendable, Equatable {
    public var file: String
    public var line: Int?
}
