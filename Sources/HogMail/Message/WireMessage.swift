/// A message as the wire carries it, in pieces that are ranges of two buffers: `own`, the bytes
/// written for one recipient (the headers and the fields), and `shared`, the template's encoded
/// parts, which every recipient's message refers to without a copy. SMTP hands the pieces to
/// the kernel as they are; `joined()` makes one buffer for whatever needs one (a file, SES).
///
/// One buffer shared by reference, not a piece per template segment: a piece that held its own
/// reference would be a retain on one thread and a release on another for each piece of each
/// message, on a counter every message shares.
public struct WireMessage: Sendable, Equatable {
    public struct Piece: Sendable, Equatable {
        /// In `shared` when true, else in `own`.
        public var isShared: Bool
        public var range: Range<Int>
    }

    public private(set) var own: [UInt8]
    public private(set) var shared: [UInt8]
    public private(set) var pieces: [Piece]
    /// The bytes of all the pieces.
    public private(set) var count: Int
    /// From this offset on, no line starts with "." (the template knows it of its
    /// quoted-printable parts), so SMTP looks for lines to dot-stuff only before it. Nil: the
    /// whole message is looked at.
    public var dotFreeFrom: Int?

    /// The message in one buffer of its own.
    public init(_ bytes: [UInt8]) {
        own = bytes
        shared = []
        pieces = bytes.isEmpty ? [] : [Piece(isShared: false, range: 0..<bytes.count)]
        count = bytes.count
    }

    /// `own` to start from, and nothing in it yet: `append` adds the pieces in order.
    init(own: [UInt8], shared: [UInt8], pieces capacity: Int) {
        self.own = own
        self.shared = shared
        pieces = []
        pieces.reserveCapacity(capacity)
        count = 0
    }

    /// The next piece; one that continues the last in the same buffer extends it.
    mutating func append(_ piece: Piece) {
        guard !piece.range.isEmpty else { return }
        count += piece.range.count
        if let last = pieces.last, last.isShared == piece.isShared, last.range.upperBound == piece.range.lowerBound {
            pieces[pieces.count - 1].range = last.range.lowerBound..<piece.range.upperBound
        } else {
            pieces.append(piece)
        }
    }

    /// Drops the last `n` bytes (fewer if there are not so many), across pieces.
    mutating func dropLast(_ n: Int) {
        var left = min(n, count)
        count -= left
        while left > 0, let last = pieces.last {
            if last.range.count > left {
                pieces[pieces.count - 1].range = last.range.lowerBound..<last.range.upperBound - left
                left = 0
            } else {
                left -= last.range.count
                pieces.removeLast()
            }
        }
    }

    /// Whether the last bytes, across pieces, are `tail`.
    func hasSuffix(_ tail: [UInt8]) -> Bool {
        guard count >= tail.count else { return false }
        var matched = 0
        for piece in pieces.reversed() {
            let buffer = piece.isShared ? shared : own
            for index in piece.range.reversed() {
                guard matched < tail.count else { return true }
                guard buffer[index] == tail[tail.count - 1 - matched] else { return false }
                matched += 1
            }
        }
        return matched == tail.count
    }

    /// The last byte, if any.
    public var last: UInt8? {
        guard let piece = pieces.last else { return nil }
        return piece.isShared ? shared[piece.range.upperBound - 1] : own[piece.range.upperBound - 1]
    }

    /// The whole message in one buffer.
    public func joined() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        for piece in pieces {
            if piece.isShared { bytes += shared[piece.range] } else { bytes += own[piece.range] }
        }
        return bytes
    }

    /// The two buffers' bytes, for a caller that writes the pieces where they are.
    public func withBuffers<R>(_ body: (_ own: UnsafeRawBufferPointer, _ shared: UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try own.withUnsafeBytes { own in try shared.withUnsafeBytes { shared in try body(own, shared) } }
    }

    /// The same bytes, for tests and logs: equal when the messages are, however they are cut.
    public static func == (a: WireMessage, b: WireMessage) -> Bool {
        a.count == b.count && a.dotFreeFrom == b.dotFreeFrom && a.joined() == b.joined()
    }
}
