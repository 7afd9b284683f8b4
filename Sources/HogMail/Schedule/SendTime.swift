import Foundation

/// When an issue goes out: its date at the configured time in the configured zone,
/// or the exact time if the draft's `date` carried one.
public struct SendTime: Equatable, Sendable {
    public var date: CalendarDate
    /// An explicit time from the draft (`2026-01-07T10:30:00+01:00`), if it had one.
    public var explicitInstant: Date?

    public init(date: CalendarDate, explicitInstant: Date? = nil) {
        self.date = date
        self.explicitInstant = explicitInstant
    }

    /// Parses the `date:` value of a draft.
    public init?(parsing text: String) {
        guard let date = CalendarDate(parsing: text) else { return nil }
        self.date = date
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 10 else { self.explicitInstant = nil; return }
        // A time: RFC 3339 (Hugo, Jekyll `2026-01-07 10:00:00 +0100` too).
        let normalized = trimmed.replacingOccurrences(of: " ", with: "T", options: [], range: trimmed.index(trimmed.startIndex, offsetBy: 10)..<trimmed.index(trimmed.startIndex, offsetBy: 11))
        let candidates = [normalized, normalized.replacingOccurrences(of: " ", with: "")]
        for candidate in candidates {
            for format in ["yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd'T'HH:mm:ssXX", "yyyy-MM-dd'T'HH:mmXXXXX"] {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.dateFormat = format
                if let instant = formatter.date(from: candidate) {
                    self.explicitInstant = instant
                    return
                }
            }
        }
        // A time without a zone is read in the schedule's zone later; keep only the date.
        let timePart = normalized.dropFirst(11)
        let pieces = timePart.split(separator: ":")
        guard pieces.count >= 2, pieces.count <= 3, pieces.allSatisfy({ Int($0) != nil }) else { return nil }
        self.explicitInstant = nil
        self.localTime = (Int(pieces[0])!, Int(pieces[1])!)
        guard (0..<24).contains(localTime!.0), (0..<60).contains(localTime!.1) else { return nil }
    }

    /// A time of day without a zone, read in the schedule's zone.
    public var localTime: (Int, Int)? = nil

    public static func == (lhs: SendTime, rhs: SendTime) -> Bool {
        lhs.date == rhs.date && lhs.explicitInstant == rhs.explicitInstant
            && lhs.localTime?.0 == rhs.localTime?.0 && lhs.localTime?.1 == rhs.localTime?.1
    }

    /// The instant the issue is due.
    public func instant(schedule: Configuration.Schedule) -> Date {
        if let explicitInstant { return explicitInstant }
        let (hour, minute) = localTime ?? (schedule.hour, schedule.minute)
        return date.instant(hour: hour, minute: minute, in: schedule.timeZone)
    }
}
