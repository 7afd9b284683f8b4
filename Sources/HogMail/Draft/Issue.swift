import Foundation

/// One newsletter issue, parsed from its draft: what every later stage reads.
public struct Issue: Sendable {
    /// The draft's path as the editor would type it (`issues/3-hello.md`).
    public var sourcePath: String
    /// From `issue:` or the number the file name starts with; nil for posts without one.
    public var number: Int?
    public var slug: String
    public var title: String
    public var subject: String
    /// The inbox preview line: `preheader`, else `description`, else the first paragraph.
    public var preheader: String
    public var sendTime: SendTime
    /// `draft: true`: built and previewed, never sent, left out of the archive.
    public var isDraft: Bool
    public var author: String?
    public var document: MarkdownDocument
    /// Add to a line of `document` to get the line in the draft file.
    public var bodyLineOffset: Int
    /// Front matter keys HogMail does not use, kept as text for templates (`{{extra.author}}`).
    public var extraFields: [String: String]
    /// Lint findings silenced in the front matter: rule identifier → reason, with its line.
    public var lintAllowances: [LintAllowance]
    public var warnings: [Warning]
    /// Line of each front matter key, so findings about the subject or preheader point at them.
    public var frontMatterLines: [String: Int]
    /// The draft as written, for pointing findings at the line a phrase or URL comes from.
    public var sourceText: String
    /// `deadline:` from the front matter: a real deadline, which makes urgency honest.
    public var deadline: CalendarDate?

    /// The folder under `out/`: the issue number, or the slug when the draft has none.
    public var folderName: String { number.map(String.init) ?? slug }

    /// The line in the draft file of a line in the body.
    public func fileLine(_ bodyLine: Int) -> Int { bodyLine + bodyLineOffset }

    public var label: String { number.map { "Issue #\($0)" } ?? title }
}

public struct LintAllowance: Equatable, Sendable {
    public var rule: String
    public var reason: String
    public var line: Int
}
