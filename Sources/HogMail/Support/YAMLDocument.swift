import Foundation
import Yams

/// Typed reading of a YAML mapping that remembers where each value came from,
/// so every complaint can name the file and the line.
struct YAMLMapping {
    let file: String
    /// Line of the mapping itself (the key that holds it), for "missing key" errors.
    let line: Int
    /// Keys that were read; the rest are reported as unknown.
    private(set) var pairs: [(key: String, keyLine: Int, value: Node)]
    /// Added to every line: front matter starts below the file's first line.
    let lineOffset: Int

    /// Parses `text`; an empty document is an empty mapping.
    static func parse(_ text: String, file: String, lineOffset: Int = 0) throws -> YAMLMapping {
        // Before Yams composes anything: an alias used as a key is hashed in full while composing,
        // so "billion laughs" must be stopped in the text.
        if let problem = YAMLSafetyScan.firstProblem(in: text) {
            throw HogMailError(file: file, line: problem.line + lineOffset, problem.message)
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw HogMailError(file: file, line: Self.line(of: error).map { $0 + lineOffset },
                               "The YAML does not parse: \(Self.problem(of: error)). Check the indentation and quoting on this line (a value with `: ` or `#` in it needs quotes).")
        } catch {
            throw HogMailError(file: file, "The YAML does not parse: \(error).")
        }
        guard let node else { return YAMLMapping(file: file, line: 1 + lineOffset, pairs: [], lineOffset: lineOffset) }
        guard case .mapping(let mapping) = node else {
            throw HogMailError(file: file, line: node.mark.map { $0.line + lineOffset },
                               "Expected `key: value` lines at the top level, found a \(Self.kind(of: node)).")
        }
        return try YAMLMapping(mapping: mapping, file: file, line: 1 + lineOffset, lineOffset: lineOffset)
    }

    init(mapping: Node.Mapping, file: String, line: Int, lineOffset: Int) throws {
        self.file = file
        self.line = line
        self.lineOffset = lineOffset
        var pairs: [(String, Int, Node)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            let keyLine = (key.mark?.line ?? 0) + lineOffset
            guard let name = key.scalar?.string else {
                throw HogMailError(file: file, line: keyLine, "A key must be a plain word, not a \(Self.kind(of: key)).")
            }
            if !seen.insert(name).inserted {
                throw HogMailError(file: file, line: keyLine, "The key `\(name)` appears twice; keep one of them.")
            }
            pairs.append((name, keyLine, value))
        }
        self.pairs = pairs.map { (key: $0.0, keyLine: $0.1, value: $0.2) }
    }

    private init(file: String, line: Int, pairs: [(key: String, keyLine: Int, value: Node)], lineOffset: Int) {
        self.file = file
        self.line = line
        self.pairs = pairs
        self.lineOffset = lineOffset
    }

    var keys: [String] { pairs.map(\.key) }

    func lineOf(_ key: String) -> Int? { pairs.first { $0.key == key }?.keyLine }

    func node(_ key: String) -> Node? { pairs.first { $0.key == key }?.value }

    func has(_ key: String) -> Bool { node(key) != nil }

    /// A string value; numbers and booleans are read as written. Null counts as absent.
    func string(_ key: String, at path: String) throws -> String? {
        guard let node = node(key) else { return nil }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain && (scalar.string == "~" || scalar.string == "null" || scalar.string.isEmpty) { return nil }
            return scalar.string
        default:
            throw HogMailError(file: file, line: lineOf(key),
                               "`\(path)` must be a single value, but it is a \(Self.kind(of: node)).")
        }
    }

    func requiredString(_ key: String, at path: String, fix: String) throws -> String {
        guard let value = try string(key, at: path), !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw HogMailError(file: file, line: lineOf(key) ?? line, "`\(path)` is missing. \(fix)")
        }
        return value
    }

    func bool(_ key: String, at path: String) throws -> Bool? {
        guard let text = try string(key, at: path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            throw HogMailError(file: file, line: lineOf(key), "`\(path)` is `\(text)`, which is not true or false.")
        }
    }

    func int(_ key: String, at path: String) throws -> Int? {
        guard let text = try string(key, at: path) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw HogMailError(file: file, line: lineOf(key), "`\(path)` is `\(text)`, which is not a whole number.")
        }
        return value
    }

    func stringList(_ key: String, at path: String) throws -> [String]? {
        guard let node = node(key) else { return nil }
        switch node {
        case .sequence(let sequence):
            return try sequence.map { item in
                guard let value = item.scalar?.string else {
                    throw HogMailError(file: file, line: item.mark.map { $0.line + lineOffset } ?? lineOf(key),
                                       "Each entry of `\(path)` must be a single value.")
                }
                return value
            }
        case .scalar(let scalar):
            if scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return [] }
            return [scalar.string]
        default:
            throw HogMailError(file: file, line: lineOf(key), "`\(path)` must be a list, like `[a, b]`.")
        }
    }

    func mapping(_ key: String, at path: String) throws -> YAMLMapping? {
        guard let node = node(key) else { return nil }
        switch node {
        case .mapping(let mapping):
            return try YAMLMapping(mapping: mapping, file: file, line: lineOf(key) ?? line, lineOffset: lineOffset)
        case .scalar(let scalar) where scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null":
            return YAMLMapping(file: file, line: lineOf(key) ?? line, pairs: [], lineOffset: lineOffset)
        default:
            throw HogMailError(file: file, line: lineOf(key), "`\(path)` must be a group of `key: value` lines, but it is a \(Self.kind(of: node)).")
        }
    }

    /// Warnings for keys the reader did not expect.
    func unknownKeys(known: Set<String>, at prefix: String) -> [(key: String, line: Int)] {
        pairs.filter { !known.contains($0.key) }.map { (key: prefix.isEmpty ? $0.key : "\(prefix).\($0.key)", line: $0.keyLine) }
    }

    /// Plain Swift values (String, Int, Bool, Double, arrays, dictionaries) for keeping unknown fields.
    static func plainValue(_ node: Node) -> Any {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if let int = Int(scalar.string) { return int }
                if ["true", "false"].contains(scalar.string) { return scalar.string == "true" }
            }
            return scalar.string
        case .sequence(let sequence): return sequence.map(plainValue)
        case .mapping(let mapping):
            var result: [String: Any] = [:]
            for (key, value) in mapping { result[key.scalar?.string ?? "\(key)"] = plainValue(value) }
            return result
        case .alias: return ""
        }
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "single value"
        case .sequence: return "list"
        case .mapping: return "group of keys"
        case .alias: return "alias"
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .reader(let problem, _, _, _):
            return problem
        default:
            return "\(error)"
        }
    }
}

/// A linear scan of YAML text for what would make composing it explode: aliases (`*name`,
/// which repeat what an anchor holds; nine lines of them make a billion values) and flow
/// collections (`[`, `{`) and block collections nested past any honest use (Yams composes,
/// and HogMail reads, a value with one level of recursion per level). Quoted values, comments and block
/// scalars (`|`, `>`) are stepped over, so an asterisk in text is never mistaken for an alias.
enum YAMLSafetyScan {
    static let flowNesting = 32
    /// Indentation levels, `- ` and `key: ` on one line, and `[`/`{` together.
    static let nesting = 64

    struct Problem: Equatable {
        var line: Int
        var message: String
    }

    static func firstProblem(in text: String) -> Problem? {
        var quote: UInt8?
        var flowDepth = 0
        /// Inside a block scalar: lines indented more than this belong to it.
        var blockScalarParent: Int?
        var lineNumber = 0
        /// The indentation of the block collections the current line is inside.
        var indents: [Int] = []
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Array(line)
            let indent = bytes.prefix { $0 == UInt8(ascii: " ") }.count
            if let parent = blockScalarParent {
                if indent > parent || bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }) { continue }
                blockScalarParent = nil
            }
            var nodeStart = quote == nil
            var index = 0
            var compact = 0
            let isBlank = bytes.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
            if quote == nil, flowDepth == 0, !isBlank, bytes[indent] != UInt8(ascii: "#") {
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            scanning: while index < bytes.count {
                let byte = bytes[index]
                if let open = quote {
                    if byte == UInt8(ascii: "\\") && open == UInt8(ascii: "\"") { index += 2; continue }
                    if byte == open {
                        if open == UInt8(ascii: "'"), index + 1 < bytes.count, bytes[index + 1] == open { index += 2; continue }
                        quote = nil
                    }
                    index += 1
                    continue
                }
                let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
                let nextIsBlank = next == nil || next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\r")
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1; continue }
                if byte == UInt8(ascii: "#"), index == 0 || bytes[index - 1] == UInt8(ascii: " ") || bytes[index - 1] == UInt8(ascii: "\t") { break }
                if nodeStart {
                    switch byte {
                    case UInt8(ascii: "*"):
                        let name = String(decoding: bytes[(index + 1)...].prefix { ![UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}")].contains($0) }, as: UTF8.self)
                        return Problem(line: lineNumber, message: "This YAML uses the alias `*\(name)`, and HogMail does not expand aliases: a few lines of them can grow into gigabytes (\"billion laughs\"). Write the value out in full, or quote it (`\"*\(name)\"`) if it is text.")
                    case UInt8(ascii: "\""), UInt8(ascii: "'"):
                        quote = byte
                        nodeStart = false
                    case UInt8(ascii: "|"), UInt8(ascii: ">") where flowDepth == 0:
                        blockScalarParent = indent
                        break scanning
                    case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":") where nextIsBlank:
                        compact += 1
                    case UInt8(ascii: "["), UInt8(ascii: "{"):
                        flowDepth += 1
                    case UInt8(ascii: "&"), UInt8(ascii: "!"):
                        // An anchor or a tag: the node itself follows.
                        while index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: " ") { index += 1 }
                    case UInt8(ascii: "]"), UInt8(ascii: "}"):
                        flowDepth = max(0, flowDepth - 1)
                        nodeStart = false
                    default:
                        nodeStart = false
                    }
                } else if byte == UInt8(ascii: ":"), nextIsBlank || (flowDepth > 0 && [UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}")].contains(next!)) {
                    nodeStart = true
                    compact += 1
                } else if flowDepth > 0 {
                    switch byte {
                    case UInt8(ascii: ","): nodeStart = true
                    case UInt8(ascii: "["), UInt8(ascii: "{"): flowDepth += 1; nodeStart = true
                    case UInt8(ascii: "]"), UInt8(ascii: "}"): flowDepth -= 1
                    default: break
                    }
                }
                if flowDepth > flowNesting {
                    return Problem(line: lineNumber, message: "This YAML nests `[` and `{` more than \(flowNesting) deep; HogMail accepts at most \(flowNesting) levels. Flatten the value.")
                }
                if indents.count + compact + flowDepth > nesting {
                    return Problem(line: lineNumber, message: "This YAML nests lists and groups of keys more than \(nesting) deep; HogMail accepts at most \(nesting) levels. Flatten the value.")
                }
                index += 1
            }
        }
        return nil
    }
}
