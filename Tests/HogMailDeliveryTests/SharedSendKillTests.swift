import Foundation
import HogMail
import PostgresTestSupport
import Synchronization
import Testing

@testable import HogMailStore

/// Several `hogmail send` processes on one send of a PostgreSQL store: they share it (claims
/// with a lease), and when one is killed the other finishes, repeating only what the dead one
/// had on the wire, each with its frozen Message-ID.
@Suite(.serialized, .enabled(if: PostgresTestServer.isAvailable))
struct SharedSendKillTests {
    static let binary = KillResumeTests.binary

    @Test func twoSendersShareASendAndTheSurvivorFinishesAfterTheLeaseOfTheKilledOne() async throws {
        let count = 5_000, connections = 4, lease = 5
        let server = try SMTPTestServer()
        let fixture = try SendFixture(engine: .postgres)
        // Imported confirmed, as a list moved from elsewhere would be: one statement a row.
        let csv = fixture.folder.appendingPathComponent("list.csv")
        try Data(("email,consented_at,consent_source,confirmed_at\n" + (1...count).map { "s\($0)@example.com,2025-03-01,form,2025-03-01\n" }.joined()).utf8)
            .write(to: csv)
        #expect(try fixture.store.importCSV(at: csv, displayPath: "list.csv").confirmed == count)
        try fixture.sendThrough(server, perSecond: 0)
        let location = try #require((fixture.store.engine as? PostgresStoreDatabase)?.location)
        let config = fixture.folder.appendingPathComponent("hogmail.yml")
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "  path: hogmail.sqlite", with: "  url: \(location.displayURL)")
        text += "\ndelivery:\n  claim_lease: \(lease)\n"
        try Data(text.utf8).write(to: config)

        func start(_ name: String) throws -> (Process, AsyncExit, URL) {
            let process = Process()
            process.executableURL = Self.binary
            process.arguments = ["send", "1", "--yes", "--allow-dead-links", "--project", fixture.folder.path]
            process.environment = ["HOGMAIL_SECRET": String(repeating: "s", count: 40), "PATH": "/usr/bin:/bin"]
            let output = fixture.folder.appendingPathComponent("\(name).out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = process.standardOutput
            let exited = AsyncExit(process)
            try process.run()
            return (process, exited, output)
        }
        let received: @Sendable () -> Int = { [server] in
            ((try? FileManager.default.contentsOfDirectory(atPath: server.folder.path)) ?? []).filter { $0.hasSuffix(".eml") }.count
        }
        let (doomed, doomedExit, doomedOutput) = try start("doomed")
        let (survivor, survivorExit, survivorOutput) = try start("survivor")
        // Killed mid-send, on a plain thread (the test's task may wait for a cooperative thread).
        let killedAt = Mutex(0)
        let killer = Thread {
            let deadline = Date().addingTimeInterval(120)
            while doomed.isRunning, received() < count / 5, Date() < deadline { usleep(2_000) }
            if doomed.isRunning {
                kill(doomed.processIdentifier, SIGKILL)
                killedAt.withLock { $0 = received() }
            }
        }
        killer.start()
        await doomedExit.wait()
        while killer.isExecuting { usleep(1_000) }
        await survivorExit.wait()
        let said = (try? String(contentsOf: survivorOutput, encoding: .utf8)) ?? ""
        let doomedSaid = (try? String(contentsOf: doomedOutput, encoding: .utf8)) ?? ""
        #expect(killedAt.withLock { $0 } > 0, "the first sender finished before it could be killed: \(doomedSaid.suffix(400))")
        #expect(survivor.terminationStatus == 0, "the surviving sender said: \(said.suffix(600))")

        let send = try #require(try fixture.store.latestSend(issue: "1"))
        #expect(try fixture.store.sends().count == 1, "the two senders froze the issue twice")
        #expect(try fixture.store.progress(of: send) == SendProgress(total: count, sent: count, pending: 0, retrying: 0, failed: 0))
        #expect(try fixture.store.latestSend(issue: "1")?.state == .completed)
        let messages = try server.received()
        #expect(messages.count == count, "\(count - messages.count) subscribers never got the issue")
        for (address, copies) in messages where copies.count > 1 {
            let ids = Set(copies.compactMap { $0.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID:") } })
            #expect(ids.count == 1, "\(address) got different messages")
        }
        let repeats = messages.values.map { $0.count - 1 }.reduce(0, +)
        print("shared send: killed one sender at \(killedAt.withLock { $0 }) received, \(repeats) repeats (bound \(connections))")
        // Each accepted message is journaled on the server before its connection carries the
        // next: only the killed sender's messages on the wire can go twice.
        #expect(repeats <= connections, "\(repeats) repeats, more than the killed sender's \(connections) connections")
        // The survivor sent part of the send before the kill and the killed one's rest after it.
        let sentNow = said.firstMatch(of: /: (\d+) sent now/).flatMap { Int($0.1) } ?? 0
        #expect(sentNow > 0 && sentNow < count, "the survivor sent \(sentNow) of \(count); the send was not shared. It said: \(said.suffix(400))")
    }
}
