import ArgumentParser
import Foundation
import HogMail

extension Hogmail {
    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check drafts against the team's promises: unsubscribe, privacy, no dark patterns, quality.",
            discussion: """
            Exit status 1 when an error is found (silenced findings do not count).
            Examples:
              hogmail lint
              hogmail lint issues/3-flags.md --format json
              hogmail lint 3 --explain          also say which dark-pattern shape matched which words
            """)

        @OptionGroup var project: ProjectOptions

        @Argument(help: "Drafts to lint, as paths or issue numbers (default: every draft in issues/).")
        var drafts: [String] = []

        @Option(help: "text for people, json for CI.")
        var format: OutputFormat = .text

        @Flag(help: "Under each dark-pattern finding, which shape of Lint/Data/shapes.txt matched which words.")
        var explain = false

        func run() throws {
            var failed = false
            try Console.run {
                let report = try BuildPipeline(options: .init(projectDirectory: project.directory, drafts: drafts, write: false)).run()
                report.warnings.forEach(Console.warn)
                let findings = report.issues.flatMap(\.lint.findings)
                failed = report.issues.contains { $0.lint.errorCount > 0 }
                switch format {
                case .json:
                    FileHandle.standardOutput.write(try LintOutput.json(findings))
                case .text:
                    for finding in findings {
                        print(finding.description)
                        if explain, let explanation = finding.explanation { print("  explain: \(explanation)") }
                    }
                    for issue in report.issues {
                        for unused in issue.lint.unusedAllowances {
                            Console.printError("\(issue.sourcePath):\(unused.line): warning: `lint.allow.\(unused.rule)` silences nothing in this issue; remove it.")
                        }
                    }
                    let errors = report.issues.map(\.lint.errorCount).reduce(0, +)
                    let warnings = report.issues.map(\.lint.warningCount).reduce(0, +)
                    let silenced = findings.filter(\.isSilenced).count
                    print("\(report.issues.count) draft\(report.issues.count == 1 ? "" : "s") checked: \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")\(silenced > 0 ? ", \(silenced) silenced" : "").")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }

    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every lint rule with its description, rationale and examples.",
            discussion: "Examples:\n  hogmail rules\n  hogmail rules --format json")

        enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, markdown }

        @Option(help: "text for people, json for tools, markdown for the README.")
        var format: Format = .text

        func run() throws {
            switch format {
            case .text: print(LintOutput.rulesText())
            case .json: FileHandle.standardOutput.write(try LintOutput.rulesJSON())
            case .markdown: print(LintOutput.rulesMarkdown())
            }
        }
    }
}
