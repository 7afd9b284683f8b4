import Foundation
import Testing

@testable import HogMail

@Suite struct MessageHeadersTests {
    @Test func fieldsAreReadWithCRLFOrBareLFAndFoldedLinesJoined() {
        let headers = MessageHeaders(parsing: Array("To: a@example.com\r\nSubject: one\r\n  two\r\nX-A: 1\nx-a: 2\r\n\r\nTo: body@example.com\r\n".utf8))
        #expect(headers.values("to") == ["a@example.com"])
        #expect(headers.values("Subject") == ["one two"])
        #expect(headers.values("X-A") == ["1", "2"])
    }

    @Test func bytesThatAreNotUTF8OrNotAHeaderDoNotStopTheReading() {
        let bytes: [UInt8] = Array("Garbage line\r\nFrom: ".utf8) + [0xFF, 0xFE] + Array("\r\nTo: b@example.com\r\n\r\n".utf8)
        let headers = MessageHeaders(parsing: bytes)
        #expect(headers.values("To") == ["b@example.com"])
        #expect(headers.values("From").count == 1)
    }

    @Test func onlyTheFirstBytesAreRead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).eml")
        var data = Data("To: c@example.com\r\nX-Long: ".utf8)
        data.append(Data(repeating: 0x61, count: 50 * 1024 * 1024))
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let started = Date()
        let headers = try MessageHeaders.read(contentsOf: url)
        #expect(headers.values("To") == ["c@example.com"])
        // The line the limit cuts is not a field: half a value would be a wrong one.
        #expect(headers.values("X-Long").isEmpty)
        #expect(Date().timeIntervalSince(started) < 2)
    }
}
