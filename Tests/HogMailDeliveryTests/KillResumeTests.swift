import Foundation
import GRDB
import HogMail
import Testing

@testable import HogMailStore

/// `hogmail send` as a process, killed with SIGKILL at random moments and run again until it
/// finishes: everyone gets the issue; repeats only for messages in flight, with the same Message-ID.
@Suite(.serialized) struct KillResumeTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/hogmail")

    /// At 150 messages a second (rate slots, waits between messages) and at full speed (every
    /// connection busy, the journal written as fast as the server accepts): either way a kill
    /// repeats at most one message per connection.
    @Test(arguments: [(150, 150), (0, 1500)])
    func killedSendsResumeUntilEveryoneHasTheIssue(perSecond: Int, count: Int) async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        let subscribers = try (1...count).map { try fixture.confirmed("k\($0)@example.com") }
        // Point the project at the test server, slowly enough to be killed mid-send.
        try fixture.sendThrough(server, perSecond: perSecond)
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
            let killsSoFar = kills
            let delay = useconds_t.random(in: 50_000...900_000, using: &generator)
            let received: @Sendable () -> Int = { [server] in (try? server.received().values.map(\.count).reduce(0, +)) ?? 0 }
            let exited = AsyncExit(process)
            try process.run()
            let killer = Thread {
                if firstRun {
                    // The first kill lands mid-send for sure: once the server has some messages.
                    while process.isRunning && received() < 10 { usleep(2_000) }
                } else {
                    // At full speed, kill while the send is on the wire (before it finishes).
                    usleep(perSecond == 0 ? delay / 4 : delay)
                }
                // Eight kills are enough; then the send may run to its end.
                if process.isRunning && killsSoFar < 8 {
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
        #expect(try fixture.store.progress(of: send) == SendProgress(total: count, sent: count, pending: 0, retrying: 0, failed: 0))
        let received = try server.received()
        let misses = Set(subscribers.map(\.email)).subtracting(received.keys)
        #expect(misses.isEmpty, "\(misses.count) subscribers never got the issue, among them \(misses.sorted().prefix(5))")
        for (address, messages) in received where messages.count > 1 {
            let ids = Set(messages.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(ids.count == 1, "\(address) got different messages")
        }
        let duplicates = received.values.map { $0.count - 1 }.reduce(0, +)
        // In flight at a kill: at most one message per connection. Each accepted message is
        // journaled before its connection carries the next, so nothing else can be repeated.
        let inFlightPerKill = 4
        print("kill test at \(perSecond == 0 ? "full speed" : "\(perSecond)/s"): \(kills) kills, \(duplicates) repeats (bound \(kills * inFlightPerKill))")
        #expect(duplicates <= kills * inFlightPerKill,
                "more repeats (\(duplicates)) than messages in flight at the kills (\(kills) × \(inFlightPerKill))")
    }
}

extension KillResumeTests {
    /// The process's state letter from /proc (R, S, T for stopped…), nil once it is gone.
    static func state(of pid: Int32) -> Character? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(close, offsetBy: 2)...].first
    }

    /// `PRAGMA integrity_check` of the store, as SQLite says it.
    static func integrity(_ path: String) throws -> String {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Killed exactly where it hurts: inside the transaction that freezes the recipients, and
    /// inside journal commits (failpoints stop the process there; the test kills it). After each
    /// kill the store passes SQLite's integrity check; in the end everyone has the issue.
    @Test func killedInsideTransactionsTheStoreStaysWholeAndTheSendCompletes() async throws {
        let server = try SMTPTestServer()
        let fixture = try SendFixture()
        // Enough that every run below reaches its failpoint.
        let subscribers = try (1...300).map { try fixture.confirmed("p\($0)@example.com") }
        try fixture.sendThrough(server, perSecond: 0)
        let storePath = fixture.folder.appendingPathComponent("hogmail.sqlite").path

        func run(failpoint: String?) async throws -> (stopped: Bool, status: Int32) {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["send", "1", "--yes", "--project", fixture.folder.path]
            var environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin"]
            environment["HOGMAIL_FAILPOINT"] = failpoint
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            let exited = AsyncExit(process)
            try process.run()
            let pid = process.processIdentifier
            var stopped = false
            if failpoint != nil {
                // Wait (on a plain thread) until the process stops itself at the failpoint or ends.
                stopped = await withCheckedContinuation { continuation in
                    Thread {
                        let deadline = Date().addingTimeInterval(60)
                        while Date() < deadline {
                            guard let state = Self.state(of: pid), state != "Z" else { continuation.resume(returning: false); return }
                            if state == "T" || state == "t" {
                                kill(pid, SIGKILL)
                                continuation.resume(returning: true)
                                return
                            }
                            usleep(1_000)
                        }
                        kill(pid, SIGKILL)
                        continuation.resume(returning: false)
                    }.start()
                }
            }
            await exited.wait()
            return (stopped, process.terminationStatus)
        }

        // 1. Killed inside the freeze: the transaction is rolled back, no send exists.
        let freeze = try await run(failpoint: "freeze")
        #expect(freeze.stopped, "the send never reached the freeze failpoint")
        #expect(try Self.integrity(storePath) == "ok")
        #expect(try fixture.store.latestSend(issue: "1") == nil)

        // 2. Killed inside journal commits (the first, then the second of a run): the message
        //    being committed is not marked sent, and is sent again on the next run.
        var kills = 0
        for depth in [1, 2, 2] {
            let result = try await run(failpoint: "journal-commit:\(depth)")
            if result.stopped { kills += 1 }
            #expect(try Self.integrity(storePath) == "ok", "after a kill in journal commit \(depth)")
            let send = try #require(try fixture.store.latestSend(issue: "1"))
            #expect(try fixture.store.progress(of: send).total == subscribers.count)
        }
        #expect(kills == 3, "the journal-commit failpoint was reached only \(kills) times")

        // 3. A plain run finishes the send; everyone has it; repeats carry the same Message-ID.
        let last = try await run(failpoint: nil)
        #expect(last.status == 0)
        let send = try #require(try fixture.store.latestSend(issue: "1"))
        #expect(try fixture.store.progress(of: send) == SendProgress(total: subscribers.count, sent: subscribers.count, pending: 0, retrying: 0, failed: 0))
        #expect(try Self.integrity(storePath) == "ok")
        let received = try server.received()
        #expect(Set(received.keys) == Set(subscribers.map(\.email)))
        for (address, messages) in received where messages.count > 1 {
            let ids = Set(messages.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(ids.count == 1, "\(address) got different messages")
        }
    }
}

extension SendFixture {
    /// The project's hogmail.yml sends through the test server, in plain SMTP on 127.0.0.1.
    func sendThrough(_ server: SMTPTestServer, perSecond: Int) throws {
        let config = folder.appendingPathComponent("hogmail.yml")
        let text = try String(contentsOf: config, encoding: .utf8)
            .replacingOccurrences(of: "  kind: outbox", with: "  kind: smtp")
            .replacingOccurrences(of: "url: smtp://127.0.0.1:2525", with: "url: smtp://127.0.0.1:\(server.port)")
            .replacingOccurrences(of: "tls: required ", with: "tls: none     ")
            .replacingOccurrences(of: "    username: newsletter\n", with: "")
            .replacingOccurrences(of: "rate: { per_second: 50, per_hour: 100000 }", with: "rate: { per_second: \(perSecond), per_hour: 100000 }")
        try Data(text.utf8).write(to: config)
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
