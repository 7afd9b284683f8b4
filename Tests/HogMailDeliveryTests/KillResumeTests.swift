import Foundation
import HogMail
import Testing

@testable import HogMailStore

/// `hogmail send` as a process, killed with SIGKILL at random moments and run again until it
/// finishes: everyone gets the issue; repeats only for messages in flight, with the same Message-ID.
@Suite(.serialized) struct KillResumeTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/hogmail")

    @Test func killedSendsResumeUntilEveryoneHasTheIssue() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        let subscribers = try (1...150).map { try fixture.confirmed("k\($0)@example.com") }
        // Point the project at the test server, slowly enough to be killed mid-send.
        let config = fixture.folder.appendingPathComponent("hogmail.yml")
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "  kind: outbox", with: "  kind: smtp")
            .replacingOccurrences(of: "url: smtp://127.0.0.1:2525", with: "url: smtp://127.0.0.1:\(server.port)")
            .replacingOccurrences(of: "tls: required ", with: "tls: none     ")
            .replacingOccurrences(of: "    username: newsletter\n", with: "")
            .replacingOccurrences(of: "rate: { per_second: 50, per_hour: 100000 }", with: "rate: { per_second: 150, per_hour: 100000 }")
        try Data(text.utf8).write(to: config)
        var generator = SystemRandomNumberGenerator()
        var runs = 0, kills = 0
        while runs < 30 {
            runs += 1
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["send", "1", "--yes", "--project", fixture.folder.path]
            process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin"]
            process.standardOutput = FileHandle.nullDevice
            let log = fixture.folder.appendingPathComponent("run-\(runs).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            // The first kill lands mid-send for sure (150 messages at 150/s take a second); the rest at random.
            let delay = runs == 1 ? 400_000_000 : UInt64.random(in: 100_000_000...900_000_000, using: &generator)
            try await Task.sleep(nanoseconds: delay)
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
            if let send = try fixture.store.latestSend(issue: "1"), try fixture.store.progress(of: send).isDone, !process.isRunning,
               process.terminationReason == .exit { break }
        }
        let firstLog = (try? String(contentsOf: fixture.folder.appendingPathComponent("run-1.log"), encoding: .utf8)) ?? ""
        #expect(kills >= 1, "the send finished before it could be killed; slow it down. First run said: \(firstLog.prefix(500))")
        let send = try #require(try fixture.store.latestSend(issue: "1"))
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 150, sent: 150, pending: 0, retrying: 0, failed: 0))
        let received = try server.received()
        #expect(Set(received.keys) == Set(subscribers.map(\.email)), "misses: \(Set(subscribers.map(\.email)).subtracting(received.keys))")
        for (address, messages) in received where messages.count > 1 {
            let ids = Set(messages.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(ids.count == 1, "\(address) got different messages")
        }
        let duplicates = received.values.map { $0.count - 1 }.reduce(0, +)
        #expect(duplicates <= kills * 4, "more repeats (\(duplicates)) than messages in flight at the kills (\(kills) × 4 connections)")
    }
}
