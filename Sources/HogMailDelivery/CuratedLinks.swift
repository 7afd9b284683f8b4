import Foundation
import HogMail
import HogMailStore

// MARK: - Checking a draft's links

/// The links of some drafts and what each answered: what `hogmail links check` prints, what
/// `hogmail send` refuses on and what the preview shows.
public struct LinkReport: Sendable {
    public struct Entry: Sendable {
        public var link: DraftLink
        public var status: LinkStatus
        /// Taken from `.hogmail/cache/links.json`, not asked now.
        public var cached: Bool

        /// `issues/3-flags.md:12: dead (404 Not Found) https://… (404 Not Found)`
        public var line: String { "\(link.file):\(link.line): \(status.label) \(link.url) (\(status.detail))" }
    }

    public var entries: [Entry]
    public var warnings: [Warning]

    public var dead: [Entry] { entries.filter { $0.status.isDead } }
    public var needsALook: [Entry] { entries.filter { $0.status.isWarning } }

    /// Every link that was asked failed for want of a network (no DNS, no connection): this
    /// machine is most likely offline, which says nothing about the links.
    public var looksOffline: Bool {
        let asked = entries.filter { !$0.cached }
        return !asked.isEmpty && asked.allSatisfy { $0.status.isNetworkFailure } && asked.contains { $0.status.state == .dnsFailure }
    }

    public var summary: String {
        let total = entries.count
        let deadCount = Set(dead.map(\.link.url)).count
        let look = Set(needsALook.map(\.link.url)).count
        let cached = entries.filter(\.cached).count
        var text = "\(total) link\(total == 1 ? "" : "s") checked: \(deadCount) dead, \(look) to look at"
        if cached > 0 { text += " (\(cached) from the cache of the last 24 h; --fresh asks again)" }
        text += "."
        if looksOffline { text += " Every link failed to resolve or connect: this machine looks offline, so these are network failures, not dead links. Check again when online." }
        return text
    }
}

public struct LinkAudit: Sendable {
    public var project: Project
    public var configuration: Configuration
    public var checker: LinkChecker

    public init(project: Project, configuration: Configuration, options: LinkCheckOptions? = nil) {
        self.project = project
        self.configuration = configuration
        self.checker = LinkChecker(options: options ?? LinkCheckOptions(configuration))
    }

    /// Checks the links of `issues`; answers from the last 24 h come from the cache unless `fresh`.
    public func check(_ issues: [Issue], fresh: Bool = false, now: Date = Date()) async -> LinkReport {
        let links = issues.flatMap { DraftLinks.links(of: $0, site: configuration.urls.site) }
        let (statuses, asked, warnings) = await statuses(of: links.map(\.url), fresh: fresh, now: now)
        let entries = links.map { LinkReport.Entry(link: $0, status: statuses[$0.url]!, cached: !asked.contains($0.url)) }
        return LinkReport(entries: entries, warnings: warnings)
    }

    /// The state of each URL: from the cache when it has a settled answer younger than a day
    /// (unless `fresh`), else asked now and recorded in the cache. `asked`: the URLs asked now.
    public func statuses(of urls: [String], fresh: Bool = false, now: Date = Date()) async -> (statuses: [String: LinkStatus], asked: Set<String>, warnings: [Warning]) {
        var (cache, warning) = LinkCache.load(projectDirectory: project.directory)
        var warnings = warning.map { [$0] } ?? []
        var known: [String: LinkStatus] = [:]
        if !fresh {
            for url in Set(urls) { known[url] = cache.fresh(url, now: now) }
        }
        let asked = Set(urls).subtracting(known.keys)
        let answers = await checker.check(Array(asked))
        for status in answers.values { cache.record(status) }
        if !answers.isEmpty {
            do { try cache.save(now: now) } catch {
                warnings.append(Warning(file: LinkCache.relativePath, (error as? HogMailError)?.message ?? "\(error)"))
            }
        }
        return (known.merging(answers) { _, new in new }, asked, warnings)
    }

    /// What `fixRedirects` did: the links rewritten, and the moved ones it could not rewrite
    /// (written relative, or not found whole on their line), to be written by hand.
    public struct RedirectFixes: Sendable {
        public var changed: [(link: DraftLink, to: String)] = []
        public var notRewritten: [(link: DraftLink, to: String)] = []

        /// `issues/4.md:12: could not rewrite https://… (moved to https://…): write it by hand`
        public var notRewrittenLines: [String] {
            notRewritten.map { "\($0.link.file):\($0.link.line): could not rewrite \($0.link.written) (moved to \($0.to)): write it by hand" }
        }
    }

    /// Writes the final address of every permanently redirected link into its draft (each file
    /// replaced whole, atomically, its byte-order mark and line endings kept; not written when
    /// nothing changed). The address is percent-encoded where Markdown would read it as syntax.
    /// Links written relative are left alone. The report's file names are relative to
    /// `baseDirectory` (default: the working folder).
    public static func fixRedirects(_ report: LinkReport, baseDirectory: URL? = nil) throws -> RedirectFixes {
        var fixes = RedirectFixes()
        let moved = report.entries.filter { $0.status.state == .movedPermanently && $0.status.finalURL != nil }
        for (file, entries) in Dictionary(grouping: moved, by: \.link.file) {
            let url = file.hasPrefix("/") || baseDirectory == nil ? URL(fileURLWithPath: file) : baseDirectory!.appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw HogMailError(file: file, "The draft cannot be read; check that it exists and is readable.")
            }
            var text = try DraftFileText(data, file: file)
            var done: Set<String> = []
            var edited = false
            for entry in entries where !done.contains("\(entry.link.line) \(entry.link.written)") {
                done.insert("\(entry.link.line) \(entry.link.written)")
                let final = entry.status.finalURL!
                guard entry.link.written == entry.link.url,
                      let replaced = DraftLinks.replacing(entry.link.written, with: DraftLinks.linkDestination(final), onLine: entry.link.line, in: text) else {
                    fixes.notRewritten.append((entry.link, final))
                    continue
                }
                edited = edited || replaced != text
                text = replaced
                fixes.changed.append((entry.link, final))
            }
            if edited { try AtomicFile.write(text.data, to: url) }
        }
        let order: ((link: DraftLink, to: String), (link: DraftLink, to: String)) -> Bool = { ($0.link.file, $0.link.line) < ($1.link.file, $1.link.line) }
        fixes.changed.sort(by: order)
        fixes.notRewritten.sort(by: order)
        return fixes
    }
}

/// One lock per draft file in this process: `links add` reads, checks and writes a draft
/// under it (the preview's form and a command in the same process can add at once).
final class DraftLock: @unchecked Sendable {
    static let shared = DraftLock()
    private let guardLock = NSLock()
    private var locks: [String: NSLock] = [:]

    func withLock<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        guardLock.lock()
        let lock = locks[path] ?? NSLock()
        locks[path] = lock
        guardLock.unlock()
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

// MARK: - Which draft is next

public enum UpcomingDrafts {
    /// The drafts not sent yet (no send in the journal) that are still ahead: dated today or
    /// later, or marked `draft: true`; earliest first. Older unsent posts (a blog's archive) are not "next".
    public static func find(in project: Project, configuration: Configuration, today: CalendarDate) throws -> [(Project.DraftFile, Issue)] {
        let store = try SubscriberStore.openIfExisting(project, configuration)
        var result: [(Project.DraftFile, Issue)] = []
        for file in try project.draftFiles() {
            guard let issue = try? DraftParser.parse(contentsOf: file.url, displayPath: file.display) else { continue }
            if let store, try store.latestSend(issue: issue.folderName) != nil { continue }
            guard issue.isDraft || issue.sendTime.date >= today else { continue }
            result.append((file, issue))
        }
        return result.sorted { ($0.1.sendTime.date, $0.1.number ?? 0) < ($1.1.sendTime.date, $1.1.number ?? 0) }
    }
}

// MARK: - Adding a link

/// `hogmail links add` and the preview's "add a link" form.
public struct LinkCollector: Sendable {
    public var project: Project
    public var configuration: Configuration
    public var checker: LinkChecker

    public init(project: Project, configuration: Configuration, options: LinkCheckOptions? = nil) {
        self.project = project
        self.configuration = configuration
        self.checker = LinkChecker(options: options ?? LinkCheckOptions(configuration))
    }

    public struct Added: Sendable {
        /// The draft, as shown to the editor.
        public var draft: String
        public var line: Int
        public var bullet: String
        /// The draft was created for this link (`hogmail new`'s rules).
        public var createdDraft: Bool
        /// Said, not fatal: the title came from the address, the page redirects…
        public var notes: [String]
    }

    /// Adds `- [Title](URL) – take` under `section` of `draft` (an argument as `hogmail send`
    /// takes it), else of the next unsent draft, else of a new one.
    public func add(_ rawURL: String, take: String?, section: String = "Good reads", draft: String? = nil,
                    today: CalendarDate) async throws -> Added {
        let given = rawURL.trimmingCharacters(in: .whitespacesAndNewlines)
        if let refusal = LinkChecker.refusal(given) {
            throw HogMailError("`\(given)` cannot be added: \(refusal). Give the page's address as the browser shows it, starting with https://.")
        }
        let url = TrackingParameters.stripped(from: given)
        let section = section.trimmingCharacters(in: .whitespaces)
        guard !section.isEmpty, !section.contains(where: \.isNewline) else {
            throw HogMailError("--section is empty or has a line break; give a heading such as \"Good reads\".")
        }

        // Where it goes, before any fetching: a duplicate is refused without asking the site.
        // A new draft is written only once the page has answered.
        var file: Project.DraftFile?
        if let draft {
            file = try project.draftFile(forArgument: draft)
        } else {
            file = try UpcomingDrafts.find(in: project, configuration: configuration, today: today).first?.0
        }
        if let file {
            let issue = try DraftParser.parse(contentsOf: file.url, displayPath: file.display)
            try refuseDuplicate(url, given: given, in: issue, file: file)
        }

        var notes: [String] = []
        let page = await checker.fetchPage(url)
        var title: String?
        if page.status.state == .ok || page.status.state == .movedPermanently || page.status.state == .redirectedToLogin || page.status.state == .redirectedOffSite {
            title = PageTitle.extract(from: page.body, contentType: page.contentType, url: page.status.finalURL ?? url)
            if page.truncated { notes.append("The page is larger than \(checker.options.maximumBytes / 1024 / 1024) MB or never finished; its title was read from the first part.") }
            if page.status.state != .ok { notes.append("The link is \(page.status.label): \(page.status.detail).") }
        } else {
            throw HogMailError("\(url) was not added: \(page.status.label) (\(page.status.detail)). Check the address in a browser; to add it anyway, write the line into \(file?.display ?? "the draft") by hand.")
        }
        if title == nil {
            title = Self.fallbackTitle(url)
            notes.append("The page has no title, so the link text is \"\(title!)\"; edit it in the draft.")
        }
        let bullet = DraftLinks.bullet(title: title!, url: url, take: take)

        // The fetch took a while: the draft is read again and checked again under a lock, so
        // two adds at once (the preview's form and the command) cannot both add the link.
        var created = false
        if file == nil {
            file = try DraftLock.shared.withLock(project.directory.standardizedFileURL.path + "\u{0}new") {
                if let next = try UpcomingDrafts.find(in: project, configuration: configuration, today: today).first { return next.0 }
                let made = try Scaffold.newDraft(in: project, configuration: configuration, today: today, title: nil, date: nil)
                created = true
                return Project.DraftFile(url: made, display: project.display(made))
            }
        }
        let target = file!
        let line = try DraftLock.shared.withLock(target.url.standardizedFileURL.path) { () throws -> Int in
            guard let data = FileManager.default.contents(atPath: target.url.path) else {
                throw HogMailError(file: target.display, "The draft cannot be read; check that it exists and is readable.")
            }
            try refuseDuplicate(url, given: given, in: try DraftParser.parse(data, path: target.display), file: target)
            let (updated, line) = DraftLinks.appending(bullet, toSection: section, in: try DraftFileText(data, file: target.display))
            try AtomicFile.write(updated.data, to: target.url)
            return line
        }
        return Added(draft: target.display, line: line, bullet: bullet, createdDraft: created, notes: notes)
    }

    private func refuseDuplicate(_ url: String, given: String, in issue: Issue, file: Project.DraftFile) throws {
        let key = DraftLinks.comparisonKey(url)
        if let existing = DraftLinks.links(of: issue, site: configuration.urls.site).first(where: { DraftLinks.comparisonKey($0.url) == key }) {
            throw HogMailError(file: file.display, line: existing.line, "This draft links to \(existing.written) already, so \(given) was not added again. Edit that line instead.")
        }
    }

    /// "example.com/some/page" for a page without a title.
    static func fallbackTitle(_ url: String) -> String {
        guard let host = WebAddress(url)?.host else { return url }
        let path = URLComponents(string: url).map { $0.path == "/" ? "" : $0.path } ?? ""
        return (host.hasPrefix("www.") ? String(host.dropFirst(4)) : host) + path
    }
}

extension LinkChecker {
    /// Why `url` is not something HogMail fetches, or nil.
    public static func refusal(_ url: String) -> String? {
        switch WebAddress.parse(url) {
        case .notAbsolute: return "it is not an absolute web address"
        case .otherScheme(let scheme): return "only http and https links are collected, and this is \(scheme):"
        case .noHost: return "it has no host"
        case .address: return nil
        }
    }
}

// MARK: - The send gate

/// `hogmail send` checks the links of an issue it is about to start (cache honoured) and
/// refuses while one is dead, unless told to go on (`--allow-dead-links`).
public enum DeadLinkGate {
    public struct Verdict: Sendable {
        public var report: LinkReport
        /// Nil: go on. Otherwise the sentence that stops the send.
        public var refusal: HogMailError?
    }

    public static func check(_ issues: [Issue], project: Project, configuration: Configuration, allowDeadLinks: Bool,
                             options: LinkCheckOptions? = nil) async -> Verdict {
        let report = await LinkAudit(project: project, configuration: configuration, options: options).check(issues)
        let dead = report.dead
        guard !dead.isEmpty, !allowDeadLinks else { return Verdict(report: report, refusal: nil) }
        let files = Array(Set(dead.map(\.link.file))).sorted()
        let count = Set(dead.map(\.link.url)).count
        let links = count == 1 ? "a link" : "\(count) links"
        if report.looksOffline {
            return Verdict(report: report, refusal: HogMailError(file: files.first, "Nothing was sent: the issue's links could not be checked, because every one failed to resolve or connect; this machine looks offline (a network failure, not dead links). Send again when online, or with --allow-dead-links to send without the check."))
        }
        return Verdict(report: report, refusal: HogMailError(file: files.first, "Nothing was sent: \(links) of this issue \(count == 1 ? "is" : "are") dead (listed above). Fix or remove \(count == 1 ? "it" : "them") in the draft and send again, or send with --allow-dead-links to send \(count == 1 ? "it" : "them") anyway. `hogmail links check` shows every link."))
    }
}
