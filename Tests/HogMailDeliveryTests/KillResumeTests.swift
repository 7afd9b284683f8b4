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
            // The killer is a plain thread: the test's own task may wait long for a cooperative
            // thread on a busy machine, and the kill must land while the send runs.
            let killed = KillFlag()
            let firstRun = runs == 1
            let delay = useconds_t.random(in: 50_000...900_000, using: &generator)
            let received: @Sendable () -> Int = { [server] in (try? server.received().values.map(\.count).reduce(0, +)) ?? 0 }
            let exited = AsyncExit(process)
            try process.run()
            let killer = Thread {
                if firstRun {
                    // The first kill lands mid-send for sure: once the server has some messages.
                    while process.isRunning && received() < 10 { usleep(2_000) }
                } else {
                    usleep(delay)
                }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    killed.set()
                }
            }
            killer.start()
            await exited.wait()
            while killer.isExecuting { usleep(1_000) }
            if killed.value { kills += 1 }
            if let send = try fixture.store.latestSend(issue: "1"), try fixture.store.progress(of: send).isDone,
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
        // In flight at a kill: the 4 connections' messages, and those accepted but not yet in the
        // journal's current group (committed every 20 ms and before each wait for a rate slot;
        // at 150 messages/s that is at most 3, plus the one being recorded).
        let inFlightPerKill = 4 + 4
        #expect(duplicates <= kills * inFlightPerKill,
                "more repeats (\(duplicates)) than messages in flight at the kills (\(kills) × \(inFlightPerKill))")
    }
}

final class KillFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}

/// Waits for a process to exit without blocking a cooperative thread.
final class AsyncExit: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var waiter: CheckedContinuation<Void, Never>?

    init(_ process: Process) {
        process.terminationHandler = { [self] _ in
            let continuation = lock.withLock { () -> CheckedContinuation<Void, Never>? in
                done = true
                defer { waiter = nil }
                return waiter
            }
            continuation?.resume()
        }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let finished = lock.withLock { () -> Bool in
                if done { return true }
                waiter = continuation
                return false
            }
            if finished { continuation.resume() }
        }
    }
}
