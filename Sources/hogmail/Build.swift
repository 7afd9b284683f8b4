import ArgumentParser
import Foundation
import HogMail

extension Hogmail {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn drafts into email.html, email.txt, email.eml and web.html, plus the archive and feed.",
            discussion: """
            Examples:
              hogmail build                      every draft in issues/, output in out/
              hogmail build issues/3-flags.md    one draft (the archive is still rebuilt)
              hogmail build 3 --out /tmp/preview --format json
            """)

        @OptionGroup var project: ProjectOptions

        @Argument(help: "Drafts to build, as paths or issue numbers (default: every draft in issues/).")
        var drafts: [String] = []

        @Option(help: "The output folder (default: out/ in the project).")
        var out: String?

        @Option(help: "text for people, json for scripts.")
        var format: OutputFormat = .text

        func run() throws {
            try Console.run {
                let pipeline = BuildPipeline(options: .init(
                    projectDirectory: project.directory, drafts: drafts,
                    outputDirectory: out.map { URL(fileURLWithPath: $0, isDirectory: true) }))
                let showSteps = Console.isTerminal && format == .text
                let report = try pipeline.run { index, total, name in
                    if showSteps { Console.printError("[\(index)/\(total)] \(name)") }
                }
                report.warnings.forEach(Console.warn)
                for finding in report.issues.flatMap(\.lint.findings) { Console.printError(finding.description) }
                switch format {
                case .text: printText(report)
                case .json: try printJSON(report)
                }
            }
        }

        func printText(_ report: BuildPipeline.Report) {
            let shown = Project(directory: project.directory).display(report.outputDirectory)
            for issue in report.issues {
                let draft = issue.isDraft ? " (draft: not in the archive)" : ""
                let lint = issue.lint.warningCount > 0 ? ", \(issue.lint.warningCount) lint warning\(issue.lint.warningCount == 1 ? "" : "s")" : ""
                print("Built \(issue.sourcePath) → \(shown)/\(issue.folder)/ — \"\(issue.subject)\", \(issue.htmlBytes / 1024) KB of HTML\(lint)\(draft)")
            }
            if report.archiveWritten { print("Archive: \(shown)/index.html, feed: \(shown)/feed.xml") }
            print("Output is in \(shown)/.")
        }

        func printJSON(_ report: BuildPipeline.Report) throws {
            struct Output: Encodable {
                struct Issue: Encodable {
                    var folder: String, source: String, subject: String, draft: Bool, html_bytes: Int, files: [String]
                    var lint_errors: Int, lint_warnings: Int
                }
                struct Problem: Encodable { var file: String?, line: Int?, message: String }
                var output: String, issues: [Issue], warnings: [Problem], archive_written: Bool
            }
            let output = Output(
                output: report.outputDirectory.path,
                issues: report.issues.map { .init(folder: $0.folder, source: $0.sourcePath, subject: $0.subject, draft: $0.isDraft, html_bytes: $0.htmlBytes, files: $0.files,
                                         lint_errors: $0.lint.errorCount, lint_warnings: $0.lint.warningCount) },
                warnings: report.warnings.map { .init(file: $0.file, line: $0.line, message: $0.message) },
                archive_written: report.archiveWritten)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        }
    }
}
