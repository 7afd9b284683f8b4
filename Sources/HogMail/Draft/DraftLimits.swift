import Foundation

/// How big and how deep a draft may be. Every command parses every draft (the archive lists
/// them all), so one hostile draft must end in an error that names its line, quickly, and
/// never in a crash, a stack overflow or gigabytes of memory.
public enum DraftLimits {
    /// The whole draft file. A long issue is 30–60 KB of Markdown; Gmail clips the email at ~102 KB.
    public static let draftBytes = 2 * 1024 * 1024
    /// The YAML between the `---` lines. Real front matter is a few hundred bytes.
    public static let frontMatterBytes = 64 * 1024
    /// Lists and block quotes inside each other. Email clients show little past 5 levels.
    public static let containerNesting = 32
    /// Emphasis, links, images and strikethrough inside each other.
    public static let inlineNesting = 32
    /// Raw HTML elements open inside each other in the draft. With the template's tables and
    /// the levels above, this keeps the email well below the 256 levels at which libxml2
    /// (the linter's parser) stops reading, so the footer and its unsubscribe link are seen.
    public static let htmlNesting = 64

    static func sizeMessage(bytes: Int) -> String {
        "The draft is \(bytes.formatted(.byteCount(style: .file))) (\(bytes) bytes); HogMail accepts drafts up to \(draftBytes / 1024 / 1024) MB (\(draftBytes) bytes). An email that size would be clipped by Gmail at about 102 KB anyway: split the issue, or link to long material instead of pasting it."
    }

    static func containerMessage(depth: Int) -> String {
        "lists and quotes are nested \(depth) deep; HogMail accepts at most \(containerNesting) levels (email clients show little past 5). Flatten the nesting."
    }
}

/// A linear pre-scan of the Markdown source for the depth of block quotes (`>`) and list
/// items, before cmark-gfm sees it: deep nesting is what makes Markdown parsers and every
/// tree walk after them slow or crash. It follows CommonMark's container rules closely
/// enough to count honestly (indentation continues a list item, a blank line ends a quote,
/// fenced code is skipped); the exact depth is checked again on cmark's tree.
struct MarkdownNestingScan {
    private enum Container {
        case quote
        /// A list item and the column its content starts at.
        case item(contentColumn: Int)
    }

    struct Deepest: Equatable {
        var line: Int
        var depth: Int
    }

    /// The first line whose depth exceeds `limit`, with that line's depth, or nil.
    static func firstLine(exceeding limit: Int, in text: String) -> Deepest? {
        var scan = MarkdownNestingScan()
        var lineNumber = 0
        var bytes = text.utf8[...]
        while !bytes.isEmpty {
            lineNumber += 1
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            let depth = scan.consume(Array(bytes[bytes.startIndex..<end]))
            if depth > limit { return Deepest(line: lineNumber, depth: depth) }
            bytes = end == bytes.endIndex ? bytes[end...] : bytes[bytes.index(after: end)...]
        }
        return nil
    }

    private var open: [Container] = []
    /// An open fenced code block: its character, length, and how many containers hold it.
    private var fence: Fence?
    private struct Fence {
        var character: UInt8
        var count: Int
        var depth: Int
    }
    /// The previous line was paragraph text, so an unprefixed line may continue it lazily.
    private var inParagraph = false

    /// Reads one line (without its newline) and returns the number of containers around it.
    mutating func consume(_ line: [UInt8]) -> Int {
        var cursor = Cursor(line)
        // Which open containers does this line continue?
        var matched = 0
        for container in open {
            if case .item(let contentColumn) = container {
                if !cursor.restIsBlank {
                    if cursor.firstNonSpaceColumn < contentColumn { break }
                    cursor.moveTo(column: contentColumn)
                }
            } else {
                let save = cursor
                cursor.skipSpaces(upTo: 3)
                if cursor.peek != UInt8(ascii: ">") { cursor = save; break }
                cursor.advance()
                cursor.skipSpaces(upTo: 1)
            }
            matched += 1
        }

        if let openFence = fence {
            if matched >= openFence.depth {
                var rest = cursor
                rest.skipSpaces(upTo: 3)
                let run = rest.run(of: openFence.character)
                if run >= openFence.count, rest.restIsBlankAfter(run) { fence = nil }
                return open.count
            }
            fence = nil
        }

        // New containers this line opens.
        var opened: [Container] = []
        while true {
            let save = cursor
            cursor.skipSpaces(upTo: 3)
            guard let byte = cursor.peek else { cursor = save; break }
            if byte == UInt8(ascii: ">") {
                cursor.advance()
                cursor.skipSpaces(upTo: 1)
                opened.append(.quote)
                continue
            }
            let isRule = cursor.startsThematicBreak()
            guard !isRule, let markerLength = cursor.listMarkerLength() else { cursor = save; break }
            cursor.advance(by: markerLength)
            let markerEnd = cursor.column
            if cursor.restIsBlank {
                opened.append(.item(contentColumn: markerEnd + 1))
                break
            }
            let spaces = cursor.firstNonSpaceColumn - markerEnd
            let contentColumn = (1...4).contains(spaces) ? markerEnd + spaces : markerEnd + 1
            cursor.moveTo(column: contentColumn)
            opened.append(.item(contentColumn: contentColumn))
        }

        if !opened.isEmpty {
            open.removeSubrange(matched...)
            open += opened
        } else if matched < open.count, cursor.restIsBlank || !inParagraph {
            // Unprefixed text right after a paragraph continues it (CommonMark's laziness);
            // a blank line or any other block closes what the line did not continue.
            open.removeSubrange(matched...)
        }

        // A fence opening here: what follows, up to its closing fence, is code.
        var rest = cursor
        rest.skipSpaces(upTo: 3)
        let fenceByte = rest.peek ?? 0
        let fenceRun = fenceByte == UInt8(ascii: "`") || fenceByte == UInt8(ascii: "~") ? rest.run(of: fenceByte) : 0
        if fenceRun >= 3 {
            fence = Fence(character: fenceByte, count: fenceRun, depth: open.count)
            inParagraph = false
        } else {
            inParagraph = !cursor.restIsBlank
        }
        return open.count
    }

    /// A position in a line, in bytes and in columns (a tab advances to the next multiple of 4).
    private struct Cursor {
        let line: [UInt8]
        var index = 0
        var column = 0
        /// Index of the last byte that is not a space, tab or CR; -1 for a blank line.
        private let lastNonBlank: Int
        /// No thematic break starts before this index (a scan found a byte that rules it out),
        /// so a line of ten thousand `- ` markers is read once, not once per marker.
        private var noRuleBefore = 0

        init(_ line: [UInt8]) {
            self.line = line
            lastNonBlank = line.lastIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") } ?? -1
        }

        var peek: UInt8? { index < line.count ? line[index] : nil }

        var restIsBlank: Bool { index > lastNonBlank }

        func restIsBlankAfter(_ count: Int) -> Bool {
            var copy = self
            copy.advance(by: count)
            return copy.restIsBlank
        }

        var firstNonSpaceColumn: Int {
            var copy = self
            copy.skipSpaces(upTo: .max)
            return copy.column
        }

        mutating func advance(by count: Int = 1) {
            for _ in 0..<count where index < line.count {
                column = line[index] == UInt8(ascii: "\t") ? (column / 4 + 1) * 4 : column + 1
                index += 1
            }
        }

        mutating func skipSpaces(upTo limit: Int) {
            let start = column
            while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t"), column - start < limit {
                advance()
            }
        }

        /// Moves over spaces until `target` (a tab counts as the spaces it stands for).
        mutating func moveTo(column target: Int) {
            while column < target, let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
        }

        func run(of byte: UInt8) -> Int {
            var end = index
            for position in index..<line.count {
                if line[position] != byte { break }
                end = position + 1
            }
            return end - index
        }

        /// `-`, `+`, `*`, or 1–9 digits and `.` or `)`, followed by a space, a tab or the line's end.
        func listMarkerLength() -> Int? {
            guard let byte = peek else { return nil }
            var length: Int
            if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "*") {
                length = 1
            } else {
                length = 0
                while index + length < line.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(line[index + length]), length < 10 { length += 1 }
                guard (1...9).contains(length), index + length < line.count,
                      line[index + length] == UInt8(ascii: ".") || line[index + length] == UInt8(ascii: ")") else { return nil }
                length += 1
            }
            guard index + length == line.count || line[index + length] == UInt8(ascii: " ") || line[index + length] == UInt8(ascii: "\t") else { return nil }
            return length
        }

        /// `***`, `- - -`, `___`: a rule, not a list (also a setext heading's underline).
        mutating func startsThematicBreak() -> Bool {
            guard index >= noRuleBefore, let byte = peek,
                  byte == UInt8(ascii: "-") || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "_") else { return false }
            var count = 0
            for position in index..<line.count {
                let other = line[position]
                if other == byte {
                    count += 1
                } else if other == UInt8(ascii: "-") || other == UInt8(ascii: "*") || other == UInt8(ascii: "_") {
                    noRuleBefore = position  // `- * * *`: a rule may still start at the other character
                    return false
                } else if other != UInt8(ascii: " ") && other != UInt8(ascii: "\t") && other != UInt8(ascii: "\r") {
                    noRuleBefore = position + 1
                    return false
                }
            }
            return count >= 3
        }
    }
}
