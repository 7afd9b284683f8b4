import Foundation
import Testing

@testable import HogMail

/// Images that live in the project: copied into out/<issue>/ under hashed names, linked at
/// `urls.public`, sized from their own headers and capped to the 520 px column.
@Suite struct LocalImageTests {
    static let images = fixtures.appendingPathComponent("images")

    /// A project whose issue 12 shows a PNG beside the draft, a JPEG from the project's root and an SVG.
    static func project(body: String? = nil, frontMatter: String = "") throws -> TemporaryProject {
        let project = try TemporaryProject(drafts: ["12-charts.md": draft(body ?? """
            Signups this week:

            ![Weekly signups](images/signups.png)

            ![A chart of the quarter](/assets/chart.jpg)

            ![The architecture](issues/12/diagram.svg)
            """, title: "Charts", frontMatter: "preheader: Signups, the quarter and a diagram.\n" + frontMatter)])
        let manager = FileManager.default
        for (name, target) in [("signups.png", "issues/images/signups.png"), ("chart.jpg", "assets/chart.jpg"), ("diagram.svg", "issues/12/diagram.svg")] {
            let url = project.directory.appendingPathComponent(target)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try manager.copyItem(at: images.appendingPathComponent(name), to: url)
        }
        return project
    }

    static func imgTags(_ html: String) -> [String] {
        html.ranges(of: #/<img [^>]*>/#).map { String(html[$0]) }
    }

    static func attribute(_ name: String, _ tag: String) -> String? {
        tag.firstMatch(of: try! Regex(" \(name)=\"([^\"]*)\"")).map { String($0.output[1].substring!) }
    }

    @Test func aDraftWithALocalPNGJPEGAndSVGBuildsAndTheFilesLandInOut() throws {
        let project = try Self.project()
        let report = try project.build()
        let issue = try #require(report.issues.first)
        #expect(issue.lint.errorCount == 0, "\(issue.lint.findings.map(\.description))")
        #expect(issue.imagesNotOnlineNote == nil, "published: its images are in out/")
        let names = try FileManager.default.contentsOfDirectory(atPath: project.directory.appendingPathComponent("out/12").path).sorted()
        let copied = names.filter { $0.range(of: LocalImages.hashedNamePattern, options: .regularExpression) != nil }
        #expect(copied.count == 3, "\(names)")
        for (source, stem, ext) in [("signups.png", "signups", "png"), ("chart.jpg", "chart", "jpg"), ("diagram.svg", "diagram", "svg")] {
            let name = try #require(copied.first { $0.hasPrefix(stem + ".") && $0.hasSuffix("." + ext) })
            #expect(try Data(contentsOf: project.directory.appendingPathComponent("out/12/\(name)")) == Data(contentsOf: Self.images.appendingPathComponent(source)))
            let url = "https://newsletter.example.com/archive/12/\(name)"
            for file in ["out/12/email.html", "out/12/web.html"] { #expect(try project.read(file).contains(#"src="\#(url)""#), "\(file) links \(url)") }
            #expect(try project.read("out/feed.xml").contains(url))
        }
        // The dimensions are the files' own, scaled proportionally to the 520 px column.
        let tags = Self.imgTags(try project.read("out/12/email.html"))
        #expect(tags.count == 3)
        let sizes = tags.map { (Self.attribute("width", $0), Self.attribute("height", $0)) }
        #expect(sizes.map(\.0) == ["300", "520", "520"])
        #expect(sizes.map(\.1) == ["150", "260", "260"])
        for tag in tags { #expect(tag.contains("height:auto")) }
        // SVG is a warning: Gmail and Outlook do not show it.
        #expect(issue.lint.findings.contains { $0.rule == "svg_image" && $0.severity == .warning && $0.line == 13 })
    }

    @Test func everyImageOfTheSampleProjectAndTheseDraftsHasAWidthWithinTheColumn() throws {
        let project = try Self.project(body: """
            ![Weekly signups](images/signups.png) and ![a remote one](https://cdn.example.com/a.png){width=480}

            ![A wide remote one](https://cdn.example.com/b.png){width=1200 height=600}
            """)
        try project.build()
        let tags = Self.imgTags(try project.read("out/12/email.html"))
        #expect(tags.count == 3)
        for tag in tags {
            let width = try #require(Self.attribute("width", tag).flatMap(Int.init), "\(tag)")
            #expect(width <= 520)
        }
        #expect(tags[1].contains(#"src="https://cdn.example.com/a.png""#) && tags[1].contains(#"width="480""#) && !tags[1].contains("height=\""))
        #expect(tags[2].contains(#"width="520" height="260""#))
        #expect(!(try project.read("out/12/email.html")).contains("{width"), "the size syntax is not shown as text")
        #expect(!(try project.read("out/12/email.txt")).contains("{width"))
    }

    @Test func templatesWithAnotherColumnSetTheContentWidth() throws {
        let project = try Self.project()
        let configuration = try project.read("hogmail.yml") + "\nbuild:\n  content_width: 400\n"
        try project.write(configuration, to: "hogmail.yml")
        try project.build()
        let tags = Self.imgTags(try project.read("out/12/email.html"))
        #expect(tags.map { Self.attribute("width", $0) } == ["300", "400", "400"])
        #expect(tags.map { Self.attribute("height", $0) } == ["150", "200", "200"])
        try project.write(configuration.replacingOccurrences(of: "content_width: 400", with: "content_width: 6000"), to: "hogmail.yml")
        #expect(project.buildError()?.message.contains("`build.content_width` is 6000") == true)
    }

    @Test func aMissingLocalImageIsAnErrorNamingTheLine() throws {
        let project = try TemporaryProject(drafts: ["12-charts.md": draft("Hello.\n\n![Weekly signups](images/signups.png)", frontMatter: "preheader: A short summary.\n")])
        let error = try #require(project.buildError())
        #expect(error.message.contains("issues/12-charts.md:9: error: The image `images/signups.png` is not in the project"), "\(error.message)")
        #expect(error.message.contains("`issues/images/signups.png` and `images/signups.png`"))
        #expect(error.message.contains("[local_image]"))
        #expect(!project.exists("out/12"))
    }

    @Test func anImagePathThatLeavesTheProjectIsRefused() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("hogmail-outside-\(UUID().uuidString).png")
        try FileManager.default.copyItem(at: Self.images.appendingPathComponent("signups.png"), to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        let project = try TemporaryProject(drafts: ["12-charts.md": draft("![Escape](../../../../../../..\(outside.path))\n\n![Linked](images/link.png)", frontMatter: "preheader: A short summary.\n")])
        try FileManager.default.createDirectory(at: project.directory.appendingPathComponent("issues/images"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: project.directory.appendingPathComponent("issues/images/link.png"), withDestinationURL: outside)
        let error = try #require(project.buildError())
        #expect(error.message.contains("points outside the project"), "\(error.message)")
        #expect(error.message.contains("`images/link.png` is not in the project"), "a symbolic link out of the project is not followed")
    }

    @Test func aChangedImageGetsANewNameAndAnUnpublishedIssueKeepsItsImagesOutOfOut() throws {
        let project = try Self.project(frontMatter: "draft: true\n")
        let first = try #require(try project.build().issues.first)
        #expect(!project.exists("out/12"))
        #expect(first.imagesNotOnlineNote?.hasPrefix("Its 3 images from the project are online only once the issue is published") == true)
        let unpublished = project.directory.appendingPathComponent(".hogmail/unpublished/12")
        let names = try FileManager.default.contentsOfDirectory(atPath: unpublished.path)
        #expect(names.filter { $0.hasPrefix("signups.") }.count == 1)
        #expect(first.outputs.keys.contains { $0.hasPrefix("signups.") })

        try FileManager.default.removeItem(at: project.directory.appendingPathComponent("issues/images/signups.png"))
        var png = try Data(contentsOf: Self.images.appendingPathComponent("signups.png"))
        png.append(0)
        try png.write(to: project.directory.appendingPathComponent("issues/images/signups.png"))
        let second = try #require(try project.build().issues.first)
        let before = first.outputs.keys.filter { $0.hasPrefix("signups.") }
        let after = second.outputs.keys.filter { $0.hasPrefix("signups.") }
        #expect(before != after)
    }

    @Test func aRebuildWithAChangedImageKeepsTheEarlierCopyForEmailsAlreadySent() throws {
        let project = try Self.project()
        try project.build()
        let folder = project.directory.appendingPathComponent("out/12")
        let before = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("signups.") }
        var png = try Data(contentsOf: Self.images.appendingPathComponent("signups.png"))
        png.append(0)
        try png.write(to: project.directory.appendingPathComponent("issues/images/signups.png"))
        try project.build()
        let after = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("signups.") }
        #expect(before.count == 1 && after.count == 2 && after.contains(before[0]))
        #expect(!(try project.read("out/12/email.html")).contains(before[0]), "the email links the new copy")
    }

    @Test func aFIFOOrAFolderInPlaceOfAnImageIsAnErrorNotAHang() throws {
        let project = try TemporaryProject(drafts: ["12-charts.md": draft("![Pipe](pipe.png)\n\n![Folder](folder.png)", frontMatter: "preheader: A short summary.\n")])
        #expect(mkfifo(project.directory.appendingPathComponent("issues/pipe.png").path, 0o644) == 0)
        try FileManager.default.createDirectory(at: project.directory.appendingPathComponent("issues/folder.png"), withIntermediateDirectories: true)
        let error = try #require(project.buildError())
        #expect(error.message.contains("`issues/pipe.png` cannot be read: it is not a regular file"), "\(error.message)")
        #expect(error.message.contains("`folder.png` is not in the project"))
    }

    @Test func aDraftShowingMoreThanTwoHundredImagesOfTheProjectIsRefused() throws {
        let body = (0..<201).map { "![Chart \($0)](images/\($0).png)" }.joined(separator: "\n\n")
        let project = try TemporaryProject(drafts: ["12-charts.md": draft(body, frontMatter: "preheader: A short summary.\n")])
        for index in 0..<201 {
            try ExampleImages.png(width: 10, height: 10 + index).write(to: project.directory.appendingPathComponent("issues/images/\(index).png").creatingFolder())
        }
        let error = try #require(project.buildError())
        #expect(error.message.contains("more than 200 images of the project"), "\(error.message)")
    }

    @Test func manySiteImagesWithALeadingSlashAreNoLimit() throws {
        let body = (0..<300).map { "![Chart \($0)](/images/\($0).png){width=100}" }.joined(separator: "\n\n")
        let project = try TemporaryProject(drafts: ["12-charts.md": draft(body, frontMatter: "preheader: A short summary.\n")])
        let issue = try #require(try project.build().issues.first)
        #expect(issue.lint.errorCount == 0)
        #expect(try project.read("out/12/email.html").contains(#"src="https://example.com/images/299.png""#))
    }

    @Test func heavyAndOversizedImagesAreWarningsWithTheirSize() throws {
        let project = try Self.project(body: "![Big](images/big.png)")
        var big = [UInt8](ExampleImages.png(width: 2400, height: 1200))
        big += [UInt8](repeating: 0, count: 1_200_000)
        try Data(big).write(to: project.directory.appendingPathComponent("issues/images/big.png"))
        let issue = try #require(try project.build().issues.first)
        let finding = try #require(issue.lint.findings.first { $0.rule == "image_size" })
        #expect(finding.severity == .warning)
        #expect(finding.message.contains("1.1 MB") && finding.message.contains("2400×1200"), "\(finding.message)")
        #expect(finding.line == 7)
    }

    @Test func sizesAreCappedProportionally() {
        #expect(ImagePlacement(natural: PixelSize(width: 300, height: 150), requested: nil, contentWidth: 520) == ImagePlacement(width: 300, height: 150))
        #expect(ImagePlacement(natural: PixelSize(width: 1040, height: 777), requested: nil, contentWidth: 520) == ImagePlacement(width: 520, height: 389))
        #expect(ImagePlacement(natural: PixelSize(width: 1040, height: 520), requested: ImageSizeRequest(width: 260), contentWidth: 520) == ImagePlacement(width: 260, height: 130))
        #expect(ImagePlacement(natural: nil, requested: ImageSizeRequest(width: 480), contentWidth: 520) == ImagePlacement(width: 480, height: nil))
        #expect(ImagePlacement(natural: nil, requested: nil, contentWidth: 520) == ImagePlacement(width: 520, height: nil))
    }

    @Test func theSizeSyntaxIsReadAfterAnImageOnly() throws {
        func inlines(_ markdown: String) throws -> [MarkdownInline] {
            guard case .paragraph(let inlines, _)? = try MarkdownDocument.parse(markdown).blocks.first else { return [] }
            return inlines
        }
        #expect(try inlines("![a](x.png){width=480} after") == [.image(url: "x.png", title: "", alt: [.text("a")], size: ImageSizeRequest(width: 480)), .text(" after")])
        #expect(try inlines(#"![a](x.png){ width="480px" height=240 }"#) == [.image(url: "x.png", title: "", alt: [.text("a")], size: ImageSizeRequest(width: 480, height: 240))])
        #expect(try inlines("[a](x.html){width=480}") == [.link(url: "x.html", title: "", [.text("a")]), .text("{width=480}")])
        #expect(try inlines("![a](x.png) {width=480}").count == 2, "only right after the image")
    }
}

extension ImagePlacement {
    init(width: Int, height: Int?) {
        self.init(natural: height.map { PixelSize(width: width, height: $0) }, requested: height == nil ? ImageSizeRequest(width: width) : nil, contentWidth: 10_000)
    }
}

private extension URL {
    func creatingFolder() throws -> URL {
        try FileManager.default.createDirectory(at: deletingLastPathComponent(), withIntermediateDirectories: true)
        return self
    }
}
