import Foundation
import HogMail
import Testing

@testable import HogMailDelivery

/// `hogmail links …` and the send gate through the real binary, against the link test server.
@Suite struct LinkCommandTests {
    let server: LinkTestServer
    init() throws { server = try LinkTestServer() }

    func run(_ arguments: [String], in folder: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = KillResumeTests.binary
        process.arguments = arguments + ["--project", folder.path]
        process.currentDirectoryURL = folder
        process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// A subscriber, and hogmail.yml letting the checker reach the test server on loopback.
    func fixture(body: String) throws -> SendFixture {
        let fixture = try SendFixture(body: body)
        try fixture.confirmed("reader@example.com")
        let file = fixture.folder.appendingPathComponent("hogmail.yml")
        try Data((try String(contentsOf: file, encoding: .utf8) + "\nlinks:\n  allow_private: true\n").utf8).write(to: file)
        return fixture
    }

    func outbox(_ fixture: SendFixture) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: fixture.folder.appendingPathComponent("outbox").path)) ?? []
    }

    @Test func sendRefusesADeadLinkAndGoesOnOnlyWhenAllowed() throws {
        let fixture = try fixture(body: "Read [this](\(server.url("/404"))) and [that](\(server.url("/utf8"))).")
        let refused = try run(["send", "1", "--yes"], in: fixture.folder)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("issues/001-welcome.md:7: dead (404 Not Found) \(server.url("/404")) (404 Not Found)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Nothing was sent: a link of this issue is dead"))
        #expect(!refused.stderr.contains("/utf8"))
        #expect(outbox(fixture).isEmpty)

        let sent = try run(["send", "1", "--yes", "--allow-dead-links"], in: fixture.folder)
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(sent.stderr.contains("\(server.url("/404")) (404 Not Found) — sent anyway (--allow-dead-links)"))
        #expect(outbox(fixture).count == 1)
    }

    @Test func withCheckBeforeSendOffTheLinksAreNotAsked() async throws {
        let fixture = try fixture(body: "Read [this](\(server.url("/404"))).")
        let file = fixture.folder.appendingPathComponent("hogmail.yml")
        try Data((try String(contentsOf: file, encoding: .utf8) + "  check_before_send: false\n").utf8).write(to: file)
        let sent = try run(["send", "1", "--yes"], in: fixture.folder)
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(outbox(fixture).count == 1)
        #expect(try await server.stats().requests.isEmpty)
    }

    @Test func offlineTheSendSaysItIsTheNetwork() throws {
        let fixture = try fixture(body: "Read [this](https://no-such-host.invalid/post).")
        let refused = try run(["send", "1", "--yes"], in: fixture.folder)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("dead (DNS failure) https://no-such-host.invalid/post"))
        #expect(refused.stderr.contains("this machine looks offline (a network failure, not dead links)"), "\(refused.stderr)")
    }

    @Test func linksCheckPrintsEachLinkAndTheSendUsesItsCache() async throws {
        let fixture = try fixture(body: "Read [this](\(server.url("/utf8"))) and [moved](\(server.url("/308"))).")
        let checked = try run(["links", "check", "1"], in: fixture.folder)
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stdout == """
            issues/001-welcome.md:7: ok \(server.url("/utf8")) (200)
            issues/001-welcome.md:7: moved permanently \(server.url("/308")) (308 to \(server.url("/utf8")); `hogmail links check --fix-redirects` writes the new address into the draft)
            2 links checked: 0 dead, 1 to look at.

            """)
        let json = try run(["links", "check", "1", "--format", "json"], in: fixture.folder)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let links = object?["links"] as? [[String: Any]]
        #expect(links?.map { $0["state"] as? String } == ["ok", "moved-permanently"])
        #expect(links?.map { $0["cached"] as? Bool } == [true, true])

        #expect(try run(["send", "1", "--yes"], in: fixture.folder).status == 0)
        #expect(outbox(fixture).count == 1)
        let stats = try await server.stats()
        #expect(stats.requests["HEAD /utf8"] == 2 && stats.requests["HEAD /308"] == 1)
        // Says what it is, and whose newsletter asks.
        #expect(stats.user_agents == ["HogMail/\(HogMailVersion.number) (+link check; https://newsletter.example.com)"])
    }

    @Test func linksCheckExitsOneOnADeadLink() throws {
        let fixture = try fixture(body: "Read [this](\(server.url("/410"))).")
        let checked = try run(["links", "check", "1"], in: fixture.folder)
        #expect(checked.status == 1)
        #expect(checked.stdout.contains("issues/001-welcome.md:7: dead (410 Gone)"))
    }

    @Test func linksAddPrintsTheBulletAndItsLine() throws {
        let fixture = try fixture(body: "Hello.\n")
        let added = try run(["links", "add", server.url("/og?utm_source=x"), "--take", "Read it.", "--draft", "1"], in: fixture.folder)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout == "issues/001-welcome.md:11: - [The \"real\" headline](\(server.url("/og"))) – Read it.\n")
        let refused = try run(["links", "add", "javascript:alert(1)"], in: fixture.folder)
        #expect(refused.status != 0 && refused.stderr.contains("only http and https links are collected"))
    }

    @Test func fixRedirectsSaysWhatItCouldNotRewrite() throws {
        let fixture = try fixture(body: "Read [odd](\(server.url("/301?a=1&amp;b=2"))).")
        let checked = try run(["links", "check", "1", "--fix-redirects"], in: fixture.folder)
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stderr.contains("issues/001-welcome.md:7: could not rewrite \(server.url("/301?a=1&b=2")) (moved to \(server.url("/utf8"))): write it by hand"), "\(checked.stderr)")
        #expect(!checked.stderr.contains("No permanently redirected link to rewrite."))
    }
}
