import Foundation
import Testing

@testable import HogMail

/// The repository root: the sample project the tests build.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A throwaway project folder: the sample hogmail.yml (or a given one) and drafts.
struct TemporaryProject {
    let directory: URL

    init(configuration: String? = nil, drafts: [String: String] = [:], copySampleIssues: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-test-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(at: directory.appendingPathComponent("issues"), withIntermediateDirectories: true)
        let config = try configuration ?? String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8)
        try config.write(to: directory.appendingPathComponent("hogmail.yml"), atomically: true, encoding: .utf8)
        if copySampleIssues {
            for name in try manager.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("issues").path) {
                try manager.copyItem(at: repositoryRoot.appendingPathComponent("issues/\(name)"),
                                     to: directory.appendingPathComponent("issues/\(name)"))
            }
        }
        for (name, text) in drafts { try write(text, to: "issues/\(name)") }
    }

    func write(_ text: String, to relative: String) throws {
        let url = directory.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(relative), encoding: .utf8)
    }

    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(relative).path)
    }

    @discardableResult
    func build(_ drafts: [String] = [], out: URL? = nil) throws -> BuildPipeline.Report {
        try BuildPipeline(options: .init(projectDirectory: directory, drafts: drafts, outputDirectory: out)).run()
    }

    /// The error a build fails with; records a test failure if it succeeds.
    func buildError(_ drafts: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) -> HogMailError? {
        do {
            try build(drafts)
            Issue.record("the build succeeded, but it should have failed", sourceLocation: sourceLocation)
            return nil
        } catch let error as HogMailError {
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
}

/// A draft with the given body and extra front matter lines.
func draft(_ body: String, title: String = "Hello", date: String = "2026-01-07", frontMatter: String = "") -> String {
    "---\ntitle: \(title)\ndate: \(date)\n\(frontMatter)---\n\n\(body)\n"
}

let sampleConfiguration: Configuration = try! Configuration.parse(
    String(contentsOf: repositoryRoot.appendingPathComponent("hogmail.yml"), encoding: .utf8), file: "hogmail.yml").0

/// Decodes quoted-printable, for checking that encoding round-trips.
func decodeQuotedPrintable(_ encoded: String) -> String {
    var bytes: [UInt8] = []
    let lines = encoded.components(separatedBy: "\r\n")
    for (index, line) in lines.enumerated() {
        var chars = Array(line.utf8)
        var soft = false
        if chars.last == UInt8(ascii: "=") { soft = true; chars.removeLast() }
        var i = 0
        while i < chars.count {
            if chars[i] == UInt8(ascii: "="), i + 2 < chars.count + 0, let value = UInt8(String(decoding: chars[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value); i += 3
            } else {
                bytes.append(chars[i]); i += 1
            }
        }
        if !soft && index < lines.count - 1 { bytes.append(10) }
    }
    return String(decoding: bytes, as: UTF8.self)
}
