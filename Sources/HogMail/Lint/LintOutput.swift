import Foundation

/// The JSON documents `hogmail lint --format json`, `lint.json` and `hogmail rules --format json` write.
public enum LintOutput {
    struct FindingJSON: Encodable {
        var rule: String, severity: String, message: String, file: String?, line: Int?, excerpt: String?, silenced: Bool, reason: String?
        /// Which dark-pattern shape matched which words (omitted for other rules).
        var explanation: String?
    }

    public static func json(_ findings: [Finding]) throws -> Data {
        let rows = findings.map {
            FindingJSON(rule: $0.rule, severity: $0.severity.rawValue, message: $0.message, file: $0.file, line: $0.line,
                        excerpt: $0.excerpt, silenced: $0.isSilenced, reason: $0.silencedReason, explanation: $0.explanation)
        }
        struct Document: Encodable {
            var findings: [FindingJSON]
            var errors: Int
            var warnings: Int
        }
        let document = Document(
            findings: rows,
            errors: findings.filter { $0.severity == .error && !$0.isSilenced }.count,
            warnings: findings.filter { $0.severity == .warning && !$0.isSilenced }.count)
        return try encoder.encode(document) + Data("\n".utf8)
    }

    public static func rulesJSON() throws -> Data {
        struct Example: Encodable { var draft: String; var templates: [String: String]; var configures: Bool }
        struct RuleJSON: Encodable {
            var identifier: String, name: String, kind: String, severity: String, description: String, rationale: String
            var silenceable: Bool, triggering_examples: [Example], non_triggering_examples: [Example]
        }
        func example(_ e: LintExample) -> Example { Example(draft: e.draft, templates: e.templates, configures: e.configure != nil) }
        let rules = Linter.descriptions.map {
            RuleJSON(identifier: $0.identifier, name: $0.name, kind: $0.kind.rawValue, severity: $0.severity.rawValue,
                     description: $0.description, rationale: $0.rationale, silenceable: $0.silenceable,
                     triggering_examples: $0.triggeringExamples.map(example), non_triggering_examples: $0.nonTriggeringExamples.map(example))
        }
        return try encoder.encode(rules) + Data("\n".utf8)
    }

    /// The rule list as Markdown: what `hogmail rules --format markdown` prints and the README holds.
    public static func rulesMarkdown() -> String {
        var lines: [String] = []
        for kind in RuleKind.allCases {
            lines.append("**\(kind.title)**")
            lines.append("")
            lines.append("| rule | severity | what it checks |")
            lines.append("| --- | --- | --- |")
            for rule in Linter.descriptions where rule.kind == kind {
                let severity = rule.severity.rawValue + (rule.silenceable ? "" : " (cannot be silenced)")
                lines.append("| `\(rule.identifier)` | \(severity) | \(rule.description.replacingOccurrences(of: "|", with: "\\|")) |")
            }
            lines.append("")
        }
        lines.append("**Dark-pattern shapes** (`Lint/Data/shapes.txt`; each with a sentence it matches and one it leaves alone)")
        lines.append("")
        lines.append("| rule | shape | matches | leaves alone |")
        lines.append("| --- | --- | --- | --- |")
        for shape in DarkPatternShapes.bundled.shapes {
            func cell(_ text: String?) -> String { text.map { "\"\($0.replacingOccurrences(of: "|", with: "\\|"))\"" } ?? "" }
            lines.append("| `\(DarkPatternShapes.rule(for: shape.kind))` | \(shape.name) | \(cell(shape.triggering.first)) | \(cell(shape.quiet.first)) |")
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }

    /// The rule list for people: identifier, description, rationale, examples.
    public static func rulesText() -> String {
        Linter.descriptions.map { rule in
            var text = "\(rule.identifier) (\(rule.kind.title.lowercased()), \(rule.severity.rawValue)\(rule.silenceable ? "" : ", cannot be silenced")): \(rule.name)\n"
            text += "  \(rule.description)\n  Why: \(rule.rationale)\n"
            for example in rule.triggeringExamples.prefix(2) { text += "  Triggers:     \(summary(example))\n" }
            for example in rule.nonTriggeringExamples.prefix(1) { text += "  Does not:     \(summary(example))\n" }
            for shape in DarkPatternShapes.bundled.shapes where DarkPatternShapes.rule(for: shape.kind) == rule.identifier {
                text += "  Shape \"\(shape.name)\": e.g. \(shape.triggering.map { "\"\($0)\"" }.joined(separator: ", "))"
                text += shape.quiet.isEmpty ? "\n" : "; not \(shape.quiet.map { "\"\($0)\"" }.joined(separator: ", "))\n"
            }
            return text
        }.joined(separator: "\n")
    }

    static func summary(_ example: LintExample) -> String {
        if let template = example.templates.first {
            return "template \(template.key): \(template.value.replacingOccurrences(of: "\n", with: " ").prefix(70))"
        }
        if example.configure != nil { return "a hogmail.yml setting (see the rule's source)" }
        if example.title != LintExample("").title { return "subject \"\(example.title.prefix(60))\"" }
        return example.body.replacingOccurrences(of: "\n", with: " ").prefix(90).description
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
