import CHTMLParser
import Foundation

/// The final HTML as a real HTML parser (libxml2's) sees it, copied into Swift values
/// so rules can walk it without touching C.
public struct HTMLDocument: Sendable {
    public struct Node: Sendable {
        public enum Kind: Sendable, Equatable { case element, text }
        public var kind: Kind
        /// Lower-case element name; empty for text.
        public var name: String
        public var attributes: [String: String]
        public var text: String
        public var children: [Int]
        public var parent: Int?
        /// Line in the HTML source.
        public var line: Int
    }

    public private(set) var nodes: [Node] = []
    /// False when libxml2 stopped reading early (elements nested past its limit of 256): the
    /// nodes are only the start of the document, and rules would miss what follows.
    public private(set) var isComplete = true

    public init(parsing html: String) {
        final class Builder {
            var nodes: [Node] = []
            var stack: [Int] = []

            func append(_ node: Node, isContainer: Bool = true) {
                let index = nodes.count
                nodes.append(node)
                if let parent = node.parent { nodes[parent].children.append(index) }
                if isContainer { stack.append(index) }
            }
        }
        let builder = Builder()
        var visitor = hogmail_html_visitor(
            context: Unmanaged.passUnretained(builder).toOpaque(),
            start_element: { context, name, attributes, line in
                let builder = Unmanaged<Builder>.fromOpaque(context!).takeUnretainedValue()
                var pairs: [String: String] = [:]
                var index = 0
                while let key = attributes?[index] {
                    pairs[String(cString: key).lowercased()] = attributes?[index + 1].map { String(cString: $0) } ?? ""
                    index += 2
                }
                let node = Node(kind: .element, name: String(cString: name!).lowercased(), attributes: pairs, text: "",
                                children: [], parent: builder.stack.last, line: Int(line))
                builder.append(node)
            },
            end_element: { context in
                _ = Unmanaged<Builder>.fromOpaque(context!).takeUnretainedValue().stack.popLast()
            },
            text: { context, text, line in
                let builder = Unmanaged<Builder>.fromOpaque(context!).takeUnretainedValue()
                let node = Node(kind: .text, name: "", attributes: [:], text: String(cString: text!), children: [],
                                parent: builder.stack.last, line: Int(line))
                builder.append(node, isContainer: false)
            })
        let status = html.withCString { pointer in
            withUnsafePointer(to: &visitor) { hogmail_html_walk(pointer, strlen(pointer), $0) }
        }
        nodes = builder.nodes
        isComplete = status == 0
    }

    public func elements(named name: String) -> [Int] {
        nodes.indices.filter { nodes[$0].kind == .element && nodes[$0].name == name }
    }

    public var allElements: [Int] { nodes.indices.filter { nodes[$0].kind == .element } }

    /// The text a reader sees inside a node, whitespace collapsed.
    public func textContent(_ index: Int) -> String {
        var parts: [String] = []
        // Depth-first with a stack of its own, children in order: no recursion, however deep the HTML.
        var pending = [index]
        while let i = pending.popLast() {
            let node = nodes[i]
            if node.kind == .text { parts.append(node.text) } else { pending += node.children.reversed() }
        }
        return parts.joined().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The node and its ancestors, nearest first.
    public func lineage(_ index: Int) -> [Int] {
        var result = [index]
        var current = nodes[index].parent
        while let parent = current {
            result.append(parent)
            current = nodes[parent].parent
        }
        return result
    }

    /// The declarations of an element's `style` attribute, property names lower-cased.
    public func style(_ index: Int) -> [String: String] {
        CSS.declarations(nodes[index].attributes["style"] ?? "")
    }

}

/// Just enough CSS for the rules: inline declarations, lengths and colours.
public enum CSS {
    public static func declarations(_ style: String) -> [String: String] {
        var result: [String: String] = [:]
        for declaration in style.split(separator: ";") {
            guard let colon = declaration.firstIndex(of: ":") else { continue }
            let name = declaration[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            var value = declaration[declaration.index(after: colon)...].trimmingCharacters(in: .whitespaces).lowercased()
            if value.hasSuffix("!important") { value = value.dropLast("!important".count).trimmingCharacters(in: .whitespaces) }
            result[name] = value
        }
        return result
    }

    /// A length in CSS pixels (`12px`, `9pt`, `0`, `1`); nil for relative units.
    public static func pixels(_ value: String) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let number = Double(trimmed) { return number }
        if trimmed.hasSuffix("px"), let number = Double(trimmed.dropLast(2)) { return number }
        if trimmed.hasSuffix("pt"), let number = Double(trimmed.dropLast(2)) { return number * 4 / 3 }
        return nil
    }

    /// An sRGB colour as (r, g, b) in 0...255, or nil for `transparent`, `inherit` or unknown values.
    public static func color(_ value: String) -> (Double, Double, Double)? {
        let text = value.trimmingCharacters(in: .whitespaces).lowercased()
        let named: [String: String] = ["white": "#ffffff", "black": "#000000", "red": "#ff0000", "gray": "#808080",
                                       "grey": "#808080", "silver": "#c0c0c0", "blue": "#0000ff", "yellow": "#ffff00",
                                       "lightgray": "#d3d3d3", "lightgrey": "#d3d3d3", "whitesmoke": "#f5f5f5",
                                       "gainsboro": "#dcdcdc", "darkgray": "#a9a9a9", "navy": "#000080", "green": "#008000"]
        let hex = named[text] ?? text
        if hex.hasPrefix("#") {
            var digits = String(hex.dropFirst())
            if digits.count == 3 { digits = digits.map { "\($0)\($0)" }.joined() }
            guard digits.count == 6, let number = Int(digits, radix: 16) else { return nil }
            return (Double((number >> 16) & 0xFF), Double((number >> 8) & 0xFF), Double(number & 0xFF))
        }
        if text.hasPrefix("rgb") {
            let inner = text.drop { $0 != "(" }.dropFirst().prefix { $0 != ")" }
            let parts = inner.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "/" }).compactMap { Double($0) }
            guard parts.count >= 3 else { return nil }
            if parts.count >= 4 && parts[3] == 0 { return nil }
            return (parts[0], parts[1], parts[2])
        }
        return nil
    }

    /// WCAG 2 contrast ratio between two sRGB colours (1…21).
    public static func contrast(_ a: (Double, Double, Double), _ b: (Double, Double, Double)) -> Double {
        func luminance(_ c: (Double, Double, Double)) -> Double {
            func channel(_ v: Double) -> Double {
                let s = v / 255
                return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * channel(c.0) + 0.7152 * channel(c.1) + 0.0722 * channel(c.2)
        }
        let (l1, l2) = (luminance(a), luminance(b))
        return (max(l1, l2) + 0.05) / (min(l1, l2) + 0.05)
    }
}
