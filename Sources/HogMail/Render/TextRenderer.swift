import Foundation

/// Markdown tree → the plain-text part, rendered from the tree rather than scraped from
/// HTML: links become numbered references (`Title [3]` … `[3] https://…`), lists and
/// code stay readable, prose wraps at 78 columns.
public struct TextRenderer: Sendable {
    public var links: LinkResolver
    public var width: Int

    public init(links: LinkResolver, width: Int = 78) {
        self.links = links
        self.width = width
    }

    public struct Output: Equatable, Sendable {
        /// The body, wrapped.
        public var body: String
        /// `[1] https://…` lines, in order of first appearance.
        public var references: [String]
    }

    public func text(from document: MarkdownDocument) -> Output {
        var references = References()
        let body = blocks(document.blocks, width: width, &references).joined(separator: "\n\n")
        return Output(body: body, references: references.urls.enumerated().map { "[\($0.offset + 1)] \($0.element)" })
    }

    /// Greedy word wrap at `width` columns (counted in Unicode scalars, as mail tools count);
    /// a word longer than the line (a URL) stands alone rather than being broken.
    public static func wrap(_ text: String, width: Int, indent: String = "", firstIndent: String? = nil) -> [String] {
        var lines: [String] = []
        for paragraphLine in text.components(separatedBy: "\n") {
            var current = lines.isEmpty ? (firstIndent ?? indent) : indent
            let prefix = current
            var currentWidth = current.unicodeScalars.count
            var hasWord = false
            for word in paragraphLine.split(separator: " ", omittingEmptySubsequences: true) {
                let wordWidth = word.unicodeScalars.count
                if hasWord && currentWidth + 1 + wordWidth > width {
                    lines.append(current)
                    current = indent
                    currentWidth = indent.unicodeScalars.count
                    hasWord = false
                }
                if hasWord { current += " "; currentWidth += 1 }
                current += word
                currentWidth += wordWidth
                hasWord = true
            }
            lines.append(hasWord ? current : prefix.trimmingCharacters(in: .whitespaces))
        }
        return lines
    }
}

private extension TextRenderer {
    struct References {
        var urls: [String] = []
        var numbers: [String: Int] = [:]

        mutating func number(for url: String) -> Int {
            if let number = numbers[url] { return number }
            urls.append(url)
            numbers[url] = urls.count
            return urls.count
        }
    }

    func blocks(_ blocks: [MarkdownBlock], width: Int, _ references: inout References) -> [String] {
        blocks.compactMap { block -> String? in
            let text = self.block(block, width: width, &references)
            return text.isEmpty ? nil : text
        }
    }

    func block(_ block: MarkdownBlock, width: Int, _ references: inout References) -> String {
        switch block {
        case .paragraph(let inlines, _):
            return Self.wrap(self.inlines(inlines, &references), width: width).joined(separator: "\n")
        case .heading(let level, let inlines, _):
            let lines = Self.wrap(self.inlines(inlines, &references), width: width)
            let longest = lines.map { $0.unicodeScalars.count }.max() ?? 0
            switch level {
            case 1: return (lines + [String(repeating: "=", count: longest)]).joined(separator: "\n")
            case 2: return (lines + [String(repeating: "-", count: longest)]).joined(separator: "\n")
            default: return lines.joined(separator: "\n")
            }
        case .blockQuote(let children, _):
            let inner = blocks(children, width: width - 2, &references).joined(separator: "\n\n")
            return inner.components(separatedBy: "\n").map { $0.isEmpty ? ">" : "> " + $0 }.joined(separator: "\n")
        case .list(let ordered, let start, let tight, let items, _):
            let rendered = items.enumerated().map { offset, item -> String in
                let marker = ordered ? "\(start + offset). " : "- "
                let indent = String(repeating: " ", count: marker.count)
                let inner = blocks(item, width: width - marker.count, &references)
                    .joined(separator: tight ? "\n" : "\n\n")
                return inner.components(separatedBy: "\n").enumerated().map { index, line in
                    index == 0 ? marker + line : (line.isEmpty ? "" : indent + line)
                }.joined(separator: "\n")
            }
            return rendered.joined(separator: tight ? "\n" : "\n\n")
        case .codeBlock(_, let code, _):
            // Indented four spaces, never wrapped: code must stay as written.
            var lines = code.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            return lines.map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n")
        case .html(let raw, _):
            let text = HTML.textContent(raw).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { return "" }
            return text.components(separatedBy: "\n").flatMap {
                Self.wrap($0.trimmingCharacters(in: .whitespaces), width: width)
            }.joined(separator: "\n")
        case .thematicBreak:
            return String(repeating: "-", count: min(width, 20))
        case .table(_, let header, let rows, _):
            return table(header: header, rows: rows, width: width, &references)
        }
    }

    func table(header: [[MarkdownInline]], rows: [[[MarkdownInline]]], width: Int, _ references: inout References) -> String {
        let head = header.map { inlines($0, &references) }
        let body = rows.map { $0.map { inlines($0, &references) } }
        let columns = head.count
        var widths = head.map { $0.unicodeScalars.count }
        for row in body {
            for (index, cell) in row.enumerated() where index < columns {
                widths[index] = max(widths[index], cell.unicodeScalars.count)
            }
        }
        if widths.reduce(0, +) + 3 * max(0, columns - 1) <= width {
            func line(_ cells: [String]) -> String {
                (0..<columns).map { index in
                    let cell = index < cells.count ? cells[index] : ""
                    return cell + String(repeating: " ", count: widths[index] - cell.unicodeScalars.count)
                }.joined(separator: " | ").replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
            }
            let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")
            return ([line(head), rule] + body.map(line)).joined(separator: "\n")
        }
        // Too wide for 78 columns: one block per row, "Header: value".
        return body.map { row in
            row.enumerated().flatMap { index, cell in
                let label = index < head.count ? head[index] + ": " : ""
                return Self.wrap(label + cell, width: width, indent: "  ")
            }.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    func inlines(_ inlines: [MarkdownInline], _ references: inout References) -> String {
        var result = ""
        // Raw `<a href>` … `</a>` in the draft gets a reference like a Markdown link.
        var openLinks: [String?] = []
        for inline in inlines {
            if case .html(let raw) = inline {
                if let href = Self.anchorTarget(raw) {
                    openLinks.append(links.resolve(href).url)
                    continue
                }
                if raw.lowercased().hasPrefix("</a"), let target = openLinks.popLast() {
                    if let target, !target.hasPrefix("#") { result += " [\(references.number(for: target))]" }
                    continue
                }
            }
            result += self.inline(inline, &references)
        }
        return result
    }

    /// The `href` of an opening `<a …>` tag, or nil when `raw` is not one.
    static func anchorTarget(_ raw: String) -> String? {
        guard raw.range(of: #"^<a\s"#, options: [.regularExpression, .caseInsensitive]) != nil,
              let range = raw.range(of: #"href\s*=\s*("[^"]*"|'[^']*')"#, options: [.regularExpression, .caseInsensitive])
        else { return nil }
        let quoted = raw[range].drop { $0 != "\"" && $0 != "'" }
        return HTML.unescape(String(quoted.dropFirst().dropLast()))
    }

    func inline(_ inline: MarkdownInline, _ references: inout References) -> String {
        switch inline {
        case .text(let text): return text
        case .softBreak: return " "
        case .lineBreak: return "\n"
        case .code(let code): return "`\(code)`"
        case .html(let raw): return HTML.textContent(raw)
        case .emphasis(let children), .strong(let children): return inlines(children, &references)
        case .strikethrough(let children): return "~~\(inlines(children, &references))~~"
        case .link(let url, _, let children):
            let target = links.resolve(url).url
            let label = inlines(children, &references)
            // An autolink shows its own address; a reference would only repeat it.
            if label == target || "mailto:" + label == target || label == url { return target }
            if target.hasPrefix("#") { return label }
            return "\(label) [\(references.number(for: target))]"
        case .image(_, _, let alt, _):
            let text = MarkdownInline.plainText(alt).trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? "" : "[Image: \(text)]"
        }
    }
}
