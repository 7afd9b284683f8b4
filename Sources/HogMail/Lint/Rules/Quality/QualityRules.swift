import Foundation

struct GmailClippingRule: Rule {
    static let clipWarning = 90 * 1024
    static let clipLimit = 102 * 1024

    static let description = RuleDescription(
        identifier: "gmail_clipping", name: "Clipped by Gmail", kind: .quality, severity: .warning,
        description: "The HTML part as sent stays under Gmail's clipping threshold: a warning from 90 KB, an error from 102 KB.",
        rationale: "Gmail cuts messages over about 102 KB behind a \"View entire message\" link, and the footer with the unsubscribe link goes with it.",
        triggeringExamples: [LintExample(String(repeating: "A paragraph that goes on and on about flags. ", count: 2_400))],
        nonTriggeringExamples: [LintExample("A short issue.")])

    func findings(in email: LintedEmail) -> [Finding] {
        let size = email.encodedHTMLBytes
        let kilobytes = String(format: "%.1f", Double(size) / 1024)
        if size >= Self.clipLimit {
            let cut = email.encodedUnsubscribeOffset.map { $0 >= Self.clipLimit ? " The unsubscribe link falls after the cut." : "" } ?? ""
            return [finding("The HTML part is \(kilobytes) KB as sent; Gmail clips from 102 KB and hides the footer.\(cut) Shorten the issue or split it.",
                            at: email.draftLocation, severity: .error)]
        }
        if size >= Self.clipWarning {
            return [finding("The HTML part is \(kilobytes) KB as sent, close to Gmail's 102 KB clipping threshold. Consider a shorter issue.",
                            at: email.draftLocation)]
        }
        return []
    }
}

struct ImageAltRule: Rule {
    static let description = RuleDescription(
        identifier: "image_alt", name: "Image without alt text", kind: .quality, severity: .warning,
        description: "Every image has alt text that says what it shows.",
        rationale: "Many clients block images by default and screen readers read the alt text; without it the reader gets nothing.",
        triggeringExamples: [LintExample("![](https://example.com/chart.png)"), LintExample(#"<img src="https://example.com/chart.png">"#)],
        nonTriggeringExamples: [LintExample("![Weekly signups, up 12%](https://example.com/chart.png)")])

    func findings(in email: LintedEmail) -> [Finding] {
        var found: [Finding] = []
        func visit(_ inlines: [MarkdownInline], line: Int) {
            for inline in inlines {
                switch inline {
                case .image(let url, _, let alt, _) where MarkdownInline.plainText(alt).trimmingCharacters(in: .whitespaces).isEmpty:
                    found.append(finding("The image \(url) has no alt text. Write what it shows between the brackets: ![A chart of signups](…).",
                                         at: SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine(line)), excerpt: url))
                case .emphasis(let children), .strong(let children), .strikethrough(let children), .link(_, _, let children):
                    visit(children, line: line)
                default: break
                }
            }
        }
        email.issue.document.walk { block in
            switch block {
            case .paragraph(let inlines, let line), .heading(_, let inlines, let line): visit(inlines, line: line)
            default: break
            }
        }
        for (node, src) in email.images where email.document.nodes[node].attributes["alt"] == nil {
            found.append(finding("The image \(src) has no alt attribute. Add alt=\"what it shows\" (or alt=\"\" if it is decoration).",
                                 at: email.location(ofURL: src), excerpt: src))
        }
        return found
    }
}

struct InsecureLinkRule: Rule {
    static let description = RuleDescription(
        identifier: "http_link", name: "Insecure link", kind: .quality, severity: .warning,
        description: "Links and images use `https:`, not `http:`.",
        rationale: "An http link can be read and changed on the way; most sites have an https address.",
        triggeringExamples: [LintExample("See [the site](http://example.org/page).")],
        nonTriggeringExamples: [LintExample("See [the site](https://example.org/page).")])

    func findings(in email: LintedEmail) -> [Finding] {
        var reported: Set<String> = []
        return email.urls.compactMap { _, url in
            guard url.lowercased().hasPrefix("http://"), reported.insert(url).inserted else { return nil }
            return finding("\(url) uses http:. Use the https:// address if the site has one.", at: email.location(ofURL: url), excerpt: url)
        }
    }
}

struct VagueLinkTextRule: Rule {
    static let vague: Set<String> = ["click here", "here", "this link", "link", "read more", "more", "this", "click", "go", "learn more"]

    static let description = RuleDescription(
        identifier: "link_text", name: "Empty or vague link text", kind: .quality, severity: .warning,
        description: "Link text says where the link goes; it is not empty or \"click here\".",
        rationale: "Screen readers list links by their text, and readers skim them: \"the migration guide\" tells them something, \"here\" does not.",
        triggeringExamples: [LintExample("For details, [click here](https://example.com/guide)."), LintExample("A link: [](https://example.com/x)")],
        nonTriggeringExamples: [LintExample("Read [the migration guide](https://example.com/guide).")])

    func findings(in email: LintedEmail) -> [Finding] {
        email.anchors.compactMap { anchor in
            let text = anchor.text.trimmingCharacters(in: .whitespaces).lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".:!"))
            let hasImage = email.document.nodes[anchor.node].children.contains { email.document.nodes[$0].name == "img" && !(email.document.nodes[$0].attributes["alt"] ?? "").isEmpty }
            if text.isEmpty && !hasImage {
                return finding("The link to \(anchor.href) has no text. Say where it goes.", at: email.location(ofURL: anchor.href))
            }
            if Self.vague.contains(text) {
                return finding("The link text \"\(anchor.text)\" does not say where \(anchor.href) goes. Use words that do, e.g. the page's title.",
                               at: email.location(ofURL: anchor.href), excerpt: anchor.text)
            }
            return nil
        }
    }
}

struct SubjectLengthRule: Rule {
    static let description = RuleDescription(
        identifier: "subject_length", name: "Subject length", kind: .quality, severity: .warning,
        description: "The subject has words and at most 78 characters.",
        rationale: "Inboxes show 40 to 70 characters; the rest of a long subject is never read.",
        triggeringExamples: [LintExample("Hello.", title: String(repeating: "Feature flags and more ", count: 5))],
        nonTriggeringExamples: [LintExample("Hello.", title: "Feature flags, explained")])

    func findings(in email: LintedEmail) -> [Finding] {
        let count = email.issue.subject.count
        guard count > 78 || email.issue.subject.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        return [finding("The subject is \(count) characters; inboxes show about 60. Shorten it to under 78.",
                        at: email.location(forPhraseIn: "subject", phrase: email.issue.subject), excerpt: email.issue.subject)]
    }
}

struct PreheaderRule: Rule {
    static let description = RuleDescription(
        identifier: "preheader", name: "Preheader", kind: .quality, severity: .warning,
        description: "The front matter gives a `preheader` (or `description`) that summarises the issue.",
        rationale: "Inboxes show the preheader beside the subject; without one they show whatever comes first, often \"View in your browser\".",
        triggeringExamples: [LintExample("Hello.", frontMatter: "preheader: \"\"\n")],
        nonTriggeringExamples: [LintExample("Hello.", frontMatter: "preheader: Three new features and a tutorial on flags.\n"),
                                LintExample("Hello.", frontMatter: "description: Three new features and a tutorial on flags.\n")])

    func findings(in email: LintedEmail) -> [Finding] {
        let issue = email.issue
        if issue.preheader.trimmingCharacters(in: .whitespaces).isEmpty {
            return [finding("The issue has no preheader. Add `preheader: One sentence on what is inside.` to the front matter.", at: email.frontMatter("title"))]
        }
        if issue.frontMatterLines["preheader"] == nil && issue.frontMatterLines["description"] == nil {
            return [finding("There is no `preheader`, so the first paragraph is used (\"\(issue.preheader.prefix(50))…\"). Write one that summarises the issue.",
                            at: email.frontMatter("title"))]
        }
        return []
    }
}

struct UnresolvedLinkRule: Rule {
    static let description = RuleDescription(
        identifier: "relative_link", name: "Relative link", kind: .quality, severity: .error,
        description: "Every relative link or image could be made absolute against `urls.site`.",
        rationale: "In an email a relative link goes nowhere: there is no page to be relative to.",
        triggeringExamples: [LintExample("See [the docs](/docs/flags).", configure: { $0.urls.site = nil })],
        nonTriggeringExamples: [LintExample("See [the docs](/docs/flags).")])

    func findings(in email: LintedEmail) -> [Finding] {
        email.unresolvedLinks.map { link in
            finding("The link `\(link.url)` is relative, and in an email a relative link goes nowhere. Set `urls.site` in hogmail.yml (relative links resolve against it) or write the full address.",
                    at: SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine(link.line)), excerpt: link.url)
        }
    }
}

struct HeadingLevelsRule: Rule {
    static let description = RuleDescription(
        identifier: "heading_levels", name: "Heading levels that skip", kind: .quality, severity: .warning,
        description: "Headings go down one level at a time (the title is the `#`; sections are `##`, their parts `###`).",
        rationale: "Screen-reader users move through an email by its headings; a jump from ## to #### looks like something is missing.",
        triggeringExamples: [LintExample("## News\n\n#### A detail")],
        nonTriggeringExamples: [LintExample("## News\n\n### A detail\n\n## Good reads")])

    func findings(in email: LintedEmail) -> [Finding] {
        var previous = 1  // the template's title
        var found: [Finding] = []
        email.issue.document.walk { block in
            guard case .heading(let level, let inlines, let line) = block else { return }
            if level > previous + 1 {
                found.append(finding("The heading \"\(MarkdownInline.plainText(inlines))\" is level \(level) after level \(previous). Use \(String(repeating: "#", count: previous + 1)).",
                                     at: SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine(line))))
            }
            previous = level
        }
        return found
    }
}

struct TextPartLinksRule: Rule {
    static let description = RuleDescription(
        identifier: "text_part_links", name: "Links missing from the text part", kind: .quality, severity: .warning,
        description: "Every link of the HTML part is in the text part too.",
        rationale: "The text part is the same email for people whose client shows text; a link only in the HTML is lost to them.",
        triggeringExamples: [LintExample(#"<div><a href="https://example.com/only-in-html">the report</a></div>"#)],
        nonTriggeringExamples: [LintExample("Read [the report](https://example.com/report).")])

    func findings(in email: LintedEmail) -> [Finding] {
        var reported: Set<String> = []
        let urls = URLsInText(email.text)
        return email.anchors.compactMap { anchor in
            let href = HTML.unescape(anchor.href)
            guard href.hasPrefix("http"), !urls.contains(href), reported.insert(href).inserted else { return nil }
            return finding("\(href) is linked in the HTML but missing from the text part. Write it as a Markdown link, which both parts show.",
                           at: email.location(ofURL: href), excerpt: href)
        }
    }
}

struct UnknownElementRule: Rule {
    static let known: Set<String> = [
        "html", "head", "body", "title", "meta", "style", "link", "base", "div", "span", "p", "a", "img", "table", "thead", "tbody",
        "tfoot", "tr", "td", "th", "caption", "colgroup", "col", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
        "em", "strong", "b", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup", "code", "pre", "kbd", "samp", "var", "blockquote",
        "q", "cite", "abbr", "br", "hr", "center", "font", "figure", "figcaption", "picture", "source", "section", "article", "header",
        "footer", "nav", "main", "aside", "details", "summary", "address", "time", "wbr", "form", "input", "label", "button", "select",
        "option", "textarea", "video", "audio", "strike", "big", "tt",
    ]

    static let description = RuleDescription(
        identifier: "unknown_html_element", name: "Unknown HTML element", kind: .quality, severity: .warning,
        description: "Raw HTML in the draft uses elements email clients know.",
        rationale: "Clients drop elements they do not know, and whatever they were meant to show goes with them.",
        triggeringExamples: [LintExample("Hello <my-widget>there</my-widget>.")],
        nonTriggeringExamples: [LintExample("Press <kbd>Cmd</kbd>+<kbd>K</kbd>.")])

    func findings(in email: LintedEmail) -> [Finding] {
        var reported: Set<String> = []
        return email.document.allElements.compactMap { node in
            let name = email.document.nodes[node].name
            guard !Self.known.contains(name), reported.insert(name).inserted else { return nil }
            return finding("`<\(name)>` is not an HTML element email clients know; they will drop it. Use plain Markdown or a common element.",
                           at: email.location(of: "<\(name)"))
        }
    }
}

extension MarkdownDocument {
    /// Every block, depth first.
    func walk(_ visit: (MarkdownBlock) -> Void) {
        func go(_ blocks: [MarkdownBlock]) {
            for block in blocks {
                visit(block)
                switch block {
                case .blockQuote(let children, _): go(children)
                case .list(_, _, _, let items, _): items.forEach(go)
                default: break
                }
            }
        }
        go(blocks)
    }
}

/// Answers "does the text contain this URL?" for many URLs in one pass over the text, where
/// `text.contains(url)` per link was quadratic (40,000 links in a 1 MB line: minutes). A URL
/// has no whitespace, so it occurs in the text as a whitespace-free word from its first `http`
/// on (`[3] https://…`, `(https://…)`): those words, sorted, are searched for one with the URL
/// as prefix.
struct URLsInText {
    private let words: [Substring]

    init(_ text: String) {
        words = text.split(whereSeparator: { $0.isWhitespace }).compactMap { word in
            word.firstRange(of: "http").map { word[$0.lowerBound...] }
        }.sorted()
    }

    /// A URL with whitespace in it (not a working link) is looked up by its part before the first space.
    func contains(_ url: String) -> Bool {
        let key = url.prefix { !$0.isWhitespace }
        guard !key.isEmpty else { return false }
        var low = 0
        var high = words.count
        while low < high {
            let middle = (low + high) / 2
            if words[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low < words.count && words[low].hasPrefix(key)
    }
}
