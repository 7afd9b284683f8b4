import CCurlShim
import Foundation
import HogMail

/// How links are fetched. The defaults are the issue's: 10 s, 2 MB, 5 redirects, 8 at once,
/// 2 per host; tests shorten the timeout and point names at 127.0.0.1.
public struct LinkCheckOptions: Sendable {
    public var timeout: TimeInterval = 10
    public var maximumBytes = 2 * 1024 * 1024
    public var maximumRedirects = 5
    public var maximumConcurrent = 8
    public var maximumPerHost = 2
    /// `links.allow_private`: connect to private, loopback and link-local addresses.
    public var allowPrivate = false
    /// libcurl `CURLOPT_RESOLVE` entries (`host:port:address`), for tests that need a second host name.
    public var resolve: [String] = []
    public var userAgent = LinkCheckOptions.userAgent

    /// Says what is asking, so a site owner who sees it in a log knows: HogMail, checking a link.
    public static let userAgent = "HogMail/\(HogMailVersion.number) (+link check)"

    public init(allowPrivate: Bool = false) { self.allowPrivate = allowPrivate }

    /// As hogmail.yml says; the User-Agent names the newsletter's own address (`urls.public`),
    /// so the site owner can see who links to them and ask.
    public init(_ configuration: Configuration) {
        self.allowPrivate = configuration.links.allowPrivate
        self.userAgent = "HogMail/\(HogMailVersion.number) (+link check; \(configuration.urls.publicBase))"
    }
}

/// A page fetched for its title (`links add`): what the link check says about it, and the first
/// `maximumBytes` of its body.
public struct FetchedPage: Sendable {
    public var status: LinkStatus
    public var body: [UInt8]
    public var contentType: String?
    /// The body stopped at the size cap or the timeout; what came is used.
    public var truncated: Bool
}

/// Checks links over libcurl's multi interface: at most `maximumConcurrent` requests at once and
/// `maximumPerHost` per host (queued here, since libcurl's own host limit does not hold requests
/// that follow redirects to another host), HEAD first and GET when HEAD is refused, every
/// redirect followed by hand so each hop is counted, classified and checked for its address.
public final class LinkChecker: Sendable {
    public let options: LinkCheckOptions

    public init(options: LinkCheckOptions = LinkCheckOptions()) {
        self.options = options
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }

    /// The state of each distinct URL of `urls`.
    public func check(_ urls: [String]) async -> [String: LinkStatus] {
        let unique = Array(Set(urls)).sorted()
        let transfers = unique.map { Transfer(url: $0, mode: .check) }
        await run(transfers)
        return Dictionary(uniqueKeysWithValues: transfers.map { ($0.original, $0.outcome!) })
    }

    /// GETs `url` for its title: redirects followed, the body kept up to the size cap.
    public func fetchPage(_ url: String) async -> FetchedPage {
        let transfer = Transfer(url: url, mode: .page)
        await run([transfer])
        return FetchedPage(status: transfer.outcome!, body: transfer.body, contentType: transfer.contentType, truncated: transfer.truncated)
    }

    private func run(_ transfers: [Transfer]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let options = self.options
            let thread = Thread {
                Engine(options: options).run(transfers)
                continuation.resume()
            }
            thread.name = "hogmail-links"
            thread.start()
        }
    }
}

// MARK: - One URL's way through its redirects

final class Transfer: @unchecked Sendable {
    enum Mode { case check, page }
    let original: String
    let mode: Mode
    var current: String
    /// HEAD was refused somewhere on the way: GET from then on.
    var useGet: Bool
    /// (URL, status) of each redirect taken.
    var hops: [(url: String, status: Int)] = []
    var visited: Set<String> = []
    var outcome: LinkStatus?
    /// Time spent in its requests so far (not waiting in the queue): all its requests together
    /// get three timeouts.
    var spent: TimeInterval = 0
    /// When the request in flight started.
    var requestStartedAt: Date?

    // The attempt in flight (touched by libcurl's callbacks on the engine's thread only).
    var body: [UInt8] = []
    var contentType: String?
    var truncated = false
    var stoppedOnPurpose = false
    var refusedAddress: String?
    var allowPrivate = false
    var limit = 0
    /// libcurl's CURLOPT_ERRORBUFFER for the request in flight: allocated when it starts,
    /// freed when it ends (libcurl writes into it until then).
    var errorBuffer: UnsafeMutablePointer<CChar>?
    var headers: UnsafeMutablePointer<curl_slist>?

    init(url: String, mode: Mode) {
        original = url
        current = url
        self.mode = mode
        useGet = mode == .page
    }

    var hostKey: String {
        guard let parts = WebAddress(current) else { return current }
        return "\(parts.scheme)://\(parts.host):\(parts.port ?? (parts.scheme == "https" ? 443 : 80))"
    }
}

/// One run of the multi loop on its own thread; everything in it is touched only there.
private final class Engine {
    let options: LinkCheckOptions
    let multi: UnsafeMutableRawPointer
    var resolveList: UnsafeMutablePointer<curl_slist>?
    var waiting: [Transfer] = []
    var active: [UnsafeMutableRawPointer: Transfer] = [:]
    var perHost: [String: Int] = [:]

    init(options: LinkCheckOptions) {
        self.options = options
        multi = curl_multi_init()!
        hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.maximumConcurrent)
        hogmail_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.maximumPerHost)
        for entry in options.resolve { resolveList = curl_slist_append(resolveList, entry) }
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_slist_free_all(resolveList)
    }

    func run(_ transfers: [Transfer]) {
        for transfer in transfers {
            if let refusal = Self.unsupported(transfer.original) {
                transfer.outcome = refusal
            } else {
                waiting.append(transfer)
            }
        }
        while !waiting.isEmpty || !active.isEmpty {
            startWhatFits()
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let info = curl_multi_info_read(multi, &queued) {
                guard info.pointee.msg == CURLMSG_DONE, let handle = info.pointee.easy_handle else { continue }
                finish(handle, result: info.pointee.data.result)
            }
            if waiting.isEmpty && active.isEmpty { break }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 100, &ready)
        }
    }

    private func startWhatFits() {
        var index = 0
        while active.count < options.maximumConcurrent, index < waiting.count {
            let transfer = waiting[index]
            if perHost[transfer.hostKey, default: 0] < options.maximumPerHost {
                waiting.remove(at: index)
                start(transfer)
            } else {
                index += 1
            }
        }
    }

    private func start(_ transfer: Transfer) {
        let handle = curl_easy_init()!
        transfer.requestStartedAt = Date()
        transfer.body = []
        transfer.contentType = nil
        transfer.truncated = false
        transfer.stoppedOnPurpose = false
        transfer.refusedAddress = nil
        transfer.limit = options.maximumBytes
        transfer.allowPrivate = options.allowPrivate
        transfer.visited.insert(transfer.current)
        let pointer = Unmanaged.passUnretained(transfer).toOpaque()
        hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, transfer.current)
        hogmail_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        hogmail_curl_easy_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        hogmail_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        if transfer.useGet {
            hogmail_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
        } else {
            hogmail_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
        }
        hogmail_curl_easy_setopt_string(handle, CURLOPT_USERAGENT, options.userAgent)
        transfer.headers = curl_slist_append(nil, "Accept: text/html,application/xhtml+xml,*/*;q=0.8")
        hogmail_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, transfer.headers)
        hogmail_curl_easy_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "")
        // A proxy would connect for HogMail, and its address is all the socket check would see.
        hogmail_curl_easy_setopt_string(handle, CURLOPT_PROXY, "")
        hogmail_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(options.timeout * 1000))
        hogmail_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(options.timeout * 1000))
        hogmail_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        hogmail_curl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Self.write)
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer)
        hogmail_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Self.header)
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer)
        hogmail_curl_easy_setopt_opensocket(handle, Self.openSocket)
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, pointer)
        if let resolveList { hogmail_curl_easy_setopt_slist(handle, CURLOPT_RESOLVE, resolveList) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        transfer.errorBuffer = errorBuffer
        hogmail_curl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        perHost[transfer.hostKey, default: 0] += 1
        active[handle] = transfer
        curl_multi_add_handle(multi, handle)
    }

    private func finish(_ handle: UnsafeMutableRawPointer, result: CURLcode) {
        curl_multi_remove_handle(multi, handle)
        defer { curl_easy_cleanup(handle) }
        guard let transfer = active.removeValue(forKey: handle) else { return }
        perHost[transfer.hostKey, default: 1] -= 1
        curl_slist_free_all(transfer.headers)
        transfer.headers = nil
        var status = 0
        hogmail_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var location: UnsafePointer<CChar>?
        hogmail_curl_easy_getinfo_string(handle, CURLINFO_REDIRECT_URL, &location)
        let redirect = location.map { String(cString: $0) }
        let detail = transfer.errorBuffer.map { String(cString: $0) } ?? ""
        transfer.errorBuffer?.deallocate()
        transfer.errorBuffer = nil
        if let started = transfer.requestStartedAt { transfer.spent += Date().timeIntervalSince(started) }
        transfer.requestStartedAt = nil
        let answered = result == CURLE_OK || (status > 0 && (transfer.stoppedOnPurpose || transfer.truncated
            || result == CURLE_WRITE_ERROR || (result == CURLE_OPERATION_TIMEDOUT && transfer.mode == .page && !transfer.body.isEmpty)))

        if result == CURLE_OPERATION_TIMEDOUT && answered { transfer.truncated = true }
        // Redirects and a GET after HEAD each get the timeout, but a link as a whole gets three:
        // five slow redirects must not hold a check for a minute. Only time in its requests
        // counts, and its next request goes first in the queue: in a draft with many links, a
        // link must not time out while it waits for the others.
        let budget = options.timeout * 3
        func requeue() {
            if transfer.spent > budget {
                transfer.outcome = LinkStatus(state: .timeout, url: transfer.original, finalURL: transfer.current,
                                              detail: "no answer within \(Self.seconds(budget)) over its redirects")
            } else {
                waiting.insert(transfer, at: 0)
            }
        }
        guard answered else {
            // HEAD that the server cannot take (it hangs up or answers garbage): try GET once.
            if !transfer.useGet, [CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_WEIRD_SERVER_REPLY, CURLE_PARTIAL_FILE].contains(result) {
                transfer.useGet = true
                requeue()
                return
            }
            transfer.outcome = failure(transfer, result: result, detail: detail, status: status)
            return
        }
        if (300...399).contains(status), let redirect, !redirect.isEmpty {
            transfer.hops.append((transfer.current, status))
            if let refusal = Self.unsupported(redirect) {
                transfer.outcome = LinkStatus(state: .unsupported, url: transfer.original, status: status, finalURL: redirect,
                                              detail: "redirects to \(redirect), which is not http or https (\(refusal.detail))")
                return
            }
            if transfer.visited.contains(redirect) {
                transfer.outcome = LinkStatus(state: .redirectLoop, url: transfer.original, status: status, finalURL: redirect,
                                              detail: "redirects back to \(redirect) after \(transfer.hops.count) redirect\(transfer.hops.count == 1 ? "" : "s")")
                return
            }
            if transfer.hops.count > options.maximumRedirects {
                transfer.outcome = LinkStatus(state: .tooManyRedirects, url: transfer.original, status: status, finalURL: redirect,
                                              detail: "more than \(options.maximumRedirects) redirects; the last went to \(redirect)")
                return
            }
            transfer.current = redirect
            if transfer.mode == .check { transfer.useGet = false }
            requeue()
            return
        }
        // Many servers refuse or mishandle HEAD (405, 501, a 403 or 404 from a framework that
        // routes GET only): any failure on HEAD is asked again with GET before it counts.
        if !transfer.useGet && status >= 400 {
            transfer.useGet = true
            requeue()
            return
        }
        transfer.outcome = LinkClassifier.answered(original: transfer.original, final: transfer.current, status: status,
                                                   hops: transfer.hops.map(\.status), truncated: transfer.truncated,
                                                   maximumBytes: options.maximumBytes)
    }

    private func failure(_ transfer: Transfer, result: CURLcode, detail: String, status: Int) -> LinkStatus {
        let words = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
        let url = transfer.original
        let via = transfer.current == url ? "" : " (after redirects, at \(transfer.current))"
        if let address = transfer.refusedAddress {
            return LinkStatus(state: .privateAddress, url: url, finalURL: transfer.current,
                              detail: "\(WebAddress(transfer.current)?.host ?? transfer.current) is at \(address); HogMail does not fetch private addresses unless `links.allow_private: true` is set in hogmail.yml")
        }
        switch result {
        case CURLE_COULDNT_RESOLVE_HOST:
            return LinkStatus(state: .dnsFailure, url: url, finalURL: transfer.current, detail: "\(words)\(via)")
        case CURLE_OPERATION_TIMEDOUT:
            return LinkStatus(state: .timeout, url: url, finalURL: transfer.current, detail: "no complete answer within \(Self.seconds(options.timeout))\(via)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE,
             CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_INITFAILED:
            return LinkStatus(state: .tlsFailure, url: url, finalURL: transfer.current, detail: "\(words)\(via)")
        case CURLE_UNSUPPORTED_PROTOCOL:
            return LinkStatus(state: .unsupported, url: url, finalURL: transfer.current, detail: "\(words)\(via)")
        default:
            return LinkStatus(state: .connectionFailed, url: url, status: status > 0 ? status : nil, finalURL: transfer.current,
                              detail: "\(words) (libcurl \(result.rawValue))\(via)")
        }
    }

    static func seconds(_ interval: TimeInterval) -> String {
        interval == interval.rounded() ? "\(Int(interval)) s" : String(format: "%.1f s", interval)
    }

    /// A refusal for anything but an absolute http(s) URL with a host. Only the scheme and the
    /// host are checked: the rest (`?family=A|B`, `{`, `^`, `[` in a path) is libcurl's to take.
    static func unsupported(_ url: String) -> LinkStatus? {
        switch WebAddress.parse(url) {
        case .notAbsolute:
            return LinkStatus(state: .unsupported, url: url, detail: "not an absolute web address; write it as https://…")
        case .otherScheme(let scheme):
            return LinkStatus(state: .unsupported, url: url, detail: "\(scheme): is not fetched; only http and https links are checked")
        case .noHost:
            return LinkStatus(state: .unsupported, url: url, detail: "the address has no host")
        case .address:
            return nil
        }
    }

    // MARK: libcurl callbacks

    private static let write: hogmail_curl_data_callback = { buffer, size, count, userdata in
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        guard transfer.mode == .page else {
            // A check needs the status, not the page: stop at the first byte of the body.
            transfer.stoppedOnPurpose = true
            return 0
        }
        let room = transfer.limit - transfer.body.count
        guard room > 0 else {
            transfer.truncated = true
            return 0
        }
        let taken = min(room, length)
        let before = transfer.body.count
        transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: taken))
        if taken < length {
            transfer.truncated = true
            return 0
        }
        // The title and og:title are in the head: once it has ended, the rest is not needed
        // (searched in the new bytes and the few before them, not the whole body each time).
        if PageTitle.find(endOfHead, in: transfer.body, from: max(0, before - endOfHead.count)) != nil {
            transfer.stoppedOnPurpose = true
            return 0
        }
        return length
    }

    private static let endOfHead = Array("</head".utf8)

    private static let header: hogmail_curl_data_callback = { buffer, size, count, userdata in
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
        // Header names compared on bytes; only Content-Type is kept.
        let prefix = Array("content-type:".utf8)
        if bytes.count > prefix.count, zip(bytes.prefix(prefix.count), prefix).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) {
            transfer.contentType = String(decoding: bytes.dropFirst(prefix.count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return size * count
    }

    /// Every connection libcurl opens comes here with the address it is about to connect to
    /// (after DNS, for every redirect): a private one is refused, so neither a draft, a
    /// redirect nor a DNS answer that changes between lookups can point HogMail inside the network.
    private static let openSocket: hogmail_curl_opensocket_callback = { clientp, purpose, address in
        guard let clientp, let address else { return CURL_SOCKET_BAD }
        let transfer = Unmanaged<Transfer>.fromOpaque(clientp).takeUnretainedValue()
        let family = address.pointee.family
        if let (text, kind) = PrivateAddress.classify(address), !transfer.allowPrivate {
            transfer.refusedAddress = "\(text), a \(kind) address"
            return CURL_SOCKET_BAD
        }
        return socket(family, address.pointee.socktype, address.pointee.protocol)
    }
}


/// The scheme, host and port of an absolute URL, read from its bytes (RFC 3986's generic
/// syntax): what the checker needs to decide whether to fetch it and which host it counts
/// against. The path, query and fragment are not judged.
struct WebAddress: Equatable {
    var scheme: String
    var host: String
    var port: Int?

    enum Parsed: Equatable {
        case address(WebAddress)
        case notAbsolute
        case otherScheme(String)
        case noHost
    }

    init?(_ url: String) {
        guard case .address(let parts) = Self.parse(url) else { return nil }
        self = parts
    }

    private init(scheme: String, host: String, port: Int?) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    static func parse(_ url: String) -> Parsed {
        let bytes = Array(url.utf8)
        func isAlpha(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
        func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, isAlpha(bytes[0]),
              bytes[1..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }) else {
            return .notAbsolute
        }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else { return .otherScheme(scheme) }
        let rest = bytes[(colon + 1)...]
        guard rest.starts(with: "//".utf8) else { return .noHost }
        let authorityStart = colon + 3
        let authorityEnd = bytes[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? bytes.count
        var authority = bytes[authorityStart..<authorityEnd]
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { authority = authority[(at + 1)...] }
        var host: ArraySlice<UInt8>
        var portText: ArraySlice<UInt8> = []
        if authority.first == UInt8(ascii: "[") {
            // An IPv6 literal: `[::1]:8080`.
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return .noHost }
            host = authority[authority.startIndex...close]
            let after = authority[(close + 1)...]
            if after.first == UInt8(ascii: ":") { portText = after.dropFirst() } else if !after.isEmpty { return .noHost }
        } else if let portColon = authority.firstIndex(of: UInt8(ascii: ":")) {
            host = authority[..<portColon]
            portText = authority[(portColon + 1)...]
        } else {
            host = authority
        }
        guard !host.isEmpty, !host.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return .noHost }
        var port: Int?
        if !portText.isEmpty {
            // A host has no colon outside brackets: what follows the first is a port, or nothing.
            guard portText.count <= 5, portText.allSatisfy(isDigit), let number = Int(String(decoding: portText, as: UTF8.self)), number <= 65535 else { return .noHost }
            port = number
        }
        return .address(WebAddress(scheme: scheme, host: String(decoding: host, as: UTF8.self).lowercased(), port: port))
    }
}
