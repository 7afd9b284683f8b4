import Foundation

/// Markdown tree → the HTML of an email body, every element styled inline
/// (Outlook and many webmails drop `<style>` blocks; inline styles survive).
/// Without a theme, plain semantic HTML: the feed's, which a reader shows in its own colours.
public struct HTMLRenderer: Sendable {
    public var links: LinkResolver
    public var theme: Theme?
    /// The draft's images that live in the project, by the URL the draft writes.
    public var localImages: [String: LocalImage]
    /// The widest an image may show (`build.content_width`), in the email and the feed alike.
    public var contentWidth: Int

    public init(links: LinkResolver, theme: Theme? = .standard, localImages: [String: LocalImage] = [:],
                contentWidth: Int = Theme.standard.contentWidth) {
        self.links = links
        self.theme = theme
        self.localImages = localImages
        self.contentWidth = contentWidth
    }

    /// A relative link or image that could not be made absolute (no `urls.site`).
    public struct UnresolvedLink: Equatable, Sendable {
        public var url: String
        public var line: Int
    }

    public func html(from document: MarkdownDocument) -> (html: String, unresolved: [UnresolvedLink]) {
        var state = State()
        let html = document.blocks.map { block($0, &state) }.joined(separator: "\n")
        return (html, state.unresolved)
    }
}

/// Inline styles, in one place so the email, the web page and the tests agree.
public struct Theme: Sendable {
    public var text: String
    public var heading: String
    public var link: String
    public var muted: String
    public var codeBackground: String
    public var rule: String
    public var fontFamily: String
    public var monoFamily: String
    /// The width of the email's column: templates/email.html.mustache's 600 px container less
    /// its 40 px padding on each side (`build.content_width` changes it). No image is wider
    /// (Outlook cannot shrink one).
    public var contentWidth: Int = 520

    public static let standard = Theme(
        text: "#1d1f27", heading: "#151515", link: "#1d4aff", muted: "#5f6368", codeBackground: "#f3f4f6",
        rule: "#e5e7eb",
        fontFamily: "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
        monoFamily: "SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace")
}

private extension HTMLRenderer {
    struct State {
        var unresolved: [UnresolvedLink] = []
        var line = 0
    }

    /// ` style="…"` with the theme's values, or nothing in semantic HTML.
    func style(_ css: (Theme) -> String) -> String {
        theme.map { " style=\"\(css($0))\"" } ?? ""
    }

    var paragraphStyle: String { style { "margin:0 0 16px 0;font-size:16px;line-height:1.6;color:\($0.text);" } }

    func block(_ block: MarkdownBlock, _ state: inout State) -> String {
        state.line = block.line
        switch block {
        case .paragraph(let inlines, _):
            return "<p\(paragraphStyle)>\(self.inlines(inlines, &state))</p>"
        case .heading(let level, let inlines, _):
            let sizes = [1: "28px", 2: "22px", 3: "18px"]
            let size = sizes[level] ?? "16px"
            let top = level == 1 ? "0" : "28px"
            return "<h\(level)\(style { "margin:\(top) 0 12px 0;font-size:\(size);line-height:1.3;font-weight:700;color:\($0.heading);" })>\(self.inlines(inlines, &state))</h\(level)>"
        case .blockQuote(let blocks, _):
            let inner = blocks.map { self.block($0, &state) }.joined(separator: "\n")
            return "<blockquote\(style { "margin:0 0 16px 0;padding:0 0 0 16px;border-left:4px solid \($0.rule);color:\($0.muted);" })>\n\(inner)\n</blockquote>"
        case .list(let ordered, let start, let tight, let items, _):
            let tag = ordered ? "ol" : "ul"
            let startAttribute = ordered && start != 1 ? " start=\"\(start)\"" : ""
            let rendered = items.map { item -> String in
                let content = item.map { child -> String in
                    if tight, case .paragraph(let inlines, let line) = child {
                        state.line = line
                        return self.inlines(inlines, &state)
                    }
                    return self.block(child, &state)
                }.joined(separator: "\n")
                return "<li\(style { "margin:0 0 8px 0;font-size:16px;line-height:1.6;color:\($0.text);" })>\(content)</li>"
            }.joined(separator: "\n")
            return "<\(tag)\(startAttribute)\(style { _ in "margin:0 0 16px 0;padding:0 0 0 24px;" })>\n\(rendered)\n</\(tag)>"
        case .codeBlock(let info, let code, _):
            let language = info.split(separator: " ").first.map { " class=\"language-\(HTML.escapeAttribute(String($0)))\"" } ?? ""
            // overflow-wrap, not the deprecated word-break:break-word (Yahoo, Apple Mail and the
            // Gmail apps ignore or mishandle it), and its older name word-wrap, which Yahoo and
            // Outlook.com read where they drop overflow-wrap (caniemail: css-overflow-wrap,
            // css-word-wrap): a long token breaks instead of widening the email.
            let pre = "<pre\(style { "margin:0 0 16px 0;padding:12px 16px;background-color:\($0.codeBackground);border-radius:6px;font-family:\($0.monoFamily);font-size:14px;line-height:1.5;color:\($0.text);white-space:pre-wrap;overflow-wrap:break-word;word-wrap:break-word;" })><code\(language)>\(HTML.escape(code))</code></pre>"
            guard let theme else { return pre }
            // Outlook for Windows ignores white-space:pre-wrap, so its <pre> never wraps and the
            // longest line would widen the whole email: it gets the code as wrapping lines instead.
            let outlook = "<div style=\"margin:0 0 16px 0;padding:12px 16px;background-color:\(theme.codeBackground);font-family:\(theme.monoFamily);font-size:14px;line-height:1.5;color:\(theme.text);\">\(Self.wrappingLines(code))</div>"
            return "<!--[if mso]>\(outlook)<![endif]-->\n<!--[if !mso]><!-->\(pre)<!--<![endif]-->"
        case .html(let raw, _):
            return rawHTML(raw, &state)
        case .thematicBreak:
            return "<hr\(style { "margin:24px 0;border:0;border-top:1px solid \($0.rule);" })>"
        case .table(let alignments, let header, let rows, _):
            func cell(_ tag: String, _ inlines: [MarkdownInline], _ column: Int) -> String {
                let align: String
                switch column < alignments.count ? alignments[column] : .none {
                case .center: align = "text-align:center;"
                case .right: align = "text-align:right;"
                default: align = "text-align:left;"
                }
                let weight = tag == "th" ? "font-weight:700;" : ""
                return "<\(tag)\(style { "padding:6px 10px;border:1px solid \($0.rule);\(align)\(weight)" })>\(self.inlines(inlines, &state))</\(tag)>"
            }
            // A data table keeps its semantics (no role="presentation"): screen readers need the headers.
            let head = "<tr>" + header.enumerated().map { cell("th", $1, $0) }.joined() + "</tr>"
            let body = rows.map { "<tr>" + $0.enumerated().map { cell("td", $1, $0) }.joined() + "</tr>" }.joined(separator: "\n")
            return "<table\(style { "margin:0 0 16px 0;border-collapse:collapse;font-size:15px;line-height:1.5;color:\($0.text);" })>\n<thead>\(head)</thead>\n<tbody>\n\(body)\n</tbody>\n</table>"
        }
    }

    func inlines(_ inlines: [MarkdownInline], _ state: inout State) -> String {
        inlines.map { inline($0, &state) }.joined()
    }

    func inline(_ inline: MarkdownInline, _ state: inout State) -> String {
        switch inline {
        case .text(let text): return HTML.escape(text)
        case .softBreak: return "\n"
        case .lineBreak: return "<br>\n"
        case .code(let code):
            return "<code\(style { "padding:2px 4px;background-color:\($0.codeBackground);border-radius:4px;font-family:\($0.monoFamily);font-size:14px;" })>\(HTML.escape(code))</code>"
        case .html(let raw): return rawHTML(raw, &state)
        case .emphasis(let children): return "<em>\(inlines(children, &state))</em>"
        case .strong(let children): return "<strong>\(inlines(children, &state))</strong>"
        case .strikethrough(let children): return "<del>\(inlines(children, &state))</del>"
        case .link(let url, let title, let children):
            let href = resolve(url, &state)
            let titleAttribute = title.isEmpty ? "" : " title=\"\(HTML.escapeAttribute(title))\""
            return "<a href=\"\(HTML.escapeAttribute(href))\"\(titleAttribute)\(style { "color:\($0.link);text-decoration:underline;" })>\(inlines(children, &state))</a>"
        case .image(let url, let title, let alt, let requested):
            let source: String
            let placement: ImagePlacement?
            if let local = localImages[url] {
                source = local.url
                placement = ImagePlacement(natural: local.size, requested: requested, contentWidth: contentWidth)
            } else {
                source = resolve(url, &state)
                // A remote image's size is known only when the draft gives it (`{width=480}`).
                placement = requested.map { ImagePlacement(natural: nil, requested: $0, contentWidth: contentWidth) }
            }
            let titleAttribute = title.isEmpty ? "" : " title=\"\(HTML.escapeAttribute(title))\""
            // Outlook for Windows sizes images by the `width` attribute alone (it ignores CSS
            // max-width); other clients scale down with max-width and keep the ratio with height:auto.
            let size = placement.map { " width=\"\($0.width)\"" + ($0.height.map { " height=\"\($0)\"" } ?? "") } ?? ""
            // Every image gets alt; an empty one marks it decorative for screen readers.
            return "<img src=\"\(HTML.escapeAttribute(source))\" alt=\"\(HTML.escapeAttribute(MarkdownInline.plainText(alt)))\"\(titleAttribute)\(size) style=\"display:block;max-width:100%;height:auto;border:0;margin:0 auto;\">"
        }
    }

    /// Code as lines joined by <br>, its spaces kept where HTML would collapse them: one
    /// ordinary space between words (a line can still break there), &nbsp; for the rest.
    static func wrappingLines(_ code: String) -> String {
        var code = code.replacingOccurrences(of: "\t", with: "    ")
        if code.hasSuffix("\n") { code.removeLast() }
        return code.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var result = ""
            var previous: Character = " "
            for character in line {
                if character == " " {
                    result += previous == " " ? "&nbsp;" : " "
                } else {
                    result += HTML.escape(String(character))
                }
                previous = character
            }
            return result
        }.joined(separator: "<br>")
    }

    func resolve(_ url: String, _ state: inout State) -> String {
        let resolution = links.resolve(url)
        if case .unresolvable = resolution { state.unresolved.append(UnresolvedLink(url: url, line: state.line)) }
        return resolution.url
    }

    /// Raw HTML from the draft: GFM's tag filter, then relative `href`/`src` made absolute.
    func rawHTML(_ raw: String, _ state: inout State) -> String {
        let filtered = HTML.applyTagFilter(raw)
        var result = ""
        var rest = Substring(filtered)
        let pattern = #"(?i)\b(href|src)\s*=\s*("[^"]*"|'[^']*')"#
        while let range = rest.range(of: pattern, options: .regularExpression) {
            result += rest[..<range.lowerBound]
            let match = rest[range]
            let equals = match.firstIndex(of: "=")!
            let name = match[..<equals].trimmingCharacters(in: .whitespaces)
            let quoted = match[match.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            let quote = quoted.first!
            let value = HTML.unescape(String(quoted.dropFirst().dropLast()))
            // An `<img src>` of the project's own: its copy's address (checked by `local_image`).
            let local = name.lowercased() == "src" ? localImages[value]?.url : nil
            let resolved = local ?? resolve(value, &state)
            result += "\(name)=\(quote)\(quote == "\"" ? HTML.escapeAttribute(resolved) : resolved.replacingOccurrences(of: "'", with: "&#39;"))\(quote)"
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}

/// HTML escaping shared by every renderer.
public enum HTML {
    public static func escape(_ text: String) -> String {
        escape(text, quotes: false)
    }

    public static func escapeAttribute(_ text: String) -> String {
        escape(text, quotes: true)
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        escapedBytes(text, quotes: quotes).map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// `escapeAttribute` as UTF-8 bytes, or nil when the value has nothing to escape (it is
    /// then its own escaped form). A send escapes each recipient's unsubscribe URL this way.
    public static func escapedAttributeBytes(_ text: String) -> [UInt8]? {
        escapedBytes(text, quotes: true)
    }

    private static func escapedBytes(_ text: String, quotes: Bool) -> [UInt8]? {
        var text = text
        return text.withUTF8 { bytes -> [UInt8]? in
            func special(_ byte: UInt8) -> Bool {
                byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || (quotes && byte == UInt8(ascii: "\""))
            }
            // A plain loop, not `firstIndex(where:)`: this runs on two values of every message.
            func nextSpecial(from start: Int) -> Int? {
                for index in start..<bytes.count where special(bytes[index]) { return index }
                return nil
            }
            // Most values (URLs, addresses) have nothing to escape.
            guard var next = nextSpecial(from: 0) else { return nil }
            // On the UTF-8 bytes: the markup characters are ASCII, so no multi-byte character is
            // cut. Runs between them are copied whole.
            var result: [UInt8] = []
            result.reserveCapacity(bytes.count + 16)
            var copied = 0
            while true {
                result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied..<next]))
                switch bytes[next] {
                case UInt8(ascii: "&"): result.append(contentsOf: ampersand)
                case UInt8(ascii: "<"): result.append(contentsOf: lessThan)
                case UInt8(ascii: ">"): result.append(contentsOf: greaterThan)
                default: result.append(contentsOf: quote)
                }
                copied = next + 1
                guard let found = nextSpecial(from: copied) else { break }
                next = found
            }
            result.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copied...]))
            return result
        }
    }

    private static let ampersand = Array("&amp;".utf8), lessThan = Array("&lt;".utf8), greaterThan = Array("&gt;".utf8), quote = Array("&quot;".utf8)

    /// The few entities that appear in attribute values written by hand.
    public static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// GFM's tagfilter: these tags would change how the rest of the page is parsed.
    public static func applyTagFilter(_ html: String) -> String {
        html.replacingOccurrences(
            of: #"(?i)<(/?)(title|textarea|style|xmp|iframe|noembed|noframes|script|plaintext)(?=[\s/>])"#,
            with: "&lt;$1$2", options: .regularExpression)
    }

    /// Text content of an HTML fragment, for the text part.
    public static func textContent(_ html: String) -> String {
        var text = html.replacingOccurrences(of: #"(?s)<!--.*?-->"#, with: "", options: .regularExpression)
        text = text.replacingOccurrences(of: #"(?i)<br\s*/?>"#, with: "\n", options: .regularExpression)
        text = text.replacingOccurrences(of: #"<[^>]*>"#, with: "", options: .regularExpression)
        return unescape(text.replacingOccurrences(of: "&nbsp;", with: " "))
    }
}
