import Foundation
import HogMail
import Hummingbird
import HummingbirdTesting
import Testing

@testable import HogMailServer

/// A fresh project from `hogmail init`, and a preview server over it whose test sends are counted.
struct PreviewFixture {
    let project: Project
    let server: PreviewServer
    let draftName: String
    let sends = Counter()

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-preview-\(UUID().uuidString)")
        _ = try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 1, day: 7)!)
        project = Project(directory: folder)
        draftName = try project.draftFiles()[0].url.lastPathComponent
        let sends = self.sends
        var server = PreviewServer(project: project) { issue in
            await sends.increment()
            return "Sent a test of \(issue.folder)."
        }
        // A finished link check changes the page's version, which these tests compare;
        // PreviewLinkTests turns it back on.
        server.checksLinks = false
        self.server = server
    }

    var draftURL: URL { project.issuesDirectory.appendingPathComponent(draftName) }

    func edit(_ transform: (String) -> String) throws {
        let text = try String(contentsOf: draftURL, encoding: .utf8)
        try Data(transform(text).utf8).write(to: draftURL)
    }

    func get(_ client: some TestClientProtocol, _ path: String) async throws -> (HTTPResponse.Status, String, HTTPFields) {
        try await client.execute(uri: path, method: .get) { response in
            (response.status, String(buffer: response.body), response.headers)
        }
    }

    func post(_ client: some TestClientProtocol, _ path: String, _ body: String, script: Bool = true) async throws -> (HTTPResponse.Status, String) {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if script { headers[.init("X-Requested-With")!] = "fetch" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body))
        }
    }

    func live(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await test(client) }
    }
}

actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}

@Suite struct PreviewTests {
    @Test func aHostileDraftBesideTheOthersIsListedAsFailingWhileTheOthersStillPreview() async throws {
        let fixture = try PreviewFixture()
        let hostile = "---\ntitle: Deep\ndate: 2026-01-21\n---\n\n" + String(repeating: "- ", count: 10_000) + "x\n"
        try Data(hostile.utf8).write(to: fixture.project.issuesDirectory.appendingPathComponent("9-deep.md"))
        let summaries = await fixture.server.builder.summaries()
        let deep = try #require(summaries.first { $0.fileName == "9-deep.md" })
        #expect(deep.failure?.line == 6)
        #expect(deep.failure?.message.contains("nested 10000 deep") == true)
        let good = try #require(summaries.first { $0.fileName == fixture.draftName })
        #expect(good.failure == nil)
        try await fixture.live { client in
            let (status, page, _) = try await fixture.get(client, "/drafts/\(fixture.draftName)")
            #expect(status == .ok)
            #expect(page.contains("<pre id=\"text-part\""))
        }
    }

    @Test func theFramedEmailIsByteIdenticalToWhatBuildWrites() async throws {
        let fixture = try PreviewFixture()
        let out = fixture.project.directory.appendingPathComponent("out")
        let report = try BuildPipeline(options: .init(projectDirectory: fixture.project.directory, outputDirectory: out)).run()
        let written = try Data(contentsOf: out.appendingPathComponent("\(report.issues[0].folder)/email.html"))
        try await fixture.live { client in
            try await client.execute(uri: "/drafts/\(fixture.draftName)/email.html", method: .get) { response in
                #expect(response.status == .ok)
                #expect(Data(buffer: response.body) == written)
                // The email runs no script, even if a template were to carry one.
                #expect(response.headers[.init("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            }
        }
    }

    @Test func localImagesShowInThePreviewFromTheProject() async throws {
        let fixture = try PreviewFixture()
        let svg = Data(#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"></svg>"#.utf8)
        // At the project's root, outside issues/ (which the preview watches anyway).
        let image = fixture.project.directory.appendingPathComponent("images/box.svg")
        try FileManager.default.createDirectory(at: image.deletingLastPathComponent(), withIntermediateDirectories: true)
        try svg.write(to: image)
        try fixture.edit { $0 + "\n![A box](../images/box.svg)\n" }
        try await fixture.live { client in
            // The version covers the image from the first build on (else the open page would
            // reload once for nothing), and changes with it.
            let (_, _, pageHeaders) = try await fixture.get(client, "/drafts/\(fixture.draftName)")
            let (_, version, _) = try await fixture.get(client, "/drafts/\(fixture.draftName)/version")
            #expect(pageHeaders[.init("X-Preview-Version")!] == version)
            let (status, email, headers) = try await fixture.get(client, "/drafts/\(fixture.draftName)/email.html")
            #expect(status == .ok)
            let match = try #require(email.firstMatch(of: #/src="(/drafts/[^"]+/images/(box\.[0-9a-f]{12}\.svg))" alt="A box" width="200" height="100"/#))
            #expect(email.ranges(of: "/box.").count == 1, "the public address (not served yet) is replaced")
            #expect(headers[.init("Content-Security-Policy")!]?.contains("img-src 'self'") == true)
            try await client.execute(uri: String(match.output.1), method: .get) { response in
                #expect(response.status == .ok)
                #expect(Data(buffer: response.body) == svg)
                #expect(response.headers[.contentType] == "image/svg+xml")
            }
            let (missing, _, _) = try await fixture.get(client, "/drafts/\(fixture.draftName)/images/other.0123456789ab.svg")
            #expect(missing == .notFound)
            try Data(#"<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100"></svg>"#.utf8)
                .write(to: image)
            let (_, changed, _) = try await fixture.get(client, "/drafts/\(fixture.draftName)/version")
            #expect(changed != version)
        }
    }

    @Test func thePageShowsSubjectTextPartHeadersAndLint() async throws {
        let fixture = try PreviewFixture()
        let subject = try DraftParser.parse(contentsOf: fixture.draftURL, displayPath: fixture.draftName).subject
        try await fixture.live { client in
            let (status, page, headers) = try await fixture.get(client, "/drafts/\(fixture.draftName)")
            #expect(status == .ok)
            #expect(page.contains("<strong id=\"subject\">\(HTML.escapeAttribute(subject))</strong>"))
            #expect(page.contains("<pre id=\"text-part\""))
            #expect(page.contains("<th scope=\"row\">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>"))
            #expect(page.contains("id=\"lint-summary\""))
            #expect(page.contains("sandbox=\"allow-same-origin"))
            #expect(headers[.init("X-Preview-Version")!] != nil)
        }
    }

    @Test func thePageLoadsNothingFromElsewhere() async throws {
        let fixture = try PreviewFixture()
        try await fixture.live { client in
            let (_, page, headers) = try await fixture.get(client, "/drafts/\(fixture.draftName)")
            let references = try Regex(#"(?:src|href|action)="([^"]*)""#)
            for match in page.matches(of: references) {
                let value = String(match.output[1].substring ?? "")
                #expect(value.hasPrefix("/") && !value.hasPrefix("//"), "the page refers to \(value)")
            }
            #expect(headers[.init("Content-Security-Policy")!]?.contains("script-src 'self'") == true)
        }
    }

    @Test func aBrokenDraftShowsItsErrorAndFixingItBringsThePreviewBack() async throws {
        let fixture = try PreviewFixture()
        let original = try String(contentsOf: fixture.draftURL, encoding: .utf8)
        try await fixture.live { client in
            let before = try await fixture.get(client, "/drafts/\(fixture.draftName)/version").1
            try fixture.edit { $0.replacingOccurrences(of: "title: ", with: "title: [") }
            #expect(try await fixture.get(client, "/drafts/\(fixture.draftName)/version").1 != before)
            let (status, panels, _) = try await fixture.get(client, "/drafts/\(fixture.draftName)/panels")
            #expect(status == .ok)
            #expect(panels.contains("role=\"alert\""))
            #expect(panels.contains("This draft does not build"))
            #expect(panels.contains("issues/\(fixture.draftName):"))
            #expect(try await fixture.get(client, "/drafts/\(fixture.draftName)/email.html").0 == .unprocessableContent)

            try Data(original.utf8).write(to: fixture.draftURL)
            let fixed = try await fixture.get(client, "/drafts/\(fixture.draftName)/panels").1
            #expect(!fixed.contains("role=\"alert\""))
            #expect(fixed.contains("id=\"subject\""))
        }
    }

    @Test func templatesAndConfigurationChangeTheVersion() async throws {
        let fixture = try PreviewFixture()
        let first = await fixture.server.builder.version()
        let template = fixture.project.templatesDirectory.appendingPathComponent("email.html.mustache")
        try Data((try String(contentsOf: template, encoding: .utf8) + "\n").utf8).write(to: template)
        let second = await fixture.server.builder.version()
        #expect(second != first)
        let config = fixture.project.directory.appendingPathComponent("hogmail.yml")
        try Data((try String(contentsOf: config, encoding: .utf8) + "\n# edited\n").utf8).write(to: config)
        #expect(await fixture.server.builder.version() != second)
    }

    @Test func theListPutsBrokenDraftsFirstThenNewest() async throws {
        let fixture = try PreviewFixture()
        let text = try String(contentsOf: fixture.draftURL, encoding: .utf8)
        let dated = { (date: String) in text.replacingOccurrences(of: #"date: \d{4}-\d{2}-\d{2}"#, with: "date: \(date)", options: .regularExpression) }
        try Data(dated("2026-01-01").utf8).write(to: fixture.project.issuesDirectory.appendingPathComponent("002-older.md"))
        try Data(dated("2026-03-04").utf8).write(to: fixture.project.issuesDirectory.appendingPathComponent("003-newer.md"))
        try Data("---\ntitle: [broken\n---\n".utf8).write(to: fixture.project.issuesDirectory.appendingPathComponent("004-broken.md"))
        let names = await fixture.server.builder.summaries().map(\.fileName)
        #expect(names.first == "004-broken.md")
        #expect(names.firstIndex(of: "003-newer.md")! < names.firstIndex(of: "002-older.md")!)
        try await fixture.live { client in
            let page = try await fixture.get(client, "/").1
            #expect(page.contains("does not build"))
            #expect(page.contains("href=\"/drafts/003-newer.md\""))
        }
    }

    @Test func unknownDraftsAndPathsOutsideIssuesAreNotFound() async throws {
        let fixture = try PreviewFixture()
        try await fixture.live { client in
            let unknown = try await fixture.get(client, "/drafts/999-nothing.md").0
            let outside = try await fixture.get(client, "/drafts/..%2Fhogmail.yml/email.html").0
            #expect(unknown == .notFound)
            #expect(outside == .notFound)
        }
    }

    @Test func aTestSendNeedsThePagesTokenAndAsksBeforeARepeat() async throws {
        let fixture = try PreviewFixture()
        let path = "/drafts/\(fixture.draftName)/test-send"
        try await fixture.live { client in
            #expect(try await fixture.post(client, path, "csrf=forged").0 == .forbidden)
            #expect(await fixture.sends.value == 0)
            let token = fixture.server.csrf
            let first = try await fixture.post(client, path, "csrf=\(token)")
            #expect(first.0 == .ok)
            #expect(first.1.contains("Sent a test"))
            let repeated = try await fixture.post(client, path, "csrf=\(token)")
            #expect(repeated.0 == .conflict)
            #expect(repeated.1.contains("Send it again?"))
            #expect(await fixture.sends.value == 1)
            #expect(try await fixture.post(client, path, "csrf=\(token)&again=1").0 == .ok)
            #expect(await fixture.sends.value == 2)
            // Without the page's script, the answer is a whole page with a way back.
            let plain = try await fixture.post(client, path, "csrf=\(token)&again=1", script: false)
            #expect(plain.1.contains("<!DOCTYPE html>") && plain.1.contains("Back to the preview"))
        }
    }

    @Test func aDraftWithLintErrorsIsNotSentAsATest() async throws {
        let fixture = try PreviewFixture()
        try fixture.edit { $0 + "\nHurry, act now: only 3 seats left!\n" }
        try await fixture.live { client in
            let answer = try await fixture.post(client, "/drafts/\(fixture.draftName)/test-send", "csrf=\(fixture.server.csrf)")
            #expect(answer.0 == .unprocessableContent)
            #expect(answer.1.contains("linter found errors"))
            #expect(await fixture.sends.value == 0)
        }
    }

    @Test func headersAreReadUnfolded() {
        let headers = PreviewPages.headers(of: "Subject: a\r\n b\r\nTo: x@example.com\r\n\r\nBody: no\r\n")
        #expect(headers == [.init(name: "Subject", value: "a b"), .init(name: "To", value: "x@example.com")])
    }
}
