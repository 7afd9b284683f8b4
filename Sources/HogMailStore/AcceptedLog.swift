import Foundation
import GRDB
import HogMail

/// The messages a send's server accepted, one line each, appended to a file beside the store
/// (`hogmail.sqlite.accepted`) the moment the server says 250 and before that connection
/// carries another message: one `write(2)` per message, no transaction. A SIGKILL loses
/// nothing written (the data is in the kernel's page cache), so a killed send repeats at most
/// the messages on the wire. The sender folds the lines into the journal in one transaction
/// before it reads which recipients are due, and at the start and end of a run (a killed
/// run's lines are folded by the next one).
///
/// A line is `<recipient row id> <unix seconds> <Message-ID>\n`; a last line without its
/// newline (a write cut short by a full disk) is ignored, and its message is sent again.
public final class AcceptedLog: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32
    /// Appends and folds exclude each other: a line written while a fold reads would be lost
    /// when the fold empties the file.
    private let lock = NSLock()

    public init(store: SubscriberStore) throws {
        path = store.path + ".accepted"
        descriptor = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HogMailError(file: path, "The send journal's log of accepted messages cannot be opened: \(String(cString: strerror(errno))). Check the permissions of the store's folder.")
        }
    }

    deinit { close(descriptor) }

    /// Records one accepted message. Throws when the line could not be written whole.
    public func append(recipientID: Int64, messageID: String, at date: Date) throws {
        // A Message-ID is `<hex@domain>`; a space or line break would split the line.
        guard !messageID.utf8.contains(where: { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }) else {
            throw HogMailError(file: path, "The Message-ID `\(messageID)` has a space or a line break and cannot be journaled.")
        }
        var line = Array("\(recipientID) \(date.timeIntervalSince1970) ".utf8)
        line += messageID.utf8
        line.append(0x0A)
        try lock.withLock {
            Failpoint.reach("journal-commit")
            let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard written == line.count else {
                let reason = written < 0 ? String(cString: strerror(errno)) : "only \(written) of \(line.count) bytes were written (is the disk full?)"
                throw HogMailError(file: path, "An accepted message could not be journaled: \(reason). The send stops so that it is not sent twice; free some space and run `hogmail send` again.")
            }
        }
    }

    /// Moves every line into the journal (`send_recipient` marked sent) in one transaction,
    /// then empties the file. Idempotent: a crash between the commit and the emptying folds the
    /// same lines again, and rows already sent are left as they are. Returns the lines folded.
    @discardableResult
    public func fold(into store: SubscriberStore) throws -> Int {
        try lock.withLock {
            let size = lseek(descriptor, 0, SEEK_END)
            guard size > 0 else { return 0 }
            var bytes = [UInt8](repeating: 0, count: Int(size))
            let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, Int(size), 0) }
            guard read == size else {
                throw HogMailError(file: path, "The log of accepted messages cannot be read: \(String(cString: strerror(errno))).")
            }
            let entries = Self.parse(bytes)
            try store.recordSent(entries)
            guard ftruncate(descriptor, 0) == 0 else {
                throw HogMailError(file: path, "The log of accepted messages cannot be emptied: \(String(cString: strerror(errno))).")
            }
            return entries.count
        }
    }

    /// The complete lines of the log; a line that is not `id seconds message-id` is skipped.
    static func parse(_ bytes: [UInt8]) -> [(recipientID: Int64, sentAt: Double, messageID: String)] {
        var entries: [(Int64, Double, String)] = []
        var start = 0
        while let end = bytes[start...].firstIndex(of: 0x0A) {
            let fields = bytes[start..<end].split(separator: 0x20, maxSplits: 2)
            if fields.count == 3, let id = Int64(String(decoding: fields[0], as: UTF8.self)),
               let seconds = Double(String(decoding: fields[1], as: UTF8.self)) {
                entries.append((id, seconds, String(decoding: fields[2], as: UTF8.self)))
            }
            start = end + 1
        }
        return entries
    }
}

extension SubscriberStore {
    /// Marks the logged messages sent, in one transaction; rows already sent stay as they are.
    func recordSent(_ entries: [(recipientID: Int64, sentAt: Double, messageID: String)]) throws {
        guard !entries.isEmpty else { return }
        try database.write { db in
            let statement = try db.makeStatement(sql: """
                UPDATE send_recipient SET state = 'sent', attempts = attempts + 1, last_response = 'accepted', message_id = ?,
                    next_attempt_at = NULL, sent_at = ? WHERE id = ? AND state != 'sent'
                """)
            for entry in entries {
                try statement.execute(arguments: [entry.messageID, entry.sentAt, entry.recipientID])
            }
            Failpoint.reach("journal-fold")
        }
    }
}
