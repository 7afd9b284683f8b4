import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

extension Hogmail {
    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send an issue to every confirmed subscriber, once; resume an unfinished send; or send what is due.",
            discussion: """
            Exit status: 0 done (or nothing due), 1 error (lint error, bad configuration, refused, or the mail server showed
            a setting to fix: an untrusted certificate, no STARTTLS, a refused login; the send pauses until it is fixed),
            75 come back later (another run holds the lock, retries are scheduled, the hourly limit is reached, or the
            send paused after many failures in a row or by the reputation breaker).
            Examples:
              hogmail send issues/3-flags.md --dry-run
              hogmail send issues/3-flags.md --test editor@example.com
              hogmail send issues/3-flags.md --yes
              hogmail send --due                       # from cron or a systemd timer
              hogmail send --due --now 2026-01-21T16:05:00Z
              hogmail send 3 --resume --accept-risk    # go on after the reputation breaker paused send 3
              hogmail send 3 --yes --allow-dead-links  # start although a link is dead (checked first; see `hogmail links check`)
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "The draft to send (a path or an issue number).") var draft: String?
        @Flag(help: "Send every issue whose date has come and that is not fully sent.") var due = false
        @Option(help: "With --due: the time to act as now (ISO 8601), for testing a schedule.") var now: String?
        @Flag(help: "Do not ask for confirmation.") var yes = false
        @Flag(help: "Show who would get it; send nothing.") var dryRun = false
        @Option(parsing: .upToNextOption, help: "Send the real message, marked [Test], to these addresses only.") var test: [String] = []
        @Flag(help: "Start a new send of a changed issue (everyone confirmed now gets it, again if they got the old one).") var newSend = false
        @Flag(help: "Go on with the issue's paused send (after fixing what paused it).") var resume = false
        @Flag(help: "With --resume: go on although the reputation breaker paused the send for its bounce or complaint rate.") var acceptRisk = false
        @Flag(help: "Start the send although a link of the issue is dead (each is named).") var allowDeadLinks = false

        func validate() throws {
            if due && draft != nil { throw ValidationError("Give a draft or --due, not both.") }
            if !due && draft == nil { throw ValidationError("Name the draft to send, or use --due.") }
            if now != nil && !due { throw ValidationError("--now goes with --due.") }
            if acceptRisk && !resume { throw ValidationError("--accept-risk goes with --resume: `hogmail send ISSUE --resume --accept-risk`.") }
            if resume && (due || newSend) { throw ValidationError("--resume goes on with one issue's paused send; give the issue, without --due or --new-send.") }
            if let now, ISO8601DateFormatter().date(from: now) == nil { throw ValidationError("--now is `\(now)`; use ISO 8601, like 2026-01-21T16:05:00Z.") }
        }

        func run() async throws {
            var exitCode: Int32 = 0
            try await Console.runAsync {
                let environment = try SubscriberEnvironment(project)
                let configuration = environment.configuration
                let signer = try TokenSigner.fromEnvironment(configuration)
                let transport = try configuration.transport(projectDirectory: environment.project.directory)
                let job = SendJob(configuration: configuration, store: environment.store, signer: signer, transport: transport)
                let mode: SendRun.Mode = !test.isEmpty ? .test(test) : dryRun ? .dryRun : .send
                let options = SendRun.Options(mode: mode, draft: draft, due: due, now: now.flatMap { ISO8601DateFormatter().date(from: $0) },
                                              newSend: newSend, resume: resume, acceptRisk: acceptRisk, allowDeadLinks: allowDeadLinks)
                let printer = SendPrinter(transport: transport.name, ratePerHour: configuration.ratePerHour, due: due, allowDeadLinks: allowDeadLinks)
                let confirm: ((SendRun.Confirmation) -> Bool)? = yes || !Console.isInteractive ? nil : { question in
                    let count = question.recipients
                    print("Send \"\(question.issue.subject)\" to \(count) confirmed subscriber\(count == 1 ? "" : "s") through \(transport.name)? [y/N] ", terminator: "")
                    return readLine()?.lowercased().hasPrefix("y") == true
                }
                exitCode = try await SendRun(project: environment.project, job: job, options: options).run(confirm: confirm, report: printer.say).exitCode
            }
            if exitCode != 0 { throw ExitCode(exitCode) }
        }
    }
}

/// Says what a send run tells, as `hogmail send` always has: results on standard output,
/// warnings, errors and progress on standard error.
final class SendPrinter: @unchecked Sendable {
    let transport: String
    let ratePerHour: Int
    /// The scheduled job does not list the issues sent already.
    let due: Bool
    let allowDeadLinks: Bool
    private var bar: ProgressReporter?

    init(transport: String, ratePerHour: Int, due: Bool, allowDeadLinks: Bool) {
        self.transport = transport
        self.ratePerHour = ratePerHour
        self.due = due
        self.allowDeadLinks = allowDeadLinks
    }

    func say(_ event: SendRun.Event) {
        switch event {
        case .warning(let warning): Console.warn(warning)
        case .lintError(let finding): Console.printError(finding.description)
        case .testSent(let issue, let addresses):
            print("Sent a test of \(issue.sourcePath) to \(addresses.joined(separator: ", ")) through \(transport). It is not part of any send.")
        case .wouldSend(let issue, let decision): print("\(issue.sourcePath): \(SendJob.explain(decision, issue: issue))")
        case .wouldReach(let count, let sample):
            print("\(count) confirmed subscriber\(count == 1 ? "" : "s") would get it through \(transport):")
            sample.forEach { print("  \($0)") }
            if count > sample.count { print("  … and \(count - sample.count) more.") }
        case .linksChecked(let report):
            report.warnings.forEach(Console.warn)
            for entry in report.needsALook {
                Console.warn(Warning(file: entry.link.file, line: entry.link.line, "\(entry.status.label) \(entry.link.url) (\(entry.status.detail))"))
            }
            for entry in report.dead {
                Console.printError(allowDeadLinks ? "\(entry.line) — sent anyway (--allow-dead-links)" : entry.line)
            }
        case .lockHeld(let holder):
            Console.printError("Another send is running (\(holder)); this run does nothing. It will be picked up next time.")
        case .alreadySent(let issue, let decision):
            if !due { print(SendJob.explain(decision, issue: issue)) }
        case .declined: print("Nothing was sent.")
        case .sending(let issue): bar = ProgressReporter(label: issue.folder)
        case .progress(_, let progress): bar?.update(progress)
        case .stoppedSending: bar?.finish()
        case .sent(let issue, let sent):
            let (send, summary, progress) = (sent.send, sent.summary, sent.progress)
            print("Send #\(send.id) of \(issue.sourcePath): \(summary.sent) sent now, \(progress.sent) of \(progress.total) in all; \(progress.failed) failed (\(summary.bounced) bounced); \(progress.pending + progress.retrying) left; \(String(format: "%.1f", summary.seconds)) s.")
            if summary.failed > 0 {
                print("`hogmail status \(send.issue)` lists each failed recipient and why.")
            }
            switch summary.ending {
            case .completed: break
            case .retriesLater(let date):
                print("\(progress.retrying) message\(progress.retrying == 1 ? "" : "s") will be retried from \(ISO8601DateFormatter().string(from: date)); the next run continues.")
            case .hourlyLimit:
                print("The hourly limit (transport.rate.per_hour: \(ratePerHour)) is reached; the next run continues.")
            case .paused(let reason), .breaker(let reason):
                Console.printError(reason)
            case .misconfigured(let problem):
                Console.report(HogMailError(problem))
            }
        case .waitsForAcceptRisk(_, let paused): Console.printError(paused.sentence)
        case .published(let archiveWritten):
            if archiveWritten { print("The archive and feed now list every sent issue.") }
        case .notPublished(let error):
            Console.warn(Warning("the archive and feed were not rebuilt after the send: \(Console.personError(error).description) Run `hogmail build` to publish the issue."))
        case .nothingDue: print("Nothing is due: every issue whose date has come is sent.")
        }
    }
}

/// A progress bar with rate and ETA on a terminal; a log line every 10% otherwise.
final class ProgressReporter: @unchecked Sendable {
    let label: String
    let started = Date()
    let terminal = isatty(STDERR_FILENO) == 1
    var lastDecile = -1

    init(label: String) { self.label = label }

    func update(_ progress: SendProgress) {
        guard progress.total > 0 else { return }
        let done = progress.sent + progress.failed
        let fraction = Double(done) / Double(progress.total)
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(progress.total - done) / rate : 0
        if terminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r%@ %@ %d/%d %.0f/s ETA %d:%02d ", label, bar, done, progress.total, rate, Int(eta) / 60, Int(eta) % 60).utf8))
        } else {
            let decile = Int(fraction * 10)
            if decile != lastDecile {
                lastDecile = decile
                Console.printError(String(format: "issue %@: %d/%d done (%d%%), %.0f messages/s", label, done, progress.total, decile * 10, rate))
            }
        }
    }

    func finish() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
}
