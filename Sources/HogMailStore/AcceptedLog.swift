import Foundation
import GRDB
import GRDBSQLite
import HogMail
import Synchronization

/// The messages a send's server accepted, one line each, written to a file beside the store
/// (`hogmail.sqlite.accepted`) the moment the server says 250 and before that connection
/// carries another message, with no transaction and no system call: the file is mapped
/// into memory (`MAP_SHARED`), so a line is a copy into the kernel's page cache. A SIGKILL
/// loses nothing copied there (as with `write(2)`), so a killed send repeats at most the
/// messages on the wire. The sender folds the lines into the journal in one transaction
/// before it reads which recipients are due, and at the start and end of a run (a killed
/// run's lines are folded by the next one).
///
/// A line is `<recipient row id> <unix seconds> <Message-ID>\n`. The file is grown ahead of
/// the lines with `posix_fallocate`, so a full disk is an error when the space is asked for,
/// never a fault on a copy; the space not yet written is zeros, where reading stops. A line's
/// newline is written after the rest of it, so a line cut short by a kill has none and is
/// ignored, and its message is sent again.
public final class AcceptedLog: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32
    /// Appends and folds exclude each other: a line written while a fold reads would be lost
    /// when the fold empties the file.
    private let lock = NSLock()
    /// The mapped file while lines are being written; nil until the first line after opening
    /// or after a fold.
    private var mapping: UnsafeMutableRawPointer?
    private var capacity = 0
    /// Where the next line goes: the end of the complete lines.
    private var used = 0

    /// How much the file grows at a time: about a thousand lines.
    static let growth = 64 * 1024

    public init(store: SubscriberStore) throws {
        path = store.acceptedLogPath
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw HogMailError(file: path, "The send journal's log of accepted messages cannot be opened: \(String(cString: strerror(errno))). Check the permissions of the store's folder.")
        }
    }

    deinit {
        unmap()
        // What was reserved and never written goes, so the file holds just its lines.
        if capacity > 0 { ftruncate(descriptor, off_t(used)) }
        close(descriptor)
    }

    /// Records one accepted message. Throws when the space for the line cannot be had.
    public func append(recipientID: Int64, messageID: String, at date: Date) throws {
        var messageID = messageID
        try messageID.withUTF8 { id in
            // A Message-ID is `<hex@domain>`; a space, line break or NUL would break the line.
            guard !id.contains(where: { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0 }) else {
                throw HogMailError(file: path, "The Message-ID \(String(decoding: id, as: UTF8.self).debugDescription) has a space, a line break or a NUL and cannot be journaled. Its message went out; the send stops here, and that one message goes again when the send is resumed.")
            }
            // Seconds with milliseconds, which is all a send time needs.
            let milliseconds = max(Int64((date.timeIntervalSince1970 * 1000).rounded()), 0)
            // At most: 19 digits, a space, 16 digits, a dot and 3, a space, the id, the newline.
            let longest = 19 + 1 + 16 + 4 + 1 + id.count + 1
            try lock.withLock {
                Failpoint.reach("journal-commit")
                if mapping == nil || used + longest > capacity { try grow(toHold: longest) }
                // Written digit by digit straight into the mapped page: no line buffer, no
                // string interpolation of the two numbers.
                let start = mapping!.advanced(by: used).assumingMemoryBound(to: UInt8.self)
                var at = Self.writeDecimal(recipientID, to: start)
                start[at] = 0x20
                at += 1
                at += Self.writeDecimal(milliseconds / 1000, to: start + at)
                let fraction = milliseconds % 1000
                start[at] = UInt8(ascii: ".")
                start[at + 1] = UInt8(48 + fraction / 100)
                start[at + 2] = UInt8(48 + fraction / 10 % 10)
                start[at + 3] = UInt8(48 + fraction % 10)
                start[at + 4] = 0x20
                at += 5
                if let base = id.baseAddress { (start + at).update(from: base, count: id.count) }
                at += id.count
                // The newline last: no line that has one can be missing any of its other bytes.
                atomicMemoryFence(ordering: .sequentiallyConsistent)
                start[at] = 0x0A
                used += at + 1
            }
        }
    }

    /// A non-negative number's decimal digits at `out` (row ids and times are never negative);
    /// returns how many.
    static func writeDecimal(_ value: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var rest = max(value, 0)
        var count = 0
        repeat {
            out[count] = UInt8(48 + rest % 10)
            rest /= 10
            count += 1
        } while rest > 0
        var digits = UnsafeMutableBufferPointer(start: out, count: count)
        digits.reverse()
        return count
    }

    /// Maps the file with room for `bytes` more. The first time after opening or a fold, the
    /// file is cut back to its complete lines (a killed run's cut line, or the zeros of its
    /// unused space, are dropped) and the next line goes after them.
    private func grow(toHold bytes: Int) throws {
        if mapping == nil {
            let content = try readAll()
            used = Self.completeLength(content)
            guard ftruncate(descriptor, off_t(used)) == 0 else { throw spaceError(String(cString: strerror(errno))) }
        }
        unmap()
        let pages = Int(sysconf(Int32(_SC_PAGESIZE)))
        let wanted = max(used + bytes, capacity * 2, used + Self.growth)
        let size = (wanted + pages - 1) / pages * pages
        let reserved = posix_fallocate(descriptor, 0, off_t(size))
        guard reserved == 0 else { throw spaceError(String(cString: strerror(reserved))) }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            throw spaceError(String(cString: strerror(errno)))
        }
        mapping = mapped
        capacity = size
    }

    private func unmap() {
        if let mapping { munmap(mapping, capacity) }
        mapping = nil
    }

    private func spaceError(_ reason: String) -> HogMailError {
        HogMailError(file: path, "An accepted message could not be journaled: \(reason) (is the disk full?). The send stops so that it is not sent twice; free some space and run `hogmail send` again.")
    }

    /// The whole file as it is on disk (lines written by this process or a killed one).
    private func readAll() throws -> [UInt8] {
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let read = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, Int(size), 0) }
        guard read == size else {
            throw HogMailError(file: path, "The log of accepted messages cannot be read: \(String(cString: strerror(errno))).")
        }
        return bytes
    }

    /// The length of the complete lines: up to the last newline before the first zero byte.
    static func completeLength(_ bytes: [UInt8]) -> Int {
        let written = bytes.firstIndex(of: 0) ?? bytes.count
        return bytes[..<written].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
    }

    /// Moves every line into the journal (`send_recipient` marked sent) in one transaction,
    /// then empties the file. Idempotent: a crash between the commit and the emptying folds the
    /// same lines again, and rows already sent are left as they are. Returns the lines folded.
    @discardableResult
    public func fold(into store: SubscriberStore) throws -> Int {
        try lock.withLock {
            let bytes = try readAll()
            guard !bytes.isEmpty else { return 0 }
            let entries = Self.parse(bytes)
            try store.recordSent(entries)
            unmap()
            capacity = 0
            used = 0
            guard ftruncate(descriptor, 0) == 0 else {
                throw HogMailError(file: path, "The log of accepted messages cannot be emptied: \(String(cString: strerror(errno))).")
            }
            return entries.count
        }
    }

    /// The complete lines of the log, up to the space not yet written (zeros); a line that is
    /// not `id seconds message-id` is skipped. Read on the bytes (a fold reads a line per
    /// message sent): no array of fields and no `String` for the two numbers.
    static func parse(_ bytes: [UInt8]) -> [(recipientID: Int64, sentAt: Double, messageID: String)] {
        var entries: [(Int64, Double, String)] = []
        let complete = completeLength(bytes)
        entries.reserveCapacity(complete / 48)
        bytes.withUnsafeBufferPointer { all in
            let bytes = UnsafeBufferPointer(rebasing: all[..<complete])
            var start = 0
            while start < bytes.count {
                var end = start
                while bytes[end] != 0x0A { end += 1 }
                if let entry = parseLine(UnsafeBufferPointer(rebasing: bytes[start..<end])) { entries.append(entry) }
                start = end + 1
            }
        }
        return entries
    }

    /// One line without its newline: decimal digits, a space, seconds (digits, optionally a dot
    /// and more digits), a space, then the Message-ID (the rest of the line, not empty).
    static func parseLine(_ line: UnsafeBufferPointer<UInt8>) -> (Int64, Double, String)? {
        var at = 0
        func digits() -> (value: Int64, count: Int)? {
            var value: Int64 = 0
            var count = 0
            while at < line.count, (48...57).contains(line[at]) {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(line[at] - 48))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                count += 1
                at += 1
            }
            return count > 0 ? (value, count) : nil
        }
        guard let id = digits(), at < line.count, line[at] == 0x20 else { return nil }
        at += 1
        let secondsStart = at
        guard let whole = digits() else { return nil }
        var sentAt = Double(whole.value)
        if at < line.count, line[at] == UInt8(ascii: ".") {
            at += 1
            guard let fraction = digits() else { return nil }
            if fraction.count <= 15, whole.count + fraction.count <= 15 {
                // Both exact in a Double, so the one division rounds as parsing the decimal does.
                var scale: Int64 = 1
                for _ in 0..<fraction.count { scale *= 10 }
                sentAt = Double(whole.value * scale + fraction.value) / Double(scale)
            } else {
                guard let parsed = Double(String(decoding: UnsafeBufferPointer(rebasing: line[secondsStart..<at]), as: UTF8.self)) else { return nil }
                sentAt = parsed
            }
        }
        guard at < line.count, line[at] == 0x20, at + 1 < line.count else { return nil }
        return (id.value, sentAt, String(decoding: UnsafeBufferPointer(rebasing: line[(at + 1)...]), as: UTF8.self))
    }
}

extension SubscriberStore {
    /// Marks sent the rows frozen with their Message-ID, `count` at a time: bound as pairs of
    /// (row id, sent at). One statement per batch, not per row: each run of a statement opens
    /// and closes its cursors, allocating their memory, so a statement per row cost a quarter
    /// of the fold's instructions (callgrind of a replay on 30,000 rows: 26,400 a row as one
    /// statement per row, 19,800 as one per 500).
    static func foldWithFrozenIDSQL(count: Int) -> String {
        """
        UPDATE send_recipient SET state = 'sent', attempts = attempts + 1, last_response = 'accepted',
            next_attempt_at = NULL, sent_at = v.column2
        FROM (VALUES \(Array(repeating: "(?, ?)", count: count).joined(separator: ", "))) AS v
        WHERE send_recipient.id = v.column1 AND state != 'sent' AND message_id IS NOT NULL
        """
    }
    /// The statements' sizes, largest first: a fold takes as many of the largest as fit, then
    /// of the next. Each size's statement is prepared once and kept: a fold is rarely a round
    /// number of lines, and preparing a statement of its exact size (hundreds of bound pairs)
    /// for every fold cost more than the rows it updated.
    static let foldBatches: [(count: Int, sql: String)] = [500, 128, 32, 8, 1].map { ($0, foldWithFrozenIDSQL(count: $0)) }
    /// Marks sent a row frozen without one: (Message-ID, sent at, row id).
    static let foldWithoutIDSQL = """
        UPDATE send_recipient SET state = 'sent', attempts = attempts + 1, last_response = 'accepted', message_id = ?,
            next_attempt_at = NULL, sent_at = ? WHERE id = ? AND state != 'sent' AND message_id IS NULL
        """

    /// Marks the logged messages sent, in one transaction; rows already sent stay as they are.
    /// A row frozen with its Message-ID is updated without naming that column, so SQLite leaves
    /// the Message-ID index alone (it rewrites the entries of every indexed column an UPDATE
    /// sets, changed or not); only a row frozen without one (by an older HogMail) gets it here.
    func recordSent(_ entries: [(recipientID: Int64, sentAt: Double, messageID: String)]) throws {
        guard !entries.isEmpty else { return }
        guard engineKind == .sqlite else { return try recordSentInBatches(entries) }
        // A row named twice in one statement gets one of its times, SQLite's choice; one line
        // per row, the first, keeps the time a row is marked with the first one logged.
        var seen = Set<Int64>(minimumCapacity: entries.count)
        let entries = entries.filter { seen.insert($0.recipientID).inserted }
        try database.write { db in
            var start = entries.startIndex
            while start < entries.endIndex {
                let (count, sql) = Self.foldBatches.first { $0.count <= entries.endIndex - start }!
                let batch = entries[start..<start + count]
                let statement = try db.cachedStatement(sql: sql)
                // Bound and stepped through SQLite's own calls: GRDB's `execute(arguments:)`
                // builds an array of values and checks it. GRDB's own bookkeeping (transaction
                // observers, of which the store has none) is skipped; the statement is reset
                // after its step, so GRDB can use it again.
                let raw = statement.sqliteStatement
                var parameter: Int32 = 1
                for entry in batch {
                    sqlite3_bind_int64(raw, parameter, entry.recipientID)
                    sqlite3_bind_double(raw, parameter + 1, entry.sentAt)
                    parameter += 2
                }
                let code = sqlite3_step(raw)
                sqlite3_reset(raw)
                guard code == SQLITE_DONE else { throw Self.stepFailure(code, db, sql: sql) }
                if db.changesCount < batch.count {
                    // Some rows were already sent, or frozen without a Message-ID: each line
                    // again, through the statement for the latter (a no-op for the former).
                    let withoutID = try db.cachedStatement(sql: Self.foldWithoutIDSQL)
                    for entry in batch {
                        try withoutID.execute(arguments: [entry.messageID, entry.sentAt, entry.recipientID])
                    }
                }
                start = batch.endIndex
            }
            Failpoint.reach("journal-fold")
        }
    }

    /// The fold on PostgreSQL: one statement per 1,000 lines (a round trip per line would
    /// cost more than the send), with the same rules: rows already sent stay as they are, and a
    /// row frozen without a Message-ID gets the logged one.
    private func recordSentInBatches(_ entries: [(recipientID: Int64, sentAt: Double, messageID: String)]) throws {
        try engine.write { session in
            var start = entries.startIndex
            while start < entries.endIndex {
                let batch = entries[start..<min(start + 1_000, entries.endIndex)]
                let tuples = Array(repeating: "(?::BIGINT, ?::DOUBLE PRECISION, ?::TEXT)", count: batch.count).joined(separator: ", ")
                try session.execute("""
                    UPDATE send_recipient AS r SET state = 'sent', attempts = r.attempts + 1, last_response = 'accepted',
                        next_attempt_at = NULL, sent_at = v.sent_at, message_id = COALESCE(r.message_id, v.message_id)
                    FROM (VALUES \(tuples)) AS v(id, sent_at, message_id)
                    WHERE r.id = v.id AND r.state <> 'sent'
                    """, batch.flatMap { [SQLValue.integer($0.recipientID), .real($0.sentAt), .text($0.messageID)] })
                start = batch.endIndex
            }
            Failpoint.reach("journal-fold")
        }
    }
}
