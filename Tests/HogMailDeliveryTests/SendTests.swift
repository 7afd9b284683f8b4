import Foundation
import GRDB
@testable import HogMail
import PostgresTestSupport
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// A transport that records what it is given and fails as told, per address.
final class RecordingTransport: Transport, @unchecked Sendable {
    var name: String { "recording" }
    private let lock = NSLock()
    private(set) var delivered: [OutgoingMessage] = []
    var failures: [String: [DeliveryError]] = [:]

    func send(_ message: OutgoingMessage) async throws {
        try lock.withLock {
            if var queue = failures[message.to], !queue.isEmpty {
                let error = queue.removeFirst()
                failures[message.to] = queue
                throw error
            }
            delivered.append(message)
        }
    }
}

struct SendFixture {
    let folder: URL
    let store: SubscriberStore
    let configuration: HogMail.Configuration
    let signer = TokenSigner(secret: String(repeating: "s", count: 40), listID: "news.example.com")
    let issue: BuildPipeline.BuiltIssue

    init(body: String = "Hello, readers.", engine: StoreEngineKind = .sqlite) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-send-\(UUID().uuidString)")
        try Scaffold.initProject(at: folder, today: CalendarDate(year: 2026, month: 1, day: 7)!)
        try Data("---\ntitle: Issue one\ndate: 2026-01-07\npreheader: One.\n---\n\n\(body)\n".utf8)
            .write(to: folder.appendingPathComponent("issues/001-welcome.md"))
        var configuration = try HogMail.Configuration.load(fromDirectory: folder).0
        configuration.ratePerSecond = 0
        self.configuration = configuration
        store = try PostgresTestServer.store(engine, folder: folder)
        issue = try BuildPipeline(options: .init(projectDirectory: folder, write: false)).run().issues[0]
    }

    @discardableResult
    func confirmed(_ email: String) throws -> Subscriber {
        let consent = Subscriber.Consent(at: Date(), method: .form, source: "test form")
        let (s, _) = try store.requestSubscription(email: email, name: nil, consent: consent, actor: "test")
        return try store.confirm(publicID: s.publicID)!
    }

    func job(_ transport: any Transport) -> SendJob {
        SendJob(configuration: configuration, store: store, signer: signer, transport: transport)
    }
}

@Suite struct SendTests {
    @Test(arguments: PostgresTestServer.engines)
    func everyConfirmedSubscriberGetsOneMessageWithTheirOwnLinks(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        let subscribers = try (1...5).map { try fixture.confirmed("reader\($0)@example.com") }
        let transport = RecordingTransport()
        let result = try await fixture.job(transport).run(fixture.issue, decision: .start)
        #expect(result?.1.ending == .completed)
        #expect(transport.delivered.map(\.to).sorted() == subscribers.map(\.email).sorted())
        for (message, subscriber) in zip(transport.delivered, subscribers) {
            let token = fixture.signer.unsubscribeToken(publicID: subscriber.publicID)
            // The send's number rides along as a plain parameter, the same for every reader: `status` counts who left through it.
            #expect(MessageHeaders(parsing: message.data).values("List-Unsubscribe")
                == ["<https://newsletter.example.com/unsubscribe?token=\(token)&s=\(result!.0.id)>, <mailto:unsubscribe+\(token)@example.com?subject=unsubscribe>"])
            #expect(message.text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"))
            #expect(message.text.contains("To: \(subscriber.email)\r\n"))
        }
        #expect(Set(transport.delivered.map(\.messageID)).count == 5)
    }

    @Test(arguments: PostgresTestServer.engines)
    func onlyConfirmedSubscribersWithConsentAreSentToHoweverTheyGotIn(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        try fixture.confirmed("ok@example.com")
        let unsubscribed = try fixture.confirmed("left@example.com")
        try fixture.store.suppress(publicID: unsubscribed.publicID, as: .unsubscribed, actor: "test", reason: "test")
        let bounced = try fixture.confirmed("bounced@example.com")
        try fixture.store.suppress(publicID: bounced.publicID, as: .bounced, actor: "test", reason: "test")
        try fixture.store.requestSubscription(email: "pending@example.com", name: nil,
                                              consent: .init(at: Date(), method: .form, source: "form"), actor: "test")
        // Rows written behind HogMail's back: confirmed but no confirmation time or consent source,
        // and a confirmed row whose address is suppressed (forgotten, then re-inserted by hand).
        try fixture.store.forget(email: "ghost@example.com")
        try fixture.store.engine.write { session in
            for (email, confirmedAt, source) in [("noconsent@example.com", "1.0", "''"), ("noconfirm@example.com", "NULL", "'x'"),
                                                 ("ghost@example.com", "1.0", "'x'")] {
                try session.execute("""
                    INSERT INTO subscriber (public_id, email, status, created_at, consent_at, consent_method, consent_source, confirmed_at)
                    VALUES ('\(UUID().uuidString)', '\(email)', 'confirmed', 0, 0, 'import', \(source), \(confirmedAt))
                    """, [])
            }
        }
        let transport = RecordingTransport()
        _ = try await fixture.job(transport).run(fixture.issue, decision: .start)
        #expect(transport.delivered.map(\.to) == ["ok@example.com"])
    }

    @Test(arguments: PostgresTestServer.engines)
    func rerunResumesWithoutDuplicatesOrMisses(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...6 { try fixture.confirmed("r\(i)@example.com") }
        let send = try fixture.store.freezeSend(issue: fixture.issue.folder, contentHash: fixture.issue.message.contentHash)
        // A first run that died after two messages: mark them sent as the sender would have.
        let first = RecordingTransport()
        let sender = fixture.job(first).sender(for: fixture.issue)
        for recipient in try fixture.store.dueRecipients(of: send, limit: 2) {
            let message = try sender.outgoing(for: recipient, in: send, at: Date())
            try await first.send(message)
            try fixture.store.record(recipient, outcome: .sent, response: "250", messageID: message.messageID)
        }
        #expect(try fixture.job(first).decide(fixture.issue, newSend: false) == .resume(send))
        let second = RecordingTransport()
        _ = try await fixture.job(second).run(fixture.issue, decision: .resume(send))
        let all = first.delivered.map(\.to) + second.delivered.map(\.to)
        #expect(all.sorted() == (1...6).map { "r\($0)@example.com" }.sorted())
        #expect(try fixture.job(second).decide(fixture.issue, newSend: false) == .alreadySent(try fixture.store.latestSend(issue: "1")!))
    }

    @Test(arguments: PostgresTestServer.engines)
    func aSendCarriesTheMessageIDsFrozenWithIt(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...3 { try fixture.confirmed("r\(i)@example.com") }
        let transport = RecordingTransport()
        let (send, _) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .start))
        let frozen = try fixture.store.engine.read { session in
            try session.rows("SELECT email, message_id FROM send_recipient WHERE send_id = ?", send.id)
        }
        let assembler = MessageAssembler(configuration: fixture.configuration, signer: fixture.signer, message: fixture.issue.message, send: send)
        #expect(frozen.count == 3 && transport.delivered.count == 3)
        for row in frozen {
            let email: String = try row.get("email")
            let messageID: String = try row.get("message_id")
            // The id frozen in the journal is the one the assembler makes, and the one that went out.
            #expect(messageID == (try assembler.outgoing(email: email, name: nil, publicID: "p", at: Date())).messageID)
            #expect(transport.delivered.first { $0.to == email }?.messageID == messageID)
        }
    }

    /// The assembler tells SMTP where no line can start with "." (its quoted-printable parts),
    /// so the dot-stuffing scan stops there: for a body full of line-start dots and recipients
    /// whose name, address and unsubscribe URL put a "." where a line starts or wraps, the
    /// message goes out exactly as a scan of all of it would send it, and no line after that
    /// offset starts with ".".
    @Test func theDotFreeTailOfAMessageNeedsNoDotStuffing() throws {
        let dots = (1...80).map { String(repeating: ".", count: $0 % 7 + 1) + " line \($0)\n\n." + String(repeating: "x", count: $0) }
        let fixture = try SendFixture(body: dots.joined(separator: "\n\n") + "\n\n.\n\n..\n\n. . .")
        let send = try fixture.store.freezeSend(issue: fixture.issue.folder, contentHash: fixture.issue.message.contentHash)
        let assembler = MessageAssembler(configuration: fixture.configuration, signer: fixture.signer, message: fixture.issue.message, send: send)
        let recipients = [(".dot@example.com", "."), ("a.b@example.com", ".leading dot name"), (String(repeating: "x", count: 60) + ".y@example.com", nil),
                          (String(repeating: "q", count: 74) + "@example.com", String(repeating: ".", count: 90))]
        for (email, name) in recipients {
            for publicID in ["p", String(repeating: "z", count: 57), "a.b.c"] {
                let message = try assembler.outgoing(email: email, name: name, publicID: publicID, at: Date())
                let tail = try #require(message.dotFreeFrom)
                #expect(tail > 0 && tail < message.data.count)
                #expect(!zip(message.data[tail...], message.data[(tail + 1)...]).contains { $0 == 10 && $1 == UInt8(ascii: ".") })
                #expect(message.data[tail] != UInt8(ascii: "."))
                #expect(SMTPConnection.framed(message.data, dotFreeFrom: tail) == SMTPConnection.framed(message.data))
            }
        }
    }

    @Test func aPieceWithALineThatStartsWithADotIsNotDotFree() {
        #expect(MessageTemplate.noLineStartsWithDot(Array("a\r\nb.c\r\n".utf8)))
        #expect(!MessageTemplate.noLineStartsWithDot(Array("a\r\n.b".utf8)))
        #expect(!MessageTemplate.noLineStartsWithDot(Array(".a".utf8)))
    }

    @Test(arguments: PostgresTestServer.engines)
    func aResumedSendRepeatsAMessageWithItsFrozenMessageID(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        try fixture.confirmed("a@example.com")
        let send = try fixture.store.freezeSend(issue: fixture.issue.folder, contentHash: fixture.issue.message.contentHash,
                                                messageIDs: { _ in { _ in "<frozen-at-the-start@example.com>" } })
        let transport = RecordingTransport()
        _ = try await fixture.job(transport).run(fixture.issue, decision: .resume(send))
        let message = try #require(transport.delivered.first)
        #expect(message.messageID == "<frozen-at-the-start@example.com>")
        #expect(String(decoding: message.data, as: UTF8.self).contains("Message-ID: <frozen-at-the-start@example.com>\r\n"))
    }

    @Test(arguments: PostgresTestServer.engines)
    func aFrozenMessageIDChangedOutsideHogMailFailsThatRecipientAlone(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...3 { try fixture.confirmed("r\(i)@example.com") }
        let send = try fixture.store.freezeSend(issue: fixture.issue.folder, contentHash: fixture.issue.message.contentHash,
                                                messageIDs: { _ in { "<\($0)>" } })
        // A space would not fit the accepted-log's line: the message would go again on every run.
        try fixture.store.engine.write { session in
            try session.execute("UPDATE send_recipient SET message_id = '<r2 @example.com>' WHERE email = 'r2@example.com'", [])
        }
        let transport = RecordingTransport()
        let (_, summary) = try #require(try await fixture.job(transport).run(fixture.issue, decision: .resume(send)))
        #expect(transport.delivered.map(\.to).sorted() == ["r1@example.com", "r3@example.com"])
        #expect(summary.ending == .completed && summary.failed == 1)
        let failed = try fixture.store.failures(of: send)
        #expect(failed.map(\.email) == ["r2@example.com"])
        #expect(failed.first?.lastResponse?.contains("changed outside HogMail") == true)
    }

    @Test func changedIssueAfterAPartialSendIsRefusedUnlessNewSend() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("a@example.com")
        _ = try fixture.store.freezeSend(issue: "1", contentHash: "an older version")
        guard case .changedAfterSend = try fixture.job(RecordingTransport()).decide(fixture.issue, newSend: false) else {
            Issue.record("expected a refusal"); return
        }
        #expect(try fixture.job(RecordingTransport()).decide(fixture.issue, newSend: true) == .start)
    }

    @Test(arguments: PostgresTestServer.engines)
    func temporaryFailuresAreRetriedAndPermanentOnesBounce(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        try fixture.confirmed("flaky@example.com")
        try fixture.confirmed("gone@example.com")
        try fixture.confirmed("fine@example.com")
        let transport = RecordingTransport()
        transport.failures["flaky@example.com"] = [.temporary("451 4.3.0 try later")]
        transport.failures["gone@example.com"] = [DeliveryError.smtp(code: 550, text: "5.1.1 user unknown")]
        var job = fixture.job(transport)
        job.configuration.ratePerSecond = 0
        let sender = job.sender(for: fixture.issue)
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let summary = try await sender.run(send)
        guard case .retriesLater = summary.ending else { Issue.record("expected retries later, got \(summary.ending)"); return }
        #expect(summary.bounced == 1)
        #expect(try fixture.store.subscriber(email: "gone@example.com")?.status == .bounced)
        // Later, the retry goes through.
        try fixture.store.engine.write { session in try session.execute("UPDATE send_recipient SET next_attempt_at = 0 WHERE state = 'retrying'", []) }
        let again = try await sender.run(send)
        #expect(again.ending == .completed)
        #expect(transport.delivered.map(\.to).sorted() == ["fine@example.com", "flaky@example.com"])
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 3, sent: 2, pending: 0, retrying: 0, failed: 1))
    }

    /// Regression: accepted retries were journaled in groups, and a page read before the group
    /// was committed still saw them as due, and sent them again.
    @Test(arguments: PostgresTestServer.engines)
    func dueRetriesAreSentOnceEvenBeforeTheirGroupIsJournaled(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...20 { try fixture.confirmed("r\(i)@example.com") }
        let transport = RecordingTransport()
        for i in 1...20 { transport.failures["r\(i)@example.com"] = [.temporary("451 later")] }
        var job = fixture.job(transport)
        job.configuration.ratePerSecond = 0
        let sender = job.sender(for: fixture.issue)
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        _ = try await sender.run(send)
        #expect(transport.delivered.isEmpty)
        try fixture.store.engine.write { session in try session.execute("UPDATE send_recipient SET next_attempt_at = 0 WHERE state = 'retrying'", []) }
        let again = try await sender.run(send)
        #expect(again.ending == .completed)
        #expect(transport.delivered.count == 20)
        #expect(Set(transport.delivered.map(\.to)).count == 20)
    }

    @Test(arguments: PostgresTestServer.engines)
    func manyFailuresInARowPauseTheSend(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...30 { try fixture.confirmed("r\(i)@example.com") }
        let transport = RecordingTransport()
        for i in 1...30 { transport.failures["r\(i)@example.com"] = [.temporary("451 down")] }
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let summary = try await fixture.job(transport).sender(for: fixture.issue).run(send)
        guard case .paused(let reason) = summary.ending else { Issue.record("expected a pause"); return }
        #expect(reason.contains("25 messages in a row failed"))
        #expect(try fixture.store.latestSend(issue: "1")?.state == .paused)
    }

    @Test(arguments: PostgresTestServer.engines)
    func hourlyLimitHoldsAcrossRuns(engine: StoreEngineKind) async throws {
        let fixture = try SendFixture(engine: engine)
        for i in 1...5 { try fixture.confirmed("r\(i)@example.com") }
        var job = fixture.job(RecordingTransport())
        job.configuration.ratePerHour = 3
        let (_, first) = try await job.run(fixture.issue, decision: .start)!
        #expect(first.sent == 3)
        #expect(first.ending == .hourlyLimit)
        let (_, second) = try await job.run(fixture.issue, decision: try job.decide(fixture.issue, newSend: false))!
        #expect(second.sent == 0)
        #expect(second.ending == .hourlyLimit)
    }

    @Test func testSendIsMarkedAndNotJournaled() async throws {
        let fixture = try SendFixture()
        let transport = RecordingTransport()
        _ = try await fixture.job(transport).sendTest(fixture.issue, to: ["editor@example.com"])
        #expect(transport.delivered.count == 1)
        #expect(transport.delivered[0].text.contains("Subject: [Test] Issue one"))
        #expect(try fixture.store.latestSend(issue: "1") == nil)
    }

    /// On PostgreSQL the lock is the server's: a second handle (another process, another host)
    /// is refused and told who holds it, and the lock is free again once the first goes.
    @Test(.enabled(if: PostgresTestServer.isAvailable))
    func aSecondSenderOnAServerStoreIsRefusedUntilTheFirstLetsGo() throws {
        let location = try PostgresTestServer.freshDatabase()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        var first: SendLock? = try SendLock(store: try SubscriberStore(postgres: location, localFolder: folder.path))
        let other = try SubscriberStore(postgres: location, localFolder: folder.path)
        #expect {
            try SendLock(store: other)
        } throws: { error in
            guard case SendLock.Failure.heldBy(let holder) = error else { return false }
            return holder.contains("a sender connected from 127.0.0.1")
        }
        withExtendedLifetime(first) {}
        first = nil
        _ = try SendLock(store: other)
    }

    @Test func secondLockOnTheSameStoreIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)").path
        let first = try SendLock(storePath: path)
        #expect(throws: SendLock.Failure.self) { try SendLock(storePath: path) }
        withExtendedLifetime(first) {}
    }

    @Test func smtpRepliesAreClassified() {
        #expect(DeliveryError.smtp(code: 451, text: "4.3.0 later") == .temporary("451 4.3.0 later"))
        #expect(DeliveryError.smtp(code: 421, text: "too busy") == .slowDown("421 too busy", retryAfter: nil))
        #expect(DeliveryError.smtp(code: 550, text: "5.1.1 no such user") == .permanent("550 5.1.1 no such user", mailboxUnknown: true))
        #expect(DeliveryError.smtp(code: 554, text: "5.7.1 rejected as spam") == .permanent("554 5.7.1 rejected as spam", mailboxUnknown: false))
    }
}

/// A clock that reads `start` once, then `start + elapsed` ever after: a send that took `elapsed`.
final class SteppingClock: @unchecked Sendable {
    private let lock = NSLock()
    private var readings = 0
    let start: Date, elapsed: TimeInterval

    init(start: Date = Date(timeIntervalSince1970: 1_800_000_000), elapsed: TimeInterval) {
        self.start = start
        self.elapsed = elapsed
    }

    func now() -> Date {
        lock.withLock {
            readings += 1
            return readings == 1 ? start : start.addingTimeInterval(elapsed)
        }
    }
}

@Suite struct SendSummaryTests {
    /// Regression: `defer { summary.seconds = … }` ran after the summary was returned, so a
    /// 9.6 s send reported "0.0 s".
    @Test func summaryCarriesHowLongTheSendTook() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("reader@example.com")
        let sender = fixture.job(RecordingTransport()).sender(for: fixture.issue)
        let clock = SteppingClock(elapsed: 9.6)
        sender.clock = { clock.now() }
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        let summary = try await sender.run(send)
        #expect(summary.sent == 1)
        #expect(abs(summary.seconds - 9.6) < 0.001)
    }
}

/// Issue #11, item 2: one row the message cannot be made for stopped every send, forever.
/// Rows are written with SQL here, as data from before validation (or from another tool) would be.
@Suite struct UnmakeableRecipientTests {
    func insertConfirmed(_ fixture: SendFixture, email: String, nameSQL: String) async throws {
        try await fixture.store.database.write { db in
            try db.execute(sql: """
                INSERT INTO subscriber (public_id, email, name, status, created_at, consent_at, consent_method, consent_source, confirmed_at)
                VALUES ('\(UUID().uuidString)', ?, \(nameSQL), 'confirmed', 0, 0, 'form', 'form', 1)
                """, arguments: [email])
        }
    }

    @Test func aNameWithALineBreakFailsThatRecipientAloneAndTheSendGoesOn() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("first@example.com")
        try await insertConfirmed(fixture, email: "mallory@example.com", nameSQL: "'M' || char(13, 10) || 'X'")
        try fixture.confirmed("last@example.com")
        let transport = RecordingTransport()
        let (send, summary) = try await fixture.job(transport).run(fixture.issue, decision: .start)!
        #expect(summary.ending == .completed)
        #expect(transport.delivered.map(\.to) == ["first@example.com", "last@example.com"])
        #expect(summary.sent == 2)
        #expect(summary.failed == 1)
        let failures = try fixture.store.failures(of: send)
        #expect(failures.map(\.email) == ["mallory@example.com"])
        #expect(failures.first?.lastResponse?.hasPrefix("The message could not be made: The To header would contain a line break") == true)
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 3, sent: 2, pending: 0, retrying: 0, failed: 1))
        #expect(try fixture.store.latestSend(issue: "1")?.state == .completed)
    }

    @Test func manyUnmakeableRecipientsInARowDoNotPauseTheSend() async throws {
        let fixture = try SendFixture()
        for i in 1...30 { try await insertConfirmed(fixture, email: "bad\(i)@example.com", nameSQL: "'B' || char(10) || 'X'") }
        try fixture.confirmed("good@example.com")
        let transport = RecordingTransport()
        let (_, summary) = try await fixture.job(transport).run(fixture.issue, decision: .start)!
        #expect(summary.ending == .completed)
        #expect(summary.failed == 30)
        #expect(transport.delivered.map(\.to) == ["good@example.com"])
    }

    /// A setting that fails every message stops the run at once: nothing more goes to the
    /// transport, nobody is marked failed, a retry keeps its attempts and last answer, and the
    /// next run resumes.
    @Test func aConfigurationProblemStopsTheRunAndLeavesEveryoneDue() async throws {
        let fixture = try SendFixture()
        for address in ["a@example.com", "b@example.com", "c@example.com"] { try fixture.confirmed(address) }
        let transport = RecordingTransport()
        let problem = DeliveryError.configuration("The mail server refused the username and password (535). Check `transport.smtp.username`.")
        transport.failures = ["a@example.com": [.temporary("451 try again later"), problem], "b@example.com": [problem]]
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        var options = IssueSender.Options(perSecond: 0, perHour: 0)
        options.baseBackoff = 0
        let sender = IssueSender(configuration: fixture.configuration, store: fixture.store, signer: fixture.signer, transport: transport,
                                 message: fixture.issue.message, options: options)
        func row(_ email: String) throws -> SendRecipient? {
            try fixture.store.dueRecipients(of: send, limit: 10, now: .distantFuture).first { $0.email == email }
        }

        // a: 451, retried at once; b: the problem. c is never handed over.
        let first = try await sender.run(send)
        #expect(first.ending == .misconfigured(try #require(try fixture.store.latestSend(issue: "1")?.note)))
        #expect(transport.delivered.isEmpty)
        #expect(try fixture.store.progress(of: send) == SendProgress(total: 3, sent: 0, pending: 2, retrying: 1, failed: 0))
        #expect(try row("b@example.com")?.attempts == 0)
        // a, retried first in the next run, meets the problem: still its one attempt and the 451.
        let second = try await sender.run(send)
        #expect(second.ending == first.ending)
        #expect(try row("a@example.com")?.attempts == 1 && row("a@example.com")?.lastResponse == "451 try again later")
        #expect(transport.delivered.isEmpty)
        // Fixed: everyone gets it.
        let third = try await sender.run(send)
        #expect(third.ending == .completed)
        #expect(transport.delivered.map(\.to).sorted() == ["a@example.com", "b@example.com", "c@example.com"])
    }

    @Test func anAddressTheStoreShouldNeverHaveHeldIsNotHandedToTheTransport() async throws {
        let fixture = try SendFixture()
        try await insertConfirmed(fixture, email: "a b@example.com>, <everyone@example.com", nameSQL: "NULL")
        try fixture.confirmed("good@example.com")
        let transport = RecordingTransport()
        let (send, summary) = try await fixture.job(transport).run(fixture.issue, decision: .start)!
        #expect(summary.failed == 1)
        #expect(transport.delivered.map(\.to) == ["good@example.com"])
        #expect(try fixture.store.failures(of: send).first?.lastResponse?.contains("is not a valid email address") == true)
    }
}

/// Issue #11, item 12: outbox messages (address, unsubscribe link) and the lock were 0644.
@Suite struct DeliveryFileModeTests {
    @Test func outboxFolderAndMessagesAreForTheOwnerOnly() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("reader@example.com")
        let folder = fixture.folder.appendingPathComponent("mail/outbox")
        _ = try await fixture.job(OutboxTransport(directory: folder)).run(fixture.issue, decision: .start)
        #expect(PrivateFiles.mode(ofPath: folder.path) == 0o700)
        #expect(PrivateFiles.mode(ofPath: folder.deletingLastPathComponent().path) == 0o700)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(names.count == 1)
        for name in names { #expect(PrivateFiles.mode(ofPath: folder.appendingPathComponent(name).path) == 0o600, "\(name)") }
    }

    @Test func theSendLockIsForTheOwnerOnly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)").path
        let lock = try SendLock(storePath: path)
        #expect(PrivateFiles.mode(ofPath: lock.path) == 0o600)
    }

    @Test func theDefaultOutboxIsOutsideThePublishedFolder() throws {
        let fixture = try SendFixture()
        let transport = try fixture.configuration.transport(projectDirectory: fixture.folder)
        #expect(transport.name == "outbox (\(fixture.folder.appendingPathComponent("outbox").path))")
    }
}
