import Foundation
import Testing

@testable import HogMail

@Suite struct TemplateTests {
    func defaults(replacing name: String, with text: String) -> [String: (text: String, source: String)] {
        var texts: [String: (text: String, source: String)] = [:]
        for (file, body) in DefaultTemplates.files {
            let key = String(file.dropLast(".mustache".count))
            texts[key] = (body, "templates/\(file)")
        }
        texts[name] = (text, "templates/\(name).mustache")
        return texts
    }

    /// The generator (Plugins/EmbedResources) compiled in every template of templates/, byte for byte.
    @Test func everyRepositoryTemplateIsCompiledIn() throws {
        let folder = repositoryRoot.appendingPathComponent("templates")
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") }.sorted()
        #expect(DefaultTemplates.files.map(\.name) == onDisk)
        for (file, text) in DefaultTemplates.files {
            #expect(try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8) == text, "templates/\(file)")
        }
    }

    /// Likewise the lint word lists of Sources/HogMail/Lint/Data.
    @Test func everyLintWordListIsCompiledIn() throws {
        let folder = repositoryRoot.appendingPathComponent("Sources/HogMail/Lint/Data")
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".txt") || $0.hasSuffix(".dat") }.sorted()
        #expect(EmbeddedResources.lintData.keys.sorted() == onDisk)
        for name in onDisk {
            #expect(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) == EmbeddedResources.lintData[name], "\(name)")
        }
        #expect(!WordLists.bundled.urgency.isEmpty && !WordLists.bundled.trackerHosts.isEmpty)
    }

    @Test func templateThatDoesNotParseNamesPathAndLine() {
        do {
            _ = try TemplateSet(texts: defaults(replacing: "web.html", with: "<p>\n{{#items}}\n<li>{{name}}</li>\n"))
            Issue.record("expected an error")
        } catch let error as HogMailError {
            #expect(error.file == "templates/web.html.mustache")
            #expect(error.line != nil)
            #expect(error.message.contains("never closed"))
        } catch { Issue.record("\(error)") }
    }

    @Test func missingPartialNamesPathAndLine() {
        do {
            _ = try TemplateSet(texts: defaults(replacing: "email.html", with: "<html lang=\"en\">\n<body>\n{{> partials/fotter.html}}\n</body>"))
            Issue.record("expected an error")
        } catch let error as HogMailError {
            #expect(error.file == "templates/email.html.mustache")
            #expect(error.line == 3)
            #expect(error.message.contains("`partials/fotter.html`, which does not exist"))
        } catch { Issue.record("\(error)") }
    }

    @Test func emailTemplateWithoutUnsubscribeLinkIsRefused() throws {
        let project = try TemporaryProject(drafts: ["1-a.md": draft("Body")])
        try project.write("<html lang=\"en\"><body>{{{content}}}</body></html>", to: "templates/email.html.mustache")
        let error = project.buildError()
        #expect(error?.step == "Linting")
        #expect(error?.message.contains("[unsubscribe_link_html]") == true)
        #expect(!project.exists("out"))
    }

    @Test func projectTemplateOverridesTheBuiltInOne() throws {
        let project = try TemporaryProject(drafts: ["1-a.md": draft("Body")])
        try project.write("{{% CONTENT_TYPE: TEXT}}\n{{title}} by {{extra.team}}\n{{body}}\nLeave: {{unsubscribe_url}}\n{{postal_address}}\n", to: "templates/email.txt.mustache")
        try project.write(draft("Body", frontMatter: "team: the hogs\n"), to: "issues/1-a.md")
        try project.build()
        #expect(try project.read("out/1/email.txt") == "Hello by the hogs\nBody\nLeave: https://newsletter.example.com/unsubscribe?token=sample\n2261 Market Street #4008, San Francisco, CA 94114, USA\n")
    }
}

@Suite struct PublicSuffixListTests {
    @Test func theShippedCopyParsesAndKnowsTheCommonSuffixes() {
        let list = PublicSuffixList.bundled
        #expect(list.count > 9_000)
        #expect(list.publicSuffix(of: "news.example.co.uk") == "co.uk")
        #expect(list.publicSuffix(of: "example.com") == "com")
        #expect(list.publicSuffix(of: "foo.github.io") == "github.io")
        #expect(list.publicSuffix(of: "executesql.ts") == nil)
        #expect(list.isRegistrableHost("example.com") && !list.isRegistrableHost("com"))
    }
}
