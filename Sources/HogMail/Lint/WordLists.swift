import Foundation

/// The data files in Lint/Data, loaded once: phrase lists and host lists with notes.
public struct WordLists: Sendable {
    public struct Entry: Sendable, Equatable {
        public var value: String
        public var note: String
    }

    public var urgency: [Entry]
    public var confirmshaming: [Entry]
    public var trackerHosts: [Entry]
    public var shortenerHosts: [Entry]
    public var countdownHosts: [Entry]
    public var redirectParameters: [Entry]

    public static let bundled: WordLists = {
        // Compiled into the binary from Lint/Data by the EmbedResources plugin.
        func load(_ name: String) -> [Entry] {
            guard let text = EmbeddedResources.lintData["\(name).txt"] else {
                preconditionFailure("Lint/Data/\(name).txt was not embedded; the EmbedResources plugin embeds every .txt file there.")
            }
            return parse(text)
        }
        return WordLists(urgency: load("urgency"), confirmshaming: load("confirmshaming"), trackerHosts: load("tracker-hosts"), shortenerHosts: load("shortener-hosts"),
                         countdownHosts: load("countdown-hosts"), redirectParameters: load("redirect-parameters"))
    }()

    static func parse(_ text: String) -> [Entry] {
        text.components(separatedBy: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            let parts = trimmed.split(separator: "|", maxSplits: 1)
            return Entry(value: parts[0].trimmingCharacters(in: .whitespaces),
                         note: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
    }
}

/// Phrase matching that is case-insensitive and tolerant of punctuation, curly quotes and numbers.
public enum PhraseMatcher {
    static let numberWords: Set<String> = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                           "eleven", "twelve", "twenty", "fifty", "hundred"]
    /// Words that turn a phrase into its opposite: "no hurry", "not urgent", "don't panic".
    static let negations: Set<String> = ["no", "not", "never", "without", "isn't", "isnt", "aren't", "nothing"]

    /// Lower-cased words; numbers become `{n}`.
    public static func tokens(_ text: String) -> [String] { words(text).map(\.normalized) }

    /// Each word as matched (`{n}` for numbers) and as written.
    static func words(_ text: String) -> [(normalized: String, original: String)] {
        var words: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) || scalar == "'" || scalar == "\u{2019}" || scalar == "\u{2018}" {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words.compactMap { word in
            let original = word.trimmingCharacters(in: CharacterSet(charactersIn: "'\u{2019}\u{2018}"))
            let folded = original.lowercased().straighteningQuotes()
            guard !folded.isEmpty else { return nil }
            if folded.allSatisfy({ $0.isNumber }) || numberWords.contains(folded) { return ("{n}", original) }
            return (folded, original)
        }
    }

    public struct Match: Sendable {
        public var entry: WordLists.Entry
        /// The words as the text has them: "only 3 seats left".
        public var text: String
    }

    /// The entries of `list` found in `text`, unless a negation stands just before them.
    public static func matches(in text: String, list: [WordLists.Entry]) -> [Match] {
        let words = words(text)
        return list.compactMap { entry in
            // nil stands for `*`, any one word.
            var parts: [String?] = []
            for word in entry.value.split(separator: " ") {
                if word == "*" { parts.append(nil) } else if word == "{n}" { parts.append("{n}") } else { parts += tokens(String(word)).map { $0 } }
            }
            guard !parts.isEmpty, words.count >= parts.count else { return nil }
            for start in 0...(words.count - parts.count) {
                let fits = parts.enumerated().allSatisfy { offset, part in part == nil || words[start + offset].normalized == part }
                if !fits { continue }
                let before = words[max(0, start - 2)..<start].map(\.normalized)
                if before.contains(where: negations.contains) || (before.count == 2 && before[0] == "in" && before[1] == "a") { continue }
                return Match(entry: entry, text: words[start..<(start + parts.count)].map(\.original).joined(separator: " "))
            }
            return nil
        }
    }
}
