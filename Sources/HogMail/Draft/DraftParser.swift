import Foundation
import Yams

/// Front matter + Markdown → `Issue`. Accepts what Jekyll, Hugo and blog repositories
/// write, so existing posts build as they are; complains with file, line and fix otherwise.
public enum DraftParser {
    /// Fields HogMail reads; anything else is kept and reported.
    static let knownFields = Set(["title", "subject", "date", "preheader", "description", "issue", "draft", "lint", "author", "deadline"] + dateAliases)
    /// What blog generators call the date when they do not call it `date` (Astro's `pubDate`,
    /// Hugo's `publishDate`, CMS exports' `published_at`, `created_at`…).
    static let dateAliases: [String] = ["pubDate", "publishDate", "published", "published_at", "publishedAt", "created_at", "created"]
    public static let fileExtensions: Set<String> = ["md", "markdown", "mdx"]

    public static func parse(contentsOf url: URL, displayPath: String) throws -> Issue {
        let data: Data
        do {
            // Read one byte past the limit, never the whole of a huge file.
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            data = try handle.read(upToCount: DraftLimits.draftBytes + 1) ?? Data()
        } catch {
            throw HogMailError(file: displayPath, "The draft cannot be read: \(error.localizedDescription).")
        }
        if data.count > DraftLimits.draftBytes {
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? data.count
            throw HogMailError(file: displayPath, DraftLimits.sizeMessage(bytes: size))
        }
        return try parse(data, path: displayPath)
    }

    public static func parse(_ data: Data, path: String) throws -> Issue {
        if data.count > DraftLimits.draftBytes { throw HogMailError(file: path, DraftLimits.sizeMessage(bytes: data.count)) }
        let text = try TextFile.decode(data, file: path)
        let (frontMatterText, body, bodyOffset) = try splitFrontMatter(text, path: path)
        if frontMatterText.utf8.count > DraftLimits.frontMatterBytes {
            throw HogMailError(file: path, line: 1, "The front matter (lines 2–\(bodyOffset - 1)) is \(frontMatterText.utf8.count) bytes; HogMail accepts up to \(DraftLimits.frontMatterBytes / 1024) KB (\(DraftLimits.frontMatterBytes) bytes). Front matter holds the title, date and a few settings: move long text into the Markdown below it.")
        }
        let fields = try YAMLMapping.parse(frontMatterText, file: path, lineOffset: 1)
        var warnings: [Warning] = []

        let fileName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let (fileNumber, slug) = numberAndSlug(fromFileName: fileName)
        let number = try fields.int("issue", at: "issue") ?? fileNumber
        if let number, number < 1 {
            throw HogMailError(file: path, line: fields.lineOf("issue"), "`issue` is \(number); issue numbers start at 1.")
        }

        let title = try fields.string("title", at: "title")?.trimmingCharacters(in: .whitespaces)
        let subject = try fields.string("subject", at: "subject")?.trimmingCharacters(in: .whitespaces)
        guard let subjectLine = [subject, title].compactMap({ $0 }).first(where: { !$0.isEmpty }) else {
            throw HogMailError(file: path, line: 1, "The draft has no `title` (or `subject`). Add `title: Your subject line` to the front matter; it becomes the email's subject.")
        }
        for key in ["title", "subject"] {
            if let value = try fields.string(key, at: key) {
                try checkHeaderSafe(value, path: key, file: path, line: fields.lineOf(key))
            }
        }

        // `date`, else a generator's own name for it, else Jekyll's file name (`2026-01-07-title.md`).
        var dateKey = "date"
        var dateText = try fields.string("date", at: "date")
        for alias in Self.dateAliases where dateText == nil {
            if let value = try fields.string(alias, at: alias) { dateText = value; dateKey = alias }
        }
        if dateText == nil, fileName.range(of: #"^\d{4}-\d{2}-\d{2}-"#, options: .regularExpression) != nil {
            dateText = String(fileName.prefix(10))
            dateKey = ""
        }
        guard let dateText else {
            throw HogMailError(file: path, line: 1, "The draft has no `date`. Add `date: YYYY-MM-DD`, the day it goes out (`hogmail new` picks the next one on the schedule).")
        }
        // `2025/10/01` (some blogs write dates with slashes) is 2025-10-01.
        let dashed = dateText.range(of: #"^\s*\d{4}/\d{2}/\d{2}"#, options: .regularExpression) != nil
            ? dateText.replacingOccurrences(of: "/", with: "-") : dateText
        guard let sendTime = SendTime(parsing: dashed) else {
            throw HogMailError(file: path, line: dateKey.isEmpty ? 1 : fields.lineOf(dateKey), "`\(dateKey.isEmpty ? "date" : dateKey)` is `\(dateText)`, which is not a date (use YYYY-MM-DD, optionally with a time: 2026-01-07T16:00:00+00:00).")
        }

        let isDraft = try fields.bool("draft", at: "draft") ?? false
        let author = try fields.node("author").map { flatten(YAMLMapping.plainValue($0)) }
        let lintAllowances = try parseLintAllowances(fields, path: path)
        let deadline = try fields.string("deadline", at: "deadline").map { text in
            guard let date = CalendarDate(parsing: text) else {
                throw HogMailError(file: path, line: fields.lineOf("deadline"), "`deadline` is `\(text)`, which is not a date (use YYYY-MM-DD: the day the offer really ends).")
            }
            return date
        }

        var extra: [String: String] = [:]
        for (key, line) in fields.unknownKeys(known: knownFields, at: "") {
            extra[key] = flatten(YAMLMapping.plainValue(fields.node(key)!))
            warnings.append(Warning(file: path, line: line, "front matter key `\(key)` is not used by HogMail; it is kept (templates can read it as `{{extra.\(key)}}`)."))
        }

        let (cleanBody, removed) = MDXComponents.strip(body)
        for removal in removed {
            warnings.append(Warning(file: path, line: removal.line + bodyOffset, "`\(removal.name)` is a blog (MDX) component, not email HTML: the tag was dropped, keeping its text (and its link or name, where it had one)."))
        }
        let document: MarkdownDocument
        do { document = try MarkdownDocument.parse(cleanBody) } catch {
            throw HogMailError(file: path, line: bodyOffset + error.line, error.message)
        }
        guard !document.blocks.isEmpty else {
            throw HogMailError(file: path, line: bodyOffset + 1, "The draft has no content below its front matter. Write the issue in Markdown after the closing `---`.")
        }
        if text.unicodeScalars.contains(PersonalizedText.marker) {
            throw HogMailError(file: path, "The draft contains the character U+E000, which HogMail reserves for per-recipient fields. Remove it.")
        }

        let preheaderSource = try fields.string("preheader", at: "preheader") ?? fields.string("description", at: "description")
        let preheader = preheaderSource.map(collapseWhitespace) ?? firstParagraphSummary(document)

        return Issue(
            sourcePath: path, number: number, slug: slug, title: title ?? subjectLine, subject: collapseWhitespace(subjectLine),
            preheader: preheader, sendTime: sendTime, isDraft: isDraft, author: author,
            document: document, bodyLineOffset: bodyOffset, extraFields: extra,
            lintAllowances: lintAllowances, warnings: warnings,
            frontMatterLines: Dictionary(fields.keys.compactMap { key in fields.lineOf(key).map { (key, $0) } }, uniquingKeysWith: { a, _ in a }),
            sourceText: text, deadline: deadline)
    }

    /// `42-hiring` → (42, "hiring"); Jekyll's `2026-01-07-hiring` → (nil, "hiring"); `hiring` → (nil, "hiring").
    static func numberAndSlug(fromFileName name: String) -> (Int?, String) {
        if name.range(of: #"^\d{4}-\d{2}-\d{2}-."#, options: .regularExpression) != nil {
            return (nil, String(name.dropFirst(11)))
        }
        let digits = name.prefix { $0.isASCII && $0.isNumber }
        if !digits.isEmpty, let number = Int(digits) {
            let rest = name.dropFirst(digits.count).drop { $0 == "-" || $0 == "_" }
            return (number, rest.isEmpty ? String(number) : String(rest))
        }
        return (nil, name)
    }
}

private extension DraftParser {
    /// Returns the YAML between the `---` lines, the body, and the body's line offset.
    static func splitFrontMatter(_ text: String, path: String) throws -> (String, String, Int) {
        var lines = text.components(separatedBy: "\n")
        if lines.first?.trimmingCharacters(in: .whitespaces) == "+++" {
            throw HogMailError(file: path, line: 1, "This draft has TOML front matter (`+++`). HogMail reads YAML: change the `+++` lines to `---` and `key = value` to `key: value`.")
        }
        guard lines.first?.trimmingCharacters(in: .whitespaces) == "---" else {
            throw HogMailError(file: path, line: 1, "The draft has no front matter. Start it with a `---` line, then `title:` and `date:`, then another `---` line, then the Markdown.")
        }
        guard let close = lines.indices.dropFirst().first(where: {
            let line = lines[$0].trimmingCharacters(in: .whitespaces)
            return line == "---" || line == "..."
        }) else {
            throw HogMailError(file: path, line: 1, "The front matter opened on line 1 is never closed. Add a line with `---` after the last `key: value` line.")
        }
        let yaml = lines[1..<close].joined(separator: "\n")
        lines.removeFirst(close + 1)
        return (yaml, lines.joined(separator: "\n"), close + 1)
    }

    static func parseLintAllowances(_ fields: YAMLMapping, path: String) throws -> [LintAllowance] {
        guard let lint = try fields.mapping("lint", at: "lint") else { return [] }
        for (key, line) in lint.unknownKeys(known: ["allow"], at: "lint") {
            throw HogMailError(file: path, line: line, "`\(key)` is not a lint setting; use `lint: { allow: { rule_id: \"reason\" } }`.")
        }
        guard let allow = try lint.mapping("allow", at: "lint.allow") else { return [] }
        return try allow.keys.map { rule in
            let line = allow.lineOf(rule) ?? lint.line
            guard let reason = try allow.string(rule, at: "lint.allow.\(rule)"), !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw HogMailError(file: path, line: line, "Silencing `\(rule)` needs a reason: `\(rule): \"why this is fine here\"`. The reason is printed with the finding.")
            }
            return LintAllowance(rule: rule, reason: reason, line: line)
        }
    }

    static func flatten(_ value: Any) -> String {
        switch value {
        case let list as [Any]: return list.map(flatten).joined(separator: ", ")
        case let map as [String: Any]: return map.keys.sorted().map { "\($0): \(flatten(map[$0]!))" }.joined(separator: ", ")
        default: return "\(value)"
        }
    }

    static func collapseWhitespace(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// The first paragraph's words, cut at a word boundary near 140 characters.
    static func firstParagraphSummary(_ document: MarkdownDocument) -> String {
        for block in document.blocks {
            guard case .paragraph(let inlines, _) = block else { continue }
            let text = collapseWhitespace(MarkdownInline.plainText(inlines))
            guard !text.isEmpty else { continue }
            if text.count <= 140 { return text }
            var cut = String(text.prefix(140))
            if let space = cut.lastIndex(of: " ") { cut = String(cut[..<space]) }
            return cut + "…"
        }
        return ""
    }
}
