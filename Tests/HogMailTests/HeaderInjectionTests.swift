import Foundation
import Testing

@testable import HogMail

/// Every value that reaches a header of the built message, given a line break followed by a
/// header of its own: the build refuses it, or the message carries no such header.
@Suite struct HeaderInjectionTests {
    struct Case: Sendable, CustomStringConvertible {
        var field: String
        var inDraft: Bool
        var find: String
        var replace: String
        var description: String { field }
    }

    /// `\r\n` and `\n` (YAML escapes in double quotes) and a NUL, before a header of their own.
    static let cases: [Case] = {
        var cases: [Case] = []
        for payload in [#"\r\nBcc: victim@example.org"#, #"\nBcc: victim@example.org"#, #"\u0000Bcc: victim@example.org"#] {
            cases += [
                Case(field: "draft title \(payload)", inDraft: true, find: "title: Issue one", replace: "title: \"Issue one\(payload)\""),
                Case(field: "draft subject \(payload)", inDraft: true, find: "title: Issue one", replace: "title: Issue one\nsubject: \"Hi\(payload)\""),
                Case(field: "list name \(payload)", inDraft: false, find: "name: My Newsletter ", replace: "name: \"My Newsletter\(payload)\" "),
                Case(field: "list id \(payload)", inDraft: false, find: "id: news.example.com ", replace: "id: \"news.example.com\(payload)\" "),
                Case(field: "from \(payload)", inDraft: false, find: "from: My Newsletter <news@example.com>", replace: "from: \"My Newsletter\(payload) <news@example.com>\""),
                Case(field: "reply-to \(payload)", inDraft: false, find: "reply_to: hello@example.com", replace: "reply_to: \"hello@example.com\(payload)\""),
                Case(field: "public URL \(payload)", inDraft: false, find: "public: https://newsletter.example.com", replace: "public: \"https://newsletter.example.com\(payload)\""),
                Case(field: "site URL \(payload)", inDraft: false, find: "site: https://example.com ", replace: "site: \"https://example.com\(payload)\" "),
                Case(field: "sample recipient \(payload)", inDraft: false, find: "sample_recipient: Sample Reader <reader@example.com>",
                     replace: "sample_recipient: \"Sample Reader\(payload) <reader@example.com>\""),
            ]
        }
        return cases
    }()

    @Test(arguments: cases)
    func aLineBreakNeverReachesAHeader(_ injection: Case) throws {
        let name = injection.field
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-inject-\(UUID().uuidString)")
        _ = try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 1, day: 7)!)
        let configURL = folder.appendingPathComponent("hogmail.yml")
        let draftURL = folder.appendingPathComponent("issues/001-welcome.md")
        var config = try String(contentsOf: configURL, encoding: .utf8)
        var draft = "---\ntitle: Issue one\ndate: 2026-01-07\npreheader: One.\n---\n\nHello, readers.\n"
        let (originalConfig, originalDraft) = (config, draft)
        if injection.inDraft {
            draft = draft.replacingOccurrences(of: injection.find, with: injection.replace)
        } else {
            config = config.replacingOccurrences(of: injection.find, with: injection.replace)
        }
        #expect(config != originalConfig || draft != originalDraft, "\(name): the case changed nothing")
        try Data(config.utf8).write(to: configURL)
        try Data(draft.utf8).write(to: draftURL)
        let report: BuildPipeline.Report
        do {
            report = try BuildPipeline(options: .init(projectDirectory: folder, write: false)).run()
        } catch let error as HogMailError {
            // Refused, with a message that says so.
            #expect(!error.message.isEmpty, "\(name)")
            return
        }
        let eml = String(decoding: report.issues[0].outputs["email.eml"] ?? Data(), as: UTF8.self)
        let headerBlock = eml.components(separatedBy: "\r\n\r\n").first ?? ""
        let names = headerBlock.components(separatedBy: "\r\n").filter { !$0.hasPrefix(" ") }.compactMap { $0.split(separator: ":").first }
        #expect(!names.contains("Bcc"), "\(name): a Bcc header was injected")
        #expect(!headerBlock.unicodeScalars.contains("\0"), "\(name): a NUL reached the headers")
        #expect(!headerBlock.contains("\nBcc"), "\(name)")
    }
}
