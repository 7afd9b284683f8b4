import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery

extension Hogmail {
    struct Links: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collect curated links into the next draft, and check every link of a draft.",
            subcommands: [Add.self, Check.self])
    }
}

extension Hogmail.Links {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add `- [Title](URL) – take` to the next unsent draft, the title read from the page.",
            discussion: """
            The title is the page's og:title, else its <title>, without the site's name. Tracking parameters (utm_*, fbclid, gclid…)
            are removed from the URL. A link the draft has already is refused with its line. Without a draft to add to, one is
            created the way `hogmail new` does.
            Examples:
              hogmail links add https://example.com/post --take "The clearest write-up of the bug."
              hogmail links add https://example.com/post --section Tutorials --draft 4
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "The page's address (http or https).") var url: String
        @Option(help: "Your short take, after the title.") var take: String?
        @Option(help: "The section heading the bullet goes under (created at the end if missing).") var section: String = "Good reads"
        @Option(help: "The draft (a path or an issue number); default: the next unsent draft.") var draft: String?

        func validate() throws {
            if let refusal = LinkChecker.refusal(url.trimmingCharacters(in: .whitespaces)) {
                throw ValidationError("`\(url)` cannot be added: \(refusal). Give the page's address starting with https://.")
            }
        }

        func run() async throws {
            try await Console.runAsync {
                let project = Project(directory: self.project.directory)
                let (configuration, warnings) = try project.configuration()
                warnings.forEach(Console.warn)
                let today = CalendarDate(Date(), in: configuration.schedule.timeZone)
                let added = try await LinkCollector(project: project, configuration: configuration)
                    .add(url, take: take, section: section, draft: draft, today: today)
                if added.createdDraft { print("Wrote \(added.draft), the next draft (marked `draft: true`).") }
                print("\(added.draft):\(added.line): \(added.bullet)")
                added.notes.forEach { Console.warn(Warning(file: added.draft, line: added.line, $0)) }
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every link and image of the drafts; exit 1 when one is dead.",
            discussion: """
            Each link is asked with HEAD (GET when HEAD is refused), at most 8 at once and 2 per host, redirects followed
            to at most 5. Answers are kept for 24 h in .hogmail/cache/links.json. Without drafts: the drafts not sent yet.
            Exit status: 0 no dead link, 1 a dead link (or an error).
            Examples:
              hogmail links check
              hogmail links check issues/004-flags.md --fix-redirects
              hogmail links check 4 --format json --fresh
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "Drafts (paths or issue numbers); default: the drafts not sent yet.") var drafts: [String] = []
        @Option(help: "text, or json for scripts.") var format: OutputFormat = .text
        @Flag(help: "Ask every server again instead of using answers from the last 24 h.") var fresh = false
        @Flag(help: "Write the final address of each permanently redirected link (301/308) into the draft.") var fixRedirects = false

        func run() async throws {
            var dead = false
            try await Console.runAsync {
                let project = Project(directory: self.project.directory)
                let (configuration, warnings) = try project.configuration()
                warnings.forEach(Console.warn)
                let issues: [Issue]
                if drafts.isEmpty {
                    let today = CalendarDate(Date(), in: configuration.schedule.timeZone)
                    issues = try UpcomingDrafts.find(in: project, configuration: configuration, today: today).map(\.1)
                    if issues.isEmpty {
                        print("No draft is waiting to be sent; name one: `hogmail links check issues/FILE.md`.")
                        return
                    }
                } else {
                    issues = try drafts.map { argument in
                        let file = try project.draftFile(forArgument: argument)
                        return try DraftParser.parse(contentsOf: file.url, displayPath: file.display)
                    }
                }
                let report = await LinkAudit(project: project, configuration: configuration).check(issues, fresh: fresh)
                report.warnings.forEach(Console.warn)
                dead = !report.dead.isEmpty
                switch format {
                case .text:
                    for entry in report.entries { print(entry.line) }
                    print(report.summary)
                case .json:
                    print(try Self.json(report))
                }
                if fixRedirects {
                    let fixes = try LinkAudit.fixRedirects(report)
                    for (link, to) in fixes.changed { Console.printError("\(link.file):\(link.line): rewrote \(link.written) → \(to)") }
                    fixes.notRewrittenLines.forEach(Console.printError)
                    if fixes.changed.isEmpty && fixes.notRewritten.isEmpty { Console.printError("No permanently redirected link to rewrite.") }
                }
            }
            if dead { throw ExitCode.failure }
        }

        static func json(_ report: LinkReport) throws -> String {
            struct Entry: Encodable {
                var file: String, line: Int, kind: String, url: String, state: String, dead: Bool
                var status: Int?, finalURL: String?, detail: String, cached: Bool, checkedAt: Date
            }
            struct Output: Encodable { var links: [Entry]; var dead: Int; var offline: Bool }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let links = report.entries.map {
                Entry(file: $0.link.file, line: $0.link.line, kind: $0.link.kind.rawValue, url: $0.link.url, state: $0.status.state.rawValue,
                      dead: $0.status.isDead, status: $0.status.status, finalURL: $0.status.finalURL, detail: $0.status.detail,
                      cached: $0.cached, checkedAt: $0.status.checkedAt)
            }
            return String(decoding: try encoder.encode(Output(links: links, dead: report.dead.count, offline: report.looksOffline)), as: UTF8.self)
        }
    }
}
