import Foundation
import HogMail
import HogMailStore
import Synchronization

/// Sends one frozen send through a transport: rate limits, retries with backoff and
/// jitter, a pause when the server keeps failing, and the journal updated after each
/// message the server accepted.
public final class IssueSender: @unchecked Sendable {
    public struct Options: Sendable {
        public var perSecond: Double
        public var perHour: Int
        /// On a server store several senders share a send: how long a claim on recipients
        /// lasts without renewal, so a dead sender's recipients go to another after this long.
        public var claimLease: TimeInterval = 60
        public var maxAttempts = 5
        /// First retry after this; doubled each attempt, with jitter.
        public var baseBackoff: TimeInterval = 60
        /// No wait between attempts grows beyond this.
        public var maxBackoff: TimeInterval = 3600
        /// Consecutive failures (of any kind) that pause the send instead of burning through the list.
        public var pauseAfterConsecutiveFailures = 25
        /// How long to wait for retries before giving the run back to the scheduler.
        public var maxWaitForRetries: TimeInterval = 0
        /// A server that asks to slow down (421, 454, HTTP 429) halves the rate: the first time
        /// to at most one message per `slowDownInterval`, never slower than one per `slowestInterval`;
        /// every `successesToSpeedUp` messages accepted in a row win back half of it.
        public var slowDownInterval: TimeInterval = 0.05
        public var slowestInterval: TimeInterval = 10
        public var successesToSpeedUp = 20
        /// The reputation breaker (`delivery` in hogmail.yml): the rates above which a send
        /// pauses, judged once `breakerMinimumMessages` (or `breakerShare` of the send, at least
        /// `breakerFloor`) are out.
        public var maxBounceRate = 0.05
        public var maxComplaintRate = 0.001
        public var breakerMinimumMessages = 500
        public var breakerShare = 0.02
        public var breakerFloor = 20

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
            /// The bounce or complaint rate crossed its threshold: a person must decide.
            case breaker(String)
            case hourlyLimit
            /// The server showed that HogMail's settings do not fit it (an untrusted certificate, no
            /// STARTTLS, a refused login): the send is paused, nobody was marked failed, and the
            /// sentence says what to fix before running `hogmail send` again.
            case misconfigured(String)
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
        try assembler(for: send).outgoing(email: recipient.email, name: recipient.name, publicID: recipient.publicID, messageID: recipient.messageID, at: date)
    }

    func assembler(for send: SendRecord) -> MessageAssembler {
        MessageAssembler(configuration: configuration, signer: signer, message: message, send: send)
    }

    public func run(_ send: SendRecord, progress: @Sendable (SendProgress) -> Void = { _ in }) async throws -> Summary {
        let started = clock()
        // Timed here, after the run returns: a `defer` that sets a returned value runs after
        // the value is copied out, so the caller saw 0 s.
        var summary = try await runUntilStopped(send, started: started, progress: progress)
        summary.seconds = clock().timeIntervalSince(started)
        return summary
    }

    private func runUntilStopped(_ send: SendRecord, started: Date, progress: @Sendable (SendProgress) -> Void) async throws -> Summary {
        var summary = Summary()
        // Messages a killed run had sent but not yet folded into the journal count first.
        let log = try AcceptedJournal(store: store)
        defer { log.close() }
        try log.fold(into: store)
        var run = Run(send: send, options: options, started: started, counts: try store.progress(of: send), assembler: assembler(for: send),
                      feedback: try store.feedbackCounts(of: send), log: log)
        // On a shared send, claims are renewed on their own clock, a third of the lease apart:
        // a sender waiting on a slow server or a low rate must not lose what it holds.
        let renewal = store.sharesSends ? renewClaims(of: send, sender: run.senderName, clock: run.renewed) : nil
        defer { renewal?.cancel() }
        while true {
            try await pipeline(&run, &summary, progress: progress)
            progress(run.counts)
            if let stop = run.stop {
                // Another sender may carry on with what this one held.
                if store.sharesSends { try store.releaseClaims(of: send, sender: run.senderName) }
                summary.ending = stop
                return summary
            }
            // Nothing in flight and nothing due now: done, or only retries left. The store,
            // not the running counts, decides that the send is complete.
            let state = try store.progress(of: send)
            run.counts = state
            if state.isDone {
                // Only a running send: another sender may have paused it meanwhile.
                try store.completeIfRunning(send)
                summary.ending = .completed
                return summary
            }
            // On a shared send, other senders may hold unfinished recipients. This one waits
            // while they do, looking again every second: if they live, they finish them (and
            // the send); if one died, its claims run out (at once, for a dead process on this
            // host) and this sender takes them over. While any recipient is pending, it goes
            // round again: what was held a moment ago may be free now.
            if store.sharesSends, state.pending > 0 {
                let released = try store.releaseClaimsOfDeadLocalSenders(of: send, host: Run.host, isAlive: { kill($0, 0) == 0 || errno != ESRCH },
                                                                         now: clock())
                if released == 0 {
                    let expiry = try store.nextClaimExpiry(of: send, except: run.senderName, now: clock())
                    let wait = expiry.map { min(1, $0.timeIntervalSince(clock())) } ?? 0.2
                    try await Task.sleep(nanoseconds: UInt64(max(0.05, wait) * 1e9))
                }
                continue
            }
            guard let next = try store.nextRetry(of: send) else { summary.ending = .completed; return summary }
            if next.timeIntervalSince(clock()) > options.maxWaitForRetries {
                summary.ending = .retriesLater(next)
                return summary
            }
            try await Task.sleep(nanoseconds: UInt64(max(0, next.timeIntervalSince(clock())) * 1e9))
        }
    }

    /// Renews this sender's claims every third of the lease until cancelled.
    private func renewClaims(of send: SendRecord, sender: String, clock renewed: RenewalClock) -> Task<Void, Never> {
        let store = store, lease = options.claimLease, clock = clock
        return Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(lease / 3 * 1e9))
                guard !Task.isCancelled else { return }
                // A failure here is left to the next page read (it renews when this clock is late)
                // or to the next turn.
                if (try? store.renewClaims(of: send, sender: sender, lease: lease, now: clock())) != nil { renewed.mark(clock()) }
            }
        }
    }

    /// When this sender's claims were last renewed, by its renewal task or a page read.
    final class RenewalClock: Sendable {
        private let last = Mutex(Date.distantPast)
        func mark(_ date: Date) { last.withLock { $0 = date } }
        var lastRenewal: Date { last.withLock { $0 } }
    }

    /// What one run of a send carries from message to message.
    struct Run {
        let send: SendRecord
        var counts: SendProgress
        var stop: Summary.Ending?
        var consecutiveFailures = 0
        var interval: TimeInterval
        /// `rate.per_second` as configured; a slow-down raises `interval` for a while.
        let configuredInterval: TimeInterval
        var successesSinceSlowDown = 0
        var nextSlot: Date
        /// Pending rows up to the cursor are in flight or done: later reads start after it.
        var cursor: Int64 = 0
        /// Rows handed to the transport and not yet recorded: a due retry stays due in the store
        /// until its outcome is written, so it must not be read and sent twice.
        var inFlight = Set<Int64>()
        var queue: [SendRecipient] = []
        var queueIndex = 0
        var sentLastHour = 0
        var lastReport: Date
        /// The whole send's hard bounces and complaints, for the breaker: refusals counted as
        /// they happen, and everything in the store (reports processed meanwhile too) re-read
        /// with each page through an index, never by reading the send's rows.
        var hardBounced = 0
        var complained = 0
        /// The server accepted a message in this run. Until then one message at a time: a
        /// setting that fails every message (a wrong password) then costs one login attempt
        /// per run, not one per connection, and no provider locks the account for it.
        var proven = false

        let assembler: MessageAssembler
        /// Where the transport records each accepted message.
        let log: AcceptedJournal
        /// On a server store: this run's name in its claims, and the rate slots it reserved
        /// from the send's budget and has not used yet.
        let senderName: String
        /// This machine's name in claims, without colons (they separate a claim's parts), with
        /// its process-id namespace: containers sharing a host name do not share pids, and a
        /// pid is only checked for life by a sender in the same namespace.
        static let host: String = {
            var namespace = [CChar](repeating: 0, count: 64)
            let length = readlink("/proc/self/ns/pid", &namespace, namespace.count - 1)
            let suffix = length > 0 ? "/" + String(decoding: namespace.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .filter { $0.isNumber } : ""
            return (ProcessInfo.processInfo.hostName + suffix).replacingOccurrences(of: ":", with: "_")
        }()
        var reservedSlots: [Date] = []
        /// When this sender's claims were last renewed (a shared send).
        let renewed = RenewalClock()
        /// No message before this time: a server's Retry-After.
        var holdUntil = Date.distantPast

        init(send: SendRecord, options: Options, started: Date, counts: SendProgress, assembler: MessageAssembler,
             feedback: (hardBounced: Int, complained: Int), log: AcceptedJournal) {
            self.send = send
            self.log = log
            self.hardBounced = feedback.hardBounced
            self.complained = feedback.complained
            self.assembler = assembler
            self.counts = counts
            self.interval = options.perSecond > 0 ? 1 / options.perSecond : 0
            self.configuredInterval = interval
            self.nextSlot = started
            self.lastReport = started
            self.senderName = "\(Run.host):\(getpid()):\(UUID().uuidString.prefix(8))"
        }
    }

    /// Keeps up to `parallelism` messages in flight until nothing more is due now or the run
    /// must stop; reads recipients from the journal in pages while messages are on the wire,
    /// so the transport never waits for a page to drain.
    private func pipeline(_ run: inout Run, _ summary: inout Summary, progress: @Sendable (SendProgress) -> Void) async throws {
        // Each accepted message is appended to the log of accepted messages on the transport's
        // thread, before its connection carries another message (`OutgoingMessage.accepted`),
        // and folded into the journal in groups: a crash repeats at most the messages on the
        // wire, each with the same Message-ID.
        func nextRecipient() throws -> SendRecipient? {
            if run.queueIndex == run.queue.count {
                // The store must know every outcome before it is asked what is due: a retry
                // accepted but only in the log would otherwise be read, and sent, again.
                try run.log.fold(into: store)
                if store.sharesSends {
                    // Another sender may have paused the send (its breaker, its failures, a
                    // setting): then this one stops too, and the note is the other's.
                    if let current = try store.send(id: run.send.id), current.state == .paused {
                        run.stop = .paused(current.note ?? "Send #\(current.id) was paused by another sender.")
                        return nil
                    }
                    // A server store's send is shared: claim a batch no live sender holds. This
                    // sender's other claims are renewed on their own clock (`renewClaims`); here
                    // only when that clock is late, as each renewal writes every claimed row anew.
                    if clock().timeIntervalSince(run.renewed.lastRenewal) > options.claimLease / 3 {
                        try store.renewClaims(of: run.send, sender: run.senderName, lease: options.claimLease, now: clock())
                        run.renewed.mark(clock())
                    }
                    var page = try store.claimRecipients(of: run.send, sender: run.senderName, limit: 100, lease: options.claimLease,
                                                         after: run.cursor, now: clock())
                    if page.isEmpty, run.cursor > 0 {
                        // Nothing after this sender's last claim: what is left, if anything, is
                        // behind it (a dead sender's rows, released or expired).
                        run.cursor = 0
                        page = try store.claimRecipients(of: run.send, sender: run.senderName, limit: 100, lease: options.claimLease, now: clock())
                    }
                    run.cursor = max(run.cursor, page.filter { $0.state == .pending }.map(\.id).max() ?? run.cursor)
                    run.queue = page.filter { !run.inFlight.contains($0.id) }
                } else {
                    let page = try store.dueRecipients(of: run.send, limit: 500, after: run.cursor, now: clock())
                    run.cursor = max(run.cursor, page.filter { $0.state == .pending }.map(\.id).max() ?? run.cursor)
                    run.queue = page.filter { !run.inFlight.contains($0.id) }
                }
                run.queueIndex = 0
                if options.perHour > 0 {
                    run.sentLastHour = try store.sentCount(since: clock().addingTimeInterval(-3600))
                }
                // Bounces and complaints processed while this send runs (process-mail, the SES
                // webhook) count as soon as they are in the store.
                (run.hardBounced, run.complained) = try store.feedbackCounts(of: run.send)
                try checkBreaker(&run)
            }
            guard run.queueIndex < run.queue.count else { return nil }
            defer { run.queueIndex += 1 }
            return run.queue[run.queueIndex]
        }
        // Messages are submitted to the transport without a task each; their outcomes come back
        // in batches (`SendOutcomes`), so the sender wakes once for several messages.
        let outcomes = SendOutcomes()
        // Bound once: reached through `run` (an inout struct) each message would copy the
        // assembler, a retain and a release of each of its references per message.
        let assembler = run.assembler
        var submitted: [Int: (recipient: SendRecipient, messageID: String)] = [:]
        var nextTag = 0
        func launch() async throws -> Bool {
            guard run.stop == nil, let recipient = try nextRecipient() else { return false }
            if options.perHour > 0, run.sentLastHour + run.inFlight.count >= options.perHour {
                run.stop = .hourlyLimit
                return false
            }
            // Messages per second: wait for this message's slot. On a server store the slots come
            // from the send's one budget, ten at a time, so the rate holds across senders.
            let now = clock()
            if store.sharesSends, run.interval > 0 {
                // Slots already past (reserved before a wait) would go out in a burst: new ones.
                run.reservedSlots.removeAll { $0 < now.addingTimeInterval(-run.interval) }
                if run.reservedSlots.isEmpty {
                    let first = try store.reserveSlots(of: run.send, count: 10, interval: run.interval, now: now)
                    run.reservedSlots = (0..<10).map { first.addingTimeInterval(Double($0) * run.interval) }
                }
                // A server's Retry-After (`run.holdUntil`) still holds.
                run.nextSlot = max(run.reservedSlots.removeFirst(), run.holdUntil)
            }
            if run.nextSlot > now {
                try await Task.sleep(nanoseconds: UInt64(run.nextSlot.timeIntervalSince(now) * 1e9))
            }
            let slot = run.nextSlot
            run.nextSlot = max(run.nextSlot, now).addingTimeInterval(run.interval)
            var outgoing: OutgoingMessage
            do {
                // The envelope address goes to the server as it is: one the store should
                // never have held is refused here, not handed to SMTP.
                guard Mailbox.isValidAddress(recipient.email) else {
                    throw HogMailError("The address `\(Subscriber.visible(recipient.email))` is not a valid email address.")
                }
                outgoing = try assembler.outgoing(email: recipient.email, name: recipient.name, publicID: recipient.publicID,
                                                      messageID: recipient.messageID, at: clock())
            } catch {
                // No data in the store may stop a send: this recipient fails alone, the
                // others go on, and a message never made does not use a rate slot.
                run.nextSlot = slot
                try recordUnmakeable(recipient, error, &run, &summary)
                return true
            }
            let journal = AcceptedMessage(log: run.log, recipientID: recipient.id, messageID: outgoing.messageID, clock: clock)
            outgoing.accepted = { try journal.record() }
            outgoing.acceptedLater = journal.later
            nextTag += 1
            submitted[nextTag] = (recipient, outgoing.messageID)
            run.inFlight.insert(recipient.id)
            outcomes.expect()
            transport.submit(outgoing, tag: nextTag, to: outcomes)
            return true
        }
        // Until the server accepted one message, one at a time. Then the transport's width, and
        // the sender wakes when half of it is done (or a message failed) to refill it.
        func width() -> Int { run.proven ? transport.parallelism : 1 }
        func lowWater() -> Int { run.proven ? transport.parallelism / 2 : 0 }
        while run.inFlight.count < width(), try await launch() {}
        while !submitted.isEmpty {
            for (tag, error) in await outcomes.next(lowWater: lowWater()) {
                guard let (recipient, messageID) = submitted.removeValue(forKey: tag) else { continue }
                run.inFlight.remove(recipient.id)
                let failure: DeliveryError?
                switch error {
                case nil: failure = nil
                case let error as JournalFailure: throw error
                case let error as DeliveryError: failure = error
                case let error?: failure = .temporary("\(error)")
                }
                if case .configuration(let problem)? = failure {
                    // Every message would fail the same way until the settings are fixed: this
                    // recipient stays as it was (due, no attempt used), nothing more is launched,
                    // and the messages on the wire are recorded as they come back.
                    try stop(because: problem, &run)
                    continue
                }
                if recipient.state == .retrying { run.counts.retrying -= 1 } else { run.counts.pending -= 1 }
                if let failure {
                    try record(failure, for: recipient, messageID: messageID, &run, &summary)
                } else {
                    // Already in the log of accepted messages (`AcceptedMessage`), written when the
                    // server accepted it; folded into the journal with the next page of recipients.
                    summary.sent += 1
                    run.counts.sent += 1
                    run.proven = true
                    run.sentLastHour += 1
                    run.consecutiveFailures = 0
                    // After a slow-down, each run of successes wins back half the lost rate.
                    run.successesSinceSlowDown += 1
                    if run.interval > run.configuredInterval, run.successesSinceSlowDown >= options.successesToSpeedUp {
                        run.interval = max(run.configuredInterval, run.interval / 2)
                        run.successesSinceSlowDown = 0
                    }
                }
                try checkBreaker(&run)
            }
            if clock().timeIntervalSince(run.lastReport) >= 0.25 {
                run.lastReport = clock()
                progress(run.counts)
            }

            while run.inFlight.count < width(), try await launch() {}
        }
        try run.log.fold(into: store)
    }

    /// Pauses the send for a configuration problem, once: its sentence becomes the send's note.
    private func stop(because problem: String, _ run: inout Run) throws {
        if case .misconfigured? = run.stop { return }
        let note = "\(problem) Nothing more was sent and nobody was marked failed; the send is paused. Run `hogmail send` again once this is fixed, and it resumes where it stopped."
        try store.setState(of: run.send, to: .paused, note: note, pauseKind: .configuration)
        run.stop = .misconfigured(note)
    }

    /// A recipient whose message cannot be made (a journal row written behind HogMail's back,
    /// or by a version that let a line break into a name): failed for good, with the reason.
    /// Not a transport failure, so it neither counts towards a pause nor suppresses the address.
    private func recordUnmakeable(_ recipient: SendRecipient, _ error: any Error, _ run: inout Run, _ summary: inout Summary) throws {
        let reason = (error as? HogMailError)?.message ?? "\(error)"
        try store.record(recipient, outcome: .failed, response: "The message could not be made: \(reason)", messageID: nil, now: clock())
        if recipient.state == .retrying { run.counts.retrying -= 1 } else { run.counts.pending -= 1 }
        summary.failed += 1
        run.counts.failed += 1
    }

    /// A failed attempt: failed for good (and bounced when the mailbox does not exist), or a
    /// retry later with backoff and jitter; a server asking to slow down slows the whole send.
    private func record(_ failure: DeliveryError, for recipient: SendRecipient, messageID: String,
                        _ run: inout Run, _ summary: inout Summary) throws {
        run.consecutiveFailures += 1
        switch failure {
        case .permanent(let response, let unknown):
            // A refusal during the transaction is a hard bounce for the send's rate, whatever
            // its reason; only an unknown mailbox suppresses the address.
            try store.record(recipient, outcome: .failed, response: response, messageID: messageID, feedback: .hardBounce, now: clock())
            summary.failed += 1
            run.counts.failed += 1
            run.hardBounced += 1
            if unknown {
                try store.suppress(publicID: recipient.publicID, as: .bounced, actor: "send", reason: "permanent failure: \(response)")
                summary.bounced += 1
            }
        case .configuration(let problem):
            // The run loop stops for these before recording; should one get here, it still
            // marks nobody failed and uses up no attempt.
            run.consecutiveFailures -= 1
            try stop(because: problem, &run)
            return
        case .temporary(let response), .slowDown(let response, _):
            if case .slowDown(_, let retryAfter) = failure {
                // The server asks everyone to slow down: halve the rate (down to one message
                // every 10 s at the slowest), honour Retry-After.
                run.interval = min(max(run.interval * 2, options.slowDownInterval), options.slowestInterval)
                run.successesSinceSlowDown = 0
                if let retryAfter {
                    run.nextSlot = clock().addingTimeInterval(retryAfter)
                    run.holdUntil = run.nextSlot
                }
            }
            if recipient.attempts + 1 >= options.maxAttempts {
                try store.record(recipient, outcome: .failed, response: "gave up after \(recipient.attempts + 1) attempts: \(response)",
                                 messageID: messageID, now: clock())
                summary.failed += 1
                run.counts.failed += 1
            } else {
                let backoff = min(options.baseBackoff * pow(2, Double(recipient.attempts)), options.maxBackoff) * Double.random(in: 0.8...1.2)
                try store.record(recipient, outcome: .retrying, response: response, messageID: messageID,
                                 nextAttempt: clock().addingTimeInterval(backoff), now: clock())
                summary.retried += 1
                run.counts.retrying += 1
            }
        }
        if run.consecutiveFailures >= options.pauseAfterConsecutiveFailures && run.stop == nil {
            let reason = "\(run.consecutiveFailures) messages in a row failed (last: \(failure.response)). The send is paused so the list is not burned through; check the transport, then run `hogmail send` again to resume."
            try store.setState(of: run.send, to: .paused, note: reason, pauseKind: .failures)
            run.stop = .paused(reason)
        }
    }

    /// The reputation breaker: once enough messages are out, a hard-bounce or complaint rate
    /// above its threshold pauses the send, so a bad list does not cost the sender its
    /// reputation. A send resumed with `--accept-risk` is not judged again.
    func checkBreaker(_ run: inout Run) throws {
        guard run.stop == nil, !run.send.acceptRisk else { return }
        let share = Int((Double(run.counts.total) * options.breakerShare).rounded(.up))
        let sample = min(options.breakerMinimumMessages, max(options.breakerFloor, share))
        let out = run.counts.sent + run.counts.failed
        guard out >= sample else { return }
        let bounceRate = Double(run.hardBounced) / Double(out)
        let complaintRate = run.counts.sent == 0 ? 0 : Double(run.complained) / Double(run.counts.sent)
        let percent = SendReport.percent
        var reason: String?
        if bounceRate > options.maxBounceRate {
            reason = "\(run.hardBounced) of the \(out) messages out bounced hard (\(percent(bounceRate))), above `delivery.max_bounce_rate` (\(percent(options.maxBounceRate)))"
        } else if complaintRate > options.maxComplaintRate {
            reason = "\(run.complained) of the \(run.counts.sent) messages delivered were reported as spam (\(percent(complaintRate))), above `delivery.max_complaint_rate` (\(percent(options.maxComplaintRate)))"
        }
        guard let reason else { return }
        let note = "Send #\(run.send.id) is paused by the reputation breaker: \(reason). Mailbox providers and Amazon SES judge a sender by these rates, and sending on to a list this stale would harm delivery for every reader. Clean the list first (`hogmail status \(run.send.issue)` lists the addresses that bounced or complained; remove old, bought or mistyped addresses), then run `hogmail send \(run.send.issue) --resume --accept-risk` to go on."
        try store.setState(of: run.send, to: .paused, note: note, pauseKind: .breaker)
        run.stop = .breaker(note)
    }
}
