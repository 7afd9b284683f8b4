import Foundation

/// Builds a rule example the way `hogmail build` builds a draft (same renderer, same
/// templates, same message) and lints it: the examples test exactly what users get.
public enum ExampleRunner {
    /// The configuration examples start from: the one `hogmail init` writes.
    static let baseConfiguration: Configuration = {
        let text = Scaffold.commentedConfiguration(anchor: CalendarDate(year: 2026, month: 1, day: 7)!)
        return try! Configuration.parse(text, file: "hogmail.yml").0
    }()

    public static func findings(for example: LintExample, rule: any Rule.Type) throws -> [Finding] {
        var configuration = baseConfiguration
        example.configure?(&configuration)
        var texts: [String: (text: String, source: String)] = [:]
        for (file, text) in DefaultTemplates.files {
            texts[String(file.dropLast(".mustache".count))] = (text, "templates/\(file)")
        }
        for (name, text) in example.templates { texts[name] = (text, "templates/\(name).mustache") }
        let templates = try TemplateSet(texts: texts)
        let issue = try DraftParser.parse(Data(example.draft.utf8), path: "issues/1-example.md")
        let rendered = try IssueRenderer(configuration: configuration, templates: templates, files: .memory(example.files)).render(issue)
        let sample = try SampleMessage(configuration: configuration, rendered: rendered)
        let email = LintedEmail(issue: issue, configuration: configuration, rendered: rendered, sample: sample, templates: templates)
        return try Linter().lint(email, only: [rule]).findings
    }
}
