import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The title of a web page, as a curated link shows it: `og:title`, else `<title>`, decoded
/// from the page's charset, entities resolved, whitespace collapsed, the site's name after
/// " | " or " - " dropped, and no longer than a sentence. Works on the page's bytes.
public enum PageTitle {
    /// Longer titles are cut at a word and end with "…" (a 10,000-character `<title>` exists).
    public static let maximumLength = 200

    /// The title of `body`, served with the `Content-Type` header `contentType` from `url`;
    /// nil when the page has none.
    public static func extract(from body: [UInt8], contentType: String?, url: String) -> String? {
        let charset = self.charset(contentType: contentType, body: body)
        let text = Array(decode(body, charset: charset).utf8)
        let head = text
        let meta = metaTags(in: head)
        let siteName = meta.first { ($0["property"] ?? $0["name"])?.lowercased() == "og:site_name" }?["content"].map(clean)
        var title: String?
        if let og = meta.first(where: { ($0["property"] ?? $0["name"])?.lowercased() == "og:title" })?["content"] {
            title = clean(og)
        }
        if title?.isEmpty ?? true, let plain = titleElement(in: head) {
            title = clean(plain)
        }
        guard var result = title, !result.isEmpty else { return nil }
        result = trimmingSiteName(result, siteName: siteName, host: URL(string: url)?.host)
        return capped(result)
    }

    // MARK: - Charset

    /// The charset the page declares: the HTTP header first, then a byte order mark, then
    /// `<meta charset>` or `<meta http-equiv="Content-Type">` in its first 4 KB (HTML's own
    /// prescan window is 1 KB; pages with long `<head>`s put it later). Nil: not declared.
    public static func charset(contentType: String?, body: [UInt8]) -> String? {
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { return "utf-8" }
        if body.starts(with: [0xFF, 0xFE]) { return "utf-16le" }
        if body.starts(with: [0xFE, 0xFF]) { return "utf-16be" }
        if let contentType, let value = parameter("charset", in: contentType) { return value.lowercased() }
        let window = Array(body.prefix(4096))
        // HTML's prescan: a page whose bytes hold `<meta charset=utf-16>` is not UTF-16 (those
        // bytes would not be readable as ASCII), so the label counts as UTF-8.
        func declared(_ value: String) -> String {
            let name = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t")).lowercased()
            return ["utf-16", "utf-16le", "utf-16be", "unicode", "ucs-2", "csunicode", "iso-10646-ucs-2", "unicodefeff", "unicodefffe"].contains(name) ? "utf-8" : name
        }
        for tag in metaTags(in: window) {
            if let value = tag["charset"] { return declared(value) }
            if tag["http-equiv"]?.lowercased() == "content-type", let content = tag["content"], let value = parameter("charset", in: content) {
                return declared(value)
            }
        }
        return nil
    }

    /// `body` as text in `charset` (any name iconv knows); undeclared means UTF-8 when the
    /// bytes are UTF-8, else windows-1252, as browsers guess. Bytes that do not decode become U+FFFD.
    public static func decode(_ body: [UInt8], charset: String?) -> String {
        var name = charset?.trimmingCharacters(in: CharacterSet(charactersIn: "\"' ")).lowercased() ?? ""
        if name.isEmpty {
            // The body may stop inside a character (at `</head` or the size cap): that last
            // incomplete sequence does not make UTF-8 something else.
            if let text = String(validating: body[..<completeUTF8End(body)], as: UTF8.self) { return text }
            name = "windows-1252"
        }
        // The WHATWG Encoding Standard reads these labels as windows-1252 (pages say latin1 and mean it).
        if ["iso-8859-1", "latin1", "iso8859-1", "l1", "us-ascii", "ascii", "cp1252", "x-cp1252"].contains(name) { name = "windows-1252" }
        if ["utf-8", "utf8", "unicode-1-1-utf-8"].contains(name) { return String(decoding: body, as: UTF8.self) }
        if ["shift-jis", "sjis", "x-sjis", "ms_kanji", "windows-31j", "cp932"].contains(name) { name = "cp932" }
        return iconvDecode(body, from: name) ?? String(decoding: body, as: UTF8.self)
    }

    /// Where `bytes` ends without a UTF-8 sequence cut short at its end (its length when none is).
    static func completeUTF8End(_ bytes: [UInt8]) -> Int {
        // The last lead byte among the final three, and how long its sequence should be.
        var index = bytes.count - 1
        while index >= 0, index >= bytes.count - 3, bytes[index] & 0xC0 == 0x80 { index -= 1 }
        guard index >= 0 else { return bytes.count }
        let lead = bytes[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > bytes.count - index ? index : bytes.count
    }

    private static func iconvDecode(_ bytes: [UInt8], from charset: String) -> String? {
        let converter = iconv_open("UTF-8", charset)
        guard converter != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(converter) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        var input = bytes.map { CChar(bitPattern: $0) }
        var chunk = [CChar](repeating: 0, count: 16 * 1024)
        var offset = 0
        while offset < input.count {
            let (consumed, produced, failed) = input.withUnsafeMutableBufferPointer { source -> (Int, Int, Bool) in
                chunk.withUnsafeMutableBufferPointer { target -> (Int, Int, Bool) in
                    var inPointer: UnsafeMutablePointer<CChar>? = source.baseAddress! + offset
                    var inLeft = source.count - offset
                    var outPointer: UnsafeMutablePointer<CChar>? = target.baseAddress!
                    var outLeft = target.count
                    let result = iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
                    let failed = result == -1 && errno != E2BIG
                    return (source.count - offset - inLeft, target.count - outLeft, failed)
                }
            }
            output += chunk[0..<produced].map { UInt8(bitPattern: $0) }
            offset += consumed
            if failed {
                // A byte the charset does not have (or a sequence cut at the 2 MB cap): U+FFFD, go on.
                output += [0xEF, 0xBF, 0xBD]
                offset += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `name=value` from a header or `content` value like `text/html; charset="Shift_JIS"`.
    static func parameter(_ name: String, in text: String) -> String? {
        for part in text.split(separator: ";").dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"' \t"))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    // MARK: - Tags, read on bytes

    /// The attributes of every `<meta …>` tag before `</head>` (names lowercased).
    static func metaTags(in bytes: [UInt8]) -> [[String: String]] {
        var tags: [[String: String]] = []
        var index = 0
        let end = find(Array("</head".utf8), in: bytes, from: 0) ?? bytes.count
        while index < end, let start = find(Array("<meta".utf8), in: bytes, from: index), start < end {
            let (attributes, next) = readAttributes(bytes, from: start + 5)
            tags.append(attributes)
            index = next
        }
        return tags
    }

    /// The text of the first `<title>` element outside comments, or nil.
    static func titleElement(in bytes: [UInt8]) -> String? {
        var from = 0
        while let start = find(Array("<title".utf8), in: bytes, from: from) {
            let after = start + 6
            // `<titlebar>` is not `<title>`.
            guard after < bytes.count, [UInt8(ascii: ">"), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "/")].contains(bytes[after]) else {
                from = after
                continue
            }
            guard let close = bytes[after...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
            let contentStart = close + 1
            let contentEnd = find(Array("</title".utf8), in: bytes, from: contentStart) ?? min(bytes.count, contentStart + 64 * 1024)
            return String(decoding: bytes[contentStart..<contentEnd], as: UTF8.self)
        }
        return nil
    }

    /// Attributes from `from` (just past the tag name) to the closing `>`.
    static func readAttributes(_ bytes: [UInt8], from: Int) -> ([String: String], Int) {
        var attributes: [String: String] = [:]
        var index = from
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C }
        while index < bytes.count {
            while index < bytes.count, isSpace(bytes[index]) || bytes[index] == UInt8(ascii: "/") { index += 1 }
            guard index < bytes.count, bytes[index] != UInt8(ascii: ">") else { return (attributes, index + 1) }
            let nameStart = index
            while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ">") { index += 1 }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).lowercased()
            while index < bytes.count, isSpace(bytes[index]) { index += 1 }
            var value = ""
            if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                index += 1
                while index < bytes.count, isSpace(bytes[index]) { index += 1 }
                if index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") {
                    let quote = bytes[index]
                    let valueStart = index + 1
                    let valueEnd = bytes[valueStart...].firstIndex(of: quote) ?? bytes.count
                    value = String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self)
                    index = min(bytes.count, valueEnd + 1)
                } else {
                    let valueStart = index
                    while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: ">") { index += 1 }
                    value = String(decoding: bytes[valueStart..<index], as: UTF8.self)
                }
            }
            if !name.isEmpty, attributes[name] == nil { attributes[name] = value }
        }
        return (attributes, index)
    }

    /// The first place at or after `from` where `needle` (lowercase ASCII) occurs, ignoring ASCII case.
    public static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard needle.count <= bytes.count, from <= bytes.count - needle.count else { return nil }
        var index = from
        let first = needle[0]
        while index <= bytes.count - needle.count {
            if bytes[index] | 0x20 == first || bytes[index] == first {
                var matched = true
                for offset in 1..<needle.count {
                    let byte = bytes[index + offset]
                    let lowered = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                    if lowered != needle[offset] { matched = false; break }
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    // MARK: - Cleaning

    /// Entities decoded, every run of whitespace (and control characters) one space, trimmed.
    public static func clean(_ text: String) -> String {
        let decoded = HTMLEntities.decode(text)
        var result = ""
        var pendingSpace = false
        for scalar in decoded.unicodeScalars {
            // Format characters (soft hyphens, bidi marks) go, but not the joiners inside emoji and Indic words.
            let joiner = scalar == "\u{200C}" || scalar == "\u{200D}"
            if scalar.properties.generalCategory == .format && !joiner { continue }
            if scalar.properties.isWhitespace || scalar.properties.generalCategory == .control {
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace { result.unicodeScalars.append(" ") }
            pendingSpace = false
            result.unicodeScalars.append(scalar)
        }
        return result
    }

    /// "How X works | Example Blog" → "How X works". A " | ", " · " or " :: " tail of at most
    /// five words is a site's name; a " - ", " – " or " — " tail only when it names the site
    /// (its `og:site_name` or its host), since "Feature flags - explained" is all title.
    public static func trimmingSiteName(_ title: String, siteName: String?, host: String?) -> String {
        let strong = [" | ", " · ", " :: ", " // "]
        let weak = [" - ", " – ", " — "]
        func key(_ text: String) -> String { text.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(String.init).joined() }
        let hostLabel: String? = host.map { host in
            let domain = PublicSuffixList.bundled.registrableDomain(of: host) ?? host
            return key(String(domain.split(separator: ".").first ?? Substring(domain)))
        }
        func namesSite(_ tail: String) -> Bool {
            let tailKey = key(tail)
            guard !tailKey.isEmpty else { return false }
            if let siteName, key(siteName) == tailKey { return true }
            if let hostLabel, hostLabel.count >= 3, tailKey.contains(hostLabel) || hostLabel.contains(tailKey) { return true }
            return false
        }
        var best: (range: Range<String.Index>, strong: Bool)?
        for separator in strong + weak {
            if let range = title.range(of: separator, options: .backwards), best.map({ range.lowerBound > $0.range.lowerBound }) ?? true {
                best = (range, strong.contains(separator))
            }
        }
        guard let (range, isStrong) = best else { return title }
        let head = String(title[..<range.lowerBound]).trimmingCharacters(in: .whitespaces)
        let tail = String(title[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        guard head.count >= 3 else { return title }
        if namesSite(tail) || (isStrong && tail.split(separator: " ").count <= 5) { return head }
        return title
    }

    /// At most `maximumLength` characters, cut after a whole word.
    public static func capped(_ title: String) -> String {
        guard title.count > maximumLength else { return title }
        let prefix = title.prefix(maximumLength - 1)
        let cut = prefix.lastIndex(of: " ").map { prefix[..<$0] } ?? prefix
        let kept = cut.count >= maximumLength / 2 ? cut : prefix
        return kept.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ",;:-–—|"))) + "…"
    }
}

/// HTML character references: numeric ones and the named ones that appear in titles.
public enum HTMLEntities {
    static let named: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{A0}", "ndash": "–", "mdash": "—",
        "hellip": "…", "lsquo": "‘", "rsquo": "’", "ldquo": "“", "rdquo": "”", "laquo": "«", "raquo": "»",
        "middot": "·", "bull": "•", "copy": "©", "reg": "®", "trade": "™", "eacute": "é", "egrave": "è",
        "ecirc": "ê", "aacute": "á", "agrave": "à", "acirc": "â", "auml": "ä", "ouml": "ö", "uuml": "ü",
        "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü", "szlig": "ß", "ccedil": "ç", "ntilde": "ñ", "oacute": "ó",
        "iacute": "í", "uacute": "ú", "euro": "€", "pound": "£", "yen": "¥", "times": "×", "shy": "\u{AD}",
        "thinsp": "\u{2009}", "ensp": "\u{2002}", "emsp": "\u{2003}", "zwj": "\u{200D}", "zwnj": "\u{200C}",
        "rarr": "→", "larr": "←", "hearts": "♥", "deg": "°", "frac12": "½", "sect": "§", "para": "¶",
    ]

    public static func decode(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "&", let semicolon = text[index...].prefix(34).firstIndex(of: ";") else {
                result.append(character)
                index = text.index(after: index)
                continue
            }
            let name = text[text.index(after: index)..<semicolon]
            if let value = reference(String(name)) {
                result += value
                index = text.index(after: semicolon)
            } else {
                result.append(character)
                index = text.index(after: index)
            }
        }
        return result
    }

    private static func reference(_ name: String) -> String? {
        if name.hasPrefix("#") {
            let digits = name.dropFirst()
            // Only digits (or x and hex digits): UInt32 would also take a sign, as in `&#+65;`.
            let hex = digits.first == "x" || digits.first == "X"
            let number = hex ? digits.dropFirst() : digits
            guard !number.isEmpty, number.unicodeScalars.allSatisfy({ hex ? $0.properties.isASCIIHexDigit : ("0"..."9").contains($0) }) else { return nil }
            let value = UInt32(number, radix: hex ? 16 : 10)
            guard let value, value != 0, let scalar = Unicode.Scalar(value) else { return value == nil ? nil : "\u{FFFD}" }
            return String(Character(scalar))
        }
        return named[name]
    }
}
