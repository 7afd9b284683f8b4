import Foundation
import HogMailStore
import Synchronization

/// Where accepted messages are journaled before their connection carries another: the local
/// log of accepted messages, folded into an SQLite store in groups, or straight into a server
/// store (several senders share its sends; a line in one machine's file would be lost to the
/// others if that machine died).
enum AcceptedJournal: Sendable {
    case log(AcceptedLog)
    case server(ServerJournal)

    init(store: SubscriberStore) throws {
        self = store.sharesSends ? .server(ServerJournal(store: store)) : .log(try AcceptedLog(store: store))
    }

    /// Records one line and returns once it is durable.
    func record(recipientID: Int64, messageID: String, at date: Date) throws {
        switch self {
        case .log(let log): try log.append(recipientID: recipientID, messageID: messageID, at: date)
        case .server(let journal): try journal.store.recordAccepted(recipientID: recipientID, messageID: messageID, at: date)
        }
    }

    /// Moves logged lines into the store (nothing to do when each went straight there).
    func fold(into store: SubscriberStore) throws {
        if case .log(let log) = self { try log.fold(into: store) }
    }

    /// Ends the server journal's thread once the lines it holds are written.
    func close() {
        if case .server(let journal) = self { journal.close() }
    }
}

/// Journals accepted messages on a server store from a thread of its own. A line there is a
/// round trip; made on the SMTP transport's one I/O thread it stopped every connection for it.
/// Here each connection waits for its own line (it sends nothing more until then) while the
/// others go on, and the lines that come in during one round trip share the next: one
/// statement for them all.
final class ServerJournal: @unchecked Sendable {
    typealias Done = @Sendable ((any Error)?) -> Void

    let store: SubscriberStore
    private let condition = NSCondition()
    // All under `condition`:
    private var waiting: [(line: AcceptedLine, done: Done)] = []
    private var open = true
    private var started = false

    /// How many lines at most one statement carries.
    static let batch = 500

    init(store: SubscriberStore) {
        self.store = store
    }

    /// Queues a line; `done` is called on the journal's thread once it is committed (nil) or
    /// could not be (the error). A line that comes after `close` is still written, by a
    /// thread that ends when it is done.
    func record(_ line: AcceptedLine, then done: @escaping Done) {
        condition.withLock {
            waiting.append((line, done))
            if !started {
                started = true
                let thread = Thread { [self] in run() }
                thread.name = "hogmail-journal"
                thread.start()
            }
            condition.signal()
        }
    }

    private func run() {
        while true {
            let lines = condition.withLock { () -> [(line: AcceptedLine, done: Done)]? in
                while waiting.isEmpty && open { condition.wait() }
                guard !waiting.isEmpty else {
                    started = false
                    condition.broadcast()
                    return nil
                }
                let taken = Array(waiting.prefix(Self.batch))
                waiting.removeFirst(taken.count)
                return taken
            }
            guard let lines else { return }
            var failure: (any Error)?
            do { try store.recordAccepted(lines.map(\.line)) } catch { failure = error }
            for entry in lines { entry.done(failure) }
        }
    }

    /// Writes what is queued, then ends the thread.
    func close() {
        condition.withLock {
            open = false
            condition.broadcast()
            while started { condition.wait() }
        }
    }
}

/// Records one accepted message in the journal, once, whoever calls first: the transport on
/// its own thread, or the sender after `send` returned.
final class AcceptedMessage: Sendable {
    private let log: AcceptedJournal
    private let recipientID: Int64
    private let messageID: String
    private let clock: @Sendable () -> Date
    /// Whether the line is written: a lock held inline, as one of these is made per message.
    private let recorded = Mutex(false)

    init(log: AcceptedJournal, recipientID: Int64, messageID: String, clock: @escaping @Sendable () -> Date) {
        self.log = log
        self.recipientID = recipientID
        self.messageID = messageID
        self.clock = clock
    }

    func record() throws {
        try recorded.withLock { recorded in
            guard !recorded else { return }
            try log.record(recipientID: recipientID, messageID: messageID, at: clock())
            recorded = true
        }
    }

    /// For a server journal, the way to record without waiting (`OutgoingMessage.acceptedLater`);
    /// nil for the local log, whose append is a `write` and is made inline.
    var later: (@Sendable (@escaping @Sendable ((any Error)?) -> Void) -> Void)? {
        guard case .server(let journal) = log else { return nil }
        return { [self] done in
            journal.record(AcceptedLine(recipientID: recipientID, messageID: messageID, sentAt: clock())) { [self] error in
                if error == nil { recorded.withLock { $0 = true } }
                done(error)
            }
        }
    }
}
