import Foundation

/// Makes links and image sources absolute: in an email a relative link goes nowhere.
public struct LinkResolver: Sendable {
    /// `urls.site` without a trailing slash, or nil when not configured.
    public var site: String?

    public init(site: String?) { self.site = site }

    public enum Resolution: Equatable {
        case unchanged(String)
        case resolved(String)
        /// Relative, but there is no `urls.site` to resolve it against.
        case unresolvable(String)

        public var url: String {
            switch self {
            case .unchanged(let url), .resolved(let url), .unresolvable(let url): return url
            }
        }
    }

    public func resolve(_ raw: String) -> Resolution {
        let url = raw.trimmingCharacters(in: .whitespaces)
        if url.isEmpty || url.hasPrefix("#") { return .unchanged(url) }
        if url.range(of: "^[A-Za-z][A-Za-z0-9+.-]*:", options: .regularExpression) != nil { return .unchanged(url) }
        if url.hasPrefix("//") { return .resolved("https:" + url) }
        guard let site, let base = URL(string: site + "/") else { return .unresolvable(url) }
        let encoded = url.replacingOccurrences(of: " ", with: "%20")
        guard let absolute = URL(string: encoded, relativeTo: base)?.absoluteString else { return .unresolvable(url) }
        return .resolved(absolute)
    }
}
