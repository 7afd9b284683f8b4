import Foundation
import Testing

@testable import HogMail

/// The size readers on hand-made headers, real files (Fixtures/images, made by make.py) and
/// hostile bytes: truncated, lying about their size, or walking JPEG segments forever.
@Suite struct ImageHeaderTests {
    static func read(_ bytes: [UInt8]) -> ImageHeader.Info? { ImageHeader.read(Data(bytes)) }
    static func be32(_ value: Int) -> [UInt8] { [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static func png(_ width: Int, _ height: Int) -> [UInt8] {
        pngSignature + [0, 0, 0, 13] + Array("IHDR".utf8) + be32(width) + be32(height) + [8, 6, 0, 0, 0, 0, 0, 0, 0]
    }
    static func sof(_ marker: UInt8, _ width: Int, _ height: Int) -> [UInt8] {
        [0xFF, marker, 0, 11, 8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0]
    }
    static func riff(_ chunk: String, _ payload: [UInt8]) -> [UInt8] {
        Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBP".utf8) + Array(chunk.utf8) + [0, 0, 0, 0] + payload
    }

    @Test func pngSizeComesFromIHDR() {
        #expect(Self.read(Self.png(640, 480)) == .init(format: .png, size: PixelSize(width: 640, height: 480)))
    }

    @Test func jpegSizeComesFromTheFrameHeaderAfterOtherSegments() {
        let app0: [UInt8] = [0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        let comment: [UInt8] = [0xFF, 0xFE, 0, 7] + Array("hello".utf8)
        for marker: UInt8 in [0xC0, 0xC1, 0xC2] {
            #expect(Self.read([0xFF, 0xD8] + app0 + comment + Self.sof(marker, 1200, 800)) == .init(format: .jpeg, size: PixelSize(width: 1200, height: 800)))
        }
        // Fill bytes before a marker are allowed.
        #expect(Self.read([0xFF, 0xD8, 0xFF, 0xFF] + Self.sof(0xC0, 10, 20).dropFirst()) == .init(format: .jpeg, size: PixelSize(width: 10, height: 20)))
    }

    @Test func aJPEGTurnedOnItsSideByExifHasItsSidesSwapped() {
        // Exif, big-endian TIFF, IFD0 with one entry: Orientation (0x0112) = 6 (rotate 90°).
        let tiff: [UInt8] = Array("MM".utf8) + [0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]
        let exif: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let app1: [UInt8] = [0xFF, 0xE1, UInt8((exif.count + 2) >> 8), UInt8((exif.count + 2) & 0xFF)] + exif
        #expect(Self.read([0xFF, 0xD8] + app1 + Self.sof(0xC0, 4000, 3000))?.size == PixelSize(width: 3000, height: 4000))
    }

    @Test func gifSizeComesFromTheLogicalScreen() {
        #expect(Self.read(Array("GIF89a".utf8) + [0x2C, 0x01, 0xC8, 0x00, 0, 0, 0]) == .init(format: .gif, size: PixelSize(width: 300, height: 200)))
    }

    @Test func webpSizeComesFromEachKindOfHeader() {
        // Lossy: frame tag, start code 9d 01 2a, 14-bit sizes.
        let vp8 = Self.riff("VP8 ", [0, 0, 0, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01])
        #expect(Self.read(vp8) == .init(format: .webp, size: PixelSize(width: 640, height: 480)))
        // Lossless: 0x2f, then width−1 and height−1 in 14 bits each.
        let bits = (640 - 1) | (480 - 1) << 14
        let vp8l = Self.riff("VP8L", [0x2F, UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24 & 0xFF), 0, 0, 0, 0, 0])
        #expect(Self.read(vp8l) == .init(format: .webp, size: PixelSize(width: 640, height: 480)))
        // Extended: flags, then 24-bit width−1 and height−1.
        let vp8x = Self.riff("VP8X", [0x10, 0, 0, 0, 0x7F, 0x07, 0, 0x37, 0x04, 0])
        #expect(Self.read(vp8x) == .init(format: .webp, size: PixelSize(width: 1920, height: 1080)))
    }

    @Test func svgSizeComesFromWidthAndHeightElseTheViewBox() {
        func svg(_ text: String) -> PixelSize? { Self.read(Array(text.utf8))?.size }
        #expect(svg(#"<svg width="300" height="150"></svg>"#) == PixelSize(width: 300, height: 150))
        #expect(svg(#"<?xml version="1.0"?><!-- a chart --><svg xmlns="http://www.w3.org/2000/svg" width='300px' height='150px'>"#) == PixelSize(width: 300, height: 150))
        #expect(svg(#"<svg viewBox="0 0 800 400">"#) == PixelSize(width: 800, height: 400))
        #expect(svg(#"<svg width="400" viewBox="0,0,800,400">"#) == PixelSize(width: 400, height: 200))
        #expect(svg(#"<svg width="100%" height="2em" viewBox="0 0 80 40">"#) == PixelSize(width: 80, height: 40))
        #expect(Self.read(Array(#"<svg width="100%">"#.utf8)) == .init(format: .svg, size: nil))
        #expect(Self.read(Array("<html><svg width=\"3\" height=\"3\">".utf8)) == nil, "an HTML page with an SVG inside is not an SVG")
    }

    @Test func theCommittedFixturesReadAsTheirOwnSizes() throws {
        let folder = fixtures.appendingPathComponent("images")
        #expect(ImageHeader.read(try Data(contentsOf: folder.appendingPathComponent("signups.png"))) == .init(format: .png, size: PixelSize(width: 300, height: 150)))
        #expect(ImageHeader.read(try Data(contentsOf: folder.appendingPathComponent("chart.jpg"))) == .init(format: .jpeg, size: PixelSize(width: 1040, height: 520)))
        #expect(ImageHeader.read(try Data(contentsOf: folder.appendingPathComponent("diagram.svg"))) == .init(format: .svg, size: PixelSize(width: 800, height: 400)))
    }

    @Test func truncatedFilesHaveNoSize() {
        let png = Self.png(640, 480)
        for length in [8, 12, 16, 20, 23] { #expect(Self.read(Array(png.prefix(length)))?.size == nil) }
        let jpeg: [UInt8] = [0xFF, 0xD8] + Self.sof(0xC0, 1200, 800)
        for length in 3..<jpeg.count - 4 { #expect(Self.read(Array(jpeg.prefix(length)))?.size == nil, "\(length) bytes") }
        #expect(Self.read(Array("GIF89a".utf8) + [1, 0])?.size == nil)
        #expect(Self.read(Self.riff("VP8 ", [0, 0, 0, 0x9D]))?.size == nil)
        #expect(Self.read([]) == nil)
        #expect(Self.read(Array("not an image at all".utf8)) == nil)
    }

    @Test func hugeOrZeroDimensionsAreNotBelieved() {
        #expect(Self.read(Self.png(0x7FFF_FFFF, 10))?.size == nil)
        #expect(Self.read(Self.png(0, 10))?.size == nil)
        #expect(Self.read([0xFF, 0xD8] + Self.sof(0xC0, 0, 100))?.size == nil)
        #expect(Self.read(Array(#"<svg width="1e300" height="5">"#.utf8))?.size == nil)
        #expect(Self.read(Array(#"<svg viewBox="0 0 -5 nan">"#.utf8))?.size == nil)
    }

    @Test func endlessOrLyingJPEGSegmentsEndQuickly() {
        // 100,000 empty comment segments: walked, bounded, no frame header found.
        let comments = [UInt8](repeating: 0, count: 0).reserved(400_002) { bytes in
            for _ in 0..<100_000 { bytes += [0xFF, 0xFE, 0x00, 0x02] }
        }
        #expect(Self.read([0xFF, 0xD8] + comments)?.size == nil)
        // A length shorter than its own two bytes, or longer than the file.
        #expect(Self.read([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xC0])?.size == nil)
        #expect(Self.read([0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 0x00])?.size == nil)
        // Start of scan before any frame header.
        #expect(Self.read([0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02] + Self.sof(0xC0, 10, 10))?.size == nil)
        // Only fill bytes.
        #expect(Self.read([0xFF, 0xD8] + [UInt8](repeating: 0xFF, count: 10_000))?.size == nil)
        // An Exif segment whose IFD offset points past the end.
        let exif: [UInt8] = Array("Exif".utf8) + [0, 0] + Array("II".utf8) + [42, 0, 0xFF, 0xFF, 0xFF, 0x7F]
        let app1: [UInt8] = [0xFF, 0xE1, 0, UInt8(exif.count + 2)] + exif
        #expect(Self.read([0xFF, 0xD8] + app1 + Self.sof(0xC0, 30, 20))?.size == PixelSize(width: 30, height: 20))
    }
}

private extension Array where Element == UInt8 {
    func reserved(_ capacity: Int, _ fill: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = self
        copy.reserveCapacity(capacity)
        fill(&copy)
        return copy
    }
}
