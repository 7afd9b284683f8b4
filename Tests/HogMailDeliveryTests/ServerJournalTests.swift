import Foundation
import HogMailStore
import PostgresTestSupport
import Synchronization
import Testing

@testable import HogMailDelivery

/// The journal thread of a PostgreSQL send: lines from many connections at once, each
/// committed once and reported once.
@Suite(.enabled(if: PostgresTestServer.isAvailable))
struct ServerJournalTests {
    @Test func linesFromManyThreadsAreAllCommittedAndEachIsReportedOnce() throws {
        let fixture = try SendFixture(engine: .postgres)
        let count = 400
        let csv = fixture.folder.appendingPathComponent("list.csv")
        try Data(("email,consented_at,consent_source,confirmed_at\n" + (1...count).map { "j\($0)@example.com,2025-03-01,form,2025-03-01\n" }.joined()).utf8)
            .write(to: csv)
        _ = try fixture.store.importCSV(at: csv, displayPath: "list.csv")
        let send = try fixture.store.freezeSend(issue: "1", contentHash: "abc", messageIDs: { _ in { "<\($0)>" } })
        let rows = try fixture.store.claimRecipients(of: send, sender: "test", limit: count, lease: 60)
        #expect(rows.count == count)

        let journal = ServerJournal(store: fixture.store)
        let reports = Mutex([Int64: Int]())
        let failures = Mutex(0)
        let done = DispatchGroup()
        // Eight threads, as eight connections would hand their lines over.
        DispatchQueue.concurrentPerform(iterations: 8) { lane in
            for row in rows.enumerated().filter({ $0.offset % 8 == lane }).map(\.element) {
                done.enter()
                journal.record(AcceptedLine(recipientID: row.id, messageID: row.messageID!, sentAt: Date())) { error in
                    if error != nil { failures.withLock { $0 += 1 } }
                    reports.withLock { $0[row.id, default: 0] += 1 }
                    done.leave()
                }
            }
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        journal.close()
        #expect(failures.withLock { $0 } == 0)
        #expect(reports.withLock { $0.count } == count)
        #expect(reports.withLock { $0.values.allSatisfy { $0 == 1 } })
        let progress = try fixture.store.progress(of: send)
        #expect(progress.sent == count && progress.pending == 0 && progress.retrying == 0 && progress.failed == 0)
    }

    @Test func aLineAfterCloseIsStillWritten() throws {
        let fixture = try SendFixture(engine: .postgres)
        _ = try fixture.confirmed("late@example.com")
        let send = try fixture.store.freezeSend(issue: "1", contentHash: "abc", messageIDs: { _ in { "<\($0)>" } })
        let row = try #require(try fixture.store.claimRecipients(of: send, sender: "test", limit: 1, lease: 60).first)
        let journal = ServerJournal(store: fixture.store)
        journal.close()
        let written = DispatchSemaphore(value: 0)
        let outcome = Mutex<(any Error)?>(nil)
        journal.record(AcceptedLine(recipientID: row.id, messageID: row.messageID!, sentAt: Date())) { error in
            outcome.withLock { $0 = error }
            written.signal()
        }
        #expect(written.wait(timeout: .now() + 30) == .success)
        #expect(outcome.withLock { $0 } == nil)
        journal.close()
        #expect(try fixture.store.progress(of: send).sent == 1)
    }
}
