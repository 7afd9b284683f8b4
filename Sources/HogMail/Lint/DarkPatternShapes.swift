import Foundation

/// The shapes of manipulative sentences (`Lint/Data/shapes.txt`): per kind of dark pattern,
/// regular expressions over a sentence built from vocabulary groups — a countdown, an offer
/// ending soon, a count of items left, a person somewhere who just bought, a first-person "no"
/// tied to a loss. They generalise where phrase lists cannot; `hogmail rules` and the corpus
/// test (`Fixtures/phrases/`) measure them.
public struct DarkPatternShapes: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case urgency, scarcity, highDemand = "high_demand", fakeActivity = "fake_activity", confirmshaming
    }

    public struct Shape: Sendable {
        public var kind: Kind
        public var name: String
        /// As written in shapes.txt, with its `@group` names.
        public var pattern: String
        /// Sentences it matches, and sentences no shape of its kind matches: its documentation
        /// (`hogmail rules`) and its tests.
        public var triggering: [String] = []
        public var quiet: [String] = []
        let expression: NSRegularExpression
    }

    public struct Match: Sendable, Equatable {
        public var kind: Kind
        /// Which shape matched, for `--explain`.
        public var shape: String
        /// The words that matched, as written.
        public var text: String
    }

    public let shapes: [Shape]

    public static let bundled = try! DarkPatternShapes(EmbeddedResources.lintData["shapes.txt"] ?? "")

    public init(_ text: String) throws {
        var groups: [String: String] = [:]
        var shapes: [Shape] = []
        // Lines by Character: "\r\n" is one newline Character, so a file saved with CRLF reads the same.
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("+ ") || line.hasPrefix("- ") {
                guard !shapes.isEmpty else {
                    throw HogMailError(file: "Lint/Data/shapes.txt", line: number + 1, "An example line (`+ …` or `- …`) must follow a shape line.")
                }
                let example = String(line.unicodeScalars.dropFirst(2))
                if line.hasPrefix("+") { shapes[shapes.count - 1].triggering.append(example) } else { shapes[shapes.count - 1].quiet.append(example) }
                continue
            }
            if line.hasPrefix("@"), let equals = line.firstIndex(of: "=") {
                groups[line[line.index(after: line.startIndex)..<equals].trimmingCharacters(in: .whitespaces)] =
                    line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                continue
            }
            let parts = line.split(separator: "|", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 3, let kind = Kind(rawValue: parts[0]) else {
                throw HogMailError(file: "Lint/Data/shapes.txt", line: number + 1, "A shape line is `KIND | name | pattern` with KIND one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            let written = parts[2]
            let pattern: String
            do {
                pattern = try Self.expand(written, groups: groups)
            } catch {
                throw HogMailError(file: "Lint/Data/shapes.txt", line: number + 1, "\(error)")
            }
            do {
                shapes.append(Shape(kind: kind, name: parts[1], pattern: written, expression: try NSRegularExpression(pattern: pattern)))
            } catch {
                throw HogMailError(file: "Lint/Data/shapes.txt", line: number + 1, "The pattern of `\(parts[1])` is not a valid regular expression: \(error.localizedDescription).")
            }
        }
        self.shapes = shapes
    }

    /// A pattern with each `@group` replaced by `(?:its pattern)`, in one pass over the bytes:
    /// at an `@`, the longest group name that follows is taken (`@buyer` before `@buy`); an `@`
    /// followed by no group's name stays as it is. Groups may name groups, up to eight deep.
    static func expand(_ pattern: String, groups: [String: String]) throws -> String {
        let names = groups.keys.sorted { $0.utf8.count > $1.utf8.count }.map { (name: Array($0.utf8), value: Array(groups[$0]!.utf8)) }
        func expand(_ pattern: [UInt8], depth: Int, into out: inout [UInt8]) throws {
            var index = 0
            while index < pattern.count {
                let byte = pattern[index]
                index += 1
                guard byte == UInt8(ascii: "@"),
                      let group = names.first(where: { pattern[index...].starts(with: $0.name) }) else {
                    out.append(byte)
                    continue
                }
                guard depth < 8 else {
                    throw HogMailError("The group `@\(String(decoding: group.name, as: UTF8.self))` is named more than eight groups deep; a group probably names itself.")
                }
                out += "(?:".utf8
                try expand(group.value, depth: depth + 1, into: &out)
                out.append(UInt8(ascii: ")"))
                index += group.name.count
            }
        }
        var out: [UInt8] = []
        try expand(Array(pattern.utf8), depth: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Lower-cased, with curly quotes straightened: the form the shapes are written for.
    static func normalize(_ sentence: String) -> String {
        sentence.lowercased().straighteningQuotes()
    }

    /// Every shape (of the given kinds) that matches one sentence.
    public func matches(inSentence sentence: String, kinds: Set<Kind> = Set(Kind.allCases)) -> [Match] {
        // The text part's reference list (`[12] https://…`) and bare addresses are no sentences.
        if sentence.hasPrefix("["), let close = sentence.firstIndex(of: "]"), sentence[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("http") {
            return []
        }
        if sentence.hasPrefix("http"), !sentence.contains(" ") { return [] }
        let text = Self.normalize(sentence)
        let range = NSRange(location: 0, length: text.utf16.count)
        return shapes.compactMap { shape in
            guard kinds.contains(shape.kind) else { return nil }
            guard let found = shape.expression.firstMatch(in: text, range: range), let matched = Range(found.range, in: text) else { return nil }
            return Match(kind: shape.kind, shape: shape.name, text: String(text[matched]).trimmingCharacters(in: .whitespaces))
        }
    }

    /// The sentences of a text: split after `.`, `!`, `?` and `…` followed by a space, at blank
    /// lines, and before a line that starts a list item, a quote or a heading. Other line breaks
    /// are spaces: the text part is wrapped at 78 columns, and a sentence must not be cut where
    /// the wrap falls (`no` at the end of one line, `"last chance"` at the start of the next).
    public static func sentences(_ text: String) -> [String] {
        var paragraphs: [String] = []
        var current = ""
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let startsBlock = trimmed.isEmpty || trimmed.hasPrefix("- ") || trimmed.hasPrefix("* ") || trimmed.hasPrefix("+ ")
                || trimmed.hasPrefix(">") || trimmed.hasPrefix("#") || startsOrderedItem(trimmed)
            if startsBlock, !current.isEmpty { paragraphs.append(current); current = "" }
            if !trimmed.isEmpty { current += (current.isEmpty ? "" : " ") + trimmed }
        }
        if !current.isEmpty { paragraphs.append(current) }
        var result: [String] = []
        for paragraph in paragraphs {
            var sentence = ""
            var previous: Character?
            for character in paragraph {
                if character == " ", let previous, ".!?…".contains(previous) {
                    if !sentence.isEmpty { result.append(sentence) }
                    sentence = ""
                } else {
                    sentence.append(character)
                }
                previous = character
            }
            if !sentence.isEmpty { result.append(sentence) }
        }
        return result.flatMap(Self.windows)
    }

    /// `12. ` or `3) `: ASCII digits (as CommonMark has them), then `.` or `)`, then a space.
    static func startsOrderedItem<S: StringProtocol>(_ line: S) -> Bool {
        let bytes = Array(line.utf8.prefix(12))
        let digits = bytes.prefix { (48...57).contains($0) }.count
        guard digits > 0, digits + 1 < bytes.count else { return false }
        return (bytes[digits] == UInt8(ascii: ".") || bytes[digits] == UInt8(ascii: ")")) && bytes[digits + 1] == UInt8(ascii: " ")
    }

    /// A manipulative sentence is short; a "sentence" of a megabyte (a draft of links with no
    /// full stop) is cut into pieces of about 400 characters at spaces, so matching stays linear.
    static let longestSentence = 500

    static func windows(_ sentence: String) -> [String] {
        guard sentence.utf8.count > longestSentence else { return [sentence] }
        var pieces: [String] = []
        var current = ""
        for word in sentence.split(separator: " ", omittingEmptySubsequences: true) {
            if current.utf8.count + word.utf8.count > 400, !current.isEmpty {
                pieces.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word.prefix(400)
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The rule that reports a kind.
    public static func rule(for kind: Kind) -> String {
        switch kind {
        case .urgency: return "false_urgency"
        case .scarcity, .highDemand: return "false_scarcity"
        case .fakeActivity: return "fake_activity"
        case .confirmshaming: return "confirmshaming"
        }
    }

    /// Every match in a longer text, sentence by sentence.
    public func matches(in text: String) -> [Match] {
        Self.sentences(text).flatMap { matches(inSentence: $0) }
    }
}
