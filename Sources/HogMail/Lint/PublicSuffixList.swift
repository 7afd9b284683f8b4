import Foundation

/// The Public Suffix List (publicsuffix.org, MPL 2.0), shipped as data in
/// `Lint/Data/public_suffix_list.dat` and compiled into the binary: which endings of a host
/// name are real top-level or registry suffixes (`com`, `co.uk`, `github.io`). Link text is
/// an address only if it ends in one of them — `executesql.ts` and `query-retention.md` do not
/// (`.ts` is no suffix) — so file names are not taken for sites.
public struct PublicSuffixList: Sendable {
    private var rules: Set<String> = []
    private var wildcards: Set<String> = []
    private var exceptions: Set<String> = []

    public static let bundled = PublicSuffixList(EmbeddedResources.lintData["public_suffix_list.dat"] ?? "")

    public init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let rule = line.split(separator: " ", maxSplits: 1).first.map(String.init)?.lowercased() ?? ""
            if rule.isEmpty || rule.hasPrefix("//") { continue }
            if rule.hasPrefix("!") { exceptions.insert(String(rule.unicodeScalars.dropFirst())) }
            else if rule.hasPrefix("*.") { wildcards.insert(String(rule.unicodeScalars.dropFirst(2))) }
            else { rules.insert(rule) }
        }
    }

    public var count: Int { rules.count + wildcards.count + exceptions.count }

    /// The public suffix of `host` by the list's rules, or nil when only the default rule
    /// (`*`, any last label) would match: the ending is not a known suffix.
    public func publicSuffix(of host: String) -> String? {
        let labels = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")).split(separator: ".").map(String.init)
        guard !labels.isEmpty else { return nil }
        var best: String?
        for start in labels.indices {
            let candidate = labels[start...].joined(separator: ".")
            if exceptions.contains(candidate) {
                return labels[(start + 1)...].joined(separator: ".")
            }
            if rules.contains(candidate) { best = best ?? candidate }
            if start + 1 < labels.count, wildcards.contains(labels[(start + 1)...].joined(separator: ".")) { best = best ?? candidate }
            if best != nil { break }
        }
        return best
    }

    /// The registrable domain of `host` (its public suffix and one label more: `example.co.uk`
    /// for `news.example.co.uk`), or nil when it has no known suffix.
    public func registrableDomain(of host: String) -> String? {
        let lowered = host.lowercased()
        guard let suffix = publicSuffix(of: lowered), lowered.count > suffix.count + 1 else { return nil }
        let head = lowered.dropLast(suffix.count + 1)
        return String(head.split(separator: ".").last ?? Substring(head)) + "." + suffix
    }

    /// True when `host` ends in a listed suffix and has a label in front of it (`example.com`,
    /// not `com` or `executesql.ts`).
    public func isRegistrableHost(_ host: String) -> Bool {
        guard let suffix = publicSuffix(of: host) else { return false }
        return host.count > suffix.count + 1
    }
}
