import Foundation

/// A sliding-window limit per key (an address, a client): at most `limit` events per `window`.
public actor RateLimiter {
    private var events: [String: [Date]] = [:]
    private let limit: Int
    private let window: TimeInterval
    private var lastSweep = Date()

    public init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// Records an attempt; false when the key is over its limit (the attempt is not counted).
    public func allow(_ key: String, now: Date = Date()) -> Bool {
        sweep(now)
        let recent = (events[key] ?? []).filter { now.timeIntervalSince($0) < window }
        guard recent.count < limit else {
            events[key] = recent
            return false
        }
        events[key] = recent + [now]
        return true
    }

    private func sweep(_ now: Date) {
        guard now.timeIntervalSince(lastSweep) > window else { return }
        events = events.filter { $0.value.contains { now.timeIntervalSince($0) < window } }
        lastSweep = now
    }
}
