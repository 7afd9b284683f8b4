import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// Issue #14, item 7: a provider's front door — STARTTLS and AUTH on 587, implicit TLS on 465,
/// a private CA — through aiosmtpd with a certificate authority made for the test run.
@Suite(.serialized) struct SMTPTLSTests {
    static let password = "correct-horse-battery-staple-7"

    @Test func startTLSWithAuthPlainDelivers() async throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)", "--auth-mechanisms", "PLAIN"])
        let fixture = try SendFixture()
        let readers = try (1...3).map { try fixture.confirmed("plain\($0)@example.com") }
        // A CA file beside hogmail.yml, named relative to the project folder.
        try FileManager.default.copyItem(atPath: server.caFile, toPath: fixture.folder.appendingPathComponent("relay-ca.pem").path)
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", caFile: "relay-ca.pem", password: Self.password)

        let result = try await fixture.job(transport).run(fixture.issue, decision: .start)

        #expect(result?.1.ending == .completed)
        #expect(try server.received().keys.sorted() == readers.map(\.email))
        #expect(!server.authAttempts().isEmpty && server.authAttempts().allSatisfy { $0 == "PLAIN accepted" }, "\(server.authAttempts())")
    }

    @Test func startTLSWithAuthLoginDelivers() async throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)", "--auth-mechanisms", "LOGIN"])
        let fixture = try SendFixture()
        let readers = try (1...3).map { try fixture.confirmed("login\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", caFile: server.caFile, password: Self.password)

        let result = try await fixture.job(transport).run(fixture.issue, decision: .start)

        #expect(result?.1.ending == .completed)
        #expect(try server.received().keys.sorted() == readers.map(\.email))
        #expect(!server.authAttempts().isEmpty && server.authAttempts().allSatisfy { $0 == "LOGIN accepted" }, "\(server.authAttempts())")
    }

    @Test func implicitTLSDelivers() async throws {
        let server = try SMTPTestServer(["--tls", "implicit", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        let readers = try (1...3).map { try fixture.confirmed("smtps\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtps://127.0.0.1:\(server.port)", tls: "implicit", caFile: server.caFile, password: Self.password)

        let result = try await fixture.job(transport).run(fixture.issue, decision: .start)

        #expect(result?.1.ending == .completed)
        #expect(try server.received().keys.sorted() == readers.map(\.email))
    }

    @Test func aMissingCAFileIsAnErrorOnItsLineOfHogmailYml() throws {
        let fixture = try SendFixture()
        let error = #expect(throws: HogMailError.self) {
            try fixture.smtp(url: "smtp://127.0.0.1:2525", tls: "required", caFile: "certs/missing-ca.pem", password: Self.password)
        }
        let text = try String(contentsOf: fixture.folder.appendingPathComponent("hogmail.yml"), encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("ca_file: certs/missing-ca.pem") }.map { $0 + 1 }
        #expect(error?.file == "hogmail.yml" && line != nil && error?.line == line)
        #expect(error?.message.contains("is `certs/missing-ca.pem`, and there is no such file") == true, "\(String(describing: error))")
    }

    @Test func aCAFileWithoutACertificateIsAnError() throws {
        let fixture = try SendFixture()
        try Data("not a certificate\n".utf8).write(to: fixture.folder.appendingPathComponent("ca.pem"))
        let error = #expect(throws: HogMailError.self) {
            try fixture.smtp(url: "smtp://127.0.0.1:2525", tls: "required", caFile: "ca.pem", password: Self.password)
        }
        #expect(error?.message.contains("holds no PEM certificate") == true, "\(String(describing: error))")
    }
}

extension SMTPTestServer {
    /// The certificate of the CA the server made at start (with `--tls`), for `ca_file`.
    var caFile: String { folder.appendingPathComponent("ca.pem").path }

    /// Each AUTH attempt, as `MECHANISM accepted` or `MECHANISM refused`.
    func authAttempts() -> [String] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("auth.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }
}

extension SendFixture {
    /// Points hogmail.yml's `transport.smtp` at a test server, the way an editor writes it, and
    /// returns the transport HogMail makes of it, the password read from the environment.
    @discardableResult
    func smtp(url: String, tls: String, username: String? = "hogmail", caFile: String? = nil, password: String? = nil) throws -> any Transport {
        try writeSMTP(url: url, tls: tls, username: username, caFile: caFile)
        let configuration = try HogMail.Configuration.load(fromDirectory: folder).0
        return try configuration.transport(projectDirectory: folder, environment: ["HOGMAIL_SMTP_PASSWORD": password ?? ""])
    }

    /// hogmail.yml's `transport.kind: smtp` and its `transport.smtp` section, as given.
    func writeSMTP(url: String, tls: String, username: String? = "hogmail", caFile: String? = nil) throws {
        let file = folder.appendingPathComponent("hogmail.yml")
        var lines = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("  smtp:") })
        let end = lines[(start + 1)...].firstIndex { !$0.hasPrefix("    ") } ?? lines.endIndex
        var section = ["  smtp:", "    url: \(url)", "    tls: \(tls)", "    connections: 4"]
        if let username { section += ["    username: \(username)", "    password_env: HOGMAIL_SMTP_PASSWORD"] }
        if let caFile { section.append("    ca_file: \(caFile)") }
        lines.replaceSubrange(start..<end, with: section)
        let text = lines.joined(separator: "\n").replacingOccurrences(of: "  kind: outbox", with: "  kind: smtp")
        try Data(text.utf8).write(to: file)
    }
}
