import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery
import HogMailServer
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

                let drafts = draft.map { [$0] } ?? []
                // With --due, a draft that does not parse (next issue, half written) is a warning: it
                // cannot be due-checked, so it is not sent, and the issues that are due still go out.
                let report = try BuildPipeline(options: .init(projectDirectory: project.directory, drafts: drafts, write: false,
                                                              leaveOutBrokenDrafts: due)).run()
                report.warnings.forEach(Console.warn)
                let nowDate = now.flatMap { ISO8601DateFormatter().date(from: $0) } ?? Date()
                var issues = report.issues
                if due {
                    issues = issues.filter { !$0.isDraft && $0.issue.sendTime.instant(schedule: configuration.schedule) <= nowDate }
                }
                for issue in issues where issue.lint.errorCount > 0 {
                    issue.lint.findings.filter { $0.severity == .error && !$0.isSilenced }.forEach { Console.printError($0.description) }
                    throw HogMailError(file: issue.sourcePath, "The linter found errors, so nothing was sent. Fix them and send again.")
                }

                if !test.isEmpty {
                    for issue in issues {
                        let sent = try await job.sendTest(issue, to: test)
                        print("Sent a test of \(issue.sourcePath) to \(sent.joined(separator: ", ")) through \(transport.name). It is not part of any send.")
                        if let note = issue.imagesNotOnlineNote { Console.warn(Warning(file: issue.sourcePath, note)) }
                    }
                    return
                }
                if dryRun {
                    let (count, sample) = try environment.store.eligibleRecipients(limit: 20)
                    for issue in issues {
                        print("\(issue.sourcePath): \(SendJob.explain(try job.decide(issue, newSend: newSend), issue: issue))")
                    }
                    print("\(count) confirmed subscriber\(count == 1 ? "" : "s") would get it through \(transport.name):")
                    sample.forEach { print("  \($0)") }
                    if count > sample.count { print("  … and \(count - sample.count) more.") }
                    return
                }

                // A dead link goes to every reader: checked before a send starts (not before a
                // resume: part of the list has the issue already, and the rest should get the same).
                if configuration.links.checkBeforeSend {
                    let starting = try issues.filter { try !$0.isDraft && job.decide($0, newSend: newSend) == .start }
                    if !starting.isEmpty {
                        let verdict = await DeadLinkGate.check(starting.map(\.issue), project: environment.project, configuration: configuration,
                                                               allowDeadLinks: allowDeadLinks)
                        verdict.report.warnings.forEach(Console.warn)
                        for entry in verdict.report.needsALook {
                            Console.warn(Warning(file: entry.link.file, line: entry.link.line, "\(entry.status.label) \(entry.link.url) (\(entry.status.detail))"))
                        }
                        for entry in verdict.report.dead {
                            Console.printError(allowDeadLinks ? "\(entry.line) — sent anyway (--allow-dead-links)" : entry.line)
                        }
                        if let refusal = verdict.refusal { throw refusal }
                    }
                }

                let lock: SendLock
                do { lock = try SendLock(storePath: environment.store.path) } catch SendLock.Failure.heldBy(let holder) {
                    Console.printError("Another send is running (\(holder)); this run does nothing. It will be picked up next time.")
                    exitCode = 75
                    return
                }
                defer { withExtendedLifetime(lock) {} }

                var acted = 0
                defer { if due && acted == 0 { print("Nothing is due: every issue whose date has come is sent.") } }
                sending: for issue in issues {
                    if issue.isDraft {
                        throw HogMailError(file: issue.sourcePath, "This issue is marked `draft: true`; remove that line from the front matter to send it.")
                    }
                    let decision = try job.decide(issue, newSend: newSend)
                    switch decision {
                    case .alreadySent:
                        if !due { print(SendJob.explain(decision, issue: issue)) }
                        continue
                    case .start where resume:
                        throw HogMailError(file: issue.sourcePath, "There is no paused send of this issue to resume. Run `hogmail send \(issue.sourcePath)` to start one.")
                    case .changedAfterSend:
                        throw HogMailError(file: issue.sourcePath, SendJob.explain(decision, issue: issue))
                    case .start, .resume:
                        acted += 1
                    }
                    if case .start = decision, !due, !yes, Console.isInteractive {
                        let (count, _) = try environment.store.eligibleRecipients(limit: 0)
                        print("Send \"\(issue.subject)\" to \(count) confirmed subscriber\(count == 1 ? "" : "s") through \(transport.name)? [y/N] ", terminator: "")
                        guard readLine()?.lowercased().hasPrefix("y") == true else { print("Nothing was sent."); return }
                    }
                    let bar = ProgressReporter(label: issue.folder)
                    let outcome: (SendRecord, IssueSender.Summary)?
                    do {
                        outcome = try await job.run(issue, decision: decision, acceptRisk: acceptRisk, progress: { bar.update($0) })
                    } catch let paused as BreakerPaused {
                        // Waits for a person: the scheduled job says so on every run, and sends nothing.
                        Console.printError(paused.send.note ?? "Send #\(paused.send.id) is paused by the reputation breaker; run `hogmail send \(paused.send.issue) --resume --accept-risk` to go on.")
                        exitCode = 75
                        continue
                    }
                    guard let (send, summary) = outcome else { continue }
                    bar.finish()
                    let progress = try environment.store.progress(of: send)
                    print("Send #\(send.id) of \(issue.sourcePath): \(summary.sent) sent now, \(progress.sent) of \(progress.total) in all; \(progress.failed) failed (\(summary.bounced) bounced); \(progress.pending + progress.retrying) left; \(String(format: "%.1f", summary.seconds)) s.")
                    if summary.failed > 0 {
                        print("`hogmail status \(send.issue)` lists each failed recipient and why.")
                    }
                    switch summary.ending {
                    case .completed: break
                    case .retriesLater(let date):
                        print("\(progress.retrying) message\(progress.retrying == 1 ? "" : "s") will be retried from \(ISO8601DateFormatter().string(from: date)); the next run continues.")
                        exitCode = 75
                    case .hourlyLimit:
                        print("The hourly limit (transport.rate.per_hour: \(configuration.ratePerHour)) is reached; the next run continues.")
                        exitCode = 75
                    case .paused(let reason), .breaker(let reason):
                        Console.printError(reason)
                        exitCode = 75
                    case .misconfigured(let problem):
                        // Coming back later cannot help until the setting is fixed; the next issue would fail the same way.
                        Console.report(HogMailError(problem))
                        exitCode = 1
                        break sending
                    }
                }
                if acted > 0 { Self.publish(project.directory) }
            }
            if exitCode != 0 { throw ExitCode(exitCode) }
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

extension Hogmail.Send {
    /// A send makes its issue public: the archive and feed are rebuilt to list it. A failure
    /// here does not undo the send; it is said, and `hogmail build` does the same later.
    static func publish(_ directory: URL) {
        do {
            let options = BuildPipeline.Options(projectDirectory: directory, sentIssues: try Hogmail.Build.sentIssues(directory))
            let report = try BuildPipeline(options: options).run()
            if report.archiveWritten { print("The archive and feed now list every sent issue.") }
        } catch {
            Console.warn(Warning("the archive and feed were not rebuilt after the send: \(Console.personError(error).description) Run `hogmail build` to publish the issue."))
        }
    }
}
