import CCurlShim
import Foundation

/// A small blocking HTTP client over one libcurl easy handle (its connection is kept
/// between requests). Each client runs on its own queue; a pool of them gives parallel connections.
final class HTTPClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    private let handle: UnsafeMutableRawPointer
    let queue = DispatchQueue(label: "hogmail-http")
    var timeout: TimeInterval = 30

    init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        handle = curl_easy_init()!
    }

    deinit { curl_easy_cleanup(handle) }

    private final class Exchange {
        var body = Data()
        var headers: [String: String] = [:]
        let upload: [UInt8]
        var offset = 0
        /// The most body bytes taken; past it the transfer is aborted (CURLE_WRITE_ERROR).
        var limit = Int.max
        init(upload: [UInt8]) { self.upload = upload }
    }

    private static let write: hogmail_curl_data_callback = { buffer, size, count, userdata in
        let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
        guard exchange.body.count + size * count <= exchange.limit else { return 0 }
        exchange.body.append(UnsafeRawPointer(buffer!).assumingMemoryBound(to: UInt8.self), count: size * count)
        return size * count
    }

    private static let header: hogmail_curl_data_callback = { buffer, size, count, userdata in
        let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
        if let colon = line.firstIndex(of: ":") {
            exchange.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return size * count
    }

    private static let read: hogmail_curl_data_callback = { buffer, size, count, userdata in
        let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
        let length = min(size * count, exchange.upload.count - exchange.offset)
        exchange.upload.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer!).copyMemory(from: source.baseAddress! + exchange.offset, byteCount: length)
        }
        exchange.offset += length
        return length
    }

    /// POSTs `body`; throws `DeliveryError.temporary` when no HTTP answer came back.
    func post(url: String, headers: [String: String], body: Data) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                let exchange = Exchange(upload: Array(body))
                let pointer = Unmanaged.passUnretained(exchange).toOpaque()
                var list: UnsafeMutablePointer<curl_slist>? = nil
                for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
                list = curl_slist_append(list, "Expect:")
                defer { curl_slist_free_all(list) }
                hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, url)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_POST, 1)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE_LARGE, body.count)
                hogmail_curl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, Self.read)
                hogmail_curl_easy_setopt_pointer(handle, CURLOPT_READDATA, pointer)
                hogmail_curl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Self.write)
                hogmail_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer)
                hogmail_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Self.header)
                hogmail_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer)
                hogmail_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                hogmail_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                let result = curl_easy_perform(handle)
                hogmail_curl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
                guard result == CURLE_OK else {
                    continuation.resume(throwing: DeliveryError.temporary("\(String(cString: curl_easy_strerror(result))) (libcurl \(result.rawValue))"))
                    return
                }
                var status = 0
                hogmail_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
                continuation.resume(returning: Response(status: status, headers: exchange.headers, body: exchange.body))
            }
        }
    }

    /// GETs `url` with no redirects and over http(s) only; a body over `maximumBytes` is an
    /// error. Throws `DeliveryError.temporary` when no whole answer came back.
    func get(url: String, maximumBytes: Int) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                let exchange = Exchange(upload: [])
                exchange.limit = maximumBytes
                let pointer = Unmanaged.passUnretained(exchange).toOpaque()
                hogmail_curl_easy_setopt_string(handle, CURLOPT_URL, url)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
                hogmail_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                hogmail_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_MAXFILESIZE_LARGE, maximumBytes)
                hogmail_curl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, Self.write)
                hogmail_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer)
                hogmail_curl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, Self.header)
                hogmail_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer)
                hogmail_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                hogmail_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                let result = curl_easy_perform(handle)
                guard result == CURLE_OK else {
                    let why = result == CURLE_WRITE_ERROR || result == CURLE_FILESIZE_EXCEEDED
                        ? "the answer is larger than \(maximumBytes) bytes" : String(cString: curl_easy_strerror(result))
                    continuation.resume(throwing: DeliveryError.temporary("\(why) (libcurl \(result.rawValue))"))
                    return
                }
                var status = 0
                hogmail_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
                continuation.resume(returning: Response(status: status, headers: exchange.headers, body: exchange.body))
            }
        }
    }
}

/// One GET, for what HogMail fetches now and then (an SNS signing certificate, a subscription
/// confirmation link): a fresh connection, a short timeout, a bounded answer.
public enum HTTPFetch {
    public struct Answer: Sendable {
        public var status: Int
        public var body: Data
    }

    public static func get(_ url: String, timeout: TimeInterval = 10, maximumBytes: Int = 64 * 1024) async throws -> Answer {
        let client = HTTPClient()
        client.timeout = timeout
        let response = try await client.get(url: url, maximumBytes: maximumBytes)
        return Answer(status: response.status, body: response.body)
    }
}
