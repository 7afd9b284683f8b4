import CSMTPStream
import Foundation
import Testing

/// `hogmail_loop_wait` and its pause: the SMTP loop sleeps a little before it waits while
/// every connection is busy, so that one wake-up collects several replies. A socket pair
/// stands for a connection; a byte written to one end is a reply on the other.
@Suite(.serialized) struct EventLoopWaitTests {
    /// Unchecked: another thread only writes to the server's end.
    final class Loop: @unchecked Sendable {
        var epoll: Int32 = -1
        var wakeup: Int32 = -1
        var ends: [Int32] = [-1, -1]

        init() throws {
            guard hogmail_loop_create(&epoll, &wakeup) == 0 else { throw POSIXError(.EMFILE) }
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else { throw POSIXError(.EMFILE) }
            _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
            // Tag 0; the socket starts writable, so the first wait reports that and is drained here.
            guard hogmail_loop_watch(epoll, ends[0], 0) == 0 else { throw POSIXError(.EBADF) }
            var pauseInVain: Int32 = 0
            _ = wait(timeout: 0, pause: 0, &pauseInVain)
        }

        deinit {
            for descriptor in [epoll, wakeup] + ends { close(descriptor) }
        }

        /// The server's end writes a reply after `delay` seconds, from a thread of its own (the
        /// test's threads block in the wait).
        func reply(after delay: Double) {
            Thread.detachNewThread { [self] in
                usleep(useconds_t(delay * 1_000_000))
                reply()
            }
        }

        /// The server's end writes a reply.
        func reply() {
            var byte: UInt8 = 0x32
            _ = write(ends[1], &byte, 1)
        }

        /// Wakes the loop (as a new message or a shutdown does) after `delay` seconds.
        func wake(after delay: Double) {
            Thread.detachNewThread { [self] in
                usleep(useconds_t(delay * 1_000_000))
                hogmail_loop_wake(wakeup)
            }
        }

        /// The tags of the last wait's events.
        var tags = [UInt64](repeating: 0, count: 64)

        /// (events, seconds waited, on the monotonic clock)
        func wait(timeout: Int32, pause: Int32, _ pauseInVain: inout Int32) -> (Int32, Double) {
            var events = [UInt32](repeating: 0, count: 64)
            let clock = ContinuousClock()
            let start = clock.now
            let count = hogmail_loop_wait(epoll, wakeup, &tags, &events, 64, timeout, pause, &pauseInVain)
            let waited = clock.now - start
            return (count, Double(waited.components.seconds) + Double(waited.components.attoseconds) / 1e18)
        }
    }

    @Test func aReplyAlreadyThereIsTakenWithoutAPause() throws {
        let loop = try Loop()
        loop.reply()
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 5_000, pause: 2_000_000, &pauseInVain)
        #expect(count == 1)
        #expect(pauseInVain == 0)
        #expect(waited < 1.5, "a two-second pause was taken with a reply waiting: \(waited) s")
    }

    @Test func aReplyThatComesDuringThePauseIsTakenAfterIt() throws {
        let loop = try Loop()
        // The reply comes half a second into a three-second pause: a test thread held up for
        // less than that still starts its pause first.
        loop.reply(after: 0.5)
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 10_000, pause: 3_000_000, &pauseInVain)
        #expect(count == 1)
        #expect(pauseInVain == 0)
        #expect(waited >= 2.99, "the pause was cut short: \(waited) s")
    }

    @Test func withNothingInThePauseTheLoopWaitsAsUsualAndSaysSo() throws {
        let loop = try Loop()
        loop.reply(after: 1)
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 10_000, pause: 20_000, &pauseInVain)
        #expect(count == 1)
        #expect(pauseInVain == 1)
        #expect(waited < 8, "\(waited) s")
    }

    @Test func aShortTimeoutIsNotPaused() throws {
        let loop = try Loop()
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 1, pause: 2_000_000, &pauseInVain)
        #expect(count == 0)
        #expect(pauseInVain == 0)
        #expect(waited < 1.5, "a 1 ms timeout took a two-second pause: \(waited) s")
    }

    @Test func aWakeUpDuringThePauseIsSeenAfterItAndReadOnce() throws {
        let loop = try Loop()
        loop.wake(after: 0.5)
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 10_000, pause: 3_000_000, &pauseInVain)
        #expect(count == 1)
        #expect(loop.tags[0] == UInt64.max)
        #expect(pauseInVain == 0)
        #expect(waited >= 2.99, "\(waited) s")
        // The eventfd was read: the next wait finds nothing.
        #expect(loop.wait(timeout: 0, pause: 0, &pauseInVain).0 == 0)
    }

    @Test func aPauseLongerThanHalfTheTimeoutIsCutToHalfOfIt() throws {
        let loop = try Loop()
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 400, pause: 5_000_000, &pauseInVain)
        #expect(count == 0)
        #expect(pauseInVain == 1)
        #expect(waited >= 0.39 && waited < 3, "a 400 ms timeout with a five-second pause took \(waited) s")
    }

    @Test func theTimeoutStillEndsAWaitAfterAnEmptyPause() throws {
        let loop = try Loop()
        var pauseInVain: Int32 = -1
        let (count, waited) = loop.wait(timeout: 100, pause: 20_000, &pauseInVain)
        #expect(count == 0)
        #expect(pauseInVain == 1)
        #expect(waited >= 0.09 && waited < 3, "\(waited) s")
    }
}
