import Foundation
import HogMail
import Testing

@testable import HogMailDelivery
@testable import HogMailStore

/// `SendRun`: the send as a library, without a process. Links are not checked here (the
/// drafts have none, and `SendTests`/`LinkCommandTests` cover the gate through the command).
@Suite struct SendRunTests {
    // MARK: - Which issues

    @Test func dueChoosesOnlyIssuesWhoseSendTimeHasCome() async throws {
        let fixture = try SendFixture()
        try fixture.draft("002-next.md", title: "Issue two", date: "2026-01-21")

        let result = try await fixture.run(RecordingTransport(), .init(mode: .dryRun, due: true, now: try date("2026-01-14T12:00:00Z")))

        #expect(result.issues.map(\.issue.folder) == ["1"])
    }

    @Test func dueCountsTheScheduledTimeOfDayNotOnlyTheDate() async throws {
        let fixture = try SendFixture()

        // 2026-01-07 at 09:00 UTC (the new project's schedule): not yet at 08:59.
        let result = try await fixture.run(RecordingTransport(), .init(mode: .dryRun, due: true, now: try date("2026-01-07T08:59:00Z")))

        #expect(result.issues.map(\.issue.folder) == [])
    }

    @Test func dueLeavesOutIssuesMarkedDraft() async throws {
        let fixture = try SendFixture()
        try fixture.draft("002-next.md", title: "Issue two", date: "2026-01-08", draft: true)

        let result = try await fixture.run(RecordingTransport(), .init(mode: .dryRun, due: true, now: try date("2026-02-01T00:00:00Z")))

        #expect(result.issues.map(\.issue.folder) == ["1"])
    }

    @Test func dueWithNothingToSendSaysNothingIsDueAndExitsWithZero() async throws {
        let fixture = try SendFixture()
        let events = EventLog()

        let result = try await fixture.run(RecordingTransport(), .init(due: true, now: try date("2026-01-01T00:00:00Z")), events: events)

        #expect(events.names == ["nothingDue"])
        #expect(result.exitCode == 0)
    }

    // MARK: - The gates

    @Test func aLintErrorStopsTheRunBeforeAnythingIsSent() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        try fixture.draft("001-welcome.md", title: "\"Re: your account\"", date: "2026-01-07")
        let transport = RecordingTransport()
        let events = EventLog()

        let error = await #expect(throws: HogMailError.self) { try await fixture.run(transport, .init(draft: "1"), events: events) }

        #expect(error?.message == "The linter found errors, so nothing was sent. Fix them and send again.")
        #expect(events.names == ["lintError"])
        #expect(transport.delivered.isEmpty)
    }

    @Test func anotherRunHoldingTheLockMakesThisOneDoNothingAndComeBackLater() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let transport = RecordingTransport()
        let other = try SendLock(storePath: fixture.store.path)
        defer { withExtendedLifetime(other) {} }

        let result = try await fixture.run(transport, .init(draft: "1"))

        #expect(result.lockHeldBy?.hasPrefix("pid \(getpid()) since ") == true)
        #expect(result.exitCode == 75)
        #expect(transport.delivered.isEmpty)
    }

    // MARK: - Start, resume or done

    @Test func aNamedIssueIsSentToEveryConfirmedSubscriberAndExitsWithZero() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        try fixture.confirmed("grace@example.com")
        let transport = RecordingTransport()

        let result = try await fixture.run(transport, .init(draft: "1"))

        #expect(transport.delivered.map(\.to).sorted() == ["ada@example.com", "grace@example.com"])
        guard case .sent(let sent)? = result.issues.first?.outcome else { Issue.record("\(result.issues.map(\.outcome))"); return }
        #expect(sent.progress == SendProgress(total: 2, sent: 2, pending: 0, retrying: 0, failed: 0))
        #expect(result.exitCode == 0)
    }

    @Test func anIssueSentAlreadyIsNotSentAgain() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        _ = try await fixture.run(RecordingTransport(), .init(draft: "1"))
        let transport = RecordingTransport()

        let result = try await fixture.run(transport, .init(draft: "1"))

        guard case .alreadySent? = result.issues.first?.outcome else { Issue.record("\(result.issues.map(\.outcome))"); return }
        #expect(transport.delivered.isEmpty)
    }

    @Test func resumeWithoutAPausedSendIsRefused() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let transport = RecordingTransport()

        let error = await #expect(throws: HogMailError.self) { try await fixture.run(transport, .init(draft: "1", resume: true)) }

        #expect(error?.message.hasPrefix("There is no paused send of this issue to resume.") == true)

        #expect(transport.delivered.isEmpty)
    }

    @Test func aNewSendThePersonDeclinesSendsNothingAndExitsWithZero() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let transport = RecordingTransport()
        var asked: [Int] = []

        let result = try await fixture.run(transport, .init(draft: "1"), confirm: { asked.append($0.recipients); return false })

        #expect(asked == [1])
        #expect(result.issues.map(\.outcome) == [.declined])
        #expect(result.exitCode == 0)
        #expect(transport.delivered.isEmpty)
        #expect(try fixture.store.latestSend(issue: "1") == nil)
    }

    @Test func theScheduledJobIsNeverAskedToConfirm() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let transport = RecordingTransport()

        _ = try await fixture.run(transport, .init(due: true, now: try date("2026-01-08T00:00:00Z")), confirm: { _ in
            Issue.record("asked")
            return false
        })

        #expect(transport.delivered.map(\.to) == ["ada@example.com"])
    }

    @Test func aSendTheBreakerPausedWaitsForAcceptRiskAndComesBackLater() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let send = try fixture.store.freezeSend(issue: "1", contentHash: fixture.issue.message.contentHash)
        try fixture.store.setState(of: send, to: .paused, note: "Paused by the breaker.", pauseKind: .breaker)
        let transport = RecordingTransport()

        let result = try await fixture.run(transport, .init(draft: "1", resume: true))

        guard case .waitsForAcceptRisk? = result.issues.first?.outcome else { Issue.record("\(result.issues.map(\.outcome))"); return }
        #expect(result.exitCode == 75)
        #expect(transport.delivered.isEmpty)
    }

    // MARK: - The exit status

    @Test func retriesLeftForLaterMakeTheRunComeBackLater() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("flaky@example.com")
        let transport = RecordingTransport()
        transport.failures["flaky@example.com"] = [.temporary("451 4.3.0 try later")]

        let result = try await fixture.run(transport, .init(draft: "1"))

        #expect(result.exitCode == 75)
    }

    @Test func aSettingTheServerRefusesEndsTheRunWithOne() async throws {
        let fixture = try SendFixture()
        try fixture.confirmed("ada@example.com")
        let transport = RecordingTransport()
        transport.failures["ada@example.com"] = [.configuration("The server refused the login.")]

        let result = try await fixture.run(transport, .init(draft: "1"))

        #expect(result.exitCode == 1)
    }

    @Test func onlyAStopForASettingExitsWithOne() {
        #expect(SendRun.exitCode(for: .misconfigured("Fix the password.")) == 1)
    }

    @Test func stopsThatTheNextRunGoesOnFromExitWith75() {
        let endings: [IssueSender.Summary.Ending] = [.retriesLater(Date()), .hourlyLimit, .paused("25 messages in a row failed."),
                                                     .breaker("Paused by the breaker.")]
        #expect(endings.map(SendRun.exitCode(for:)) == [75, 75, 75, 75])
    }

    @Test func aCompletedSendExitsWithZero() {
        #expect(SendRun.exitCode(for: .completed) == 0)
    }

    @Test func aSettingToFixOutweighsComingBackLaterInTheRunsExitStatus() throws {
        let fixture = try SendFixture()
        let send = SendRecord(id: 1, issue: "1", contentHash: "x", createdAt: Date(), state: .paused)
        func sent(_ ending: IssueSender.Summary.Ending) -> SendRun.IssueResult {
            var summary = IssueSender.Summary()
            summary.ending = ending
            return .init(issue: fixture.issue, outcome: .sent(.init(send: send, summary: summary, progress: SendProgress(total: 1))))
        }

        let result = SendRun.Result(issues: [sent(.hourlyLimit), sent(.misconfigured("Fix the password."))])

        #expect(result.exitCode == 1)
    }
}

// MARK: - Helpers

/// The names of the events a run told, in order (progress left out: how often it comes is the sender's business).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [String] = []

    func record(_ event: SendRun.Event) {
        let name = String(describing: event).prefix { $0 != "(" }
        guard name != "progress" else { return }
        lock.withLock { events.append(String(name)) }
    }

    var names: [String] { lock.withLock { events } }
}

private func date(_ text: String) throws -> Date {
    try #require(ISO8601DateFormatter().date(from: text))
}

extension SendFixture {
    /// A draft in issues/, written over any of the same name.
    func draft(_ name: String, title: String, date: String, draft: Bool = false) throws {
        try Data("---\ntitle: \(title)\ndate: \(date)\npreheader: One.\n\(draft ? "draft: true\n" : "")---\n\nHello, readers.\n".utf8)
            .write(to: folder.appendingPathComponent("issues/\(name)"))
    }

    /// A send run of this project through `transport`; links are not asked.
    func run(_ transport: any Transport, _ options: SendRun.Options, events: EventLog = EventLog(),
             confirm: ((SendRun.Confirmation) -> Bool)? = nil) async throws -> SendRun.Result {
        var configuration = configuration
        configuration.links.checkBeforeSend = false
        let job = SendJob(configuration: configuration, store: store, signer: signer, transport: transport)
        return try await SendRun(project: Project(directory: folder), job: job, options: options).run(confirm: confirm, report: events.record)
    }
}
