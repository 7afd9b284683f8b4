import Foundation
import Testing

@testable import HogMailInbound

/// Real messages that came back (Fixtures/bounces: Postfix's own DSNs from the harness, the
/// sisimai project's set of emails from many MTAs, RFC 5965's examples), each with what a
/// correct reader concludes (SOURCES.tsv). Written by others, so the reader is judged on mail
/// nobody here shaped it for.
@Suite struct ReturnedMailCorpusTests {
    struct Expected {
        var file: String
        var kinds: [String]
        /// Per reported recipient: the acceptable addresses (`a|b`), empty for `-`.
        var recipients: [[String]]
        var statuses: [[String]]
    }

    static let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/bounces")

    static func expectations() throws -> [Expected] {
        let text = try String(contentsOf: folder.appendingPathComponent("SOURCES.tsv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            func list(_ value: String) -> [[String]] {
                value.split(separator: ",").map { $0 == "-" ? [] : $0.split(separator: "|").map(String.init) }
            }
            return Expected(file: columns[0], kinds: columns[1].split(separator: ",").map(String.init),
                            recipients: list(columns[2]), statuses: list(columns[3]))
        }
    }

    static func kind(_ label: String) -> [ReturnedMail.Kind] {
        switch label {
        case "hard": [.hardBounce]
        case "soft": [.softBounce]
        case "complaint": [.complaint]
        case "autoreply": [.autoReply]
        default: [.other, .notFailure]
        }
    }

    /// The worst outcome a message reports, as one `ReturnedMail` sums it up.
    static func worst(_ expected: Expected) -> Int {
        let rank = ["complaint": 4, "hard": 3, "soft": 2, "autoreply": 1, "other": 0]
        return expected.kinds.indices.max { rank[expected.kinds[$0]] ?? 0 < rank[expected.kinds[$1]] ?? 0 }!
    }

    @Test func everyMessageIsReadAsWhatItIs() throws {
        var wrongKind: [String] = []
        var wrongRecipient: [String] = []
        var wrongStatus: [String] = []
        let all = try Self.expectations()
        for expected in all {
            let bytes = Array(try Data(contentsOf: Self.folder.appendingPathComponent(expected.file)))
            let mail = ReturnedMail(bytes: bytes)
            let index = Self.worst(expected)
            if !Self.kind(expected.kinds[index]).contains(mail.kind) {
                wrongKind.append("\(expected.file): \(expected.kinds[index]), read as \(mail.kind.rawValue) (\(mail.evidence): \(mail.detail))")
                continue
            }
            let recipients = index < expected.recipients.count ? expected.recipients[index] : []
            if ["hard", "soft", "complaint"].contains(expected.kinds[index]), !recipients.isEmpty,
               !recipients.contains(mail.recipient ?? "") {
                wrongRecipient.append("\(expected.file): \(recipients.joined(separator: "|")), read as \(mail.recipient ?? "none")")
            }
            let statuses = index < expected.statuses.count ? expected.statuses[index] : []
            if !statuses.isEmpty, expected.kinds[index] != "complaint", !statuses.contains(mail.statusCode ?? "") {
                wrongStatus.append("\(expected.file): \(statuses.joined(separator: "|")), read as \(mail.statusCode ?? "none")")
            }
        }
        print("Returned-mail corpus: \(all.count) messages; kind wrong \(wrongKind.count), recipient wrong \(wrongRecipient.count), status wrong \(wrongStatus.count)")
        #expect(all.count >= 60)
        #expect(wrongKind.isEmpty, "\(wrongKind.joined(separator: "\n"))")
        #expect(wrongRecipient.isEmpty, "\(wrongRecipient.joined(separator: "\n"))")
        #expect(wrongStatus.isEmpty, "\(wrongStatus.joined(separator: "\n"))")
    }
}
