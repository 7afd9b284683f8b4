import Foundation
import Testing

@testable import HogMail

/// Real, honest posts from public blog repositories (Fixtures/posts/SOURCES.tsv names each one's
/// repository, path, commit and licence), dropped into issues/ unchanged: front matter of every
/// generator's kind, MDX components, relative links, code, tables, emoji, utm links, file names
/// as link texts. Each must build with no lint error; their warnings are reviewed in a golden file.
@Suite struct RealPostsTests {
    static let folder = fixtures.appendingPathComponent("posts")

    static func posts() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".md") || $0.hasSuffix(".mdx") }.sorted()
    }

    @Test func thereAreTenOrMorePostsFromSeveralPublishers() throws {
        let sources = try String(contentsOf: Self.folder.appendingPathComponent("SOURCES.tsv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(try Self.posts().count >= 10)
        #expect(Set(sources.map { $0[0] }) == Set(try Self.posts()), "every post has a source line, and every line a post")
        #expect(Set(sources.map { $0[1].split(separator: "/").first.map(String.init) ?? "" }).count >= 6)
    }

    @Test func everyPostBuildsWithNoLintErrorAndItsWarningsAreTheReviewedOnes() throws {
        let project = try TemporaryProject()
        for name in try Self.posts() {
            try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(name), to: project.directory.appendingPathComponent("issues/\(name)"))
        }
        // Their images live beside them in their repositories (`../images/x.webp`); stand-ins
        // (a 1040×520 PNG header, a small SVG) go where the posts look for them.
        for name in try Self.posts() {
            let issue = try DraftParser.parse(contentsOf: Self.folder.appendingPathComponent(name), displayPath: "issues/\(name)")
            for (url, _) in issue.document.imageURLs() where !url.contains(":") && !url.hasPrefix("/") && !url.hasPrefix("#") {
                let target = project.directory.appendingPathComponent("issues").appendingPathComponent(url).standardized
                guard !FileManager.default.fileExists(atPath: target.path) else { continue }
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try (url.hasSuffix(".svg") ? Data(#"<svg xmlns="http://www.w3.org/2000/svg" width="75" height="75"></svg>"#.utf8)
                    : ExampleImages.png(width: 1040, height: 520)).write(to: target)
            }
        }
        let report = try BuildPipeline(options: .init(projectDirectory: project.directory, write: false)).run()
        #expect(report.issues.count == (try Self.posts().count))
        var lines: [String] = []
        for issue in report.issues.sorted(by: { $0.sourcePath < $1.sourcePath }) {
            let errors = issue.lint.findings.filter { $0.severity == .error && !$0.isSilenced }
            #expect(errors.isEmpty, "\(issue.sourcePath): \(errors.map(\.description))")
            lines += issue.lint.findings.map(\.description)
        }
        lines += report.warnings.map(\.description)
        let golden = Self.folder.appendingPathComponent("findings.golden")
        let actual = lines.joined(separator: "\n").replacingOccurrences(of: project.directory.path + "/", with: "") + "\n"
        if ProcessInfo.processInfo.environment["HOGMAIL_UPDATE_GOLDEN"] == "1" { try Data(actual.utf8).write(to: golden) }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(actual == expected, "the findings on the real posts changed; review them, then HOGMAIL_UPDATE_GOLDEN=1 swift test")
    }
}
