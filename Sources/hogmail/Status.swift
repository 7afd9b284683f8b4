import ArgumentParser
import Foundation
import HogMail
import HogMailDelivery
import HogMailStore

extension Hogmail {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show sends: progress, bounces, complaints, unsubscribes and their rates, and who failed.",
            discussion: """
            Rates: bounce rate = hard bounces / messages out (accepted or refused); complaint rate = complaints /
            messages accepted; both against delivery.max_bounce_rate and delivery.max_complaint_rate.
            Examples:
              hogmail status
              hogmail status 3
              hogmail status 3 --format json
            """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "An issue (number or folder name) to show in detail.") var issue: String?
        @Option(help: "text or json.") var format: OutputFormat = .text

        struct SendStatus: Encodable {
            var send: Int64
            var issue: String
            var started: Date
            var state: String
            var note: String?
            var report: SendReport
            var bounceRate: Double
            var complaintRate: Double
            var unsubscribeRate: Double
            var maxBounceRate: Double
            var maxComplaintRate: Double
            var failed: [Recipient]?
            var retrying: [Recipient]?
            var bounced: [Recipient]?
        }

        struct Recipient: Encodable {
            var email: String
            var lastAnswer: String?
            var nextAttempt: Date?
            var feedback: String?
        }

        func run() throws {
            try Console.run {
                let environment = try SubscriberEnvironment(project)
                let store = environment.store
                try SendLock.foldAcceptedMessages(into: store)
                let delivery = environment.configuration.delivery
                let sends = try store.sends(issue: issue)
                var statuses: [SendStatus] = []
                for send in sends {
                    let report = try store.report(of: send)
                    var status = SendStatus(send: send.id, issue: send.issue, started: send.createdAt, state: send.state.rawValue, note: send.note,
                                            report: report, bounceRate: report.bounceRate, complaintRate: report.complaintRate,
                                            unsubscribeRate: report.unsubscribeRate, maxBounceRate: delivery.maxBounceRate,
                                            maxComplaintRate: delivery.maxComplaintRate)
                    if issue != nil {
                        status.failed = try store.failures(of: send).map { Recipient(email: $0.email, lastAnswer: $0.lastResponse) }
                        status.retrying = try store.retrying(of: send).map { Recipient(email: $0.email, lastAnswer: $0.lastResponse, nextAttempt: $0.nextAttemptAt) }
                        status.bounced = try store.feedbackRecipients(of: send).map { Recipient(email: $0.recipient.email, lastAnswer: $0.detail, feedback: $0.kind.rawValue) }
                    }
                    statuses.append(status)
                }
                if format == .json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    encoder.dateEncodingStrategy = .iso8601
                    print(String(decoding: try encoder.encode(statuses), as: UTF8.self))
                    return
                }
                if sends.isEmpty { print(issue.map { "Issue \($0) has not been sent." } ?? "Nothing has been sent yet."); return }
                let formatter = ISO8601DateFormatter()
                for status in statuses {
                    let r = status.report
                    print("Send #\(status.send) of issue \(status.issue), started \(formatter.string(from: status.started)): \(status.state); \(r.accepted)/\(r.total) sent, \(r.failed) failed, \(r.retrying) retrying, \(r.pending) pending.")
                    print("  delivered \(r.delivered); bounced \(r.hardBounced) hard, \(r.softBounced) soft; complained \(r.complained); unsubscribed \(r.unsubscribed) through this issue's links.")
                    print("  bounce rate \(Self.percent(r.bounceRate)) (pauses above \(Self.percent(delivery.maxBounceRate))); complaint rate \(Self.percent(r.complaintRate)) (pauses above \(Self.percent(delivery.maxComplaintRate))); unsubscribe rate \(Self.percent(r.unsubscribeRate)).")
                    if let note = status.note { print("  \(note)") }
                    for failure in status.failed ?? [] {
                        print("  failed: \(Subscriber.visible(failure.email)): \(Subscriber.visible(failure.lastAnswer ?? "", limit: 500))")
                    }
                    for retry in status.retrying ?? [] {
                        let when = retry.nextAttempt.map { " (next try \(formatter.string(from: $0)))" } ?? ""
                        print("  retrying\(when): \(Subscriber.visible(retry.email)): \(Subscriber.visible(retry.lastAnswer ?? "", limit: 500))")
                    }
                    for bounce in status.bounced ?? [] {
                        let label = DeliveryFeedback.Kind(rawValue: bounce.feedback ?? "")?.label ?? "bounce"
                        print("  \(label): \(Subscriber.visible(bounce.email)): \(Subscriber.visible(bounce.lastAnswer ?? "", limit: 300))")
                    }
                }
            }
        }

        static let percent = SendReport.percent
    }
}
