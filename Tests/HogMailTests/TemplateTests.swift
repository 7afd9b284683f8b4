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

    @Test func repositoryTemplatesMatchTheBuiltInOnes() throws {
        for (file, text) in DefaultTemplates.files {
            let onDisk = try String(contentsOf: repositoryRoot.appendingPathComponent("templates/\(file)"), encoding: .utf8)
            #expect(onDisk == text, "templates/\(file) differs from DefaultTemplates; run `hogmail init` in an empty folder and copy its templates/")
        }
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
