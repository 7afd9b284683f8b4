import Foundation

/// A plain TCP client for requests no polite HTTP client sends: a foreign Host, a body in the
/// wrong encoding, bytes trickled one at a time.
final class RawConnection {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// False once the server has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Everything the server sends until it closes the connection or goes quiet.
    func readAll() -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return result }
            result += buffer[0..<count]
        }
    }

    /// True when the server closed its side (a read returns end of file).
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }

    /// One request, `Connection: close`; the status and the whole answer. The blocking socket
    /// calls run on a thread of their own: on Swift's cooperative pool (two threads here) they
    /// would starve the server under test.
    static func request(port: Int, _ head: String, body: [UInt8] = []) async throws -> (status: Int, text: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingRequest(port: port, head, body: body) })
            }
        }
    }

    static func blockingRequest(port: Int, _ head: String, body: [UInt8]) throws -> (status: Int, text: String) {
        let connection = try RawConnection(port: port)
        connection.send(Array((head + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n").utf8) + body)
        let text = String(decoding: connection.readAll(), as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, text)
    }
}
