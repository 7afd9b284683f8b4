import Foundation

/// An error meant for the person who must fix it: where (file and line), what
/// was wrong, and what to do. `description` is the whole sentence a command prints.
public struct HogMailError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The build step that failed, e.g. "Parsing drafts"; set by the pipeline.
    public var step: String?
    /// The file the problem is in, as the user would type it (relative where possible).
    public var file: String?
    /// 1-based line in `file`, where known.
    public var line: Int?
    /// What is wrong and how to fix it, in full sentences.
    public var message: String

    public init(file: String? = nil, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var location: String? {
        guard let file else { return nil }
        if let line { return "\(file):\(line)" }
        return file
    }

    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}

/// Something worth telling the editor that does not stop the build.
public struct Warning: CustomStringConvertible, Equatable, Sendable {
    public var file: String?
    public var line: Int?
    public var message: String

    public init(file: String? = nil, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (file, line) {
        case let (file?, line?): return "\(file):\(line): warning: \(message)"
        case let (file?, nil): return "\(file): warning: \(message)"
        default: return "warning: \(message)"
        }
    }
}
