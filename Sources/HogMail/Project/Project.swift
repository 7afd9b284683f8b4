import Foundation

/// A HogMail project on disk: `hogmail.yml`, `templates/`, `issues/`.
public struct Project: Sendable {
    public var directory: URL

    public init(directory: URL) { self.directory = directory.standardizedFileURL }

    public var issuesDirectory: URL { directory.appendingPathComponent("issues") }
    public var templatesDirectory: URL { directory.appendingPathComponent("templates") }

    public struct DraftFile: Sendable {
        public var url: URL
        /// The path as the editor would type it, for messages.
        public var display: String

        public init(url: URL, display: String) {
            self.url = url
            self.display = display
        }
    }

    public func configuration() throws -> (Configuration, [Warning]) {
        try Configuration.load(fromDirectory: directory, displayPath: display(directory.appendingPathComponent(Configuration.fileName)))
    }

    /// The subscriber store's file: `store.path` as given when absolute, else inside the project.
    public func storePath(_ configuration: Configuration) -> String {
        configuration.storePath.hasPrefix("/") ? configuration.storePath : directory.appendingPathComponent(configuration.storePath).path
    }

    /// Every draft in `issues/`, in file-name order.
    public func draftFiles() throws -> [DraftFile] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: issuesDirectory.path) } catch {
            throw HogMailError(file: display(issuesDirectory), "There is no issues/ folder in the project. Create it, or write a first draft with `hogmail new`.")
        }
        return names.filter { DraftParser.fileExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) && !$0.hasPrefix(".") }
            .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
            .map { DraftFile(url: issuesDirectory.appendingPathComponent($0), display: display(issuesDirectory.appendingPathComponent($0))) }
    }

    /// A draft named on the command line: a path (relative to the working folder) or an issue number.
    public func draftFile(forArgument argument: String) throws -> DraftFile {
        if let number = Int(argument) {
            let matches = try draftFiles().filter { DraftParser.numberAndSlug(fromFileName: $0.url.deletingPathExtension().lastPathComponent).0 == number }
            guard let match = matches.first else {
                throw HogMailError("There is no draft for issue \(number) in issues/. `ls issues/` shows the drafts there.")
            }
            return match
        }
        let url = URL(fileURLWithPath: argument, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw HogMailError(file: argument, "There is no such draft. Give the path of a Markdown file (like issues/3-title.md) or an issue number.")
        }
        return DraftFile(url: url, display: argument)
    }

    /// A path relative to the working folder where it is inside it, else absolute.
    public func display(_ url: URL) -> String {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
        let path = url.standardizedFileURL.path
        if path.hasPrefix(cwd + "/") { return String(path.dropFirst(cwd.count + 1)) }
        return path
    }
}
