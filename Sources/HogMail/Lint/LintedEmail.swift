import Foundation

/// What the recipient actually gets, ready for the rules: headers, the final HTML
/// (parsed by libxml2), the text part; plus the draft, to point findings at its lines.
public struct LintedEmail: Sendable {
    public var issue: Issue
    public var configuration: Configuration
    public var html: String
    public var document: HTMLDocument
    public var text: String
    /// Unfolded header fields, in order.
    public var headers: [(name: String, value: String)]
    /// Size of the HTML part as sent (quoted-printable), which is what Gmail measures.
    public var encodedHTMLBytes: Int
    /// Where in the encoded HTML part the unsubscribe link starts, if present.
    public var encodedUnsubscribeOffset: Int?
    public var unsubscribeURL: String
    public var unresolvedLinks: [HTMLRenderer.UnresolvedLink]
    public var localImages: [LocalImage]
    public var imageProblems: [ImageProblem]
    /// Template name → (source path, text), for findings that come from a template.
    public var templates: [String: (source: String, text: String)]
    public var lists: WordLists
    /// Finding a line searches the whole draft; past this many searches a finding names the
    /// file only, so 40,000 findings in a 1 MB draft take a second, not an hour.
    private let lineSearches = SearchBudget(500)

    public init(issue: Issue, configuration: Configuration, rendered: RenderedIssue, sample: SampleMessage,
                templates: TemplateSet, lists: WordLists = .bundled) {
        self.issue = issue
        self.configuration = configuration
        self.html = sample.html
        self.document = HTMLDocument(parsing: sample.html)
        self.text = sample.text
        self.unsubscribeURL = sample.unsubscribeURL
        self.unresolvedLinks = rendered.unresolvedLinks
        self.localImages = rendered.localImages
        self.imageProblems = rendered.imageProblems
        self.templates = templates.texts
        self.lists = lists
        let (head, parts) = Self.split(sample.eml)
        self.headers = head
        let htmlPart = parts.last ?? ""
        self.encodedHTMLBytes = htmlPart.utf8.count
        let encodedURL = MIME.quotedPrintable(HTML.escapeAttribute(sample.unsubscribeURL)).replacingOccurrences(of: "=\r\n", with: "")
        let flat = htmlPart.replacingOccurrences(of: "=\r\n", with: "")
        self.encodedUnsubscribeOffset = flat.range(of: encodedURL).map { flat.utf8.distance(from: flat.startIndex, to: $0.lowerBound) }
    }

    public func header(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    // MARK: - Where a finding comes from

    public var draftLocation: SourcePosition { SourcePosition(file: issue.sourcePath, line: nil) }

    public func frontMatter(_ key: String) -> SourcePosition {
        SourcePosition(file: issue.sourcePath, line: issue.frontMatterLines[key])
    }

    /// The draft line that contains `needle`, else the template line, else the draft without a line.
    public func location(of needle: String) -> SourcePosition {
        guard lineSearches.take() else { return draftLocation }
        if let line = Self.line(containing: needle, in: issue.sourceText) { return SourcePosition(file: issue.sourcePath, line: line) }
        for (_, template) in templates.sorted(by: { $0.key < $1.key }) {
            if let line = Self.line(containing: needle, in: template.text) { return SourcePosition(file: template.source, line: line) }
        }
        return draftLocation
    }

    /// Where a URL in the final HTML came from: the draft line with it (as written, maybe relative),
    /// or the template that produced it.
    public func location(ofURL url: String) -> SourcePosition {
        guard lineSearches.take() else { return draftLocation }
        for written in writtenForms(of: url) {
            if let line = Self.line(containing: written, in: issue.sourceText) { return SourcePosition(file: issue.sourcePath, line: line) }
        }
        if url == unsubscribeURL || url.hasPrefix(configuration.urls.publicBase) {
            for (name, template) in templates.sorted(by: { $0.key < $1.key }) where name.hasPrefix("email.html") || name.hasPrefix("partials/") {
                for marker in ["unsubscribe_url", "web_url"] {
                    if let line = Self.line(containing: marker, in: template.text) { return SourcePosition(file: template.source, line: line) }
                }
            }
        }
        return location(of: url)
    }

    /// Where a phrase a reader sees came from: the draft line, else a template line.
    /// The phrase may be a list entry, with `{n}` and `*` placeholders.
    public func location(ofPhrase phrase: String) -> SourcePosition {
        guard lineSearches.take() else { return draftLocation }
        let entry = [WordLists.Entry(value: phrase, note: "")]
        func find(in text: String) -> Int? {
            for (index, line) in text.components(separatedBy: "\n").enumerated() where !PhraseMatcher.matches(in: line, list: entry).isEmpty {
                return index + 1
            }
            return nil
        }
        if let line = find(in: issue.sourceText) { return SourcePosition(file: issue.sourcePath, line: line) }
        for (_, template) in templates.sorted(by: { $0.key < $1.key }) {
            if let line = find(in: template.text) { return SourcePosition(file: template.source, line: line) }
        }
        return draftLocation
    }

    func writtenForms(of url: String) -> [String] {
        var forms = [url]
        if let site = configuration.urls.site, url.hasPrefix(site) {
            let path = String(url.dropFirst(site.count))
            if !path.isEmpty { forms.append(path) }
            if path.hasPrefix("/") { forms.append(String(path.dropFirst())) }
        }
        forms.append(HTML.unescape(url))
        return forms
    }

    static func line(containing needle: String, in text: String) -> Int? {
        guard !needle.isEmpty else { return nil }
        for (index, line) in text.components(separatedBy: "\n").enumerated() where line.contains(needle) { return index + 1 }
        return nil
    }

    /// Unfolded headers and the raw (encoded) bodies of the parts of a message we built.
    static func split(_ eml: String) -> ([(name: String, value: String)], [String]) {
        let sections = eml.components(separatedBy: "\r\n\r\n")
        var headers: [(name: String, value: String)] = []
        for line in (sections.first ?? "").components(separatedBy: "\r\n") {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), !headers.isEmpty {
                headers[headers.count - 1].value += line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        guard let boundary = headers.first(where: { $0.name.lowercased() == "content-type" })?.value
            .components(separatedBy: "boundary=\"").last?.components(separatedBy: "\"").first else { return (headers, []) }
        let parts = eml.components(separatedBy: "--\(boundary)").dropFirst().dropLast().map { part -> String in
            let pieces = part.components(separatedBy: "\r\n\r\n")
            return pieces.dropFirst().joined(separator: "\r\n\r\n")
        }
        return (headers, parts)
    }
}

/// A countdown shared by the copies of one `LintedEmail` (rules receive it by value).
private final class SearchBudget: @unchecked Sendable {
    private var remaining: Int
    private let lock = NSLock()

    init(_ count: Int) { remaining = count }

    func take() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard remaining > 0 else { return false }
        remaining -= 1
        return true
    }
}
