import CCmarkGFM
import Foundation

/// The Markdown tree of a draft, in Swift values: parsed once by cmark-gfm,
/// then read by the HTML renderer, the text renderer and the linter alike.
public struct MarkdownDocument: Equatable, Sendable {
    public var blocks: [MarkdownBlock]

    /// Parses GitHub-flavoured Markdown (tables, strikethrough, autolinks, tagfilter).
    /// Line numbers in the tree count from 1 at the first line of `text`. Refuses nesting
    /// deeper than `DraftLimits` allows, before any recursive walk could overflow the stack.
    public static func parse(_ text: String) throws(NestingError) -> MarkdownDocument {
        if let deepest = MarkdownNestingScan.firstLine(exceeding: DraftLimits.containerNesting, in: text) {
            throw NestingError(line: deepest.line, message: DraftLimits.containerMessage(depth: deepest.depth))
        }
        return try CMarkParser.parse(text)
    }

    /// Markdown nested deeper than HogMail accepts; `line` counts from 1 at the first line of the text parsed.
    public struct NestingError: Error, Equatable, Sendable {
        public var line: Int
        public var message: String
    }
}

public enum TableAlignment: Equatable, Sendable {
    case none, left, center, right
}

public indirect enum MarkdownBlock: Equatable, Sendable {
    case paragraph([MarkdownInline], line: Int)
    case heading(level: Int, [MarkdownInline], line: Int)
    case blockQuote([MarkdownBlock], line: Int)
    case list(ordered: Bool, start: Int, tight: Bool, items: [[MarkdownBlock]], line: Int)
    case codeBlock(info: String, code: String, line: Int)
    case html(String, line: Int)
    case thematicBreak(line: Int)
    case table(alignments: [TableAlignment], header: [[MarkdownInline]], rows: [[[MarkdownInline]]], line: Int)

    public var line: Int {
        switch self {
        case .paragraph(_, let line), .heading(_, _, let line), .blockQuote(_, let line),
             .list(_, _, _, _, let line), .codeBlock(_, _, let line), .html(_, let line),
             .thematicBreak(let line), .table(_, _, _, let line):
            return line
        }
    }
}

public indirect enum MarkdownInline: Equatable, Sendable {
    case text(String)
    case softBreak
    case lineBreak
    case code(String)
    case html(String)
    case emphasis([MarkdownInline])
    case strong([MarkdownInline])
    case strikethrough([MarkdownInline])
    case link(url: String, title: String, [MarkdownInline])
    /// `size`: what the draft says after the image, `![alt](url){width=480}` (or
    /// `{width=480 height=320}`); cmark leaves such attributes as text, so they are read here.
    case image(url: String, title: String, alt: [MarkdownInline], size: ImageSizeRequest? = nil)

    /// The words a reader sees, without markup.
    public static func plainText(_ inlines: [MarkdownInline]) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let text), .code(let text): return text
            case .softBreak, .lineBreak: return " "
            case .html: return ""
            case .emphasis(let children), .strong(let children), .strikethrough(let children),
                 .link(_, _, let children), .image(_, _, let children, _):
                return plainText(children)
            }
        }.joined()
    }
}

/// The width (and height) a draft gives an image in `{width=480 height=320}` after it: a
/// remote image's size is not known otherwise, and Outlook needs a `width` attribute.
public struct ImageSizeRequest: Equatable, Sendable {
    public var width: Int
    public var height: Int?

    public init(width: Int, height: Int? = nil) {
        self.width = width
        self.height = height
    }

    /// `{width=480}`, `{width="480px" height=320}`, `{ width=480 }` at the start of a text.
    static let pattern = #"^\{\s*width\s*=\s*"?([0-9]{1,5})(?:px)?"?(?:\s+height\s*=\s*"?([0-9]{1,5})(?:px)?"?)?\s*\}"#

    /// Moves a `{width=…}` that follows an image into the image.
    static func attach(_ inlines: [MarkdownInline]) -> [MarkdownInline] {
        guard inlines.count > 1 else { return inlines }
        var result: [MarkdownInline] = []
        result.reserveCapacity(inlines.count)
        var index = 0
        while index < inlines.count {
            if case .image(let url, let title, let alt, nil) = inlines[index], index + 1 < inlines.count,
               case .text(let text) = inlines[index + 1], text.hasPrefix("{"),
               let range = text.range(of: pattern, options: .regularExpression) {
                let numbers = text[range].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                let size = numbers.first.flatMap { $0 > 0 ? ImageSizeRequest(width: $0, height: numbers.count > 1 && numbers[1] > 0 ? numbers[1] : nil) : nil }
                result.append(.image(url: url, title: title, alt: alt, size: size))
                let rest = String(text[range.upperBound...])
                if !rest.isEmpty { result.append(.text(rest)) }
                index += 2
                continue
            }
            result.append(inlines[index])
            index += 1
        }
        return result
    }
}

// MARK: - cmark-gfm at the edge

/// Owns the cmark parser and tree for one parse, and frees them.
private enum CMarkParser {
    static let registerExtensions: Void = cmark_gfm_core_extensions_ensure_registered()

    static func parse(_ text: String) throws(MarkdownDocument.NestingError) -> MarkdownDocument {
        _ = registerExtensions
        // UNSAFE keeps raw HTML in the tree; the renderer applies the tag filter itself.
        let options = CMARK_OPT_UNSAFE | CMARK_OPT_SOURCEPOS | CMARK_OPT_VALIDATE_UTF8
        guard let parser = cmark_parser_new(options) else { return MarkdownDocument(blocks: []) }
        defer { cmark_parser_free(parser) }
        for name in ["table", "strikethrough", "autolink", "tagfilter"] {
            if let extensionPointer = cmark_find_syntax_extension(name) {
                cmark_parser_attach_syntax_extension(parser, extensionPointer)
            }
        }
        text.withCString { pointer in
            cmark_parser_feed(parser, pointer, strlen(pointer))
        }
        guard let root = cmark_parser_finish(parser) else { return MarkdownDocument(blocks: []) }
        defer { cmark_node_free(root) }
        // The conversion below recurses once per level: measure the levels first, without recursion.
        try checkNesting(root)
        return MarkdownDocument(blocks: children(of: root).compactMap(block))
    }

    /// Walks cmark's tree with its iterator (no recursion) and throws at the first node nested
    /// deeper than `DraftLimits` allows: list items and quotes, inline markup, raw HTML elements.
    static func checkNesting(_ root: OpaquePointer) throws(MarkdownDocument.NestingError) {
        guard let iterator = cmark_iter_new(root) else { return }
        defer { cmark_iter_free(iterator) }
        var containers = 0
        var inlines = 0
        var html = HTMLNesting()
        var blockLine = 1
        while case let event = cmark_iter_next(iterator), event != CMARK_EVENT_DONE {
            guard let node = cmark_iter_get_node(iterator) else { continue }
            let type = cmark_node_get_type(node)
            let entering = event == CMARK_EVENT_ENTER
            let start = Int(cmark_node_get_start_line(node))
            // cmark-gfm's type values carry their kind in the top bits (CMARK_NODE_TYPE_INLINE is
            // 0xC000), extension types (table, strikethrough) included.
            let isBlock = type.rawValue & 0xC000 == 0x8000
            if entering, isBlock, start > 0 { blockLine = start }
            let line = start > 0 ? start : blockLine
            switch type {
            case CMARK_NODE_ITEM, CMARK_NODE_BLOCK_QUOTE:
                containers += entering ? 1 : -1
                if containers > DraftLimits.containerNesting {
                    throw .init(line: line, message: DraftLimits.containerMessage(depth: containers))
                }
            case CMARK_NODE_EMPH, CMARK_NODE_STRONG, CMARK_NODE_LINK, CMARK_NODE_IMAGE:
                inlines += entering ? 1 : -1
            case CMARK_NODE_HTML_BLOCK, CMARK_NODE_HTML_INLINE:
                if html.read(string(cmark_node_get_literal(node))) > DraftLimits.htmlNesting {
                    throw .init(line: line, message: "HTML elements are nested more than \(DraftLimits.htmlNesting) deep here; HogMail accepts at most \(DraftLimits.htmlNesting) levels of raw HTML in a draft (libxml2, like some mail clients, stops reading a document past 256). Close the elements you open (`</div>`) or flatten the nesting.")
                }
            default:
                // Strikethrough is an extension node type: told apart by name.
                if !isBlock, type != CMARK_NODE_TEXT, type != CMARK_NODE_CODE, type != CMARK_NODE_SOFTBREAK, type != CMARK_NODE_LINEBREAK {
                    inlines += entering ? 1 : -1
                }
            }
            if inlines > DraftLimits.inlineNesting {
                throw .init(line: line, message: "emphasis, links and other inline markup are nested more than \(DraftLimits.inlineNesting) deep here; HogMail accepts at most \(DraftLimits.inlineNesting) levels. Close the `*`, `_`, `~~` and `[` you open, or flatten the nesting.")
            }
        }
    }

    /// Counts how deep raw HTML elements are open, across the HTML pieces of a draft in order.
    /// Void elements, self-closing tags and elements whose end tag may be left out (`<p>`,
    /// `<li>`, `<td>`…) do not count, so honest HTML is never counted deeper than it is.
    struct HTMLNesting {
        static let uncounted: Set<String> = [
            "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr",
            "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup", "rt", "rp", "colgroup", "caption",
        ]
        private(set) var depth = 0
        private var inComment = false

        /// Reads the next piece of raw HTML and returns the depth after it.
        mutating func read(_ html: String) -> Int {
            let bytes = Array(html.utf8)
            var index = 0
            var deepest = depth
            func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) }
            while index < bytes.count {
                if inComment {
                    guard let end = Self.find([45, 45, 62], in: bytes, from: index) else { return deepest }  // -->
                    inComment = false
                    index = end + 3
                    continue
                }
                guard bytes[index] == UInt8(ascii: "<"), index + 1 < bytes.count else { index += 1; continue }
                let next = bytes[index + 1]
                if next == UInt8(ascii: "!") {
                    inComment = bytes[index...].starts(with: Array("<!--".utf8))
                    index += inComment ? 4 : 2
                    continue
                }
                let closing = next == UInt8(ascii: "/")
                var position = index + (closing ? 2 : 1)
                guard position < bytes.count, isLetter(bytes[position]) else { index += 1; continue }
                let nameStart = position
                while position < bytes.count, isLetter(bytes[position]) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) || bytes[position] == UInt8(ascii: "-") {
                    position += 1
                }
                let name = String(decoding: bytes[nameStart..<position], as: UTF8.self).lowercased()
                // The end of the tag, stepping over quoted attribute values.
                var quote: UInt8?
                while position < bytes.count {
                    let byte = bytes[position]
                    if let open = quote {
                        if byte == open { quote = nil }
                    } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                        quote = byte
                    } else if byte == UInt8(ascii: ">") {
                        break
                    }
                    position += 1
                }
                let selfClosing = position > 0 && position < bytes.count && bytes[position - 1] == UInt8(ascii: "/")
                if !Self.uncounted.contains(name) && !selfClosing {
                    depth = closing ? max(0, depth - 1) : depth + 1
                    deepest = max(deepest, depth)
                }
                index = position + 1
            }
            return deepest
        }

        private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
            guard bytes.count >= needle.count else { return nil }
            var index = start
            while index + needle.count <= bytes.count {
                if bytes[index] == needle[0] && bytes[index..<index + needle.count].elementsEqual(needle) { return index }
                index += 1
            }
            return nil
        }
    }

    static func children(of node: OpaquePointer) -> [OpaquePointer] {
        var result: [OpaquePointer] = []
        var child = cmark_node_first_child(node)
        while let current = child {
            result.append(current)
            child = cmark_node_next(current)
        }
        return result
    }

    static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    static func typeName(_ node: OpaquePointer) -> String { string(cmark_node_get_type_string(node)) }

    static func block(_ node: OpaquePointer) -> MarkdownBlock? {
        let line = Int(cmark_node_get_start_line(node))
        switch cmark_node_get_type(node) {
        case CMARK_NODE_PARAGRAPH:
            return .paragraph(inlines(of: node), line: line)
        case CMARK_NODE_HEADING:
            return .heading(level: Int(cmark_node_get_heading_level(node)), inlines(of: node), line: line)
        case CMARK_NODE_BLOCK_QUOTE:
            return .blockQuote(children(of: node).compactMap(block), line: line)
        case CMARK_NODE_LIST:
            let items = children(of: node).map { children(of: $0).compactMap(block) }
            return .list(ordered: cmark_node_get_list_type(node) == CMARK_ORDERED_LIST,
                         start: Int(cmark_node_get_list_start(node)),
                         tight: cmark_node_get_list_tight(node) != 0, items: items, line: line)
        case CMARK_NODE_CODE_BLOCK:
            return .codeBlock(info: string(cmark_node_get_fence_info(node)), code: string(cmark_node_get_literal(node)), line: line)
        case CMARK_NODE_HTML_BLOCK:
            return .html(string(cmark_node_get_literal(node)), line: line)
        case CMARK_NODE_THEMATIC_BREAK:
            return .thematicBreak(line: line)
        default:
            if typeName(node) == "table" { return table(node, line: line) }
            // Anything else (footnote definitions) keeps its text as a paragraph.
            let text = inlines(of: node)
            return text.isEmpty ? nil : .paragraph(text, line: line)
        }
    }

    static func table(_ node: OpaquePointer, line: Int) -> MarkdownBlock {
        let columns = Int(cmark_gfm_extensions_get_table_columns(node))
        var alignments: [TableAlignment] = []
        if let raw = cmark_gfm_extensions_get_table_alignments(node) {
            for index in 0..<columns {
                switch UInt8(raw[index]) {
                case UInt8(ascii: "l"): alignments.append(.left)
                case UInt8(ascii: "c"): alignments.append(.center)
                case UInt8(ascii: "r"): alignments.append(.right)
                default: alignments.append(.none)
                }
            }
        }
        var header: [[MarkdownInline]] = []
        var rows: [[[MarkdownInline]]] = []
        for row in children(of: node) {
            let cells = children(of: row).map { inlines(of: $0) }
            if cmark_gfm_extensions_get_table_row_is_header(row) != 0 { header = cells } else { rows.append(cells) }
        }
        return .table(alignments: alignments, header: header, rows: rows, line: line)
    }

    static func inlines(of node: OpaquePointer) -> [MarkdownInline] {
        var result: [MarkdownInline] = []
        for child in children(of: node) {
            guard let inline = inline(child) else { continue }
            // Adjacent text nodes (cmark splits at brackets) are merged for readable trees.
            if case .text(let next) = inline, case .text(let previous)? = result.last {
                result[result.count - 1] = .text(previous + next)
            } else {
                result.append(inline)
            }
        }
        return ImageSizeRequest.attach(result)
    }

    static func inline(_ node: OpaquePointer) -> MarkdownInline? {
        switch cmark_node_get_type(node) {
        case CMARK_NODE_TEXT: return .text(string(cmark_node_get_literal(node)))
        case CMARK_NODE_SOFTBREAK: return .softBreak
        case CMARK_NODE_LINEBREAK: return .lineBreak
        case CMARK_NODE_CODE: return .code(string(cmark_node_get_literal(node)))
        case CMARK_NODE_HTML_INLINE: return .html(string(cmark_node_get_literal(node)))
        case CMARK_NODE_EMPH: return .emphasis(inlines(of: node))
        case CMARK_NODE_STRONG: return .strong(inlines(of: node))
        case CMARK_NODE_LINK:
            return .link(url: string(cmark_node_get_url(node)), title: string(cmark_node_get_title(node)), inlines(of: node))
        case CMARK_NODE_IMAGE:
            return .image(url: string(cmark_node_get_url(node)), title: string(cmark_node_get_title(node)), alt: inlines(of: node))
        default:
            if typeName(node) == "strikethrough" { return .strikethrough(inlines(of: node)) }
            let children = inlines(of: node)
            return children.isEmpty ? nil : .text(MarkdownInline.plainText(children))
        }
    }
}
