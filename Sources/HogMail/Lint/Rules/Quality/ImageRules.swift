import Foundation

struct LocalImageRule: Rule {
    static let description = RuleDescription(
        identifier: "local_image", name: "Missing local image", kind: .quality, severity: .error,
        description: "Every image the draft names by a path in the project exists there and is a PNG, JPEG, GIF, WebP or SVG file.",
        rationale: "A local image is copied next to the issue and linked from the email; when the file is not there, every reader gets a broken image.",
        triggeringExamples: [
            LintExample("![Weekly signups](images/signups.png)"),
            LintExample("![Weekly signups](images/signups.png)", files: ["issues/images/signups.png": Data("not an image".utf8)]),
            LintExample("![The password file](../../etc/passwd.png)"),
        ],
        nonTriggeringExamples: [
            LintExample("![Weekly signups](images/signups.png)", files: ["issues/images/signups.png": ExampleImages.png(width: 480, height: 240)]),
            LintExample("![Weekly signups](images/signups.png)", files: ["images/signups.png": ExampleImages.png(width: 480, height: 240)]),
            // A leading slash that is no file of the project is a page of `urls.site`.
            LintExample("![Our logo](/images/logo.png)"),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        email.imageProblems.map { problem in
            finding(problem.message, at: SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine(problem.line)), excerpt: problem.url)
        }
    }
}

struct ImageSizeRule: Rule {
    static let description = RuleDescription(
        identifier: "image_size", name: "Heavy or oversized image", kind: .quality, severity: .warning,
        description: "A local image is at most 1 MB and at most twice the column's width (enough for 2× screens).",
        rationale: "Every reader downloads every image, many on a phone plan; pixels beyond what a 2× screen shows in the column are never seen.",
        triggeringExamples: [
            LintExample("![A photo of the team](images/team.jpg)",
                        files: ["issues/images/team.jpg": ExampleImages.jpeg(width: 4000, height: 3000)]),
            LintExample("![A chart](images/chart.png)",
                        files: ["issues/images/chart.png": ExampleImages.png(width: 800, height: 400, padding: 1_100_000)]),
        ],
        nonTriggeringExamples: [
            LintExample("![A photo of the team](images/team.jpg)",
                        files: ["issues/images/team.jpg": ExampleImages.jpeg(width: 1040, height: 780)]),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        let column = email.configuration.contentWidth
        let limit = 2 * column
        return email.localImages.compactMap { image in
            var reasons: [String] = []
            if image.bytes.count > LocalImages.heavyBytes { reasons.append("is \(LocalImages.formatBytes(image.bytes.count)) (keep images under 1 MB)") }
            if let size = image.size, size.width > limit, image.format != .svg {
                reasons.append("is \(size.width)×\(size.height) pixels, more than twice the \(column) px column (\(limit) px is sharp on 2× screens)")
            }
            guard !reasons.isEmpty else { return nil }
            return finding("The image `\(image.source)` \(reasons.joined(separator: " and ")). Resize or compress it.",
                           at: SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine(image.lines.first ?? 0)), excerpt: image.source)
        }
    }
}

struct SVGImageRule: Rule {
    static let description = RuleDescription(
        identifier: "svg_image", name: "SVG image", kind: .quality, severity: .warning,
        description: "Images are PNG, JPEG, GIF or WebP, not SVG.",
        rationale: "Gmail and Outlook do not show SVG images: most readers would see only the alt text.",
        triggeringExamples: [
            LintExample("![A diagram](diagram.svg)", files: ["issues/diagram.svg": Data(#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 200"></svg>"#.utf8)]),
            LintExample("![A diagram](https://example.com/diagram.svg)"),
        ],
        nonTriggeringExamples: [LintExample("![A diagram](diagram.png)", files: ["issues/diagram.png": ExampleImages.png(width: 400, height: 200)])])

    func findings(in email: LintedEmail) -> [Finding] {
        let local = Dictionary(email.localImages.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        var reported: Set<String> = []
        return email.images.compactMap { _, src in
            let path = URL(string: src)?.path ?? src
            let image = local[src]
            guard image?.format == .svg || (image == nil && path.lowercased().hasSuffix(".svg")), reported.insert(src).inserted else { return nil }
            let name = image?.source ?? src
            let position = image.map { SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine($0.lines.first ?? 0)) } ?? email.location(ofURL: src)
            return finding("The image `\(name)` is an SVG, which Gmail and Outlook do not show. Export it as PNG (twice the width it is shown at).",
                           at: position, excerpt: name)
        }
    }
}

struct ImageWidthRule: Rule {
    static let description = RuleDescription(
        identifier: "image_width", name: "Image without a width", kind: .quality, severity: .warning,
        description: "Every image has a `width` attribute no larger than the column (`build.content_width`, 520 px for the default templates).",
        rationale: "Outlook for Windows ignores CSS max-width on images: without a width attribute a large image shows at full size and breaks the layout.",
        triggeringExamples: [
            LintExample("![A chart of signups](https://example.com/chart.png)"),
            LintExample(#"<img src="https://example.com/banner.png" width="1200" alt="Our banner">"#),
        ],
        nonTriggeringExamples: [
            LintExample("![A chart of signups](https://example.com/chart.png){width=480}"),
            LintExample("![A chart of signups](images/chart.png)", files: ["issues/images/chart.png": ExampleImages.png(width: 1040, height: 520)]),
            LintExample(#"<img src="https://example.com/logo.png" width="120" height="40" alt="HogMail">"#),
        ])

    func findings(in email: LintedEmail) -> [Finding] {
        let limit = email.configuration.contentWidth
        let local = Dictionary(email.localImages.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        var reported: Set<String> = []
        return email.images.compactMap { node, src in
            let width = email.document.nodes[node].attributes["width"]
            let number = width.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard number.map({ $0 > limit }) ?? true, reported.insert(src).inserted else { return nil }
            // A copied image is named by its path in the project, and found on its draft line.
            let image = local[src]
            let name = image?.source ?? src
            let position = image.map { SourcePosition(file: email.issue.sourcePath, line: email.issue.fileLine($0.lines.first ?? 0)) } ?? email.location(ofURL: src)
            let message = width == nil
                ? "The image \(name) has no width, so Outlook shows it at its full size. Give it one, at most \(limit): `{width=480}` right after a Markdown image, `width=\"480\"` on an <img>."
                : "The image \(name) has width=\"\(width!)\"; the column is \(limit) px wide, and Outlook shows the image that wide anyway. Use a number of pixels up to \(limit)."
            return finding(message, at: position, excerpt: name)
        }
    }
}

/// Tiny image files for the rules' examples: headers only, which is all HogMail reads.
enum ExampleImages {
    static func png(width: Int, height: Int, padding: Int = 0) -> Data {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        bytes += be32(width) + be32(height) + [8, 2, 0, 0, 0] + [0, 0, 0, 0]
        return Data(bytes + [UInt8](repeating: 0, count: padding))
    }

    static func jpeg(width: Int, height: Int) -> Data {
        // SOI, a JFIF APP0 segment, then a baseline frame header (SOF0).
        let app0: [UInt8] = [0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        let sof0: [UInt8] = [0xFF, 0xC0, 0, 11, 8, UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF), 1, 1, 0x11, 0]
        return Data([0xFF, 0xD8] + app0 + sof0 + [0xFF, 0xD9])
    }

    private static func be32(_ value: Int) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
