import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// Form fields from a POST body: `application/x-www-form-urlencoded` or `multipart/form-data`
/// (RFC 8058 allows both for `List-Unsubscribe=One-Click`). Both are parsed on bytes by the
/// ecosystem's parsers (Hummingbird's form decoder, Vapor's MultipartKit), never by splitting
/// strings: Swift counts "\r\n" as one Character, which once cost the `C` of
/// `Content-Disposition`.
public enum FormBody {
    public enum Problem: Error, Equatable {
        case unsupportedType(String)
        case malformed(String)
    }

    /// The limits a form of this site never comes near: a handful of short fields.
    public static let maximumFields = 32
    public static let maximumValueBytes = 4096

    public static func fields(_ body: [UInt8], contentType: String?) throws -> [String: String] {
        let type = (contentType ?? "").lowercased()
        let essence = type.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        switch essence {
        case "", "application/x-www-form-urlencoded":
            return try urlEncoded(body)
        case "multipart/form-data":
            guard let boundary = parameter("boundary", in: contentType ?? ""), !boundary.isEmpty, boundary.utf8.count <= 70 else {
                throw Problem.malformed("a multipart body needs a boundary of 1 to 70 characters (RFC 2046)")
            }
            return try multipart(body, boundary: boundary)
        default:
            throw Problem.unsupportedType(essence)
        }
    }

    static func urlEncoded(_ body: [UInt8]) throws -> [String: String] {
        guard let text = String(validating: body, as: UTF8.self) else { throw Problem.malformed("the form is not UTF-8") }
        guard !text.isEmpty else { return [:] }
        // Escapes must decode to UTF-8 too (`%FF%FE` does not); the decoder would pass them on.
        guard text.removingPercentEncoding != nil else { throw Problem.malformed("an escaped value is not UTF-8") }
        // Only flat name=value pairs: `a[b]=c` nesting means nothing to these forms.
        let fields: [String: String]
        do {
            fields = try URLEncodedFormDecoder().decode([String: String].self, from: text)
        } catch {
            throw Problem.malformed("the form could not be decoded (\(error))")
        }
        try check(fields)
        return fields
    }

    static func multipart(_ body: [UInt8], boundary: String) throws -> [String: String] {
        // MultipartKit 4.7.1 traps on a byte over 127 in a part's header name (its lookup
        // table has 128 entries): one such POST would stop the server. Form parts never need
        // one, so a header block that is not ASCII is refused before the parser sees it.
        guard headerBlocksAreASCII(body, boundary: Array(boundary.utf8)) else {
            throw Problem.malformed("a part's headers are not ASCII")
        }
        let parser = MultipartParser(boundary: boundary)
        var result: [String: String] = [:]
        var name: String?
        var value: [UInt8] = []
        var parts = 0
        var tooLarge = false
        parser.onHeader = { field, headerValue in
            guard field.lowercased() == "content-disposition" else { return }
            name = parameter("name", in: headerValue)
        }
        parser.onBody = { buffer in
            if value.count + buffer.readableBytes > maximumValueBytes { tooLarge = true; buffer.moveReaderIndex(to: buffer.writerIndex); return }
            value += buffer.readableBytesView
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        parser.onPartComplete = {
            parts += 1
            if let name, result[name] == nil, let text = String(validating: value, as: UTF8.self) { result[name] = text }
            name = nil
            value = []
        }
        do {
            try parser.execute(body)
        } catch {
            throw Problem.malformed("the multipart body is not well formed")
        }
        guard !tooLarge else { throw Problem.malformed("a field is longer than \(maximumValueBytes) bytes") }
        guard parts > 0 else { throw Problem.malformed("the multipart body has no part with the boundary its Content-Type names") }
        try check(result)
        return result
    }

    /// Every header block (from a boundary to the CRLF CRLF after it, which is where MultipartKit
    /// ends headers; anything else it keeps reading as headers) is 7-bit. Stricter than the
    /// parser, never looser: any `--boundary` starts a block.
    static func headerBlocksAreASCII(_ body: [UInt8], boundary: [UInt8]) -> Bool {
        let delimiter: [UInt8] = [45, 45] + boundary
        var index = 0
        var inHeaders = false
        while index < body.count {
            if inHeaders {
                if body[index] > 127 { return false }
                if body[index] == 13, index + 3 < body.count, body[index + 1] == 10, body[index + 2] == 13, body[index + 3] == 10 {
                    inHeaders = false
                    index += 4
                    continue
                }
                index += 1
            } else if body[index] == 45, index + delimiter.count <= body.count, body[index..<(index + delimiter.count)].elementsEqual(delimiter) {
                inHeaders = true
                index += delimiter.count
            } else {
                index += 1
            }
        }
        return true
    }

    private static func check(_ fields: [String: String]) throws {
        guard fields.count <= maximumFields else { throw Problem.malformed("the form has more than \(maximumFields) fields") }
        guard fields.values.allSatisfy({ $0.utf8.count <= maximumValueBytes }) else {
            throw Problem.malformed("a field is longer than \(maximumValueBytes) bytes")
        }
    }

    /// A parameter of a header value (`multipart/form-data; boundary="x"`, `form-data; name="a"`).
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let parts = piece.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
