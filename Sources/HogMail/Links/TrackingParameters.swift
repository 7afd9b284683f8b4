import Foundation

/// Tracking parameters that newsletters, social sites and ad networks add to links they hand
/// out. A curated link is stored as the editor gave it, minus these: they identify where the
/// editor found the link, which is nobody's business, and HogMail's lint warns about `utm_*`.
public enum TrackingParameters {
    /// Exact names (compared without case).
    public static let names: Set<String> = [
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "mc_eid", "mc_cid", "ref_src", "ref_url", "igshid", "igsh", "_hsenc", "_hsmi", "__hstc", "__hssc", "__hsfp",
        "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "_openstat", "s_cid",
        "wickedid", "rb_clickid", "ncid", "sr_share", "si",
    ]
    /// Name prefixes (compared without case): `utm_source`, `utm_medium`, … and Piwik's `pk_*`.
    public static let prefixes = ["utm_", "pk_", "mtm_"]

    public static func isTracking(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return names.contains(lowered) || prefixes.contains { lowered.hasPrefix($0) }
    }

    /// `url` without tracking parameters; every other parameter stays, in its order and
    /// spelling (percent-encoding untouched), and so does the fragment. A query left empty is dropped.
    public static func stripped(from url: String) -> String {
        // Worked on as text, not through URLComponents, which re-encodes what it does not like.
        var rest = Substring(url)
        var fragment: Substring = ""
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[hash...]
            rest = rest[..<hash]
        }
        guard let question = rest.firstIndex(of: "?") else { return url }
        let base = rest[..<question]
        let query = rest[rest.index(after: question)...]
        let kept = query.split(separator: "&", omittingEmptySubsequences: false).filter { pair in
            let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let decoded = name.removingPercentEncoding ?? name
            return !isTracking(decoded)
        }
        // "?a=1&&b=2": empty pairs are kept as written unless nothing else remains.
        let remaining = kept.joined(separator: "&")
        let hasContent = kept.contains { !$0.isEmpty }
        return String(base) + (hasContent ? "?" + remaining : "") + fragment
    }
}
