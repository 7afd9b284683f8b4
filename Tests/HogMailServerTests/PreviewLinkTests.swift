import Foundation
import HogMail
import HogMailDelivery
import Hummingbird
import HummingbirdTesting
import Testing

@testable import HogMailServer

/// Tests/servers/link_server.py, for the preview's links panel and add-a-link form.
final class PreviewLinkServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("servers/link_server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
            kill(process.processIdentifier, SIGKILL)
            throw HogMailError("The link test server did not start. It said: \(String(decoding: line, as: UTF8.self))")
        }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
}

@Suite struct PreviewLinkTests {
    let links: PreviewLinkServer
    let fixture: PreviewFixture
    let server: PreviewServer

    init() throws {
        links = try PreviewLinkServer()
        fixture = try PreviewFixture()
        var server = fixture.server
        var options = LinkCheckOptions(allowPrivate: true)
        options.timeout = 20
        server.linkCheckOptions = options
        server.checksLinks = true
        self.server = server
    }

    func live(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await test(client) }
    }

    @Test func linkStatesArriveInTheBackgroundWithoutHoldingThePage() async throws {
        try fixture.edit { $0 + "\n- [slow](\(links.url("/slow/a?s=3")))\n- [gone](\(links.url("/404")))\n" }
        let path = "/drafts/\(fixture.draftName)"
        try await live { client in
            // The page comes back while the slow link is still being asked (it answers after 3 s):
            // proved by its state, not by a clock that a busy test run would stretch.
            let (status, first, headers) = try await fixture.get(client, path + "/panels")
            #expect(status == .ok)
            #expect(first.contains("<span class=\"sev checking\">checking…</span> \(links.url("/slow/a?s=3"))"))
            #expect(first.contains("<span class=\"sev checking\">checking…</span> \(links.url("/404"))"))
            let version = headers[.init("X-Preview-Version")!]
            // The page polls its version; a finished check changes it.
            var later = ""
            for _ in 0..<300 {
                try await Task.sleep(for: .milliseconds(100))
                let current = try await fixture.get(client, path + "/version").1
                if current != version {
                    later = try await fixture.get(client, path + "/panels").1
                    if !later.contains("checking…") { break }
                }
            }
            #expect(later.contains("<span class=\"sev error\">dead (404 Not Found)</span> \(links.url("/404"))"), "\(later)")
            #expect(later.contains("<span class=\"sev ok\">ok</span> \(links.url("/slow/a?s=3"))"))
            #expect(later.contains("id=\"links-summary\">4 links:"))
        }
    }

    @Test func theAddALinkFormIsGuardedLikeTheTestSend() async throws {
        let path = "/drafts/\(fixture.draftName)/links"
        let url = links.url("/og")
        try await live { client in
            let forged = try await fixture.post(client, path, "csrf=forged&url=\(url)")
            #expect(forged.0 == .forbidden)
            #expect(!(try String(contentsOf: fixture.draftURL, encoding: .utf8)).contains(url))

            let added = try await fixture.post(client, path, "csrf=\(server.csrf)&url=\(url)&take=Good%20one")
            #expect(added.0 == .ok, "\(added.1)")
            #expect(added.1.contains("Added to \(fixture.draftName), line"))
            #expect(try String(contentsOf: fixture.draftURL, encoding: .utf8).contains("- [The \"real\" headline](\(url)) – Good one\n"))

            let again = try await fixture.post(client, path, "csrf=\(server.csrf)&url=\(url)")
            #expect(again.0 == .unprocessableContent && again.1.contains("already"))
        }
    }

    @Test func theBookmarkletPageFillsInTheFormAndTheFormAddsTheLink() async throws {
        let url = links.url("/og")
        let before = try String(contentsOf: fixture.draftURL, encoding: .utf8)
        try await live { client in
            let encoded = url.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let (status, page, _) = try await fixture.get(client, "/links/add?url=\(encoded)")
            #expect(status == .ok)
            #expect(page.contains("action=\"/links/add\""))
            #expect(page.contains("value=\"\(url)\""))
            #expect(page.contains("name=\"csrf\" value=\"\(server.csrf)\""))
            #expect(try fixture.project.draftFiles().count == 1, "opening the page adds nothing")
            let added = try await fixture.post(client, "/links/add", "csrf=\(server.csrf)&url=\(encoded)", script: false)
            #expect(added.0 == .ok && added.1.contains("Back to the preview"), "\(added.1)")
        }
        // Issue 1's date (2026-01-07) has passed, so the next draft is a new one.
        #expect(before == (try String(contentsOf: fixture.draftURL, encoding: .utf8)))
        let drafts = try fixture.project.draftFiles()
        #expect(drafts.count == 2)
        #expect(try String(contentsOf: drafts[1].url, encoding: .utf8).hasSuffix("## Good reads\n\n- [The \"real\" headline](\(url))\n"))
    }
}
