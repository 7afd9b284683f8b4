import Foundation
import Testing

@testable import HogMail

/// A recipient's message in pieces: its own bytes and the template's, which no recipient copies.
@Suite struct WireMessageTests {
    static func message(own: String, shared: String, _ pieces: [(shared: Bool, range: Range<Int>)]) -> WireMessage {
        var message = WireMessage(own: Array(own.utf8), shared: Array(shared.utf8), pieces: pieces.count)
        for piece in pieces { message.append(.init(isShared: piece.shared, range: piece.range)) }
        return message
    }

    @Test func piecesThatFollowEachOtherInOneBufferBecomeOneAndEmptyOnesAreLeftOut() {
        let message = Self.message(own: "Hello, world", shared: "ABCDEF",
                                   [(false, 0..<5), (false, 5..<7), (true, 2..<2), (true, 0..<3), (false, 7..<12), (true, 3..<6)])
        #expect(message.pieces == [.init(isShared: false, range: 0..<7), .init(isShared: true, range: 0..<3),
                                   .init(isShared: false, range: 7..<12), .init(isShared: true, range: 3..<6)])
        #expect(message.joined() == Array("Hello, ABCworldDEF".utf8))
        #expect(message.count == 18)
        #expect(message.last == UInt8(ascii: "F"))
    }

    @Test func theBytesOfOneBufferAreOnePiece() {
        #expect(WireMessage(Array("abc".utf8)).pieces == [.init(isShared: false, range: 0..<3)])
        #expect(WireMessage([]).pieces.isEmpty)
        #expect(WireMessage([]).last == nil)
        #expect(WireMessage([]).joined().isEmpty)
    }

    @Test func droppingTheLastBytesCrossesPiecesAndStopsAtNothing() {
        var message = Self.message(own: "abc=", shared: "\r\nxyz", [(false, 0..<4), (true, 0..<2)])
        #expect(message.hasSuffix(Array("=\r\n".utf8)))
        #expect(!message.hasSuffix(Array("x=\r\n".utf8)))
        #expect(!message.hasSuffix(Array("0abc=\r\n".utf8)))
        message.dropLast(3)
        #expect(message.joined() == Array("abc".utf8))
        #expect(message.pieces == [.init(isShared: false, range: 0..<3)])
        #expect(message.count == 3)
        message.dropLast(10)
        #expect(message.pieces.isEmpty && message.count == 0 && message.joined().isEmpty)
        #expect(!message.hasSuffix(Array("a".utf8)))
        #expect(message.hasSuffix([]))
    }

    /// What makes a send cheap: every recipient's message refers to the same buffer of the
    /// template's encoded parts, and writes only its headers and fields.
    @Test func everyRecipientsMessageRefersToTheTemplatesPartsWithoutCopyingThem() throws {
        let long = String(repeating: "A paragraph that every reader gets as it is. ", count: 200)
        let template = try MessageTemplate(configuration: sampleConfiguration, subject: "Hi",
                                           text: PersonalizedText(rendering: "\(long)\nLeave: \(PersonalizedText.Field.unsubscribeURL.placeholder)\n"),
                                           html: PersonalizedText(rendering: "<p>\(long)</p><a href=\"\(PersonalizedText.Field.unsubscribeURL.placeholder)\">leave</a>\n"),
                                           archiveURL: "https://x.example/archive")
        func recipient(_ address: String) -> MessageTemplate.Recipient {
            .init(mailbox: Mailbox(address: address), unsubscribeURL: "https://x.example/u?token=\(address.prefix(3))&s=1",
                  unsubscribeMailto: "mailto:u+t@x.example", messageID: "<\(address.prefix(3))@example.com>", date: Date(timeIntervalSince1970: 0), timeZone: .gmt)
        }
        let one = try template.wire(for: recipient("one@example.com")), two = try template.wire(for: recipient("two@example.com"))
        #expect(one.count > 18_000)
        #expect(one.own.count < 2_000 && two.own.count < 2_000)
        let sameBuffer = one.shared.withUnsafeBytes { a in two.shared.withUnsafeBytes { b in a.baseAddress == b.baseAddress } }
        #expect(sameBuffer)
        #expect(one.joined() == (try template.bytes(for: recipient("one@example.com"))))
        #expect(one.count == one.joined().count)
        #expect(String(decoding: two.joined(), as: UTF8.self).contains("token=3Dtwo&amp;s=3D1"))
        // The headers come first, in one piece; after them no line starts with ".".
        let tail = try #require(one.dotFreeFrom)
        #expect(one.pieces.first == .init(isShared: false, range: 0..<tail))
    }
}
