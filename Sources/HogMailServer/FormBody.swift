import Foundation

/// Form fields from a POST body: `application/x-www-form-urlencoded` or `multipart/form-data`
/// (RFC 8058 allows both for `List-Unsubscribe=One-Click`).
enum FormBody {
    enum Problem: Error { case unsupportedType(String), malformed }

    static func fields(_ body: [UInt8], contentType: String?) throws -> [String: String] {
        let type = (contentType ?? "application/x-www-form-urlencoded").lowercased()
        if type.hasPrefix("application/x-www-form-urlencoded") || type.isEmpty {
            return urlEncoded(String(decoding: body, as: UTF8.self))
        }
        if type.hasPrefix("multipart/form-data") {
            guard let boundary = parameter("boundary", in: contentType ?? "") else { throw Problem.malformed }
            return try multipart(body, boundary: boundary)
        }
        throw Problem.unsupportedType(type)
    }

    static func urlEncoded(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ value: Substring) -> String {
                String(value).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(value)
            }
            let name = decode(parts[0])
            if result[name] == nil { result[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return result
    }

    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let parts = piece.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            return parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    static func multipart(_ body: [UInt8], boundary: String) throws -> [String: String] {
        let text = String(decoding: body, as: UTF8.self)
        let delimiter = "--" + boundary
        guard text.contains(delimiter) else { throw Problem.malformed }
        var result: [String: String] = [:]
        for part in text.components(separatedBy: delimiter).dropFirst() {
            if part.hasPrefix("--") { break }
            let trimmed = part.hasPrefix("\r\n") ? String(part.dropFirst(2)) : part.hasPrefix("\n") ? String(part.dropFirst()) : part
            let split = trimmed.range(of: "\r\n\r\n") ?? trimmed.range(of: "\n\n")
            guard let split else { continue }
            let headers = trimmed[..<split.lowerBound]
            var value = String(trimmed[split.upperBound...])
            if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
            for line in headers.components(separatedBy: .newlines) where line.lowercased().hasPrefix("content-disposition:") {
                if let name = parameter("name", in: line), result[name] == nil { result[name] = value }
            }
        }
        return result
    }
}
