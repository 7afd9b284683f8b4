import ArgumentParser
import Foundation
import HogMail
import HogMailStore

extension Hogmail {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn drafts into email.html, email.txt, email.eml and web.html, plus the archive and feed.",
            discussion: """
            Examples:
              hogmail build                      every draft in issues/, output in out/
              hogmail build issues/3-flags.md    one draft (the archive is still rebuilt)
              hogmail build 3 --out /tmp/preview --format json
              hogmail build --include-future     also publish issues whose date has not come (for your own look)

            An issue is published (out/<issue>/, the archive, the feed) once its send time has come or it was sent.
            Drafts and issues not yet due are written to .hogmail/unpublished/<issue>/ instead, where nothing serves them.
            """)

        @OptionGroup var project: ProjectOptions

        @Argument(help: "Drafts to build, as paths or issue numbers (default: every draft in issues/).")
        var drafts: [String] = []

        @Option(help: "The output folder (default: out/ in the project).")
        var out: String?

        @Option(help: "text for people, json for scripts.")
        var format: OutputFormat = .text

        @Flag(help: "Publish issues whose send date has not come yet too (drafts never are).")
        var includeFuture = false

        func run() throws {
            try Console.run {
                let pipeline = BuildPipeline(options: .init(
                    projectDirectory: project.directory, drafts: drafts,
                    outputDirectory: out.map { URL(fileURLWithPath: $0, isDirectory: true) },
                    includeFuture: includeFuture, sentIssues: try Self.sentIssues(project.directory)))
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

        /// Issues with a send in the store are published whatever their date; a project without
        /// a store yet has sent nothing.
        static func sentIssues(_ directory: URL) throws -> Set<String> {
            let project = Project(directory: directory)
            guard let store = try SubscriberStore.openIfExisting(project, try project.configuration().0) else { return [] }
            return Set(try store.sends().map(\.issue))
        }

        func printText(_ report: BuildPipeline.Report) {
            let projectFolder = Project(directory: project.directory)
            let shown = projectFolder.display(report.outputDirectory)
            for issue in report.issues {
                let state = issue.isDraft ? " (draft: unpublished, not in the archive)"
                    : issue.isPublished ? "" : " (not due yet: unpublished until its send time; --include-future to publish now)"
                let lint = issue.lint.warningCount > 0 ? ", \(issue.lint.warningCount) lint warning\(issue.lint.warningCount == 1 ? "" : "s")" : ""
                print("Built \(issue.sourcePath) → \(projectFolder.display(issue.outputDirectory))/\(issue.folder)/ — \"\(issue.subject)\", \(issue.htmlBytes / 1024) KB of HTML\(lint)\(state)")
            }
            if report.archiveWritten { print("Archive: \(shown)/index.html, feed: \(shown)/feed.xml") }
            print("Output is in \(shown)/.")
        }

        func printJSON(_ report: BuildPipeline.Report) throws {
            struct Output: Encodable {
                struct Issue: Encodable {
                    var folder: String, source: String, subject: String, draft: Bool, published: Bool, output: String, html_bytes: Int, files: [String]
                    var lint_errors: Int, lint_warnings: Int
                }
                struct Problem: Encodable { var file: String?, line: Int?, message: String }
                var output: String, issues: [Issue], warnings: [Problem], archive_written: Bool
            }
            let output = Output(
                output: report.outputDirectory.path,
                issues: report.issues.map { .init(folder: $0.folder, source: $0.sourcePath, subject: $0.subject, draft: $0.isDraft, published: $0.isPublished,
                                         output: $0.outputDirectory.appendingPathComponent($0.folder).path, html_bytes: $0.htmlBytes, files: $0.files,
                                         lint_errors: $0.lint.errorCount, lint_warnings: $0.lint.warningCount) },
                warnings: report.warnings.map { .init(file: $0.file, line: $0.line, message: $0.message) },
                archive_written: report.archiveWritten)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        }
    }
}
