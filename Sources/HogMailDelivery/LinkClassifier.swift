import CCurlShim
import Foundation
import HogMail

/// Which addresses a link check never connects to unless `links.allow_private` says so.
enum PrivateAddress {
    /// The address's text and what kind of non-public address it is, or nil for a public one.
    static func classify(_ address: UnsafeMutablePointer<curl_sockaddr>) -> (String, String)? {
        let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
        let raw = UnsafeRawPointer(address).advanced(by: offset)
        switch address.pointee.family {
        case AF_INET:
            let socketAddress = raw.loadUnaligned(as: sockaddr_in.self)
            let bytes = withUnsafeBytes(of: socketAddress.sin_addr) { Array($0) }
            return kind(of: bytes).map { (bytes.map(String.init).joined(separator: "."), $0) }
        case AF_INET6:
            let socketAddress = raw.loadUnaligned(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: socketAddress.sin6_addr) { Array($0) }
            return kind(of: bytes).map { (IPText.v6(bytes), $0) }
        default:
            // Not IP (a Unix socket): never a link's destination.
            return ("an address of family \(address.pointee.family)", "non-IP")
        }
    }

    /// For 4 or 16 address bytes: "loopback", "private", … or nil when public.
    static func kind(of bytes: [UInt8]) -> String? {
        if bytes.count == 4 { return kindV4(bytes) }
        guard bytes.count == 16 else { return "malformed" }
        if bytes.allSatisfy({ $0 == 0 }) { return "unspecified" }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return "loopback" }
        // ::ffff:a.b.c.d (IPv4-mapped) and the deprecated ::a.b.c.d (IPv4-compatible) reach the IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && ((bytes[10] == 0xFF && bytes[11] == 0xFF) || (bytes[10] == 0 && bytes[11] == 0)) {
            return kindV4(Array(bytes[12...])).map { "IPv4-mapped \($0)" }
        }
        // 64:ff9b::/96 (NAT64) carries an IPv4 address too.
        if bytes[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return kindV4(Array(bytes[12...])).map { "NAT64 \($0)" }
        }
        if bytes[0] & 0xFE == 0xFC { return "unique local (ULA)" }
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return "link-local" }
        if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0xC0 { return "site-local" }
        if bytes[0] == 0xFF { return "multicast" }
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8 { return "documentation" }
        return nil
    }

    private static func kindV4(_ bytes: [UInt8]) -> String? {
        let (a, b) = (bytes[0], bytes[1])
        switch a {
        case 0: return "unspecified"
        case 10: return "private"
        case 127: return "loopback"
        case 100 where b & 0xC0 == 64: return "carrier-grade NAT"
        case 169 where b == 254: return "link-local"
        case 172 where b & 0xF0 == 16: return "private"
        case 192 where b == 168: return "private"
        case 192 where b == 0 && bytes[2] == 0: return "IETF protocol"
        case 198 where b & 0xFE == 18: return "benchmarking"
        case 224...239: return "multicast"
        case 240...255: return "reserved"
        default: return nil
        }
    }
}

enum IPText {
    static func v6(_ bytes: [UInt8]) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What an HTTP answer at the end of a link's redirects means for a reader.
public enum LinkClassifier {
    /// `hops`: the statuses of the redirects taken, in order.
    public static func answered(original: String, final: String, status: Int, hops: [Int], truncated: Bool = false, maximumBytes: Int = 0) -> LinkStatus {
        let redirected = !hops.isEmpty
        let via = redirected ? " at \(final)" : ""
        switch status {
        case 200...299, 300...399:
            guard redirected else {
                return LinkStatus(state: .ok, url: original, status: status, detail: "\(status)" + (truncated ? ", the page is larger than \(maximumBytes / 1024 / 1024) MB" : ""))
            }
            if looksLikeLogin(final) && !looksLikeLogin(original) {
                return LinkStatus(state: .redirectedToLogin, url: original, status: status, finalURL: final,
                                  detail: "ends at \(final), a sign-in page; readers will not see the article")
            }
            if site(of: original) != site(of: final) {
                return LinkStatus(state: .redirectedOffSite, url: original, status: status, finalURL: final,
                                  detail: "ends on another site, \(final); the domain may have been sold or parked")
            }
            if let first = hops.first, first == 301 || first == 308 {
                return LinkStatus(state: .movedPermanently, url: original, status: status, finalURL: final,
                                  detail: "\(first) to \(final); `hogmail links check --fix-redirects` writes the new address into the draft")
            }
            return LinkStatus(state: .ok, url: original, status: status, finalURL: final, detail: "\(status) after a temporary redirect (\(hops.map(String.init).joined(separator: ", "))) to \(final)")
        case 404:
            return LinkStatus(state: .notFound, url: original, status: status, finalURL: redirected ? final : nil, detail: "404 Not Found\(via)")
        case 410:
            return LinkStatus(state: .gone, url: original, status: status, finalURL: redirected ? final : nil, detail: "410 Gone\(via)")
        case 401, 403, 429:
            return LinkStatus(state: .restricted, url: original, status: status, finalURL: redirected ? final : nil,
                              detail: "\(status) to HogMail\(via); a browser may get through, so open it once by hand")
        case 400...499:
            return LinkStatus(state: .clientError, url: original, status: status, finalURL: redirected ? final : nil, detail: "\(status)\(via)")
        default:
            return LinkStatus(state: .serverError, url: original, status: status, finalURL: redirected ? final : nil, detail: "\(status) from the server\(via)")
        }
    }

    /// Who a host belongs to: its registrable domain (`docs.example.co.uk` → `example.co.uk`),
    /// or the host itself when it has no known suffix (an address, `localhost`).
    static func site(of url: String) -> String {
        let host = WebAddress(url)?.host ?? url
        return PublicSuffixList.bundled.registrableDomain(of: host) ?? host
    }

    /// A sign-in page by its address: a login path, or an accounts/SSO host.
    static func looksLikeLogin(_ url: String) -> Bool {
        guard let components = URLComponents(string: url) else { return false }
        let host = components.host?.lowercased() ?? ""
        let hostWords = ["login.", "signin.", "accounts.", "account.", "auth.", "sso.", "id.", "idp."]
        if hostWords.contains(where: host.hasPrefix) { return true }
        let segments = components.path.lowercased().split(separator: "/").map(String.init)
        let pathWords: Set<String> = ["login", "log-in", "log_in", "signin", "sign-in", "sign_in", "logon", "sso", "auth", "authorize", "oauth", "oauth2", "saml", "saml2"]
        if segments.contains(where: { pathWords.contains($0) || $0.hasPrefix("login.") || $0.hasPrefix("signin.") }) { return true }
        return false
    }
}
