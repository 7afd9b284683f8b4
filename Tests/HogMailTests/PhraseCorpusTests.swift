import Foundation
import Testing

@testable import HogMail

/// The phrase lists against real phrasing: manipulative lines seen in marketing email
/// must be caught, and honest newsletters must pass without a dark-pattern error.
@Suite struct PhraseCorpusTests {
    static func corpus(_ name: String) throws -> [String] {
        try String(contentsOf: fixtures.appendingPathComponent("phrases/\(name).txt"), encoding: .utf8)
            .components(separatedBy: "\n").filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    func flagged(_ line: String) -> Bool {
        let lists = WordLists.bundled
        return !PhraseMatcher.matches(in: line, list: lists.urgency).isEmpty
            || !PhraseMatcher.matches(in: line, list: lists.confirmshaming).isEmpty
    }

    @Test func manipulativePhrasesAreCaught() throws {
        let lines = try Self.corpus("manipulative")
        let missed = lines.filter { !flagged($0) }
        let rate = Double(lines.count - missed.count) / Double(lines.count)
        #expect(lines.count >= 40)
        #expect(rate >= 0.9, "caught \(Int(rate * 100))%; missed: \(missed)")
    }

    @Test func honestSentencesAreNotFlagged() throws {
        let lines = try Self.corpus("honest")
        let flaggedLines = lines.filter(flagged)
        #expect(lines.count >= 40)
        #expect(flaggedLines.isEmpty, "false positives: \(flaggedLines)")
    }

    @Test func honestNewslettersHaveNoDarkPatternOrPrivacyError() throws {
        let project = try TemporaryProject(copySampleIssues: true)
        let posts = fixtures.appendingPathComponent("blog-posts")
        for name in try FileManager.default.contentsOfDirectory(atPath: posts.path) {
            try FileManager.default.copyItem(at: posts.appendingPathComponent(name), to: project.directory.appendingPathComponent("issues/\(name)"))
        }
        let report = try BuildPipeline(options: .init(projectDirectory: project.directory, write: false)).run()
        let kinds: [String: RuleKind] = Dictionary(uniqueKeysWithValues: Linter.descriptions.map { ($0.identifier, $0.kind) })
        let wolves = report.issues.flatMap(\.lint.findings).filter { $0.severity == .error || kinds[$0.rule] == .darkPatterns || kinds[$0.rule] == .privacy }
        #expect(report.issues.count == 5)
        #expect(wolves.isEmpty, "\(wolves.map(\.description))")
    }

    @Test func matchingIgnoresCasePunctuationAndNumbers() {
        let lists = WordLists.bundled.urgency
        #expect(!PhraseMatcher.matches(in: "ONLY 7 SEATS LEFT!!!", list: lists).isEmpty)
        #expect(!PhraseMatcher.matches(in: "Only three spots are left…", list: lists).isEmpty)
        #expect(!PhraseMatcher.matches(in: "Don’t miss out", list: lists).isEmpty)
        #expect(PhraseMatcher.matches(in: "There is no hurry.", list: lists).isEmpty)
    }
}
