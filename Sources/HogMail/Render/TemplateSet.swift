import Foundation
import Mustache

/// The project's Mustache templates, parsed and checked before anything is rendered:
/// a template that does not parse, or names a partial that does not exist, stops the
/// build with the template's path and line.
public struct TemplateSet: Sendable {
    public static let required = ["email.html", "email.txt", "web.html", "index.html", "feed.xml"]

    private let library: MustacheLibrary
    /// Where each template came from, for messages: a path, or "built-in".
    public let sources: [String: String]
    /// Each template's source and text, for pointing findings at a template line.
    public let texts: [String: (source: String, text: String)]

    /// Loads `*.mustache` under `directory` (recursively; `partials/footer.html.mustache` is the
    /// partial `partials/footer.html`). Templates the project lacks come from `DefaultTemplates`.
    public static func load(directory: URL, displayPrefix: String = "templates") throws -> (TemplateSet, [Warning]) {
        var texts: [String: (text: String, source: String)] = [:]
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        let hasDirectory = manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue
        if hasDirectory, let enumerator = manager.enumerator(atPath: directory.path) {
            for case let relative as String in enumerator where relative.hasSuffix(".mustache") {
                let display = "\(displayPrefix)/\(relative)"
                let data: Data
                do { data = try Data(contentsOf: directory.appendingPathComponent(relative)) } catch {
                    throw HogMailError(file: display, "The template cannot be read: \(error.localizedDescription).")
                }
                texts[String(relative.dropLast(".mustache".count))] = (try TextFile.decode(data, file: display), display)
            }
        }
        var warnings: [Warning] = []
        for (file, text) in DefaultTemplates.files {
            let name = String(file.dropLast(".mustache".count))
            if texts[name] == nil {
                texts[name] = (text, "built-in \(file)")
                if hasDirectory && required.contains(name) {
                    warnings.append(Warning(file: "\(displayPrefix)/\(file)", "this template is missing, so the built-in one is used. Run `hogmail init` in an empty folder to get a copy to edit."))
                }
            }
        }
        return (try TemplateSet(texts: texts), warnings)
    }

    /// Parses and cross-checks templates given by name (`email.html`) → (text, source for messages).
    public init(texts: [String: (text: String, source: String)]) throws {
        var templates: [String: MustacheTemplate] = [:]
        for (name, entry) in texts.sorted(by: { $0.key < $1.key }) {
            do {
                templates[name] = try MustacheTemplate(string: entry.text)
            } catch let error as MustacheTemplate.ParserError {
                throw HogMailError(file: entry.source, line: error.context.lineNumber,
                                   "The template does not parse: \(Self.explain(error.error)) Near: `\(error.context.line.trimmingCharacters(in: .whitespaces))`.")
            }
        }
        // swift-mustache renders a missing partial as nothing; an email without its footer
        // is worse than no email, so a missing partial is an error here.
        for (name, entry) in texts.sorted(by: { $0.key < $1.key }) {
            for (lineNumber, line) in entry.text.components(separatedBy: "\n").enumerated() {
                for partial in Self.partialNames(in: line) where templates[partial] == nil {
                    let available = templates.keys.sorted().map { "`\($0)`" }.joined(separator: ", ")
                    throw HogMailError(file: entry.source, line: lineNumber + 1,
                                       "The template `\(name)` includes the partial `\(partial)`, which does not exist. Create templates/\(partial).mustache or use one of: \(available).")
                }
            }
        }
        self.library = MustacheLibrary(templates: templates)
        self.sources = texts.mapValues(\.source)
        self.texts = texts.mapValues { (source: $0.source, text: $0.text) }
    }

    public func render(_ name: String, _ context: [String: Any]) -> String {
        var output = library.render(context, withTemplate: name) ?? ""
        // A pragma on the first line leaves its newline behind.
        if output.hasPrefix("\n") { output.removeFirst() }
        return output
    }
}

private extension TemplateSet {
    static func partialNames(in line: String) -> [String] {
        var names: [String] = []
        var rest = Substring(line)
        while let range = rest.range(of: #"\{\{[<>]\s*([^}\s]+)\s*\}\}"#, options: .regularExpression) {
            let tag = rest[range].dropFirst(3).dropLast(2).trimmingCharacters(in: .whitespaces)
            names.append(tag)
            rest = rest[range.upperBound...]
        }
        return names
    }

    static func explain(_ error: Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect?: return "a section is closed with a different name than it was opened with ({{#a}} … {{/a}})."
        case .unfinishedName?: return "a tag is not closed with `}}`."
        case .expectedSectionEnd?: return "a section opened with {{#name}} or {{^name}} is never closed with {{/name}}."
        case .invalidSetDelimiter?: return "a set-delimiter tag is malformed."
        default: return "\(error)."
        }
    }
}
