import Crypto
import Foundation
import HogMail

/// What the preview shows for one draft: the build's own output, or why there is none.
public enum DraftPreview: Sendable {
    case built(BuildPipeline.BuiltIssue, warnings: [Warning])
    case failed(HogMailError)
}

/// One line of the preview's list of drafts.
public struct DraftSummary: Sendable {
    public var fileName: String
    public var title: String
    public var date: String?
    public var isDraft: Bool
    public var errors: Int
    public var warnings: Int
    /// Set when the draft does not build.
    public var failure: HogMailError?
}

/// Builds drafts for the preview with `hogmail build`'s own pipeline (nothing written), and
/// remembers the result until a file of the project changes.
public actor PreviewBuilder {
    public let project: Project
    private var cache: [String: (version: String, preview: DraftPreview)] = [:]
    /// Images of the project that built drafts show: a change to one is a change to the project.
    private var imageSources: Set<String> = []

    public init(project: Project) {
        self.project = project
    }

    /// Changes whenever `hogmail.yml`, a template or a draft changes (by content, not by date:
    /// an editor that saves twice within a clock tick still counts).
    public func version() -> String {
        var hasher = SHA256()
        let manager = FileManager.default
        var files = [project.directory.appendingPathComponent(Configuration.fileName)]
        files += imageSources.map { project.directory.appendingPathComponent($0) }
        for folder in [project.templatesDirectory, project.issuesDirectory] {
            guard let walker = manager.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { continue }
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                files.append(url)
            }
        }
        for url in files.sorted(by: { $0.path < $1.path }) {
            hasher.update(data: Data(url.path.utf8))
            hasher.update(data: Data([0]))
            hasher.update(data: (try? Data(contentsOf: url)) ?? Data("missing".utf8))
            hasher.update(data: Data([0]))
        }
        return Array(hasher.finalize().prefix(12)).hexString
    }

    /// `urls.public` as hogmail.yml says now.
    public func publicBase() -> String? {
        try? project.configuration().0.urls.publicBase
    }

    /// The draft file in `issues/` with this name, or an error that says what exists.
    public func draftURL(named name: String) throws -> URL {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."),
              let file = try project.draftFiles().first(where: { $0.url.lastPathComponent == name }) else {
            throw HogMailError(file: "issues/\(name)", "There is no draft with this name in issues/. The list of drafts is at the preview's start page.")
        }
        return file.url
    }

    /// The preview of one draft, built anew only when the project changed.
    public func preview(of name: String) -> (version: String, preview: DraftPreview) {
        preview(of: name, at: version())
    }

    /// The preview at a version already read (the list of drafts reads the project once).
    func preview(of name: String, at version: String) -> (version: String, preview: DraftPreview) {
        if let cached = cache[name], cached.version == version { return cached }
        var version = version
        let knownImages = imageSources
        let preview: DraftPreview
        do {
            let url = try draftURL(named: name)
            let report = try BuildPipeline(options: .init(projectDirectory: project.directory, drafts: [project.display(url)], write: false)).run()
            guard let issue = report.issues.first else { throw HogMailError(file: name, "The draft built nothing.") }
            preview = .built(issue, warnings: report.warnings)
            imageSources.formUnion(issue.localImageSources)
        } catch let error as HogMailError {
            preview = .failed(error)
        } catch {
            preview = .failed(HogMailError(file: name, "The draft could not be built: \(error)."))
        }
        // An image of the project seen for the first time is part of the version from now on:
        // the version read before the build did not cover it, and would not match the next one.
        if imageSources != knownImages { version = self.version() }
        cache[name] = (version, preview)
        return (version, preview)
    }

    /// Every draft in `issues/`, newest first; drafts that do not build come first of all.
    public func summaries() -> [DraftSummary] {
        let files: [Project.DraftFile]
        do { files = try project.draftFiles() } catch { return [] }
        let version = version()
        let summaries = files.map { file -> DraftSummary in
            let name = file.url.lastPathComponent
            switch preview(of: name, at: version).preview {
            case .built(let issue, _):
                return DraftSummary(fileName: name, title: issue.subject, date: issue.issue.sendTime.date.description,
                                    isDraft: issue.isDraft, errors: issue.lint.errorCount, warnings: issue.lint.warningCount)
            case .failed(let error):
                return DraftSummary(fileName: name, title: name, date: nil, isDraft: true, errors: 0, warnings: 0, failure: error)
            }
        }
        return summaries.sorted { a, b in
            if (a.failure != nil) != (b.failure != nil) { return a.failure != nil }
            if a.date != b.date { return (a.date ?? "") > (b.date ?? "") }
            return a.fileName > b.fileName
        }
    }
}
