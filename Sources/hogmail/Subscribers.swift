import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery
import HogMailInbound
import HogMailServer
import HogMailStore

/// What the subscriber commands share: the project, its store, its signer and transport.
struct SubscriberEnvironment {
    let project: Project
    let configuration: Configuration
    let store: SubscriberStore

    init(_ options: ProjectOptions) throws {
        project = Project(directory: options.directory)
        let (configuration, warnings) = try project.configuration()
        warnings.forEach(Console.warn)
        self.configuration = configuration
        store = try SubscriberStore.open(project, configuration)
    }

    func service() throws -> SubscriptionService {
        let (templates, _) = try TemplateSet.load(directory: project.templatesDirectory)
        return SubscriptionService(configuration: configuration, store: store, signer: try TokenSigner.fromEnvironment(configuration),
                                   transport: try configuration.transport(projectDirectory: project.directory), templates: templates)
    }
}

extension Hogmail {
    struct Subscribers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage subscribers: opt-in with evidence, import, export, forget.",
            subcommands: [Add.self, Import.self, List.self, Count.self, Export.self, Forget.self, Unsubscribe.self, ProcessMail.self])
    }
}

extension Hogmail.Subscribers {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a pending subscriber and send the double opt-in confirmation email.",
            discussion: "Example: hogmail subscribers add ada@example.com --name \"Ada Lovelace\"")

        @OptionGroup var project: ProjectOptions
        @Argument(help: "The address.") var email: String
        @Option(help: "The person's name.") var name: String?
        @Option(help: "Where the consent came from (for the record).") var source: String = "added by hand with hogmail subscribers add"

        func run() async throws {
            try await Console.runAsync {
                let environment = try SubscriberEnvironment(project)
                let service = try environment.service()
                let consent = Subscriber.Consent(at: Date(), method: .cli, source: source, text: environment.configuration.list.consentText)
                let sent = try await service.requestSubscription(email: email, name: name, consent: consent, actor: "cli")
                print(sent ? "\(email) is pending; the confirmation email went through \(service.transport.name)."
                           : "\(email) is already a confirmed subscriber; nothing was sent.")
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import subscribers from CSV (columns by header: email, name, consented_at, consent_source, confirmed_at, ip, user_agent, consent_text).",
            discussion: """
            Rows with consented_at, consent_source and confirmed_at become confirmed; with consent but no confirmation, pending;
            without consent, refused. The whole import is one transaction.
            Examples:
              hogmail subscribers import list.csv --dry-run
              hogmail subscribers import list.csv --send-confirmations
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "The CSV file.") var file: String
        @Flag(help: "Show the counts without writing anything.") var dryRun = false
        @Flag(help: "Send the double opt-in email to rows imported as pending.") var sendConfirmations = false
        @Option(help: "text for people, json for scripts.") var format: OutputFormat = .text

        func run() async throws {
            try await Console.runAsync {
                let environment = try SubscriberEnvironment(project)
                let service = sendConfirmations && !dryRun ? try environment.service() : nil
                let report = try environment.store.importCSV(at: URL(fileURLWithPath: file), displayPath: file, dryRun: dryRun)
                if let service {
                    for id in report.pendingIDs {
                        if let subscriber = try environment.store.subscriber(publicID: id) { try await service.sendConfirmation(to: subscriber) }
                    }
                }
                switch format {
                case .json:
                    struct Output: Encodable {
                        var dry_run: Bool, confirmed: Int, pending: Int, refused: [String: Int], problems: [Problem]
                        struct Problem: Encodable { var row: Int, reason: String }
                    }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    let output = Output(dry_run: dryRun, confirmed: report.confirmed, pending: report.pending,
                                        refused: Dictionary(uniqueKeysWithValues: report.refused.map { ($0.key.rawValue, $0.value) }),
                                        problems: report.problems.map { .init(row: $0.row, reason: $0.reason) })
                    print(String(decoding: try encoder.encode(output), as: UTF8.self))
                case .text:
                    for problem in report.problems { Console.printError("\(file):\(problem.row): \(problem.reason)") }
                    if report.refusedTotal > report.problems.count {
                        Console.printError("… and \(report.refusedTotal - report.problems.count) more refused rows.")
                    }
                    let refused = ImportReport.Refusal.allCases.compactMap { r in report.refused[r].map { "\($0) \(r.rawValue)" } }
                    print("\(dryRun ? "Dry run, nothing written: would import" : "Imported") \(report.confirmed) confirmed and \(report.pending) pending; refused \(report.refusedTotal)\(refused.isEmpty ? "" : " (\(refused.joined(separator: ", ")))").")
                    if report.pending > 0 && !sendConfirmations && !dryRun {
                        print("Pending subscribers get nothing until they confirm; run with --send-confirmations to email them the link.")
                    }
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List subscribers.", discussion: "Examples:\n  hogmail subscribers list --status confirmed\n  hogmail subscribers list --format csv > backup.csv")

        enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json }
        @OptionGroup var project: ProjectOptions
        @Option(help: "Only this status: \(Subscriber.Status.allCases.map(\.rawValue).joined(separator: ", ")).") var status: Subscriber.Status?
        @Option(help: "table, csv or json.") var format: Format = .table

        func run() throws {
            try Console.run {
                let environment = try SubscriberEnvironment(project)
                let iso = ISO8601DateFormatter()
                func date(_ value: Date?) -> String { value.map(iso.string) ?? "" }
                switch format {
                case .table:
                    print("EMAIL".padding(toLength: 36, withPad: " ", startingAt: 0) + " STATUS       CONSENT   CONFIRMED")
                    try environment.store.forEach(status: status) { s in
                        print(s.email.padding(toLength: 36, withPad: " ", startingAt: 0) + " " + s.status.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                              + " " + s.consent.method.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) + " " + date(s.consent.confirmedAt))
                    }
                case .csv:
                    // Lines end in CRLF (RFC 4180); cells that would run as formulas start with `'`.
                    try environment.store.exportCSV(status: status) { print($0, terminator: "") }
                case .json:
                    // Streamed as a JSON array, one object a line, so a large list needs no large buffer.
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    encoder.dateEncodingStrategy = .iso8601
                    struct Row: Encodable {
                        var email: String, name: String?, status: String, consented_at: Date, consent_method: String, consent_source: String
                        var consent_text: String?, ip: String?, user_agent: String?, confirmed_at: Date?, created_at: Date
                    }
                    print("[", terminator: "")
                    var first = true
                    try environment.store.forEach(status: status) { s in
                        let row = Row(email: s.email, name: s.name, status: s.status.rawValue, consented_at: s.consent.at, consent_method: s.consent.method.rawValue,
                                      consent_source: s.consent.source, consent_text: s.consent.text, ip: s.consent.ip, user_agent: s.consent.userAgent,
                                      confirmed_at: s.consent.confirmedAt, created_at: s.createdAt)
                        print((first ? "\n" : ",\n") + String(decoding: try encoder.encode(row), as: UTF8.self), terminator: "")
                        first = false
                    }
                    print("\n]")
                }
            }
        }
    }

    struct Count: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count subscribers by status.", discussion: "Example: hogmail subscribers count")
        @OptionGroup var project: ProjectOptions
        @Option(help: "text or json.") var format: OutputFormat = .text

        func run() throws {
            try Console.run {
                let counts = try SubscriberEnvironment(project).store.counts()
                let all = Subscriber.Status.allCases.map { ($0.rawValue, counts[$0] ?? 0) }
                switch format {
                case .text:
                    for (status, count) in all { print("\(status.padding(toLength: 13, withPad: " ", startingAt: 0)) \(count)") }
                    print("total         \(all.map(\.1).reduce(0, +))")
                case .json:
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    print(String(decoding: try encoder.encode(Dictionary(uniqueKeysWithValues: all)), as: UTF8.self))
                }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print everything held about one person, as JSON (GDPR access).",
                                                        discussion: "Example: hogmail subscribers export ada@example.com > ada.json")
        @OptionGroup var project: ProjectOptions
        @Argument(help: "The address.") var email: String

        func run() throws {
            try Console.run {
                let environment = try SubscriberEnvironment(project)
                guard let data = try environment.store.export(email: email) else {
                    let suppressed = try environment.store.isSuppressed(email)
                    throw HogMailError(suppressed ? "Nothing is held about \(email) except a keyed hash that keeps the address from being added again."
                                                  : "There is no subscriber \(email).")
                }
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete everything about a person (GDPR erasure); a keyed hash keeps them from being imported again.",
            discussion: "Example: hogmail subscribers forget ada@example.com")
        @OptionGroup var project: ProjectOptions
        @Argument(help: "The address.") var email: String

        func run() throws {
            try Console.run {
                let environment = try SubscriberEnvironment(project)
                let report = try environment.store.forget(email: email)
                print(report.found ? "Forgot \(email): the record and its history are deleted; only a keyed hash remains, so no import can add the address back."
                                   : "There was no subscriber \(email); a keyed hash now keeps the address from being imported.")
                if report.journalRowsScrubbed > 0 {
                    print("The send journal keeps \(report.journalRowsScrubbed) row\(report.journalRowsScrubbed == 1 ? "" : "s") for the counts, with the address and name erased.")
                }
                if report.cancelledMessages > 0 {
                    print("\(report.cancelledMessages) message\(report.cancelledMessages == 1 ? " that was" : "s that were") still due to this address will not be sent.")
                }
                // What the store cannot reach: mail that has left, and files outside the store.
                if report.deliveredMessages > 0 {
                    print("\(report.deliveredMessages) message\(report.deliveredMessages == 1 ? "" : "s") already delivered to this address cannot be recalled.")
                }
                let outbox = OutboxTransport(directory: environment.configuration.outboxDirectory(projectDirectory: environment.project.directory))
                let files = try outbox.messages(containing: Subscriber.normalize(email) ?? email)
                if !files.isEmpty {
                    print("\(files.count) file\(files.count == 1 ? "" : "s") in the outbox still contain\(files.count == 1 ? "s" : "") the address; HogMail does not delete sent mail. Delete \(files.count == 1 ? "it" : "them") if no longer needed:")
                    files.forEach { print("  \(environment.project.display($0))") }
                }
                if !report.filesRewritten, environment.store.engineKind == .postgres {
                    print("The rows are deleted. PostgreSQL keeps old row versions until its VACUUM reuses their space, and its write-ahead log and backups keep copies until they rotate out; erase those by your server's own policy.")
                } else if !report.filesRewritten {
                    Console.printError("Another process (hogmail serve, or a send) is reading the store, so its write-ahead log could not be emptied and may still hold the old rows. Stop it and run `hogmail subscribers forget \(email)` again.")
                }
            }
        }
    }

    struct Unsubscribe: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unsubscribe someone who asked by mail or in person.",
                                                        discussion: "Example: hogmail subscribers unsubscribe ada@example.com --reason \"asked by reply\"")
        @OptionGroup var project: ProjectOptions
        @Argument(help: "The address.") var email: String
        @Option(help: "Why, for the record.") var reason: String = "asked by hand"

        func run() throws {
            try Console.run {
                guard try SubscriberEnvironment(project).store.suppress(email: email, as: .unsubscribed, actor: "cli", reason: reason) != nil else {
                    throw HogMailError("There is no subscriber \(email). `hogmail subscribers list` shows who is there.")
                }
                print("\(email) is unsubscribed.")
            }
        }
    }

    struct ProcessMail: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "process-mail",
            abstract: "Read what came back: unsubscribe requests, bounces, complaints and auto-replies in a Maildir.",
            discussion: """
            Unsubscribe requests (to unsubscribe+TOKEN@) unsubscribe; delivery status notifications and bounces to the
            VERP address (bounces+TOKEN@) mark hard bounces bounced and count soft ones; feedback reports (ARF) mark
            complaints complained; auto-replies are ignored. Each handled message moves to cur/ with the Seen flag; one
            that cannot be attributed or understood stays in new/ and is reported. Running it again changes nothing.
            Exit status: 0, also when messages were left in new/ (they are listed).
            Examples:
              hogmail subscribers process-mail /var/mail/hogmail/Maildir        # from cron, every 10 minutes
              hogmail subscribers process-mail ~/Maildir --format json
            """)
        @OptionGroup var project: ProjectOptions
        @Argument(help: "The Maildir folder (with new/ and cur/).") var maildir: String
        @Option(help: "text or json (one object per message, then the totals).") var format: OutputFormat = .text

        func run() throws {
            try Console.run {
                let environment = try SubscriberEnvironment(project)
                let processor = MailboxProcessor(configuration: environment.configuration, store: environment.store,
                                                 signer: try TokenSigner.fromEnvironment(environment.configuration))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let folder = URL(fileURLWithPath: maildir)
                let totals = try processor.process(maildir: folder) { line in
                    switch format {
                    case .json:
                        Console.say(String(decoding: (try? encoder.encode(line)) ?? Data(), as: UTF8.self))
                    case .text:
                        let text = "\(folder.appendingPathComponent("new").appendingPathComponent(line.file).path): \(line.message)"
                        if line.action == .left { Console.printError(text) } else { Console.say(text) }
                    }
                }
                switch format {
                case .json:
                    struct Summary: Encodable { var totals: MailboxProcessor.Totals }
                    Console.say(String(decoding: try encoder.encode(Summary(totals: totals)), as: UTF8.self))
                case .text:
                    Console.say("\(totals.processed) handled: \(totals.unsubscribed) unsubscribed, \(totals.bounced) bounced, \(totals.softBounced) soft bounce\(totals.softBounced == 1 ? "" : "s"), \(totals.complained) complained, \(totals.ignored) ignored, \(totals.duplicates) already applied; \(totals.left) left in new/ for a person.")
                }
            }
        }
    }
}

extension Subscriber.Status: ExpressibleByArgument {}
