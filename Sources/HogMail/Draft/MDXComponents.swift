import Foundation

/// Blog repositories embed MDX/JSX components (`<SignupForm />`, `<Caption>…</Caption>`,
/// `import X from "…"`). They are not email HTML: the tags are dropped, their text kept,
/// and each removal reported. Line numbers stay put: a removed tag leaves its newlines.
enum MDXComponents {
    struct Removal: Equatable {
        var line: Int
        var name: String
    }

    static func strip(_ markdown: String) -> (text: String, removed: [Removal]) {
        let scalars = Array(markdown.unicodeScalars)
        var output = String.UnicodeScalarView()
        var removed: [Removal] = []
        var index = 0
        var line = 1
        var atLineStart = true
        var fence: (character: Unicode.Scalar, count: Int)?
        // A tag that ran into a blank line or the end without closing: any `<` before that point
        // would run into it too, so `<A <A <A …` is read once, not once per `<` (quadratic).
        var noTagBefore = 0

        func emit(_ scalar: Unicode.Scalar) {
            output.append(scalar)
            if scalar == "\n" { line += 1; atLineStart = true } else { atLineStart = false }
        }

        while index < scalars.count {
            if atLineStart {
                let lineEnd = scalars[index...].firstIndex(of: "\n") ?? scalars.count
                let content = String(String.UnicodeScalarView(scalars[index..<lineEnd]))
                let trimmed = content.drop { $0 == " " }
                // Fenced code is copied as it is.
                if let marker = trimmed.first, marker == "`" || marker == "~" {
                    let run = trimmed.prefix { $0 == marker }.count
                    if run >= 3 {
                        if let open = fence {
                            if open.character == marker.unicodeScalars.first!, run >= open.count,
                               trimmed.dropFirst(run).allSatisfy({ $0 == " " }) { fence = nil }
                        } else {
                            fence = (marker.unicodeScalars.first!, run)
                        }
                        copyLine(scalars, &index, lineEnd, emit)
                        continue
                    }
                }
                if fence != nil || content.hasPrefix("    ") || content.hasPrefix("\t") {
                    copyLine(scalars, &index, lineEnd, emit)
                    continue
                }
                // MDX module lines: `import X from "y"` and `export const …`.
                if content.range(of: #"^(import\s+[\w{}*,\s]+\s+from\s+['"][^'"]+['"];?|import\s+['"][^'"]+['"];?|export\s+(const|default|function|let)\b.*)\s*$"#,
                                 options: .regularExpression) != nil {
                    removed.append(Removal(line: line, name: "\(content.prefix { $0 != " " }) …"))
                    index = lineEnd
                    if index < scalars.count { emit("\n"); index += 1 }
                    continue
                }
            }
            let scalar = scalars[index]
            if scalar == "`" {
                // Inline code span: copy through to its closing run of the same length.
                var run = 0
                while index + run < scalars.count, scalars[index + run] == "`" { run += 1 }
                var search = index + run
                var closing: Int?
                while search < scalars.count {
                    if scalars[search] == "`" {
                        var other = 0
                        while search + other < scalars.count, scalars[search + other] == "`" { other += 1 }
                        if other == run { closing = search; break }
                        search += other
                    } else {
                        if scalars[search] == "\n", search + 1 < scalars.count, scalars[search + 1] == "\n" { break }
                        search += 1
                    }
                }
                let end = closing.map { $0 + run } ?? index + run
                for position in index..<end { emit(scalars[position]) }
                index = end
                continue
            }
            // An MDX comment, `{/* … */}` (heading anchors such as `{/*intro*/}`): dropped, its
            // line breaks kept so later lines keep their numbers.
            if scalar == "{", index + 2 < scalars.count, scalars[index + 1] == "/", scalars[index + 2] == "*" {
                var search = index + 3
                var end: Int?
                while search + 2 < scalars.count {
                    if scalars[search] == "*", scalars[search + 1] == "/", scalars[search + 2] == "}" { end = search + 3; break }
                    if scalars[search] == "\n", scalars[search + 1] == "\n" { break }
                    search += 1
                }
                if let end {
                    for position in index..<end where scalars[position] == "\n" { emit("\n") }
                    index = end
                    continue
                }
            }
            if scalar == "<", index >= noTagBefore, let tag = componentTag(scalars, at: index, failedAt: &noTagBefore) {
                let source = String(String.UnicodeScalarView(scalars[index..<tag.end]))
                if !source.hasPrefix("</") { removed.append(Removal(line: line, name: tag.name)) }
                                for replacementScalar in replacement(forTag: source, name: tag.name).unicodeScalars { emit(replacementScalar) }
                for position in index..<tag.end where scalars[position] == "\n" { emit("\n") }
                index = tag.end
                continue
            }
            emit(scalar)
            index += 1
        }
        return (String(output), removed)
    }

    /// What a component leaves behind: a link component (`<Link to="/x">`) becomes an HTML
    /// link, so its text still goes somewhere; a self-closing component with a `name`
    /// (`<TeamMember name="Ada" photo />`) leaves the name, so the sentence still reads.
    static func replacement(forTag tag: String, name: String) -> String {
        func attribute(_ names: [String]) -> String? {
            for attributeName in names {
                let pattern = #"\s"# + attributeName + #"\s*=\s*(?:"([^"]*)"|'([^']*)')"#
                guard let range = tag.range(of: pattern, options: .regularExpression) else { continue }
                let match = tag[range]
                guard let equals = match.firstIndex(of: "=") else { continue }
                let value = match[match.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                return String(value.dropFirst().dropLast())
            }
            return nil
        }
        let closing = tag.hasPrefix("</")
        let selfClosing = tag.hasSuffix("/>")
        if name == "Link" || name == "Anchor" || name == "ExternalLink" {
            if closing { return "</a>" }
            if !selfClosing, let target = attribute(["to", "href"]) {
                return "<a href=\"\(HTML.escapeAttribute(target))\">"
            }
        }
        if selfClosing, let text = attribute(["name", "title", "label"]) { return HTML.escape(text) }
        return ""
    }

    private static func copyLine(_ scalars: [Unicode.Scalar], _ index: inout Int, _ lineEnd: Int, _ emit: (Unicode.Scalar) -> Void) {
        while index < lineEnd { emit(scalars[index]); index += 1 }
        if index < scalars.count { emit(scalars[index]); index += 1 }
    }

    /// A JSX tag: `<Name …>`, `<Name … />`, `</Name>`, `<>`/`</>`; an uppercase first
    /// letter tells a component from an HTML element. Attribute values may hold `{…}`
    /// expressions, quotes and newlines.
    private static func componentTag(_ s: [Unicode.Scalar], at start: Int, failedAt noTagBefore: inout Int) -> (name: String, end: Int)? {
        var i = start + 1
        if i < s.count, s[i] == "/" { i += 1 }
        if i < s.count, s[i] == ">" { return ("fragment", i + 1) }
        guard i < s.count, s[i].properties.isUppercase, s[i].isASCII else { return nil }
        var name = ""
        while i < s.count, s[i].properties.isAlphabetic || s[i].properties.numericType != nil || s[i] == "." || s[i] == "_" {
            name.unicodeScalars.append(s[i]); i += 1
        }
        guard i < s.count, [" ", "\n", "\t", "/", ">"].contains(s[i]) else { return nil }
        var depth = 0
        var quote: Unicode.Scalar?
        while i < s.count {
            let c = s[i]
            if let open = quote {
                if c == open { quote = nil }
            } else if c == "\"" || c == "'" || (depth > 0 && c == "`") {
                quote = c
            } else if c == "{" {
                depth += 1
            } else if c == "}" {
                depth = max(0, depth - 1)
            } else if c == ">" && depth == 0 {
                return (name, i + 1)
            } else if c == "\n", i + 1 < s.count, s[i + 1] == "\n", depth == 0 {
                noTagBefore = i
                return nil  // a blank line inside a tag: not a tag after all
            }
            i += 1
        }
        noTagBefore = s.count
        return nil
    }
}
