import Foundation
import HogMail
import HTTPTypes
import Hummingbird
import HummingbirdCore

/// Who is asking: the peer of the connection, or — when the peer is a reverse proxy listed in
/// `serve.trusted_proxies` — the client that proxy names. Only trusted hops are believed: the
/// address is the right-most entry of `X-Forwarded-For` (or `Forwarded: for=`) that is not
/// itself a trusted proxy, since anything further left was written by the client.
public struct ClientAddressResolver: Sendable {
    public var trustedProxies: [IPNetwork]

    public init(trustedProxies: [IPNetwork] = []) {
        self.trustedProxies = trustedProxies
    }

    public init(configuration: Configuration) {
        self.trustedProxies = configuration.serve.trustedProxies
    }

    func isTrusted(_ address: String) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    public func client(peer: String, headers: HTTPFields) -> String {
        guard isTrusted(peer) else { return peer }
        var hops: [String] = []
        let forwarded = headers[values: .forwarded]
        if !forwarded.isEmpty {
            for element in forwarded.joined(separator: ",").split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { continue }
                    var value = parts[1].trimmingCharacters(in: .whitespaces)
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                    hops.append(Self.stripPort(value))
                }
            }
        } else {
            hops = headers[values: .xForwardedFor].joined(separator: ",").split(separator: ",").map {
                Self.stripPort($0.trimmingCharacters(in: .whitespaces))
            }
        }
        // From the proxy nearest us outwards: the first hop that is not a trusted proxy.
        for hop in hops.reversed() {
            guard IPNetwork.parseAddress(hop) != nil else { return peer }
            if !isTrusted(hop) { return hop }
        }
        return hops.first.flatMap { IPNetwork.parseAddress($0) != nil ? $0 : nil } ?? peer
    }

    /// `192.0.2.1:4711` → `192.0.2.1`; `[2001:db8::1]:4711` → `2001:db8::1`.
    static func stripPort(_ value: String) -> String {
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") { return String(value[value.index(after: value.startIndex)..<close]) }
        if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") { return String(value[..<colon]) }
        return value
    }
}
