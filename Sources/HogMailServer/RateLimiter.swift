import Foundation
import HogMailStore

/// A sliding-window limit per key (an address, a client): at most `limit` events per `window`,
/// kept in the store, so every `hogmail serve` on the same store holds the same limit.
public struct RateLimiter: Sendable {
    public let store: SubscriberStore
    /// Which limit this is (`subscribe-client`, `subscribe-address`): each counts on its own.
    public let scope: String
    public let limit: Int
    public let window: TimeInterval
    /// When this process last dropped the scope's expired events (keys that never came back).
    private let lastSweep = SweepClock()

    public init(store: SubscriberStore, scope: String, limit: Int, window: TimeInterval) {
        self.store = store
        self.scope = scope
        self.limit = limit
        self.window = window
    }

    /// Records an attempt; false when the key is over its limit (the attempt is not counted).
    public func allow(_ key: String, now: Date = Date()) async throws -> Bool {
        if lastSweep.due(now, every: window) { try store.sweepEvents(scope: scope, window: window, now: now) }
        return try store.allowEvent(scope: scope, key: key, limit: limit, window: window, now: now)
    }
}

/// A time under a lock, shared by copies of a `RateLimiter`.
private final class SweepClock: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast

    func due(_ now: Date, every interval: TimeInterval) -> Bool {
        lock.withLock {
            guard now.timeIntervalSince(last) > interval else { return false }
            last = now
            return true
        }
    }
}
