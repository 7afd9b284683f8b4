import Foundation
import HogMail
import HogMailDelivery
import HogMailStore
import Logging

/// `serve`'s background worker: turns recorded subscribe requests into pending subscribers and
/// sends their confirmation emails, outside the request. A transport that fails is tried again
/// with backoff (30 s, doubling, at most an hour apart) for about a day; what happened is logged.
/// Several servers on one store share the queue: each request is claimed by one worker.
public actor ConfirmationWorker {
    public struct Report: Sendable, Equatable {
        public var sent = 0
        public var alreadyConfirmed = 0
        public var deferred = 0
        public var dropped = 0
    }

    let service: SubscriptionService
    let logger: Logger
    public var maxAttempts = 12
    public var baseBackoff: TimeInterval = 30
    public var maxBackoff: TimeInterval = 3600
    /// How long a claimed request stays this worker's (other servers on the store skip it):
    /// far longer than one confirmation's send, whose every step is bounded by the transport's
    /// timeout; a worker that dies loses its claim then, and another sends it.
    public var claimLease: TimeInterval = 600
    private var wakeUp: AsyncStream<Void>.Continuation?

    public init(service: SubscriptionService, logger: Logger = Logger(label: "hogmail.confirmations")) {
        self.service = service
        self.logger = logger
    }

    /// Works through every request due now. `now` fixes the time for tests; a running worker
    /// reads the clock for each request, so each claim's lease starts when its send does.
    @discardableResult
    public func processDue(now fixed: Date? = nil) async -> Report {
        var report = Report()
        let store = service.store
        while true {
            let now = fixed ?? Date()
            // Claimed one at a time, not read: another `serve` on the same store works through
            // other rows, and a claim never waits behind other sends long enough to expire.
            let claimed: SubscriptionRequest?
            do { claimed = try store.claimSubscriptionRequests(limit: 1, lease: claimLease, now: now).first } catch {
                logger.error("The subscription requests cannot be read from the store: \(String(describing: error))")
                return report
            }
            guard let request = claimed else { return report }
            await process(request, now: now, &report)
        }
    }

    private func process(_ request: SubscriptionRequest, now: Date, _ report: inout Report) async {
        let store = service.store
        do {
            do {
                let sent = try await service.requestSubscription(email: request.email, name: request.name, consent: request.consent,
                                                                 actor: request.consent.method.rawValue, now: now)
                if sent { report.sent += 1 } else { report.alreadyConfirmed += 1 }
                try store.completeSubscriptionRequest(request)
            } catch let error as HogMailError {
                // The request itself is bad (the form checks first, so only old rows): nothing to retry.
                logger.warning("A subscribe request was dropped: \(error.description)")
                report.dropped += 1
                try store.completeSubscriptionRequest(request)
            } catch let error as DeliveryError {
                if case .permanent = error {
                    logger.warning("The confirmation email was refused for good: \(error.sentence)")
                    report.dropped += 1
                    try store.completeSubscriptionRequest(request)
                } else if request.attempts + 1 >= maxAttempts {
                    logger.error("The confirmation email was not sent after \(request.attempts + 1) attempts and is given up: \(error.sentence)")
                    report.dropped += 1
                    try store.completeSubscriptionRequest(request)
                } else {
                    let wait = min(baseBackoff * pow(2, Double(request.attempts)), maxBackoff)
                    logger.warning("The confirmation email could not be sent now (\(error.sentence)); trying again in \(Int(wait)) s.")
                    report.deferred += 1
                    try store.deferSubscriptionRequest(request, error: error.response, nextAttempt: now.addingTimeInterval(wait))
                }
            }
        } catch {
            logger.error("A subscribe request could not be worked through: \(String(describing: error))")
            report.deferred += 1
            try? store.deferSubscriptionRequest(request, error: "\(error)", nextAttempt: now.addingTimeInterval(baseBackoff))
        }
    }

    /// Tells the running worker a request is waiting.
    public nonisolated func notify() {
        Task { await self.signal() }
    }

    private func signal() {
        wakeUp?.yield()
    }

    /// Runs until cancelled: works through requests as they arrive, and retries when due.
    public func run(pollEvery interval: TimeInterval = 5) async {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeUp = continuation
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
                continuation.yield()
            }
        }
        defer { ticker.cancel(); continuation.finish() }
        await processDue()
        for await _ in stream {
            if Task.isCancelled { break }
            await processDue()
        }
    }
}
