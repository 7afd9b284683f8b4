import CCmarkGFM
import Foundation

/// The Markdown tree of a draft, in Swift values: parsed once by cmark-gfm,
/// then read by the HTML renderer, the text renderer and the linter alike.
public struct MarkdownDocument: Equatable, Sendable {
    public var blocks: [MarkdownBlock]

    /// Parses GitHub-flavoured Markdown (tables, strikethrough, autolinks, tagfilter).
    /// Line numbers in the tree count from 1 at the first line of `text`.
    public static func parse(_ text: String) -> MarkdownDocument {
        CMarkParser.parse(text)
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
    case image(url: String, title: String, alt: [MarkdownInline])

    /// The words a reader sees, without markup.
    public static func plainText(_ inlines: [MarkdownInline]) -> String {
        inlines.map { inline in
            switch inline {
            case .text(let text), .code(let text): return text
            case .softBreak, .lineBreak: return " "
            case .html: return ""
            case .emphasis(let children), .strong(let children), .strikethrough(let children),
                 .link(_, _, let children), .image(_, _, let children):
                return plainText(children)
            }
        }.joined()
    }
}

// MARK: - cmark-gfm at the edge

/// Owns the cmark parser and tree for one parse, and frees them.
private enum CMarkParser {
    static let registerExtensions: Void = cmark_gfm_core_extensions_ensure_registered()

    static func parse(_ text: String) -> MarkdownDocument {
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
        return MarkdownDocument(blocks: children(of: root).compactMap(block))
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
        return result
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
