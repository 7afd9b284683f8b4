import Foundation

/// The image formats HogMail reads the size of, and serves.
public enum ImageFormat: String, Sendable, CaseIterable, Codable {
    case png, jpeg, gif, webp, svg

    public var contentType: String {
        switch self {
        case .png: return "image/png"
        case .jpeg: return "image/jpeg"
        case .gif: return "image/gif"
        case .webp: return "image/webp"
        case .svg: return "image/svg+xml"
        }
    }

    /// The extension of a file written in this format.
    public var fileExtension: String { self == .jpeg ? "jpg" : rawValue }

    /// The format a file name's extension promises (`jpg`, `JPEG`…), if any.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "gif": self = .gif
        case "webp": self = .webp
        case "svg": self = .svg
        default: return nil
        }
    }
}

/// An image's size in CSS pixels.
public struct PixelSize: Equatable, Sendable, Codable {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// Reads an image's format and pixel size from its first bytes: PNG's IHDR, the JPEG frame
/// header (walking the segments before it), GIF's logical screen, WebP's VP8/VP8L/VP8X
/// headers, SVG's `width`/`height` or `viewBox`. Small, bounded parsers on bytes: a
/// truncated or hostile file gives nil, never a crash or a long walk.
public enum ImageHeader {
    /// Dimensions above this are not believed (a header claiming 4 billion pixels is hostile or broken).
    public static let maximumDimension = 50_000
    /// How much of an SVG file is searched for its `<svg>` element.
    static let svgPrefixBytes = 64 * 1024

    public struct Info: Equatable, Sendable {
        public var format: ImageFormat
        /// Nil when the format is recognised but its size is not stated (an SVG without
        /// width, height and viewBox) or not believable.
        public var size: PixelSize?
    }

    public static func read(_ data: Data) -> Info? {
        let bytes = [UInt8](data.prefix(svgPrefixBytes))
        // JPEG needs its segments walked past the first 64 KB when an Exif thumbnail is large.
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return Info(format: .jpeg, size: jpegSize([UInt8](data))) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return Info(format: .png, size: pngSize(bytes)) }
        if bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8)) {
            return Info(format: .gif, size: gifSize(bytes))
        }
        if bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WEBP".utf8) {
            return Info(format: .webp, size: webpSize(bytes))
        }
        return svgInfo(bytes)
    }

    // MARK: - Formats

    static func pngSize(_ b: [UInt8]) -> PixelSize? {
        // Signature (8), then the first chunk must be IHDR: length (4), type (4), width (4), height (4).
        guard b.count >= 24, b[12..<16].elementsEqual("IHDR".utf8) else { return nil }
        return believable(Int(be32(b, 16)), Int(be32(b, 20)))
    }

    static func gifSize(_ b: [UInt8]) -> PixelSize? {
        guard b.count >= 10 else { return nil }
        return believable(Int(b[6]) | Int(b[7]) << 8, Int(b[8]) | Int(b[9]) << 8)
    }

    static func webpSize(_ b: [UInt8]) -> PixelSize? {
        guard b.count >= 30 else { return nil }
        switch String(decoding: b[12..<16], as: UTF8.self) {
        case "VP8 ":
            // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
            guard b[23] == 0x9D, b[24] == 0x01, b[25] == 0x2A else { return nil }
            return believable((Int(b[26]) | Int(b[27]) << 8) & 0x3FFF, (Int(b[28]) | Int(b[29]) << 8) & 0x3FFF)
        case "VP8L":
            // Signature 0x2f, then width−1 and height−1 in 14 bits each, little-endian.
            guard b[20] == 0x2F else { return nil }
            let bits = Int(b[21]) | Int(b[22]) << 8 | Int(b[23]) << 16 | Int(b[24]) << 24
            return believable((bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1)
        case "VP8X":
            // Flags (4 bytes), then canvas width−1 and height−1 in 24 bits each.
            let width = Int(b[24]) | Int(b[25]) << 8 | Int(b[26]) << 16
            let height = Int(b[27]) | Int(b[28]) << 8 | Int(b[29]) << 16
            return believable(width + 1, height + 1)
        default:
            return nil
        }
    }

    /// Walks the marker segments to the first start-of-frame; an Exif orientation that turns
    /// the picture on its side swaps the two (browsers show it turned, and so must the size).
    static func jpegSize(_ b: [UInt8]) -> PixelSize? {
        var index = 2
        var swapped = false
        // Every step moves forward by at least two bytes, so the walk ends; the count is a second bound.
        var segments = 0
        while index + 1 < b.count, segments < 10_000 {
            segments += 1
            guard b[index] == 0xFF else { return nil }
            var marker = b[index + 1]
            index += 1
            // Fill bytes: any number of 0xFF before the marker.
            while marker == 0xFF, index + 1 < b.count {
                index += 1
                marker = b[index]
            }
            index += 1
            switch marker {
            case 0xD8, 0x01, 0xD0...0xD7:
                continue  // standalone markers, no length
            case 0xD9, 0xDA:
                return nil  // end of image or start of scan before any frame header
            default:
                break
            }
            guard index + 1 < b.count else { return nil }
            let length = Int(b[index]) << 8 | Int(b[index + 1])
            guard length >= 2, index + length <= b.count else { return nil }
            let isFrame = (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
            if isFrame {
                // Length (2), precision (1), height (2), width (2).
                guard length >= 7 else { return nil }
                let height = Int(b[index + 3]) << 8 | Int(b[index + 4])
                let width = Int(b[index + 5]) << 8 | Int(b[index + 6])
                return swapped ? believable(height, width) : believable(width, height)
            }
            if marker == 0xE1, let orientation = exifOrientation(b[(index + 2)..<(index + length)]) {
                swapped = (5...8).contains(orientation)
            }
            index += length
        }
        return nil
    }

    /// The Orientation tag (0x0112) of IFD0 in an APP1 Exif segment.
    static func exifOrientation(_ segment: ArraySlice<UInt8>) -> Int? {
        let s = Array(segment)
        guard s.count >= 14, s[0..<6].elementsEqual([0x45, 0x78, 0x69, 0x66, 0, 0]) else { return nil }
        let tiff = Array(s[6...])
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let high = u16(little ? at + 2 : at), let low = u16(little ? at : at + 2) else { return nil }
            return high << 16 | low
        }
        guard let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<min(count, 256) {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112 { return u16(at + 8) }
        }
        return nil
    }

    /// An `<svg>` root's size: `width`/`height` in px or unitless; else the `viewBox`; one of
    /// the two with a viewBox gives the other by its aspect ratio. Percentages, em and the
    /// like say nothing about pixels and count as absent.
    static func svgInfo(_ b: [UInt8]) -> Info? {
        let text = String(decoding: b, as: UTF8.self)
        guard let start = text.range(of: "<svg", options: .caseInsensitive),
              text[..<start.lowerBound].range(of: "<[A-Za-z]", options: .regularExpression) == nil,
              let end = text[start.upperBound...].firstIndex(of: ">") else { return nil }
        let tag = String(text[start.upperBound..<end])
        func attribute(_ name: String) -> String? {
            guard let range = tag.range(of: #"(?:^|\s)"# + name + #"\s*=\s*("[^"]*"|'[^']*')"#, options: .regularExpression) else { return nil }
            let match = tag[range]
            guard let equals = match.firstIndex(of: "=") else { return nil }
            return String(match[match.index(after: equals)...].trimmingCharacters(in: .whitespaces).dropFirst().dropLast())
        }
        func pixels(_ value: String?) -> Double? {
            guard var value = value?.trimmingCharacters(in: .whitespaces) else { return nil }
            if value.hasSuffix("px") { value.removeLast(2) }
            guard let number = Double(value.trimmingCharacters(in: .whitespaces)), number.isFinite, number > 0 else { return nil }
            return number
        }
        var width = pixels(attribute("width"))
        var height = pixels(attribute("height"))
        let box = attribute("viewBox")?.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline || $0 == "\t" }).compactMap { Double($0) }
        if let box, box.count == 4, box[2].isFinite, box[3].isFinite, box[2] > 0, box[3] > 0 {
            switch (width, height) {
            case (nil, nil): (width, height) = (box[2], box[3])
            case (let w?, nil): height = w * box[3] / box[2]
            case (nil, let h?): width = h * box[2] / box[3]
            default: break
            }
        }
        guard let width, let height, width < Double(maximumDimension + 1), height < Double(maximumDimension + 1) else {
            return Info(format: .svg, size: nil)
        }
        return Info(format: .svg, size: believable(Int(width.rounded()), Int(height.rounded())))
    }

    // MARK: - Helpers

    static func be32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func believable(_ width: Int, _ height: Int) -> PixelSize? {
        guard (1...maximumDimension).contains(width), (1...maximumDimension).contains(height) else { return nil }
        return PixelSize(width: width, height: height)
    }
}
