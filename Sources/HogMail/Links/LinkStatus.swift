import Foundation

/// What checking a link found. `isDead` states stop `hogmail send`; the others are said
/// and left to the editor (a permanent redirect works today, a login page may be a paywall).
public struct LinkStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case ok
        /// 301 or 308 on the way to a page that answers: the draft should name the final URL.
        case movedPermanently = "moved-permanently"
        /// Ends on another site (its registrable domain differs): a sold or parked domain, or a shortener.
        case redirectedOffSite = "redirected-off-site"
        /// Ends on a sign-in page: readers will not see what the editor saw.
        case redirectedToLogin = "redirected-to-login"
        /// 404 Not Found.
        case notFound = "not-found"
        /// 410 Gone.
        case gone
        /// Another 4xx, after GET too (401/403/429 are `restricted`).
        case clientError = "client-error"
        /// 401, 403 or 429 to HogMail: often a bot wall that a browser gets through.
        case restricted
        case serverError = "server-error"
        case dnsFailure = "dns-failure"
        case tlsFailure = "tls-failure"
        case connectionFailed = "connection-failed"
        case timeout
        case redirectLoop = "redirect-loop"
        case tooManyRedirects = "too-many-redirects"
        /// The host resolves to a private or loopback address (`links.allow_private: false`).
        case privateAddress = "private-address"
        /// Not http or https.
        case unsupported
    }

    public var state: State
    public var url: String
    /// The last HTTP status, if an answer came.
    public var status: Int?
    /// Where redirects ended, when they did.
    public var finalURL: String?
    /// A short explanation: the status line, libcurl's words, the address refused.
    public var detail: String
    public var checkedAt: Date

    public init(state: State, url: String, status: Int? = nil, finalURL: String? = nil, detail: String, checkedAt: Date = Date()) {
        self.state = state
        self.url = url
        self.status = status
        self.finalURL = finalURL
        self.detail = detail
        self.checkedAt = checkedAt
    }

    /// A reader clicking it gets nothing: `send` refuses.
    public var isDead: Bool {
        switch state {
        case .ok, .movedPermanently, .redirectedOffSite, .redirectedToLogin, .restricted: return false
        default: return true
        }
    }

    /// Worth a look, not a stop.
    public var isWarning: Bool { !isDead && state != .ok }

    /// Failures that say more about this machine's network than about the link.
    public var isNetworkFailure: Bool { [.dnsFailure, .connectionFailed, .timeout].contains(state) }

    /// Settled answers are kept for a day; a timeout or a 503 may be gone in a minute, and a
    /// refused private address depends on hogmail.yml, so those are asked again every time.
    public var isCacheable: Bool {
        [.ok, .movedPermanently, .redirectedOffSite, .redirectedToLogin, .notFound, .gone, .clientError].contains(state)
    }

    /// The words after the state in `path:line: state URL (detail)`.
    public var label: String {
        switch state {
        case .ok: return "ok"
        case .movedPermanently: return "moved permanently"
        case .redirectedOffSite: return "redirected to another site"
        case .redirectedToLogin: return "redirected to a login page"
        case .notFound: return "dead (404 Not Found)"
        case .gone: return "dead (410 Gone)"
        case .clientError: return "dead (\(status.map(String.init) ?? "4xx"))"
        case .restricted: return "refused to HogMail (\(status.map(String.init) ?? "4xx"))"
        case .serverError: return "dead (server error \(status.map(String.init) ?? "5xx"))"
        case .dnsFailure: return "dead (DNS failure)"
        case .tlsFailure: return "dead (TLS failure)"
        case .connectionFailed: return "dead (no connection)"
        case .timeout: return "dead (timeout)"
        case .redirectLoop: return "dead (redirect loop)"
        case .tooManyRedirects: return "dead (too many redirects)"
        case .privateAddress: return "refused (private address)"
        case .unsupported: return "refused (not http or https)"
        }
    }
}

/// `.hogmail/cache/links.json`: what each URL answered and when, so a second check within a
/// day asks no server again. Written whole through a temporary file and a rename.
public struct LinkCache: Sendable {
    public static let relativePath = ".hogmail/cache/links.json"
    public static let lifetime: TimeInterval = 24 * 3600

    public let file: URL
    public private(set) var entries: [String: LinkStatus] = [:]

    /// Reads the cache beside `projectDirectory`. A missing file is an empty cache; a damaged
    /// one is an empty cache and a warning (it is only a cache: the links are checked again).
    public static func load(projectDirectory: URL) -> (LinkCache, Warning?) {
        var cache = LinkCache(file: projectDirectory.appendingPathComponent(relativePath))
        guard let data = try? Data(contentsOf: cache.file) else { return (cache, nil) }
        do {
            let stored = try JSONDecoder.cache.decode(Stored.self, from: data)
            cache.entries = Dictionary(stored.links.map { ($0.url, $0) }, uniquingKeysWith: { _, last in last })
            return (cache, nil)
        } catch {
            return (cache, Warning(file: relativePath, "The link cache cannot be read (\(error.localizedDescription)); it is ignored, every link is checked again, and the file is rewritten."))
        }
    }

    init(file: URL) { self.file = file }

    /// A settled answer younger than a day.
    public func fresh(_ url: String, now: Date = Date()) -> LinkStatus? {
        guard let entry = entries[url], entry.isCacheable, now.timeIntervalSince(entry.checkedAt) < Self.lifetime,
              entry.checkedAt <= now.addingTimeInterval(60) else { return nil }
        return entry
    }

    public mutating func record(_ status: LinkStatus) {
        if status.isCacheable { entries[status.url] = status } else { entries[status.url] = nil }
    }

    /// Writes the cache (entries older than a day are dropped).
    public func save(now: Date = Date()) throws {
        let kept = entries.values.filter { now.timeIntervalSince($0.checkedAt) < Self.lifetime }.sorted { $0.url < $1.url }
        let data = try JSONEncoder.cache.encode(Stored(version: 1, links: kept))
        let directory = file.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try AtomicFile.write(data, to: file)
        } catch {
            throw HogMailError(file: Self.relativePath, "The link cache cannot be written: \(error.localizedDescription). Check that \(directory.path) is writable.")
        }
    }

    private struct Stored: Codable {
        var version: Int
        var links: [LinkStatus]
    }
}

/// Replaces a file whole: a temporary file beside it, flushed, then renamed over it, so a
/// reader (the editor's editor, the preview, a crash) sees the old file or the new one.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data) else {
            throw HogMailError(file: url.path, "A temporary file cannot be created beside it (\(String(cString: strerror(errno)))).")
        }
        // Keep the file's permissions when it exists.
        if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path), let mode = attributes[.posixPermissions] as? NSNumber {
            chmod(temporary.path, mode_t(mode.uint16Value))
        }
        let descriptor = open(temporary.path, O_RDONLY)
        if descriptor >= 0 { fsync(descriptor); close(descriptor) }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw HogMailError(file: url.path, "The file cannot be replaced: \(reason).")
        }
    }
}

private extension JSONDecoder {
    static var cache: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

private extension JSONEncoder {
    static var cache: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
