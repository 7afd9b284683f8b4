import Foundation

/// Named points where a crash test can stop the process and kill it exactly there:
/// `HOGMAIL_FAILPOINT=journal-commit:3` makes the process stop itself (SIGSTOP) the third time
/// it reaches `journal-commit`, so the test can SIGKILL it at that point and not merely near it.
/// The points sit inside transactions, before their commit: `freeze` (the recipient list of a
/// new send) and `journal-commit` (a group of accepted messages). Unset (always, outside tests),
/// reaching a point costs one comparison.
public enum Failpoint {
    static let armed: (name: String, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["HOGMAIL_FAILPOINT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let counter = Counter()

    private final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var hits = 0
        func next() -> Int { lock.withLock { hits += 1; return hits } }
    }

    public static func reach(_ name: String) {
        guard let armed, armed.name == name else { return }
        if counter.next() == armed.count { raise(SIGSTOP) }
    }
}
