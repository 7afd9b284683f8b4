import Foundation

/// `hogmail build` as a list of named steps: read the configuration, parse the drafts,
/// render, assemble the sample messages, write. Everything is produced in memory first;
/// files are written to a staging folder and renamed into place, so a failed build
/// leaves the previous output as it was.
public struct BuildPipeline {
    public struct Options {
        public var projectDirectory: URL
        /// Draft paths as the user gave them; empty means every draft in `issues/`.
        public var drafts: [String]
        /// Output folder; default `out/` in the project.
        public var outputDirectory: URL?
        /// False for `hogmail lint`: every step but writing.
        public var write: Bool
        /// An issue is published — in `out/`, the archive and the feed — once its send time
        /// has come or it was sent; until then (and while it is a draft) its files go to
        /// `.hogmail/unpublished/`, where nothing serves them.
        public var now: Date
        /// `build --include-future`: the editor's own look at issues not yet due.
        public var includeFuture: Bool
        /// Issues (folder names) that have a send in the store: published whatever their date.
        public var sentIssues: Set<String>

        /// When every draft is built (no `drafts` given): a draft that does not parse is left out
        /// with a warning instead of stopping the build, so `send --due` still sends the issues
        /// that are due while next fortnight's draft is half written (or hostile).
        public var leaveOutBrokenDrafts: Bool

        public init(projectDirectory: URL, drafts: [String] = [], outputDirectory: URL? = nil, write: Bool = true,
                    now: Date = Date(), includeFuture: Bool = false, sentIssues: Set<String> = [], leaveOutBrokenDrafts: Bool = false) {
            self.projectDirectory = projectDirectory
            self.drafts = drafts
            self.outputDirectory = outputDirectory
            self.write = write
            self.now = now
            self.includeFuture = includeFuture
            self.sentIssues = sentIssues
            self.leaveOutBrokenDrafts = leaveOutBrokenDrafts
        }
    }

    /// Where unpublished issues (drafts, and issues whose time has not come) are written.
    public static func unpublishedDirectory(project: URL) -> URL {
        project.appendingPathComponent(".hogmail/unpublished", isDirectory: true)
    }

    public struct BuiltIssue: Sendable {
        public var folder: String
        public var sourcePath: String
        public var subject: String
        public var isDraft: Bool
        /// In `out/` and the archive; false for drafts and issues whose send time has not come.
        public var isPublished: Bool
        /// Where its files were (or would be) written.
        public var outputDirectory: URL
        public var htmlBytes: Int
        public var files: [String]
        /// The bytes of each file `hogmail build` writes for this issue, by name (`email.html`…),
        /// whether or not they were written: the preview shows exactly these.
        public var outputs: [String: Data]
        public var lint: Linter.Report
        /// Project paths of the images the issue shows from the project (`issues/images/a.png`).
        public var localImageSources: [String] = []
        /// What sending needs: the parsed issue and its message, rendered once.
        public var issue: Issue
        public var message: MessageTemplate

        /// For a test send: the issue's images of the project are served only once it is
        /// published, so until then a test shows them broken. Nil when that is not so.
        public var imagesNotOnlineNote: String? {
            guard !isPublished, !localImageSources.isEmpty else { return nil }
            let count = localImageSources.count
            return "Its \(count) image\(count == 1 ? "" : "s") from the project \(count == 1 ? "is" : "are") online only once the issue is published (at its send time, or with `build --include-future`), so the test shows \(count == 1 ? "it" : "them") broken; `hogmail preview` shows \(count == 1 ? "it" : "them") now."
        }
    }

    public struct Report: Sendable {
        public var outputDirectory: URL
        public var issues: [BuiltIssue]
        public var warnings: [Warning]
        /// False when explicit drafts were built and another draft kept the archive from being rebuilt.
        public var archiveWritten: Bool
        /// Drafts that did not parse and were left out (`leaveOutBrokenDrafts`), with why.
        public var leftOut: [HogMailError] = []
    }

    public static let steps = ["Reading configuration", "Parsing drafts", "Rendering", "Assembling messages", "Linting", "Writing files"]

    public var options: Options

    public init(options: Options) { self.options = options }

    /// Runs every step; `progress(step, total, name)` is called as each begins.
    public func run(progress: (Int, Int, String) -> Void = { _, _, _ in }) throws -> Report {
        var warnings: [Warning] = []
        var leftOut: [HogMailError] = []
        func step<T>(_ index: Int, _ body: () throws -> T) throws -> T {
            progress(index + 1, Self.steps.count, Self.steps[index])
            do { return try body() } catch var error as HogMailError {
                error.step = Self.steps[index]
                throw error
            }
        }
        let project = Project(directory: options.projectDirectory)

        let (configuration, templates) = try step(0) { () throws -> (Configuration, TemplateSet) in
            let (configuration, configWarnings) = try project.configuration()
            let (templates, templateWarnings) = try TemplateSet.load(directory: project.templatesDirectory)
            warnings += configWarnings + templateWarnings
            return (configuration, templates)
        }

        let (selected, others) = try step(1) { () throws -> ([Issue], [Issue]?) in
            let all = try project.draftFiles()
            let requested = options.drafts.isEmpty ? all : try options.drafts.map { try project.draftFile(forArgument: $0) }
            if requested.isEmpty {
                throw HogMailError(file: "issues/", "There are no drafts to build. Write one with `hogmail new`, or put Markdown files (`3-title.md`) in issues/.")
            }
            var selected: [Issue] = []
            for file in requested {
                do {
                    selected.append(try DraftParser.parse(contentsOf: file.url, displayPath: file.display))
                } catch let error as HogMailError where options.leaveOutBrokenDrafts && options.drafts.isEmpty {
                    leftOut.append(error)
                    warnings.append(Warning(file: file.display, line: error.line, "this draft does not build, so it was left out (nothing of it is sent): \(error.message)"))
                }
            }
            if selected.isEmpty, let first = leftOut.first { throw first }
            try Self.checkUniqueFolders(selected)
            warnings += selected.flatMap(\.warnings)
            // The archive lists every issue, so the other drafts are read too; one that does
            // not parse keeps the archive as it was rather than dropping an issue from it.
            let requestedPaths = Set(requested.map(\.url.standardizedFileURL.path))
            var others: [Issue] = []
            for file in all where !requestedPaths.contains(file.url.standardizedFileURL.path) {
                do {
                    others.append(try DraftParser.parse(contentsOf: file.url, displayPath: file.display))
                } catch let error as HogMailError {
                    warnings.append(Warning(file: file.display, "the archive and feed were not rewritten, because this draft does not build: \(error.message)"))
                    return (selected, nil)
                }
            }
            // The archive lists every issue: with one left out it stays as it was.
            return (selected, leftOut.isEmpty ? others : nil)
        }

        let renderer = IssueRenderer(configuration: configuration, templates: templates, files: .directory(project.directory))
        let (rendered, renderedOthers) = try step(2) { () throws -> ([RenderedIssue], [RenderedIssue]?) in
            (try selected.map(renderer.render), try others.map { try $0.map(renderer.render) })
        }

        let (files, samples) = try step(3) { () throws -> ([String: [(String, Data)]], [String: SampleMessage]) in
            var files: [String: [(String, Data)]] = [:]
            var samples: [String: SampleMessage] = [:]
            for issue in rendered {
                let sample = try SampleMessage(configuration: configuration, rendered: issue)
                samples[issue.issue.folderName] = sample
                files[issue.issue.folderName] = [
                    ("email.html", Data(sample.html.utf8)),
                    ("email.txt", Data(sample.text.utf8)),
                    ("email.eml", Data(sample.eml.utf8)),
                    ("web.html", Data(issue.webHTML.utf8)),
                ] + issue.localImages.map { ($0.fileName, $0.bytes) }
            }
            return (files, samples)
        }

        var outputFiles = files
        let lintReports = try step(4) { () throws -> [String: Linter.Report] in
            var reports: [String: Linter.Report] = [:]
            for issue in rendered {
                let email = LintedEmail(issue: issue.issue, configuration: configuration, rendered: issue,
                                        sample: samples[issue.issue.folderName]!, templates: templates)
                let report = try Linter().lint(email)
                reports[issue.issue.folderName] = report
                outputFiles[issue.issue.folderName]!.append(("lint.json", try LintOutput.json(report.findings)))
            }
            // An honest newsletter builds with no error: nothing is written while one stands.
            let failing = rendered.filter { reports[$0.issue.folderName]!.errorCount > 0 }
            if options.write, !failing.isEmpty {
                let errors = failing.flatMap { reports[$0.issue.folderName]!.findings.filter { $0.severity == .error && !$0.isSilenced } }
                var error = HogMailError(file: failing.map(\.issue.sourcePath).joined(separator: ", "),
                                         "The linter found \(errors.count) error\(errors.count == 1 ? "" : "s"), so nothing was written:\n"
                                             + errors.map { "  " + $0.description }.joined(separator: "\n")
                                             + "\nFix them (`hogmail lint` shows every finding; `hogmail rules` explains each rule).")
                error.step = Self.steps[4]
                throw error
            }
            return reports
        }

        let output = options.outputDirectory ?? project.directory.appendingPathComponent("out")
        let unpublishedOutput = Self.unpublishedDirectory(project: project.directory)
        func isPublished(_ issue: Issue) -> Bool {
            !issue.isDraft && (options.includeFuture || options.sentIssues.contains(issue.folderName)
                || issue.sendTime.instant(schedule: configuration.schedule) <= options.now)
        }
        let archive = renderedOthers.map { renderer.archive((rendered + $0).filter { isPublished($0.issue) }) }
        if options.write {
            try step(5) {
                var topLevel: [(String, Data)] = []
                if let archive {
                    topLevel = [("index.html", Data(archive.index.utf8)), ("feed.xml", Data(archive.feed.utf8))]
                }
                let published = rendered.filter { isPublished($0.issue) }.map(\.issue.folderName)
                let unpublished = (rendered.map(\.issue) + (others ?? [])).filter { !isPublished($0) }.map(\.folderName)
                let unpublishedFiles = outputFiles.filter { !published.contains($0.key) }
                if !unpublishedFiles.isEmpty { try OutputWriter(directory: unpublishedOutput).write(folders: unpublishedFiles, topLevel: []) }
                // An issue that was public and is now a draft or postponed leaves `out/` too.
                try OutputWriter(directory: output).write(
                    folders: outputFiles.filter { published.contains($0.key) }, topLevel: topLevel, remove: unpublished)
            }
        }

        let built = rendered.map { issue in
            BuiltIssue(folder: issue.issue.folderName, sourcePath: issue.issue.sourcePath, subject: issue.issue.subject,
                       isDraft: issue.issue.isDraft, isPublished: isPublished(issue.issue),
                       outputDirectory: isPublished(issue.issue) ? output : unpublishedOutput,
                       htmlBytes: files[issue.issue.folderName]?.first { $0.0 == "email.html" }?.1.count ?? 0,
                       files: outputFiles[issue.issue.folderName]?.map(\.0) ?? [],
                       outputs: Dictionary((outputFiles[issue.issue.folderName] ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { _, last in last }),
                       lint: lintReports[issue.issue.folderName]!, localImageSources: issue.localImages.map(\.source),
                       issue: issue.issue, message: issue.message)
        }
        return Report(outputDirectory: output, issues: built, warnings: warnings, archiveWritten: options.write && archive != nil,
                      leftOut: leftOut)
    }

    static func checkUniqueFolders(_ issues: [Issue]) throws {
        var seen: [String: Issue] = [:]
        for issue in issues {
            if let other = seen[issue.folderName] {
                throw HogMailError(file: issue.sourcePath, "This draft and \(other.sourcePath) are both issue \(issue.folderName). Give one of them another number (in its file name or with `issue:`).")
            }
            seen[issue.folderName] = issue
        }
    }
}

/// The sample message `hogmail build` writes: the real email, addressed to the
/// configured sample recipient, dated from the draft so the bytes never change.
public struct SampleMessage {
    /// The sample's links carry this token, which the server never accepts.
    public static let token = "sample"

    public var html: String
    public var text: String
    public var eml: String
    public var unsubscribeURL: String

    /// `mailto:unsubscribe+TOKEN@domain?subject=unsubscribe`: the token in the address lets
    /// `hogmail subscribers process-mail` know who wrote.
    public static func mailto(mailbox: String, token: String) -> String {
        let parts = mailbox.split(separator: "@", maxSplits: 1)
        return "mailto:\(parts[0])+\(token)@\(parts.count > 1 ? String(parts[1]) : "")?subject=unsubscribe"
    }

    public init(configuration: Configuration, rendered: RenderedIssue) throws {
        let unsubscribe = ProjectURLs(publicBase: configuration.urls.publicBase).unsubscribe(token: Self.token)
        unsubscribeURL = unsubscribe
        let recipient = configuration.sampleRecipient
        let values: [PersonalizedText.Field: String] = [.unsubscribeURL: unsubscribe, .recipientEmail: recipient.address]
        html = rendered.emailHTML.filled(values.mapValues(HTML.escapeAttribute))
        text = rendered.emailText.filled(values)
        let messageID = MessageTemplate.messageID(sendKey: "sample:" + rendered.message.contentHash,
                                                  recipient: recipient.address, domain: configuration.list.from.domain)
        eml = try rendered.message.message(for: configuration.recipient(
            recipient, token: Self.token, messageID: messageID, date: rendered.issue.sendTime.instant(schedule: configuration.schedule)))
    }
}
