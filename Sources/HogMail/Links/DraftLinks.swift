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
            // The block's first line, then the first line of the block that has the URL as written,
            // whole (a paragraph spans lines; cmark gives only where it starts). The block ends
            // at a blank line (`>` alone, in a quote).
            let start = max(0, issue.fileLine(blockLine) - 1)
            var line = start + 1
            var index = start
            while index < lines.count {
                if index > start, isBlank(lines[index]) { break }
                if !occurrences(of: written, in: lines[index]).isEmpty { line = index + 1; break }
                index += 1
            }
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
        let (file, line) = appending(bullet, toSection: section, in: DraftFileText(text: text))
        return (file.text, line)
    }

    /// The same on a draft as it is on disk: its byte-order mark and line endings are kept,
    /// new lines end the way its first line does.
    public static func appending(_ bullet: String, toSection section: String, in file: DraftFileText) -> (file: DraftFileText, line: Int) {
        var file = file
        let lines = file.lines
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
            file.insert(insert, at: position)
            return (file, position + insert.count - (insert.last == "" ? 1 : 0))
        }
        while let last = file.lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty {
            file.lines.removeLast()
            file.endings.removeLast()
        }
        file.insert(["", "## " + section.trimmingCharacters(in: .whitespaces), "", bullet], at: file.lines.count)
        return (file, file.lines.count)
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

    /// `text` with `old` replaced by `new` on the 1-based `line` only, where it stands whole
    /// (see `occurrences`): as a link destination (`](old)`, `](<old>)`, `<old>`) when it is one
    /// there, else as a bare autolink. Nil when it is not there. `new` is written as given:
    /// pass it through `linkDestination`.
    public static func replacing(_ old: String, with new: String, onLine line: Int, in text: String) -> String? {
        replacing(old, with: new, onLine: line, in: DraftFileText(text: text))?.text
    }

    /// The same on a draft as it is on disk (its byte-order mark and line endings kept).
    public static func replacing(_ old: String, with new: String, onLine line: Int, in file: DraftFileText) -> DraftFileText? {
        guard line >= 1, line <= file.lines.count else { return nil }
        var bytes = Array(file.lines[line - 1].utf8)
        let found = occurrences(of: old, in: file.lines[line - 1])
        guard !found.isEmpty else { return nil }
        // A destination (after `](`, `](<` or `<`) rather than the link's text showing the address.
        let destinations = found.filter { range in
            let before = bytes[..<range.lowerBound]
            return before.last == UInt8(ascii: "<") || before.suffix(2).elementsEqual("](".utf8)
        }
        for range in (destinations.isEmpty ? found : destinations).reversed() {
            bytes.replaceSubrange(range, with: Array(new.utf8))
        }
        var result = file
        result.lines[line - 1] = String(decoding: bytes, as: UTF8.self)
        return result
    }

    /// The byte ranges where `url` stands whole in `line`: not inside a longer address, so
    /// `https://x.com/docs` is not found in `https://x.com/docs/v2`. It ends at `)`, `>`, a
    /// space, a title's quote or the line's end (a bare autolink's trailing `.,:;!?*_~` before
    /// those does not count), and starts after `(`, `<`, `[`, a space or a quote, or at the line's start.
    public static func occurrences(of url: String, in line: String) -> [Range<Int>] {
        let bytes = Array(line.utf8), needle = Array(url.utf8)
        guard !needle.isEmpty, needle.count <= bytes.count else { return [] }
        let ends: Set<UInt8> = Set(")> \t\r\"'".utf8)
        let starts: Set<UInt8> = Set("(<[ \t\"'*_~".utf8)
        let trailing: Set<UInt8> = Set(".,:;!?*_~".utf8)
        var result: [Range<Int>] = []
        var index = 0
        while index + needle.count <= bytes.count {
            let end = index + needle.count
            guard bytes[index..<end].elementsEqual(needle), index == 0 || starts.contains(bytes[index - 1]) else {
                index += 1
                continue
            }
            var after = end
            while after < bytes.count, trailing.contains(bytes[after]) { after += 1 }
            if after == bytes.count || ends.contains(bytes[after]) {
                result.append(index..<end)
                index = end
            } else {
                index += 1
            }
        }
        return result
    }

    /// A line with nothing but spaces (and a quote's `>`): where a paragraph ends.
    static func isBlank(_ line: String) -> Bool {
        line.utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == UInt8(ascii: ">") }
    }

    /// `url` made safe to write as a Markdown link destination: `(`, `)`, `<`, `>`, `"`, `\`,
    /// spaces and control characters percent-encoded (a server's `Location` can hold anything),
    /// then written as `links add` writes a destination.
    public static func linkDestination(_ url: String) -> String {
        let unsafe: Set<UInt8> = Set("()<>\"\\".utf8)
        var bytes: [UInt8] = []
        for byte in url.utf8 {
            if byte <= 0x20 || byte == 0x7F || unsafe.contains(byte) {
                bytes += Array(String(format: "%%%02X", byte).utf8)
            } else {
                bytes.append(byte)
            }
        }
        return destination(String(decoding: bytes, as: UTF8.self))
    }
}
