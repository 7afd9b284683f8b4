import Foundation
import HogMail
import HogMailStore

/// `hogmail send`: decides whether an issue starts a send, resumes one or is done, and
/// runs it. Everything the command prints comes from here as values.
public struct SendJob: Sendable {
    public var configuration: Configuration
    public var store: SubscriberStore
    public var signer: TokenSigner
    public var transport: any Transport

    public init(configuration: Configuration, store: SubscriberStore, signer: TokenSigner, transport: any Transport) {
        self.configuration = configuration
        self.store = store
        self.signer = signer
        self.transport = transport
    }

    public enum Decision: Sendable, Equatable {
        case start
        case resume(SendRecord)
        case alreadySent(SendRecord)
        /// The issue changed after a send began; sending it again needs `--new-send`.
        case changedAfterSend(SendRecord)
    }

    public func decide(_ issue: BuildPipeline.BuiltIssue, newSend: Bool) throws -> Decision {
        guard let last = try store.latestSend(issue: issue.folder) else { return .start }
        if last.contentHash == issue.message.contentHash {
            return last.state == .completed ? .alreadySent(last) : .resume(last)
        }
        if newSend { return .start }
        return last.state == .completed ? .alreadySent(last) : .changedAfterSend(last)
    }

    public static func explain(_ decision: Decision, issue: BuildPipeline.BuiltIssue) -> String {
        switch decision {
        case .start: return "\(issue.sourcePath) has not been sent."
        case .resume(let send): return "\(issue.sourcePath) has an unfinished send #\(send.id) of the same content; it resumes where it stopped."
        case .alreadySent(let send): return "\(issue.sourcePath) was sent (send #\(send.id)). To send a changed version to everyone again, use --new-send."
        case .changedAfterSend(let send):
            return "\(issue.sourcePath) changed after send #\(send.id) began, so part of the list got the old version. Resuming would mix versions. Restore the old text to resume, or run with --new-send to start a new send to everyone confirmed now (those who got the old version get it again)."
        }
    }

    public func sender(for issue: BuildPipeline.BuiltIssue, maxWaitForRetries: TimeInterval = 0) -> IssueSender {
        var options = IssueSender.Options(perSecond: configuration.ratePerSecond, perHour: configuration.ratePerHour)
        options.maxWaitForRetries = maxWaitForRetries
        options.maxBounceRate = configuration.delivery.maxBounceRate
        options.maxComplaintRate = configuration.delivery.maxComplaintRate
        options.breakerMinimumMessages = configuration.delivery.breakerMinimumMessages
        options.breakerShare = configuration.delivery.breakerShare
        options.claimLease = configuration.delivery.claimLease
        return IssueSender(configuration: configuration, store: store, signer: signer, transport: transport, message: issue.message, options: options)
    }

    /// Starts or resumes the send the decision names.
    /// A send the reputation breaker paused goes on only with `acceptRisk` (`--resume --accept-risk`);
    /// otherwise `BreakerPaused` is thrown with the send's note.
    public func run(_ issue: BuildPipeline.BuiltIssue, decision: Decision, maxWaitForRetries: TimeInterval = 0, acceptRisk: Bool = false,
                    progress: @Sendable (SendProgress) -> Void = { _ in }) async throws -> (SendRecord, IssueSender.Summary)? {
        var send: SendRecord
        switch decision {
        case .start:
            send = try freeze(issue)
        case .resume(let existing):
            send = existing
            if existing.state == .paused, existing.pauseKind == .breaker, !existing.acceptRisk {
                guard acceptRisk else { throw BreakerPaused(send: existing) }
            }
            if acceptRisk {
                try store.acceptRisk(of: existing)
                send.acceptRisk = true
            }
            if existing.state == .paused { try store.setState(of: existing, to: .running) }
        case .alreadySent, .changedAfterSend: return nil
        }
        let summary = try await sender(for: issue, maxWaitForRetries: maxWaitForRetries).run(send, progress: progress)
        return (send, summary)
    }

    /// Freezes a new send of `issue`: its recipients, each with the Message-ID it will carry.
    public func freeze(_ issue: BuildPipeline.BuiltIssue) throws -> SendRecord {
        try store.freezeSend(issue: issue.folder, contentHash: issue.message.contentHash,
                             messageIDs: MessageAssembler.messageIDs(configuration: configuration, contentHash: issue.message.contentHash))
    }

    /// The real message to each test address, subject marked `[Test]`; never journaled.
    public func sendTest(_ issue: BuildPipeline.BuiltIssue, to addresses: [String], now: Date = Date()) async throws -> [String] {
        var sent: [String] = []
        var message = issue.message
        message.subject = "[Test] " + message.subject
        let testMessage = message
        for address in addresses {
            let mailbox = try Mailbox.parse(address, field: "--test")
            let subscriber = try store.subscriber(email: mailbox.address)
            // A subscriber's test copy has their real link; anyone else gets a link the server refuses.
            let token = subscriber.map { signer.unsubscribeToken(publicID: $0.publicID) } ?? "test"
            let messageID = MessageTemplate.messageID(sendKey: "test:\(issue.message.contentHash):\(now.timeIntervalSince1970)",
                                                      recipient: mailbox.address, domain: configuration.list.from.domain)
            let data = try testMessage.message(for: configuration.recipient(mailbox, token: token, messageID: messageID, date: now))
            try await transport.send(OutgoingMessage(from: configuration.list.from.address, returnPath: configuration.list.bounceAddress,
                                                     to: mailbox.address, messageID: messageID, data: data))
            sent.append(mailbox.address)
        }
        return sent
    }
}

/// A send paused by the reputation breaker, resumed without `--accept-risk`.
public struct BreakerPaused: Error, Sendable {
    public var send: SendRecord
}

/// One `hogmail send` at a time per store: an exclusive `flock` on a file beside an SQLite
/// store, or a session advisory lock on a PostgreSQL one. The kernel (or the server) drops the
/// lock when a process dies, so a killed run never leaves a stale lock.
public final class SendLock: @unchecked Sendable {
    private let descriptor: Int32
    private let serverLock: PostgresSessionLock?
    public let path: String

    public enum Failure: Error { case heldBy(String) }

    /// The lock of `store`, whichever its engine.
    public convenience init(store: SubscriberStore) throws {
        guard store.engineKind == .postgres else {
            try self.init(storePath: store.path)
            return
        }
        switch try store.takeServerSendLock() {
        case .success(let lock): self.init(serverLock: lock, path: store.path)
        case .failure(let held): throw Failure.heldBy(held.holder)
        }
    }

    /// The lock of a server store, waited for: another sender holds it only while it decides
    /// and freezes a send, which takes seconds. After `timeout`, the holder is named.
    public static func waiting(for store: SubscriberStore, timeout: TimeInterval = 120) throws -> SendLock {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do { return try SendLock(store: store) } catch Failure.heldBy(let holder) {
                guard Date() < deadline else {
                    throw HogMailError("Another sender has been deciding a send for \(Int(timeout)) seconds and still holds the store's send lock: \(holder). If that sender hangs, stop it; the server drops its lock when its connection closes.")
                }
                usleep(100_000)
            }
        }
    }

    private init(serverLock: PostgresSessionLock, path: String) {
        self.serverLock = serverLock
        self.path = path
        descriptor = -1
    }

    public init(storePath: String) throws {
        serverLock = nil
        path = storePath + ".send-lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, PrivateFiles.fileMode)
        guard descriptor >= 0 else {
            throw HogMailError(file: path, "The send lock cannot be created: \(String(cString: strerror(errno))).")
        }
        // Beside the store and as private: the umask could have widened a new file.
        fchmod(descriptor, PrivateFiles.fileMode)
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "another process"
            // No close here: deinit runs for a fully initialised object that throws, and closing
            // twice would close whatever file reused the descriptor in between.
            throw Failure.heldBy(holder.isEmpty ? "another process" : holder)
        }
        ftruncate(descriptor, 0)
        let note = "pid \(getpid()) since \(ISO8601DateFormatter().string(from: Date()))\n"
        _ = note.withCString { write(descriptor, $0, strlen($0)) }
    }

    deinit {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

extension SendLock {
    /// Messages a killed send had handed over, still only in its log of accepted messages,
    /// count as sent for `hogmail status` too: folded into the journal when no send holds the
    /// lock (a running send folds them itself). Only files a send made are opened, never
    /// created: a `status` run by another user must not leave files the sender cannot open.
    public static func foldAcceptedMessages(into store: SubscriberStore) throws {
        let log = store.acceptedLogPath
        let manager = FileManager.default
        guard store.engineKind == .postgres || manager.fileExists(atPath: store.path + ".send-lock"),
              let size = (try? manager.attributesOfItem(atPath: log))?[.size] as? Int, size > 0,
              let held = try? SendLock(store: store) else { return }
        try withExtendedLifetime(held) { _ = try AcceptedLog(store: store).fold(into: store) }
    }
}
