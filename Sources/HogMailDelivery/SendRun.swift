import Foundation
import HogMail
import HogMailStore

/// One `hogmail send`, for any sender (the command, a scheduler): which issues go (the one
/// named, or every issue that is due), the gates before a send starts (lint errors, dead
/// links), one run at a time per store, whether each issue starts, resumes or is done, the
/// archive rebuilt after a send, and the exit status the run ends with. Nothing here prints:
/// what happens is told as `Event`s, in order, and the run comes back as a `Result`.
public struct SendRun: Sendable {
    // MARK: - Options

    public enum Mode: Sendable, Equatable {
        /// Every confirmed subscriber gets the issue once: a send starts or resumes.
        case send
        /// The real message, marked `[Test]`, to these addresses only; never journaled.
        case test([String])
        /// Says what would happen and who would get the issue; sends nothing.
        case dryRun
    }

    public struct Options: Sendable {
        public var mode: Mode = .send
        /// The draft to send (a path or an issue number); nil with `due`.
        public var draft: String?
        /// Every issue whose date has come and that is not fully sent (`--due`): a draft that
        /// does not parse is left out with a warning, and an issue sent already is no news.
        public var due = false
        /// With `due`: the time to act as now; nil is the moment the issues are chosen.
        public var now: Date?
        public var newSend = false
        public var resume = false
        public var acceptRisk = false
        public var allowDeadLinks = false
        /// How links are asked before a send starts; nil is as `hogmail links check` asks.
        public var linkCheck: LinkCheckOptions?

        public init(mode: Mode = .send, draft: String? = nil, due: Bool = false, now: Date? = nil, newSend: Bool = false, resume: Bool = false,
                    acceptRisk: Bool = false, allowDeadLinks: Bool = false, linkCheck: LinkCheckOptions? = nil) {
            self.mode = mode
            self.draft = draft
            self.due = due
            self.now = now
            self.newSend = newSend
            self.resume = resume
            self.acceptRisk = acceptRisk
            self.allowDeadLinks = allowDeadLinks
            self.linkCheck = linkCheck
        }
    }

    // MARK: - What happens

    public enum Event: Sendable {
        /// Worth a look, stops nothing: a draft left out, a test whose images are not online yet.
        case warning(Warning)
        /// A lint error of an issue to be sent; the run then stops with an error.
        case lintError(Finding)
        case testSent(BuildPipeline.BuiltIssue, to: [String])
        /// Dry run: what a send of this issue would do.
        case wouldSend(BuildPipeline.BuiltIssue, SendJob.Decision)
        /// Dry run: how many confirmed subscribers would get it, and the first few of them.
        case wouldReach(count: Int, sample: [String])
        /// The links of the issues about to start, checked (dead ones refuse the send unless allowed).
        case linksChecked(LinkReport)
        /// Another run holds the send lock (it says who): this run does nothing.
        case lockHeld(by: String)
        case alreadySent(BuildPipeline.BuiltIssue, SendJob.Decision)
        /// The person was asked to confirm a new send and did not.
        case declined(BuildPipeline.BuiltIssue)
        case sending(BuildPipeline.BuiltIssue)
        case progress(BuildPipeline.BuiltIssue, SendProgress)
        /// The sender returned; the issue's summary follows.
        case stoppedSending(BuildPipeline.BuiltIssue)
        case sent(BuildPipeline.BuiltIssue, Sent)
        /// The reputation breaker paused this send, and only `--resume --accept-risk` goes on.
        case waitsForAcceptRisk(BuildPipeline.BuiltIssue, BreakerPaused)
        /// The archive and feed were rebuilt after a send (`archiveWritten`: they list it now).
        case published(archiveWritten: Bool)
        /// They were not; the send stands, and `hogmail build` publishes later.
        case notPublished(any Error)
        /// `due`, and nothing needed sending.
        case nothingDue
    }

    /// A send that ran: the journal's send, what this run did, and where the whole send stands.
    public struct Sent: Sendable, Equatable {
        public var send: SendRecord
        public var summary: IssueSender.Summary
        public var progress: SendProgress
    }

    /// A new send is about to start: the person may say no.
    public struct Confirmation: Sendable {
        public var issue: BuildPipeline.BuiltIssue
        public var recipients: Int
    }

    public enum Outcome: Sendable, Equatable {
        case testSent(to: [String])
        case wouldSend(SendJob.Decision)
        case alreadySent(SendRecord)
        case declined
        case waitsForAcceptRisk(SendRecord)
        case sent(Sent)
    }

    public struct IssueResult: Sendable {
        public var issue: BuildPipeline.BuiltIssue
        public var outcome: Outcome
    }

    public struct Result: Sendable {
        public var issues: [IssueResult] = []
        /// Who holds the send lock, when another run did and this one did nothing.
        public var lockHeldBy: String?

        /// 0 done (or nothing due); 1 a setting to fix first, which coming back later cannot
        /// help; 75 (EX_TEMPFAIL) come back later. Errors that stop the run are thrown (1).
        public var exitCode: Int32 {
            if lockHeldBy != nil { return SendRun.comeBackLater }
            let codes = issues.map(\.outcome.exitCode)
            if codes.contains(1) { return 1 }
            return codes.contains(SendRun.comeBackLater) ? SendRun.comeBackLater : 0
        }
    }

    /// EX_TEMPFAIL: the scheduler runs the send again later and it goes on.
    public static let comeBackLater: Int32 = 75

    /// The exit status of an issue's send that stopped this way.
    public static func exitCode(for ending: IssueSender.Summary.Ending) -> Int32 {
        switch ending {
        case .completed: return 0
        case .retriesLater, .hourlyLimit, .paused, .breaker: return comeBackLater
        // The next run would fail the same way until the setting is fixed.
        case .misconfigured: return 1
        }
    }

    // MARK: - Running

    public let project: Project
    public let job: SendJob
    public let options: Options

    public init(project: Project, job: SendJob, options: Options) {
        self.project = project
        self.job = job
        self.options = options
    }

    /// Runs the send. `confirm` is asked before a new send of a named issue starts (nil: no
    /// question); `report` hears every event as it happens.
    public func run(confirm: ((Confirmation) -> Bool)? = nil, report: @Sendable (Event) -> Void = { _ in }) async throws -> Result {
        let issues = try chosenIssues(report)
        switch options.mode {
        case .test(let addresses): return try await sendTests(issues, to: addresses, report)
        case .dryRun: return try dryRun(issues, report)
        case .send:
            try await checkLinks(issues, report)
            return try await send(issues, confirm: confirm, report)
        }
    }

    /// The issues this run is about, built in memory; with `due`, only those whose send time
    /// has come. Any lint error stops everything.
    private func chosenIssues(_ report: (Event) -> Void) throws -> [BuildPipeline.BuiltIssue] {
        // With `due`, a draft that does not parse (next issue, half written) is a warning: it
        // cannot be due-checked, so it is not sent, and the issues that are due still go out.
        let built = try BuildPipeline(options: .init(projectDirectory: project.directory, drafts: options.draft.map { [$0] } ?? [], write: false,
                                                     leaveOutBrokenDrafts: options.due)).run()
        built.warnings.forEach { report(.warning($0)) }
        let now = options.now ?? Date()
        var issues = built.issues
        if options.due {
            issues = issues.filter { !$0.isDraft && $0.issue.sendTime.instant(schedule: job.configuration.schedule) <= now }
        }
        for issue in issues where issue.lint.errorCount > 0 {
            issue.lint.findings.filter { $0.severity == .error && !$0.isSilenced }.forEach { report(.lintError($0)) }
            throw HogMailError(file: issue.sourcePath, "The linter found errors, so nothing was sent. Fix them and send again.")
        }
        return issues
    }

    private func sendTests(_ issues: [BuildPipeline.BuiltIssue], to addresses: [String], _ report: (Event) -> Void) async throws -> Result {
        var result = Result()
        for issue in issues {
            let sent = try await job.sendTest(issue, to: addresses)
            report(.testSent(issue, to: sent))
            if let note = issue.imagesNotOnlineNote { report(.warning(Warning(file: issue.sourcePath, note))) }
            result.issues.append(IssueResult(issue: issue, outcome: .testSent(to: sent)))
        }
        return result
    }

    private func dryRun(_ issues: [BuildPipeline.BuiltIssue], _ report: (Event) -> Void) throws -> Result {
        var result = Result()
        let (count, sample) = try job.store.eligibleRecipients(limit: 20)
        for issue in issues {
            let decision = try job.decide(issue, newSend: options.newSend)
            report(.wouldSend(issue, decision))
            result.issues.append(IssueResult(issue: issue, outcome: .wouldSend(decision)))
        }
        report(.wouldReach(count: count, sample: sample))
        return result
    }

    /// A dead link goes to every reader: checked before a send starts (not before a resume:
    /// part of the list has the issue already, and the rest should get the same).
    private func checkLinks(_ issues: [BuildPipeline.BuiltIssue], _ report: (Event) -> Void) async throws {
        guard job.configuration.links.checkBeforeSend else { return }
        let starting = try issues.filter { try !$0.isDraft && job.decide($0, newSend: options.newSend) == .start }
        guard !starting.isEmpty else { return }
        let verdict = await DeadLinkGate.check(starting.map(\.issue), project: project, configuration: job.configuration,
                                               allowDeadLinks: options.allowDeadLinks, options: options.linkCheck)
        report(.linksChecked(verdict.report))
        if let refusal = verdict.refusal { throw refusal }
    }

    private func send(_ issues: [BuildPipeline.BuiltIssue], confirm: ((Confirmation) -> Bool)?,
                      _ report: @Sendable (Event) -> Void) async throws -> Result {
        var result = Result()
        // An SQLite store has one sender at a time, for the whole run. A server store's sends are
        // shared: the lock is held only while an issue's send is decided and frozen, so two
        // senders starting at once freeze it once, and then both send it.
        var lock: SendLock?
        if !job.store.sharesSends {
            do { lock = try SendLock(store: job.store) } catch SendLock.Failure.heldBy(let holder) {
                report(.lockHeld(by: holder))
                result.lockHeldBy = holder
                return result
            }
        }
        defer { withExtendedLifetime(lock) {} }

        var acted = 0
        // Said however the run ends, an error included, as the command always has.
        defer { if options.due && acted == 0 { report(.nothingDue) } }
        sending: for issue in issues {
            if issue.isDraft {
                throw HogMailError(file: issue.sourcePath, "This issue is marked `draft: true`; remove that line from the front matter to send it.")
            }
            var startLock = job.store.sharesSends ? try SendLock.waiting(for: job.store) : nil
            var decision = try job.decide(issue, newSend: options.newSend)
            defer { withExtendedLifetime(startLock) {} }
            switch decision {
            case .alreadySent(let send):
                report(.alreadySent(issue, decision))
                result.issues.append(IssueResult(issue: issue, outcome: .alreadySent(send)))
                continue
            case .start where options.resume:
                throw HogMailError(file: issue.sourcePath, "There is no paused send of this issue to resume. Run `hogmail send \(issue.sourcePath)` to start one.")
            case .changedAfterSend:
                throw HogMailError(file: issue.sourcePath, SendJob.explain(decision, issue: issue))
            case .start, .resume:
                acted += 1
            }
            if case .start = decision, !options.due, let confirm {
                let (count, _) = try job.store.eligibleRecipients(limit: 0)
                guard confirm(Confirmation(issue: issue, recipients: count)) else {
                    // Nothing more happens in this run: no other issue, no archive rebuilt.
                    report(.declined(issue))
                    result.issues.append(IssueResult(issue: issue, outcome: .declined))
                    return result
                }
            }
            if startLock != nil {
                // Frozen under the lock, then joined like any other sender's send.
                if case .start = decision { decision = .resume(try job.freeze(issue)) }
                startLock = nil
            }
            report(.sending(issue))
            let outcome: (SendRecord, IssueSender.Summary)?
            do {
                outcome = try await job.run(issue, decision: decision, acceptRisk: options.acceptRisk, progress: { report(.progress(issue, $0)) })
            } catch let paused as BreakerPaused {
                // Waits for a person: the scheduled job says so on every run, and sends nothing.
                report(.waitsForAcceptRisk(issue, paused))
                result.issues.append(IssueResult(issue: issue, outcome: .waitsForAcceptRisk(paused.send)))
                continue
            }
            guard let (send, summary) = outcome else { continue }
            report(.stoppedSending(issue))
            let sent = Sent(send: send, summary: summary, progress: try job.store.progress(of: send))
            report(.sent(issue, sent))
            result.issues.append(IssueResult(issue: issue, outcome: .sent(sent)))
            // Coming back later cannot help until the setting is fixed; the next issue would fail the same way.
            if case .misconfigured = summary.ending { break sending }
        }
        if acted > 0 { publish(report) }
        return result
    }

    /// A send makes its issue public: the archive and feed are rebuilt to list it. A failure
    /// here does not undo the send; it is told, and `hogmail build` does the same later.
    private func publish(_ report: (Event) -> Void) {
        do {
            let sentIssues = Set(try job.store.sends().map(\.issue))
            let built = try BuildPipeline(options: BuildPipeline.Options(projectDirectory: project.directory, sentIssues: sentIssues)).run()
            report(.published(archiveWritten: built.archiveWritten))
        } catch {
            report(.notPublished(error))
        }
    }
}

extension SendRun.Outcome {
    /// This issue's part of the run's exit status (`SendRun.Result.exitCode`).
    public var exitCode: Int32 {
        switch self {
        case .sent(let sent): return SendRun.exitCode(for: sent.summary.ending)
        case .waitsForAcceptRisk: return SendRun.comeBackLater
        case .testSent, .wouldSend, .alreadySent, .declined: return 0
        }
    }
}

extension BreakerPaused {
    /// What the scheduled job says on every run while the send waits for a person.
    public var sentence: String {
        send.note ?? "Send #\(send.id) is paused by the reputation breaker; run `hogmail send \(send.issue) --resume --accept-risk` to go on."
    }
}
