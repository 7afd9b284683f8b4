import Foundation

/// One issue rendered once: the email parts with holes for the recipient's fields,
/// the web page, and what the archive and feed need.
public struct RenderedIssue: Sendable {
    public var issue: Issue
    public var emailHTML: PersonalizedText
    public var emailText: PersonalizedText
    public var webHTML: String
    /// The body as semantic HTML, without the email's colours and layout, for the Atom feed's
    /// full content: a feed reader applies its own theme (dark text on a dark reader otherwise).
    public var contentHTML: String
    public var webURL: String
    public var message: MessageTemplate
    /// Relative links that could not be made absolute; the linter reports them.
    public var unresolvedLinks: [HTMLRenderer.UnresolvedLink]
    /// Images of the project the issue shows, copied into its folder by the build.
    public var localImages: [LocalImage] = []
    /// Local images that cannot be used (missing, unreadable): lint errors.
    public var imageProblems: [ImageProblem] = []
}

/// Issue → `RenderedIssue`, through the project's templates.
public struct IssueRenderer: Sendable {
    public var configuration: Configuration
    public var templates: TemplateSet
    /// Where the draft's local images are read; nil renders every relative image against
    /// `urls.site`, as links are.
    public var files: ProjectFiles?

    public init(configuration: Configuration, templates: TemplateSet, files: ProjectFiles? = nil) {
        self.configuration = configuration
        self.templates = templates
        self.files = files
    }

    public var urls: ProjectURLs { ProjectURLs(publicBase: configuration.urls.publicBase) }

    public func render(_ issue: Issue) throws -> RenderedIssue {
        let resolver = LinkResolver(site: configuration.urls.site)
        let images = files.map { LocalImages.collect(issue, files: $0, urls: urls) } ?? LocalImages.Result()
        let (content, unresolved) = HTMLRenderer(links: resolver, localImages: images.images,
                                                 contentWidth: configuration.contentWidth).html(from: issue.document)
        let feedContent = HTMLRenderer(links: resolver, theme: nil, localImages: images.images,
                                       contentWidth: configuration.contentWidth).html(from: issue.document).html
        let text = TextRenderer(links: resolver).text(from: issue.document)
        let webURL = urls.issue(issue.folderName)

        var context = baseContext()
        context["subject"] = issue.subject
        context["title"] = issue.title
        context["preheader"] = issue.preheader
        // Keeps inbox previews from running on into the header line after a short preheader.
        context["preheader_spacer"] = String(repeating: "&#847;&zwnj;&nbsp;", count: max(0, 90 - issue.preheader.count) / 3)
        context["issue_label"] = issue.label
        context["issue_number"] = issue.number.map(String.init) ?? ""
        context["folder"] = issue.folderName
        context["date"] = issue.sendTime.date.description
        context["date_long"] = issue.sendTime.date.longForm
        context["author"] = issue.author ?? ""
        context["extra"] = issue.extraFields
        context["is_draft"] = issue.isDraft
        context["web_url"] = webURL
        context["content"] = content
        context["body"] = text.body
        context["has_references"] = !text.references.isEmpty
        context["references"] = text.references.joined(separator: "\n")
        context["unsubscribe_url"] = PersonalizedText.Field.unsubscribeURL.placeholder
        context["recipient_email"] = PersonalizedText.Field.recipientEmail.placeholder

        let emailHTML = PersonalizedText(rendering: templates.render("email.html", context))
        let emailText = PersonalizedText(rendering: Self.wrapLongProse(templates.render("email.txt", context)))
        let web = templates.render("web.html", context)
        let message = try MessageTemplate(configuration: configuration, subject: issue.subject, text: emailText,
                                          html: emailHTML, archiveURL: urls.archive)
        return RenderedIssue(issue: issue, emailHTML: emailHTML, emailText: emailText, webHTML: web,
                             contentHTML: feedContent, webURL: webURL, message: message, unresolvedLinks: unresolved,
                             localImages: images.files, imageProblems: images.problems)
    }

    /// The archive page and the Atom feed, newest first, without drafts.
    public func archive(_ issues: [RenderedIssue]) -> (index: String, feed: String) {
        let published = issues.filter { !$0.issue.isDraft }.sorted {
            ($0.issue.sendTime.date, $0.issue.number ?? 0, $0.issue.slug) > ($1.issue.sendTime.date, $1.issue.number ?? 0, $1.issue.slug)
        }
        var context = baseContext()
        let entries: [[String: Any]] = published.map { rendered in
            let issue = rendered.issue
            return [
                "subject": issue.subject, "title": issue.title, "preheader": issue.preheader,
                "issue_label": issue.label, "folder": issue.folderName, "date_long": issue.sendTime.date.longForm,
                "web_url": rendered.webURL, "content": rendered.contentHTML,
                "published": Self.rfc3339(issue.sendTime.instant(schedule: configuration.schedule)),
            ]
        }
        context["issues"] = entries
        // The feed changes when an issue does, never because the build ran again.
        let newest = published.map { $0.issue.sendTime.instant(schedule: configuration.schedule) }.max()
        context["updated"] = Self.rfc3339(newest ?? configuration.schedule.anchor.instant(hour: 0, minute: 0, in: TimeZone(identifier: "UTC")!))
        return (templates.render("index.html", context), templates.render("feed.xml", context))
    }
}

/// The public addresses `hogmail serve` answers on.
public struct ProjectURLs: Sendable {
    public var publicBase: String

    public init(publicBase: String) { self.publicBase = publicBase }

    public var archive: String { "\(publicBase)/archive" }
    public var feed: String { "\(publicBase)/feed.xml" }
    public var subscribe: String { "\(publicBase)/subscribe" }
    public func issue(_ folder: String) -> String { "\(publicBase)/archive/\(folder)/" }
    /// A file of the issue's folder (an image the build copied there).
    public func issueFile(_ folder: String, _ name: String) -> String { "\(publicBase)/archive/\(folder)/\(name)" }
    public func unsubscribe(token: String) -> String { "\(publicBase)/unsubscribe?token=\(token)" }
}

private extension IssueRenderer {
    func baseContext() -> [String: Any] {
        let list = configuration.list
        return [
            "lang": list.language, "list_name": list.name, "list_id": list.id, "why": list.why,
            "postal_address": list.postalAddress, "from_address": list.from.address,
            "archive_url": urls.archive, "feed_url": urls.feed, "subscribe_url": urls.subscribe,
        ]
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Wraps template prose (the footer) at 78 columns; code (indented), quotes,
    /// reference lines and lines without spaces stay as they are.
    static func wrapLongProse(_ text: String) -> String {
        text.components(separatedBy: "\n").flatMap { line -> [String] in
            guard line.unicodeScalars.count > 78, let first = line.first, !first.isWhitespace, first != ">",
                  line.range(of: #"^\[\d+\] "#, options: .regularExpression) == nil, line.contains(" ") else { return [line] }
            return TextRenderer.wrap(line, width: 78)
        }.joined(separator: "\n")
    }
}
