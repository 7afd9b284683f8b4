import Foundation
import HogMail
import HogMailStore

/// Sends one frozen send through a transport: rate limits, retries with backoff and
/// jitter, a pause when the server keeps failing, and the journal updated after each
/// message the server accepted.
public final class IssueSender: @unchecked Sendable {
    public struct Options: Sendable {
        public var perSecond: Double
        public var perHour: Int
        public var maxAttempts = 5
        /// First retry after this; doubled each attempt, with jitter.
        public var baseBackoff: TimeInterval = 60
        /// Consecutive failures (of any kind) that pause the send instead of burning through the list.
        public var pauseAfterConsecutiveFailures = 25
        /// How long to wait for retries before giving the run back to the scheduler.
        public var maxWaitForRetries: TimeInterval = 0

        public init(perSecond: Double, perHour: Int) {
            self.perSecond = perSecond
            self.perHour = perHour
        }
    }

    public struct Summary: Sendable, Equatable {
        public enum Ending: Sendable, Equatable {
            case completed
            /// Retries are scheduled for later; the next run continues.
            case retriesLater(Date)
            case paused(String)
            case hourlyLimit
        }
        public var sent = 0
        public var failed = 0
        public var bounced = 0
        public var retried = 0
        public var ending: Ending = .completed
        public var seconds: Double = 0
    }

    let configuration: Configuration
    let store: SubscriberStore
    let signer: TokenSigner
    let transport: any Transport
    let message: MessageTemplate
    let options: Options
    var clock: @Sendable () -> Date = { Date() }

    public init(configuration: Configuration, store: SubscriberStore, signer: TokenSigner, transport: any Transport,
                message: MessageTemplate, options: Options) {
        self.configuration = configuration
        self.store = store
        self.signer = signer
        self.transport = transport
        self.message = message
        self.options = options
    }

    /// The per-recipient message; Message-ID is fixed by (send, recipient), so a message
    /// repeated after a crash carries the same id and receivers can tell.
    public func outgoing(for recipient: SendRecipient, in send: SendRecord, at date: Date) throws -> OutgoingMessage {
        let token = signer.unsubscribeToken(publicID: recipient.publicID)
        let messageID = MessageTemplate.messageID(sendKey: "send:\(send.id):\(send.contentHash)", recipient: recipient.email,
                                                  domain: configuration.list.from.domain)
        let data = try message.message(for: configuration.recipient(
            Mailbox(name: recipient.name, address: recipient.email), token: token, messageID: messageID, date: date))
        return OutgoingMessage(from: configuration.list.from.address, to: recipient.email, messageID: messageID, data: data)
    }

    public func run(_ send: SendRecord, progress: @Sendable (SendProgress) -> Void = { _ in }) async throws -> Summary {
        var summary = Summary()
        let started = clock()
        var consecutiveFailures = 0
        var interval = options.perSecond > 0 ? 1 / options.perSecond : 0
        var nextSlot = started
        defer { summary.seconds = clock().timeIntervalSince(started) }
        // Pending rows before the cursor are all in flight or done: later batches start after it.
        var cursor: Int64 = 0
        while true {
            let batch = try store.dueRecipients(of: send, limit: 200, after: cursor, now: clock())
            cursor = max(cursor, batch.filter { $0.state == .pending }.map(\.id).max() ?? cursor)
            var sentLastHour = options.perHour > 0 ? try store.sentCount(since: clock().addingTimeInterval(-3600)) : 0
            if batch.isEmpty {
                let state = try store.progress(of: send)
                if state.isDone {
                    try store.setState(of: send, to: .completed)
                    summary.ending = .completed
                    return summary
                }
                // Only retries remain, none due yet.
                guard let next = try store.nextRetry(of: send) else { summary.ending = .completed; return summary }
                if next.timeIntervalSince(clock()) > options.maxWaitForRetries {
                    summary.ending = .retriesLater(next)
                    return summary
                }
                try await Task.sleep(nanoseconds: UInt64(max(0, next.timeIntervalSince(clock())) * 1e9))
                continue
            }
            // Up to `parallelism` messages in flight; outcomes are journaled here, one at a time.
            var stop: Summary.Ending?
            // Accepted messages are journaled in small groups (at most 64, or 20 ms, and always
            // before the sender waits for a rate slot): one commit per message was the bottleneck
            // with several connections. A crash repeats at most the messages on the wire and the
            // group not yet committed, each with the same Message-ID.
            var accepted: [(recipient: SendRecipient, messageID: String)] = []
            var lastFlush = clock()
            func flush() throws {
                try store.recordSent(accepted, now: clock())
                accepted.removeAll(keepingCapacity: true)
                lastFlush = clock()
            }
            try await withThrowingTaskGroup(of: (SendRecipient, String, DeliveryError?).self) { group in
                var inFlight = 0
                var pending = batch[...]
                func launch() async throws -> Bool {
                    guard stop == nil, let recipient = pending.popFirst() else { return false }
                    if options.perHour > 0, sentLastHour + inFlight >= options.perHour {
                        stop = .hourlyLimit
                        return false
                    }
                    // Messages per second: wait for this message's slot.
                    let now = clock()
                    if nextSlot > now {
                        // Idle until the slot: journal what was accepted first, so a crash now
                        // repeats only the messages on the wire.
                        if !accepted.isEmpty { try flush() }
                        try await Task.sleep(nanoseconds: UInt64(nextSlot.timeIntervalSince(now) * 1e9))
                    }
                    nextSlot = max(nextSlot, now).addingTimeInterval(interval)
                    let outgoing = try outgoing(for: recipient, in: send, at: clock())
                    let transport = self.transport
                    group.addTask {
                        do {
                            try await transport.send(outgoing)
                            return (recipient, outgoing.messageID, nil)
                        } catch let error as DeliveryError {
                            return (recipient, outgoing.messageID, error)
                        } catch {
                            return (recipient, outgoing.messageID, .temporary("\(error)"))
                        }
                    }
                    inFlight += 1
                    return true
                }
                while inFlight < transport.parallelism, try await launch() {}
                while let (recipient, messageID, failure) = try await group.next() {
                    inFlight -= 1
                    if let failure {
                        consecutiveFailures += 1
                        switch failure {
                        case .permanent(let response, let unknown):
                            try store.record(recipient, outcome: .failed, response: response, messageID: messageID, now: clock())
                            summary.failed += 1
                            if unknown {
                                try store.suppress(publicID: recipient.publicID, as: .bounced, actor: "send", reason: "permanent failure: \(response)")
                                summary.bounced += 1
                            }
                        case .temporary(let response), .slowDown(let response, _):
                            if case .slowDown(_, let retryAfter) = failure {
                                // The server asks everyone to slow down: halve the rate, honour Retry-After.
                                interval = max(interval * 2, 0.05)
                                if let retryAfter { nextSlot = clock().addingTimeInterval(retryAfter) }
                            }
                            if recipient.attempts + 1 >= options.maxAttempts {
                                try store.record(recipient, outcome: .failed, response: "gave up after \(recipient.attempts + 1) attempts: \(response)",
                                                 messageID: messageID, now: clock())
                                summary.failed += 1
                            } else {
                                let backoff = options.baseBackoff * pow(2, Double(recipient.attempts)) * Double.random(in: 0.8...1.2)
                                try store.record(recipient, outcome: .retrying, response: response, messageID: messageID,
                                                 nextAttempt: clock().addingTimeInterval(backoff), now: clock())
                                summary.retried += 1
                            }
                        }
                        if consecutiveFailures >= options.pauseAfterConsecutiveFailures && stop == nil {
                            let reason = "\(consecutiveFailures) messages in a row failed (last: \(failure.response)). The send is paused so the list is not burned through; check the transport, then run `hogmail send` again to resume."
                            try store.setState(of: send, to: .paused, note: reason)
                            stop = .paused(reason)
                        }
                    } else {
                        // Marked sent only now, after the server accepted it.
                        accepted.append((recipient, messageID))
                        if accepted.count >= 64 || clock().timeIntervalSince(lastFlush) > 0.02 { try flush() }
                        summary.sent += 1
                        sentLastHour += 1
                        consecutiveFailures = 0
                    }
                    while inFlight < transport.parallelism, try await launch() {}
                }
                try flush()
            }
            if let stop {
                summary.ending = stop
                return summary
            }
            progress(try store.progress(of: send))
        }
    }
}
