import Foundation

/// The links and images of a draft, each with the line it is written on: what `hogmail links
/// check` checks and `links add` compares with. Read from the same Markdown tree the renderer
/// uses, so a URL inside a code block is not a link and an autolink is.
public struct DraftLink: Sendable, Equatable {
    public enum Kind: String, Sendable { case link, image }
    /// As written in the draft.
    public var written: String
    /// Absolute (a relative one resolved against `urls.site`); what is fetched.
    public var url: String
    public var kind: Kind
    /// The draft file as shown to the editor.
    public var file: String
    /// 1-based line in the draft file.
    public var line: Int

    public init(written: String, url: String, kind: Kind, file: String, line: Int) {
        self.written = written
        self.url = url
        self.kind = kind
        self.file = file
        self.line = line
    }
}

public enum DraftLinks {
    /// Every http(s) link and image of `issue`, in the order they are written. Relative ones
    /// are resolved against `site`; mailto:, fragments and unresolvable ones are left out.
    public static func links(of issue: Issue, site: String?) -> [DraftLink] {
        let resolver = LinkResolver(site: site)
        let lines = issue.sourceText.components(separatedBy: "\n")
        var result: [DraftLink] = []
        func add(_ written: String, _ kind: DraftLink.Kind, blockLine: Int) {
            let resolved = resolver.resolve(written)
            if case .unresolvable = resolved { return }
            let url = resolved.url
            guard let scheme = url.split(separator: ":", maxSplits: 1).first?.lowercased(), scheme == "http" || scheme == "https" else { return }
            // The block's first line, then the first line from there that has the URL as written
            // (a paragraph spans lines; cmark gives only where it starts).
            let start = max(0, issue.fileLine(blockLine) - 1)
            let line = lines.indices.dropFirst(start).first { lines[$0].contains(written) }.map { $0 + 1 } ?? start + 1
            result.append(DraftLink(written: written, url: url, kind: kind, file: issue.sourcePath, line: line))
        }
        func walk(_ inlines: [MarkdownInline], blockLine: Int) {
            for inline in inlines {
                switch inline {
                case .link(let url, _, let children):
                    add(url, .link, blockLine: blockLine)
                    walk(children, blockLine: blockLine)
                case .image(let url, _, let alt, _):
                    add(url, .image, blockLine: blockLine)
                    walk(alt, blockLine: blockLine)
                case .emphasis(let children), .strong(let children), .strikethrough(let children):
                    walk(children, blockLine: blockLine)
                case .text, .softBreak, .lineBreak, .code, .html:
                    break
                }
            }
        }
        func walk(_ blocks: [MarkdownBlock]) {
            for block in blocks {
                switch block {
                case .paragraph(let inlines, let line), .heading(_, let inlines, let line):
                    walk(inlines, blockLine: line)
                case .blockQuote(let children, _):
                    walk(children)
                case .list(_, _, _, let items, _):
                    items.forEach(walk)
                case .table(_, let header, let rows, let line):
                    header.forEach { walk($0, blockLine: line) }
                    rows.forEach { $0.forEach { walk($0, blockLine: line) } }
                case .codeBlock, .html, .thematicBreak:
                    break
                }
            }
        }
        walk(issue.document.blocks)
        return result
    }

    /// What makes two links "the same link" for `links add`: tracking parameters, the
    /// fragment, the scheme's and host's case and a lone trailing slash do not count.
    public static func comparisonKey(_ url: String) -> String {
        var text = TrackingParameters.stripped(from: url.trimmingCharacters(in: .whitespaces))
        if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
        if let components = URLComponents(string: text), let host = components.host {
            var copy = components
            copy.scheme = components.scheme?.lowercased()
            copy.host = host.lowercased()
            if copy.percentEncodedPath == "/" { copy.percentEncodedPath = "" }
            if copy.percentEncodedPath.hasSuffix("/") { copy.percentEncodedPath.removeLast() }
            if let scheme = copy.scheme, (scheme == "http" && copy.port == 80) || (scheme == "https" && copy.port == 443) { copy.port = nil }
            // http and https of one page are one link.
            copy.scheme = "https"
            return copy.string ?? text
        }
        return text
    }

    // MARK: - Writing

    /// The text of the draft at `url`, as the parser reads it (UTF-8, a BOM dropped).
    public static func text(of url: URL, display: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw HogMailError(file: display, "The draft cannot be read; check that it exists and is readable.")
        }
        return try TextFile.decode(data, file: display)
    }

    /// `- [Title](URL) – take`, with the title's Markdown characters escaped and the URL
    /// in angle brackets when it has spaces or unbalanced parentheses.
    public static func bullet(title: String, url: String, take: String?) -> String {
        var line = "- [\(escapeLinkText(title))](\(destination(url)))"
        if let take = take.map(oneLine), !take.isEmpty { line += " – " + take }
        return line
    }

    /// Text with every character that Markdown would read as markup escaped with a backslash.
    public static func escapeLinkText(_ text: String) -> String {
        var result = ""
        for character in text {
            if "\\`*_[]<>&~!|#".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }

    static func destination(_ url: String) -> String {
        var depth = 0
        var balanced = true
        for character in url {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1; if depth < 0 { balanced = false } }
        }
        if depth != 0 { balanced = false }
        if !balanced || url.contains(" ") || url.contains("<") || url.contains(">") {
            return "<" + url.replacingOccurrences(of: "<", with: "%3C").replacingOccurrences(of: ">", with: "%3E") + ">"
        }
        return url
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// `text` (a whole draft) with `bullet` added as the last item under the heading named
    /// `section` (any level, case ignored), or under a new `## section` at the end when the
    /// draft has none. Returns the new text and the bullet's 1-based line.
    public static func appending(_ bullet: String, toSection section: String, in text: String) -> (text: String, line: Int) {
        let newline = text.contains("\r\n") ? "\r\n" : "\n"
        var lines = text.components(separatedBy: newline)
        if lines.last == "" { lines.removeLast() }
        let wanted = section.trimmingCharacters(in: .whitespaces).lowercased()
        let headings = self.headings(in: lines)
        if let index = headings.firstIndex(where: { $0.title.lowercased() == wanted }) {
            let heading = headings[index]
            let sectionEnd = headings[(index + 1)...].first { $0.level <= heading.level }?.line ?? lines.count
            var last = heading.line
            for position in (heading.line + 1)..<max(heading.line + 1, sectionEnd) where !lines[position].trimmingCharacters(in: .whitespaces).isEmpty {
                last = position
            }
            // After a list item (or its indented continuation) the bullet joins the list; after
            // the heading or a paragraph it starts one, after a blank line.
            let joinsList = last > heading.line && (isListItem(lines[last]) || (lines[last].hasPrefix(" ")
                && (heading.line + 1...last).contains { isListItem(lines[$0]) }))
            var insert = joinsList ? [bullet] : ["", bullet]
            let position = last + 1
            if position < lines.count, !lines[position].trimmingCharacters(in: .whitespaces).isEmpty { insert.append("") }
            lines.insert(contentsOf: insert, at: position)
            return (lines.joined(separator: newline) + newline, position + insert.count - (insert.last == "" ? 1 : 0))
        }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        lines += ["", "## " + section.trimmingCharacters(in: .whitespaces), "", bullet]
        return (lines.joined(separator: newline) + newline, lines.count)
    }

    static func isListItem(_ line: String) -> Bool {
        line.range(of: #"^\s{0,3}([-*+]|\d{1,9}[.)])(\s|$)"#, options: .regularExpression) != nil
    }

    /// ATX headings outside code fences and front matter: (0-based line, level, title).
    static func headings(in lines: [String]) -> [(line: Int, level: Int, title: String)] {
        var result: [(Int, Int, String)] = []
        var fence: String?
        var start = 0
        if lines.first?.trimmingCharacters(in: .whitespaces) == "---",
           let end = lines.indices.dropFirst().first(where: { ["---", "..."].contains(lines[$0].trimmingCharacters(in: .whitespaces)) }) {
            start = end + 1
        }
        for index in lines.indices.dropFirst(start) {
            let trimmed = lines[index].trimmingCharacters(in: .whitespaces)
            if let open = fence {
                if trimmed.hasPrefix(open) { fence = nil }
                continue
            }
            if trimmed.hasPrefix("```") { fence = "```"; continue }
            if trimmed.hasPrefix("~~~") { fence = "~~~"; continue }
            guard lines[index].hasPrefix("#") else { continue }
            let level = lines[index].prefix { $0 == "#" }.count
            guard (1...6).contains(level) else { continue }
            let rest = lines[index].dropFirst(level)
            guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { continue }
            var title = rest.trimmingCharacters(in: .whitespaces)
            // A closing sequence of #s (`## News ##`) is not part of the title.
            while title.hasSuffix("#") { title.removeLast() }
            result.append((index, level, title.trimmingCharacters(in: .whitespaces)))
        }
        return result
    }

    /// `text` with `old` replaced by `new` on the 1-based `line` only, inside a Markdown link
    /// destination (`](old)`, `](<old>)`, `<old>` or a bare autolink). Nil when it is not there.
    public static func replacing(_ old: String, with new: String, onLine line: Int, in text: String) -> String? {
        let newline = text.contains("\r\n") ? "\r\n" : "\n"
        var lines = text.components(separatedBy: newline)
        guard line >= 1, line <= lines.count else { return nil }
        let original = lines[line - 1]
        for (before, after) in [("](\(old))", "](\(new))"), ("](\(old) ", "](\(new) "), ("](<\(old)>", "](<\(new)>"), ("<\(old)>", "<\(new)>")] {
            if original.contains(before) {
                lines[line - 1] = original.replacingOccurrences(of: before, with: after)
                return lines.joined(separator: newline)
            }
        }
        if original.contains(old) {
            lines[line - 1] = original.replacingOccurrences(of: old, with: new)
            return lines.joined(separator: newline)
        }
        return nil
    }
}
