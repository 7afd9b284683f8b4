import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// Issue #14, item 7: a provider's front door — STARTTLS and AUTH on 587, implicit TLS on 465,
/// a private CA — through aiosmtpd with a certificate authority made for the test run. A setting
/// that does not fit the server stops the send at once with the fix, and fails nobody.
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

    @Test func aWrongPasswordStopsTheSendAndFailsNobody() async throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("wrong\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", caFile: server.caFile, password: "not-the-password-93")

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["refused the username and password (535", "`transport.smtp.username` (hogmail)", "HOGMAIL_SMTP_PASSWORD"])
        // One message went first, so the wrong password was tried once, not once per connection.
        #expect(server.authAttempts() == ["PLAIN refused"])
        #expect(try server.received().isEmpty)
    }

    @Test func anUntrustedCertificateStopsTheSendNamingCAFile() async throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("untrusted\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", password: Self.password)

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["is not trusted", "unable to get local issuer certificate", "set `transport.smtp.ca_file`"])
        // Nothing reached the server past the handshake: no login, no message.
        #expect(server.authAttempts().isEmpty)
    }

    @Test func aCertificateForAnotherNameStopsTheSend() async throws {
        let server = try SMTPTestServer(["--tls", "starttls", "--cert-names", "mail.example.net"])
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("name\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", username: nil, caFile: server.caFile)

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["is not for that name", "`transport.smtp.url`"])
    }

    @Test func aServerWithoutSTARTTLSStopsTheSendUnderTLSRequired() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("plaintext\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", password: Self.password)

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["does not offer STARTTLS", "`transport.smtp.tls` is `required`", "tls: implicit"])
        #expect(try server.received().isEmpty)
    }

    @Test func implicitTLSToAPlainServerStopsTheSend() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("handshake\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtps://127.0.0.1:\(server.port)", tls: "implicit", username: nil)

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["TLS handshake", "`tls: required` (STARTTLS)"])
    }

    @Test func aServerThatRequiresALoginStopsTheSendWhenNoUsernameIsSet() async throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("anonymous\($0)@example.com") }
        let transport = try fixture.smtp(url: "smtp://127.0.0.1:\(server.port)", tls: "required", username: nil, caFile: server.caFile)

        let (send, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))

        try expectStopped(send, summary, fixture, saying: ["requires a login", "530", "`transport.smtp.username`"])
    }

    /// The command as the scheduled job runs it: exit 1 (not 75: coming back later will not help),
    /// the sentence on standard error, `status` showing why; the password nowhere.
    @Test func aWrongPasswordExitsOneWithTheFixAndStatusSaysWhy() throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        try (1...3).forEach { try fixture.confirmed("cli\($0)@example.com") }
        try fixture.writeSMTP(url: "smtp://127.0.0.1:\(server.port)", tls: "required", caFile: server.caFile)
        let wrong = "not-the-password-93"

        let send = try fixture.hogmail(["send", "1", "--yes"], password: wrong)
        let status = try fixture.hogmail(["status", "1"])

        #expect(send.status == 1, "\(send.stderr)")
        #expect(send.stderr.contains("error: The mail server at smtp://127.0.0.1:\(server.port) refused the username and password (535"), "\(send.stderr)")
        #expect(send.stderr.contains("the password in the variable HOGMAIL_SMTP_PASSWORD"))
        #expect(send.stderr.contains("Run `hogmail send` again once this is fixed"))
        #expect(status.stdout.contains(": paused; 0/3 sent, 0 failed, 0 retrying, 3 pending."), "\(status.stdout)")
        #expect(status.stdout.contains("refused the username and password"))
        for text in [send.stdout, send.stderr, status.stdout, status.stderr] + (try fixture.storeFiles()) {
            #expect(!text.contains(wrong))
        }
    }

    @Test func aSendStoppedByAWrongPasswordResumesOnceItIsFixed() throws {
        let server = try SMTPTestServer(["--tls", "starttls-required", "--auth", "hogmail:\(Self.password)"])
        let fixture = try SendFixture()
        let readers = try (1...5).map { try fixture.confirmed("resume\($0)@example.com") }
        try fixture.writeSMTP(url: "smtp://127.0.0.1:\(server.port)", tls: "required", caFile: server.caFile)

        let stopped = try fixture.hogmail(["send", "1", "--yes"], password: "not-the-password-93")
        let resumed = try fixture.hogmail(["send", "1", "--yes"], password: Self.password)

        #expect(stopped.status == 1)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("5 sent now, 5 of 5 in all; 0 failed"), "\(resumed.stdout)")
        let received = try server.received()
        #expect(received.keys.sorted() == readers.map(\.email))
        #expect(received.values.allSatisfy { $0.count == 1 })
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

    @Test func aLoginInTheURLOrSMTPOnPort465IsRefused() {
        #expect(throws: HogMailError.self) {
            try SMTPTransport(settings: .init(url: "smtp://hogmail:secret@mail.example.com:587", tls: .required, username: nil, password: nil,
                                              connections: 1, heloDomain: "x"))
        }
        #expect(throws: HogMailError.self) {
            try SMTPTransport(settings: .init(url: "smtp://mail.example.com:465", tls: .required, username: nil, password: nil,
                                              connections: 1, heloDomain: "x"))
        }
    }

    // MARK: - Helpers

    /// The send stopped for a setting: paused with the sentence as its note, everyone still
    /// pending with no attempt used, and the password nowhere in the store.
    func expectStopped(_ send: SendRecord, _ summary: IssueSender.Summary, _ fixture: SendFixture, saying parts: [String],
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard case .misconfigured(let sentence) = summary.ending else {
            Issue.record("the send ended \(summary.ending), not for a setting", sourceLocation: sourceLocation)
            return
        }
        for part in parts { #expect(sentence.contains(part), "\(sentence)", sourceLocation: sourceLocation) }
        #expect(summary.failed == 0 && summary.retried == 0, sourceLocation: sourceLocation)
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 3, sent: 0, pending: 3, retrying: 0, failed: 0), sourceLocation: sourceLocation)
        #expect(try fixture.store.dueRecipients(of: send, limit: 10).allSatisfy { $0.attempts == 0 && $0.lastResponse == nil }, sourceLocation: sourceLocation)
        let stored = try #require(try fixture.store.latestSend(issue: send.issue), sourceLocation: sourceLocation)
        #expect(stored.state == .paused && stored.note == sentence, sourceLocation: sourceLocation)
        for text in try fixture.storeFiles() { #expect(!text.contains(Self.password), sourceLocation: sourceLocation) }
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

    /// The `hogmail` binary in this project, the SMTP password in its environment.
    func hogmail(_ arguments: [String], password: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = KillResumeTests.binary
        process.arguments = arguments + ["--project", folder.path]
        process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "HOGMAIL_SMTP_PASSWORD": password,
                               "PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
        // Files, not pipes: neither stream can fill up and stall the process while the other is read.
        let output = folder.appendingPathComponent("run-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path + ".out", contents: nil)
        FileManager.default.createFile(atPath: output.path + ".err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output.path + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: output.path + ".err"))
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOfFile: output.path + ".out", encoding: .utf8),
                try String(contentsOfFile: output.path + ".err", encoding: .utf8))
    }

    /// The store's files as text (SQLite's main file and its write-ahead log), to search for secrets.
    func storeFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("hogmail.sqlite") }.map {
            String(decoding: try Data(contentsOf: folder.appendingPathComponent($0)), as: UTF8.self)
        }
    }
}
