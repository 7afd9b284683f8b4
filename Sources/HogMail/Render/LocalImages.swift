import Crypto
import Foundation

/// An image the draft names that lives in the project (`images/signups.png` beside the
/// draft or at the project's root): copied into the issue's folder under a name with its
/// content hash, and linked absolutely at `urls.public`, where `hogmail serve` answers it.
public struct LocalImage: Equatable, Sendable {
    /// Its path in the project (`issues/images/signups.png`).
    public var source: String
    /// `signups.3f2a9c1b0d4e.png`: the name in `out/<issue>/`.
    public var fileName: String
    /// `https://newsletter.example.com/archive/12/signups.3f2a9c1b0d4e.png`.
    public var url: String
    public var format: ImageFormat
    /// Its own size, as its header states it; nil for an SVG that states none.
    public var size: PixelSize?
    public var bytes: Data
    /// Body lines of the draft that show it.
    public var lines: [Int]
}

/// A local image that cannot be used: the build stops on it (`local_image`).
public struct ImageProblem: Equatable, Sendable {
    public var url: String
    /// The line in the draft's body.
    public var line: Int
    public var message: String
}

/// Files of the project, read for the images a draft names. A directory on disk for builds;
/// a dictionary for rule examples and tests.
public struct ProjectFiles: Sendable {
    public enum Lookup: Equatable, Sendable {
        case found(Data)
        case missing
        /// The file is larger than `LocalImages.maximumFileBytes`; its size.
        case tooLarge(Int)
        case unreadable(String)
    }

    let lookup: @Sendable (String) -> Lookup
    /// The project's folder as paths may spell it (as given, and with symbolic links resolved),
    /// to find a draft shown by its absolute path in it.
    let roots: [String]

    public init(roots: [String] = [], lookup: @escaping @Sendable (String) -> Lookup) {
        self.roots = roots
        self.lookup = lookup
    }

    /// A path in the project's terms: `issues/3-x.md` for `/home/ada/news/issues/3-x.md`.
    func projectRelative(_ path: String) -> String {
        guard path.hasPrefix("/") else { return path }
        for root in roots where path.hasPrefix(root + "/") { return String(path.dropFirst(root.count + 1)) }
        return path
    }

    /// Files under `root`; a path that leads outside it (through `..` or a symbolic link) is missing.
    public static func directory(_ root: URL) -> ProjectFiles {
        let base = root.standardizedFileURL.resolvingSymlinksInPath().path
        return ProjectFiles(roots: [root.standardizedFileURL.path, base]) { relative in
            let url = URL(fileURLWithPath: base).appendingPathComponent(relative).resolvingSymlinksInPath()
            guard url.path.hasPrefix(base + "/") else { return .missing }
            // Only a regular file: a directory is not an image, and a FIFO or device would block the build.
            guard let type = try? FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType else { return .missing }
            guard type == .typeRegular else { return type == .typeDirectory ? .missing : .unreadable("it is not a regular file") }
            do {
                let handle = try FileHandle(forReadingFrom: url)
                defer { try? handle.close() }
                // One byte past the limit, never the whole of a huge file.
                let data = try handle.read(upToCount: LocalImages.maximumFileBytes + 1) ?? Data()
                if data.count > LocalImages.maximumFileBytes {
                    let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? data.count
                    return .tooLarge(size)
                }
                return .found(data)
            } catch {
                return .unreadable(error.localizedDescription)
            }
        }
    }

    public static func memory(_ files: [String: Data]) -> ProjectFiles {
        ProjectFiles { relative in files[relative].map { .found($0) } ?? .missing }
    }
}

/// Finds the local images of a draft, reads their sizes and names their copies.
public enum LocalImages {
    /// Larger files are not read: no email should carry them, and a build must stay bounded.
    public static let maximumFileBytes = 10 * 1024 * 1024
    /// Distinct image files of the project per issue, and their bytes together.
    public static let maximumCount = 200
    public static let maximumTotalBytes = 50 * 1024 * 1024
    /// Past this an image is heavy for a reader on a phone: a warning (`image_size`).
    public static let heavyBytes = 1024 * 1024

    public struct Result: Sendable {
        /// By the URL as the draft writes it.
        public var images: [String: LocalImage] = [:]
        public var problems: [ImageProblem] = []

        /// One entry per copied file (two paths to the same bytes are one file), with every
        /// line that shows it, by file name.
        public var files: [LocalImage] {
            var byName: [String: LocalImage] = [:]
            for image in images.values {
                if var known = byName[image.fileName] {
                    known.lines = (known.lines + image.lines).sorted()
                    byName[image.fileName] = known
                } else {
                    byName[image.fileName] = image
                }
            }
            return byName.values.sorted { $0.fileName < $1.fileName }
        }
    }

    /// Every Markdown image of `issue` whose URL is a path in the project. A path without a
    /// leading `/` is local: beside the draft, else from the project's root, and an error when
    /// it is in neither. A path with a leading `/` is local when the project has that file, and
    /// otherwise a page of `urls.site` as before (`/images/logo.png` on the website).
    public static func collect(_ issue: Issue, files: ProjectFiles, urls: ProjectURLs) -> Result {
        var result = Result()
        // The files copied so far, by hashed name: two paths to the same bytes are one copy.
        var copies: [String: LocalImage] = [:]
        var bytesRead = 0
        var seen: Set<String> = []
        let draftFolder = (files.projectRelative(issue.sourcePath) as NSString).deletingLastPathComponent
        for (url, line) in issue.document.imageURLs() {
            if var known = result.images[url] {
                known.lines.append(line)
                result.images[url] = known
                continue
            }
            // A path is looked up once however often the draft names it (a stat per path; the
            // draft's own size limit bounds how many there are).
            guard let path = localPath(url), seen.insert(url).inserted else { continue }
            var candidates: [String] = []
            if path.hasPrefix("/") {
                candidates = [String(path.drop(while: { $0 == "/" }))]
            } else {
                if !draftFolder.isEmpty, !draftFolder.hasPrefix("/") { candidates.append(draftFolder + "/" + path) }
                candidates.append(path)
            }
            var normalized: [String] = []
            for candidate in candidates {
                if let clean = normalize(candidate) { if !normalized.contains(clean) { normalized.append(clean) } }
            }
            if normalized.isEmpty {
                if !path.hasPrefix("/") {
                    result.problems.append(ImageProblem(url: url, line: line, message: "The image `\(url)` points outside the project. Put the file in the project (for example next to the draft) and link it from there, or write its full https:// address."))
                }
                continue
            }
            var found: (String, Data)?
            var problem: String?
            for candidate in normalized {
                switch files.lookup(candidate) {
                case .found(let data): found = (candidate, data)
                case .missing: continue
                case .tooLarge(let size):
                    problem = "The image `\(candidate)` is \(formatBytes(size)); HogMail copies images up to \(formatBytes(maximumFileBytes)), and an email should carry far less. Resize or compress it (under 1 MB)."
                case .unreadable(let reason):
                    problem = "The image `\(candidate)` cannot be read: \(reason)."
                }
                if found != nil || problem != nil { break }
            }
            if let problem {
                result.problems.append(ImageProblem(url: url, line: line, message: problem))
                continue
            }
            guard let found else {
                if !path.hasPrefix("/") {
                    let looked = normalized.map { "`\($0)`" }.joined(separator: " and ")
                    result.problems.append(ImageProblem(url: url, line: line, message: "The image `\(url)` is not in the project (looked for \(looked)). Add the file, fix the path, or write its full https:// address if it lives on a website."))
                }
                continue
            }
            let (source, data) = found
            guard let info = ImageHeader.read(data) else {
                result.problems.append(ImageProblem(url: url, line: line, message: "The file `\(source)` is not a PNG, JPEG, GIF, WebP or SVG image HogMail can read. Save it in one of these formats."))
                continue
            }
            let name = hashedName(source: source, format: info.format, data: data)
            if copies[name] == nil {
                bytesRead += data.count
                if copies.count >= maximumCount || bytesRead > maximumTotalBytes {
                    result.problems.append(ImageProblem(url: url, line: line, message: "The draft shows more than \(maximumCount) images of the project, or more than \(formatBytes(maximumTotalBytes)) of them; HogMail copies no more. Use fewer or smaller images, or link to a page that shows the rest."))
                    break
                }
            }
            let image = copies[name] ?? LocalImage(source: source, fileName: name, url: urls.issueFile(issue.folderName, name),
                                                   format: info.format, size: info.size, bytes: data, lines: [])
            copies[name] = image
            var entry = image
            entry.lines = [line]
            result.images[url] = entry
        }
        return result
    }

    /// `signups.3f2a9c1b0d4e.png`: the stem kept readable, the first 12 hex digits of the
    /// content's SHA-256, so a changed image gets a new name and caches may keep it forever.
    public static func hashedName(source: String, format: ImageFormat, data: Data) -> String {
        let file = (source as NSString).lastPathComponent
        let stem = String((file as NSString).deletingPathExtension.unicodeScalars.map { scalar -> Character in
            let value = scalar.value
            let plain = (48...57).contains(value) || (65...90).contains(value) || (97...122).contains(value) || scalar == "-" || scalar == "_"
            return plain ? Character(scalar) : "-"
        }.prefix(60))
        let hash = Array(SHA256.hash(data: data)).prefix(6).hexString
        return "\(stem.isEmpty ? "image" : stem).\(hash).\(format.fileExtension)"
    }

    /// The names `hashedName` makes: what `hogmail serve` answers under `/archive/<issue>/`.
    public static let hashedNamePattern = #"^[A-Za-z0-9_-]{1,60}\.[0-9a-f]{12}\.(png|jpg|gif|webp|svg)$"#

    static func formatBytes(_ bytes: Int) -> String {
        bytes >= 1024 * 1024 ? String(format: "%.1f MB", Double(bytes) / 1_048_576) : "\(max(1, bytes / 1024)) KB"
    }
}

private extension LocalImages {
    /// The file path an image URL names, or nil when it is an address (a scheme, `//host`,
    /// `#`, a query) rather than a file of the project.
    static func localPath(_ raw: String) -> String? {
        let url = raw.trimmingCharacters(in: .whitespaces)
        if url.isEmpty || url.hasPrefix("#") || url.hasPrefix("//") || url.contains("?") || url.contains("#") { return nil }
        if url.range(of: "^[A-Za-z][A-Za-z0-9+.-]*:", options: .regularExpression) != nil { return nil }
        let decoded = url.removingPercentEncoding ?? url
        if decoded.contains("\0") || decoded.contains("\\") { return nil }
        return decoded
    }

    /// `issues/../images/a.png` → `images/a.png`; nil when `..` climbs out of the project.
    static func normalize(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }
}

extension MarkdownDocument {
    /// Every image's URL with its line, in the order of the draft: Markdown images and the
    /// `src` of `<img>` tags in raw HTML.
    func imageURLs() -> [(url: String, line: Int)] {
        var found: [(String, Int)] = []
        func raw(_ html: String, _ line: Int) {
            guard html.range(of: "<img", options: .caseInsensitive) != nil else { return }
            for match in html.matches(of: Self.imgSource) {
                let before = html[..<match.range.lowerBound].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
                found.append((HTML.unescape(String(match.output.1 ?? match.output.2 ?? "")), line + before))
            }
        }
        func inlines(_ items: [MarkdownInline], _ line: Int) {
            for item in items {
                switch item {
                case .html(let html): raw(html, line)
                case .image(let url, _, let alt, _):
                    found.append((url, line))
                    inlines(alt, line)
                case .emphasis(let children), .strong(let children), .strikethrough(let children), .link(_, _, let children):
                    inlines(children, line)
                default: break
                }
            }
        }
        func blocks(_ items: [MarkdownBlock]) {
            for block in items {
                switch block {
                case .paragraph(let content, let line), .heading(_, let content, let line): inlines(content, line)
                case .html(let html, let line): raw(html, line)
                case .blockQuote(let children, _): blocks(children)
                case .list(_, _, _, let items, _): items.forEach(blocks)
                case .table(_, let header, let rows, let line):
                    header.forEach { inlines($0, line) }
                    rows.forEach { $0.forEach { inlines($0, line) } }
                default: break
                }
            }
        }
        blocks(self.blocks)
        return found
    }

    /// The `src` of an `<img>` tag, double- or single-quoted.
    nonisolated(unsafe) static let imgSource = #/(?i)<img\b[^>]*?\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)')/#
}

/// The `width` and `height` attributes an image gets: its own size (or the one the draft
/// gives), scaled down proportionally to the content width. Outlook for Windows ignores CSS
/// `max-width` and `width` on images and shows them at the attribute's width, or at full size.
public struct ImagePlacement: Equatable, Sendable {
    public var width: Int
    public var height: Int?

    public init(natural: PixelSize?, requested: ImageSizeRequest?, contentWidth: Int) {
        var width: Int
        var height: Int?
        if let requested {
            width = requested.width
            height = requested.height ?? natural.map { Int((Double($0.height) * Double(requested.width) / Double($0.width)).rounded()) }
        } else if let natural {
            (width, height) = (natural.width, natural.height)
        } else {
            // An SVG that states no size: as wide as the column, its height from the layout.
            (width, height) = (contentWidth, nil)
        }
        if width > contentWidth {
            height = height.map { max(1, Int((Double($0) * Double(contentWidth) / Double(width)).rounded())) }
            width = contentWidth
        }
        self.width = max(1, width)
        self.height = height
    }
}
