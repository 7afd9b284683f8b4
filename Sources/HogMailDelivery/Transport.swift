import Foundation
import HogMail
import HogMailStore

/// One message for one recipient, ready to hand to a transport.
public struct OutgoingMessage: Sendable {
    /// The list's From address (SES's `FromEmailAddress`).
    public var from: String
    /// The envelope sender (SMTP `MAIL FROM`, SES's `FeedbackForwardingEmailAddress`): the bounce
    /// address, with a per-message VERP token during a send. Nil means `from`.
    public var returnPath: String?
    /// Envelope recipient: one per message, so each carries its own unsubscribe link.
    public var to: String
    public var messageID: String
    /// The RFC 5322 message, CRLF line ends, as the bytes that go on the wire: in pieces, the
    /// template's shared parts referred to, not copied (SMTP writes them as they are).
    public var wire: WireMessage
    /// `wire` in one buffer (made on each read: for a transport that writes it whole). Setting
    /// it replaces the message, and what was known of the old one's lines with it.
    public var data: [UInt8] {
        get { wire.joined() }
        set { wire = WireMessage(newValue) }
    }
    /// From this offset on, no line of the message starts with "." (the assembler knows it of
    /// its quoted-printable parts), so SMTP looks for lines to dot-stuff only before it, in the
    /// headers. Nil: the whole message is looked at.
    public var dotFreeFrom: Int? {
        get { wire.dotFreeFrom }
        set { wire.dotFreeFrom = newValue }
    }
    /// Records the message as sent. A transport calls it on its own thread the moment the
    /// server accepted the message, before that connection carries another one, so a crash
    /// repeats at most the messages on the wire; the sender calls it after `send` returns for
    /// a transport that does not (it runs once either way). What it throws reaches the sender
    /// as a `JournalFailure`: the message is out, so it must not be tried again.
    public var accepted: (@Sendable () throws -> Void)?
    /// Records the message as sent without waiting, where a line is a round trip (a server
    /// store): `done` is called from another thread once the line is committed, or with what
    /// failed. A transport with an event loop uses it in place of `accepted`, and sends nothing
    /// more on that connection until `done`; the others go on meanwhile. Nil: use `accepted`.
    public var acceptedLater: (@Sendable (_ done: @escaping @Sendable ((any Error)?) -> Void) -> Void)?

    public init(from: String, returnPath: String? = nil, to: String, messageID: String, wire: WireMessage) {
        self.from = from
        self.returnPath = returnPath
        self.to = to
        self.messageID = messageID
        self.wire = wire
    }

    public init(from: String, returnPath: String? = nil, to: String, messageID: String, data: [UInt8]) {
        self.init(from: from, returnPath: returnPath, to: to, messageID: messageID, wire: WireMessage(data))
    }

    public init(from: String, returnPath: String? = nil, to: String, messageID: String, data: String) {
        self.init(from: from, returnPath: returnPath, to: to, messageID: messageID, data: Array(data.utf8))
    }

    /// The message as text (it is UTF-8 throughout).
    public var text: String { String(decoding: data, as: UTF8.self) }
}

/// The server accepted a message but the journal could not record it: the send must stop
/// rather than try the message again.
public struct JournalFailure: Error, CustomStringConvertible {
    public let underlying: any Error
    public init(_ underlying: any Error) { self.underlying = underlying }
    public var description: String { "\(underlying)" }
}

/// Where messages go: the outbox folder, an SMTP server, or an HTTP email API.
public protocol Transport: Sendable {
    var name: String { get }
    /// How many messages it can carry at once (its connections).
    var parallelism: Int { get }
    func send(_ message: OutgoingMessage) async throws
    /// Hands a message over without waiting: its outcome goes to `outcomes` under `tag`, from
    /// whatever thread finished it. The sender keeps many messages submitted this way and
    /// collects their outcomes in batches, with no task per message.
    func submit(_ message: OutgoingMessage, tag: Int, to outcomes: SendOutcomes)
}

extension Transport {
    public var parallelism: Int { 1 }

    /// A task per message around `send`, for transports without a queue of their own; the
    /// message is journaled after `send` returns (`accepted` runs once either way).
    public func submit(_ message: OutgoingMessage, tag: Int, to outcomes: SendOutcomes) {
        Task {
            do {
                try await send(message)
            } catch {
                outcomes.deliver(tag: tag, error: error)
                return
            }
            do { try message.accepted?() } catch {
                outcomes.deliver(tag: tag, error: JournalFailure(error))
                return
            }
            outcomes.deliver(tag: tag, error: nil)
        }
    }
}

/// The outcomes of submitted messages, passed from a transport's threads to the sender. The
/// sender sleeps until enough of its messages are done (`lowWater` or fewer still out) or one
/// failed, then takes every outcome that arrived in one batch: one wake-up for several
/// messages instead of a task and a wake-up for each.
public final class SendOutcomes: @unchecked Sendable {
    public typealias Outcome = (tag: Int, error: (any Error)?)
    private let lock = NSLock()
    // All under `lock`:
    private var ready: [Outcome] = []
    private var outstanding = 0
    private var failed = false
    private var lowWater = 0
    private var waiter: CheckedContinuation<[Outcome], Never>?

    public init() {}

    /// Messages submitted and not yet finished.
    public var count: Int { lock.withLock { outstanding } }

    /// Called before a message is submitted.
    public func expect() { lock.withLock { outstanding += 1 } }

    /// A transport's report: `error` nil when the message was accepted (and journaled).
    public func deliver(tag: Int, error: (any Error)?) {
        let wake = lock.withLock { () -> (CheckedContinuation<[Outcome], Never>, [Outcome])? in
            outstanding -= 1
            ready.append((tag, error))
            if error != nil { failed = true }
            guard let waiter, failed || outstanding <= lowWater else { return nil }
            self.waiter = nil
            return (waiter, take())
        }
        wake.map { $0.0.resume(returning: $0.1) }
    }

    /// Waits until at most `lowWater` messages are still out, or one failed, and returns every
    /// outcome that arrived. Only call it with messages out or outcomes waiting.
    public func next(lowWater: Int) async -> [Outcome] {
        await withCheckedContinuation { continuation in
            let batch = lock.withLock { () -> [Outcome]? in
                if !ready.isEmpty && (failed || outstanding <= lowWater || outstanding == 0) { return take() }
                self.lowWater = lowWater
                waiter = continuation
                return nil
            }
            batch.map { continuation.resume(returning: $0) }
        }
    }

    /// Under `lock`.
    private func take() -> [Outcome] {
        let batch = ready
        ready.removeAll(keepingCapacity: true)
        failed = false
        return batch
    }
}

/// The default transport: each message becomes an `.eml` file in a folder, so everything
/// can be tried with no server. Files are written to a temporary name and renamed. A message
/// carries its reader's address and unsubscribe link: files are 0600, a folder HogMail
/// creates is 0700.
public struct OutboxTransport: Transport {
    public let directory: URL
    public var name: String { "outbox (\(directory.path))" }

    public init(directory: URL) { self.directory = directory }

    public func send(_ message: OutgoingMessage) async throws {
        let manager = FileManager.default
        do {
            if !manager.fileExists(atPath: directory.path) { try PrivateFiles.createDirectory(at: directory) }
            let base = message.messageID.trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
                .map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "@" ? String($0) : "_" }.joined()
            let target = directory.appendingPathComponent("\(base).eml")
            let temporary = directory.appendingPathComponent(".\(base).\(UUID().uuidString.prefix(8)).tmp")
            do { try PrivateFiles.write(message.data, toNewFileAtPath: temporary.path) } catch {
                unlink(temporary.path)
                throw error
            }
            if rename(temporary.path, target.path) != 0 {
                unlink(temporary.path)
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        } catch {
            throw HogMailError(file: directory.path, "The outbox cannot be written: \(error.localizedDescription). Check `transport.outbox.path` in hogmail.yml and the folder's permissions.")
        }
    }
}

extension OutboxTransport {
    /// The `.eml` files in the outbox that contain `address` (in any case): what `forget`
    /// cannot erase from the store, because they are messages already handed over.
    public func messages(containing address: String) throws -> [URL] {
        let needle = Data(address.lowercased().utf8)
        guard !needle.isEmpty, FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw HogMailError(file: directory.path, "The outbox cannot be listed: \(error.localizedDescription). Check the folder's permissions.")
        }
        return try names.filter { $0.hasSuffix(".eml") }.sorted().compactMap { name in
            let url = directory.appendingPathComponent(name)
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw HogMailError(file: url.path, "This outbox file cannot be read: \(error.localizedDescription). Check its permissions.")
            }
            // ASCII lower-casing: addresses in headers are ASCII, and the bytes may not be UTF-8.
            let lowered = Data(data.map { (65...90).contains($0) ? $0 + 32 : $0 })
            return lowered.range(of: needle) == nil ? nil : url
        }
    }
}

extension Configuration {
    /// `transport.outbox.path`, relative to the project folder unless absolute.
    public func outboxDirectory(projectDirectory: URL) -> URL {
        outboxPath.hasPrefix("/") ? URL(fileURLWithPath: outboxPath) : projectDirectory.appendingPathComponent(outboxPath)
    }

    /// The transport `hogmail.yml` chooses, relative paths against the project folder.
    public func transport(projectDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Transport {
        switch transportKind {
        case "outbox":
            return OutboxTransport(directory: outboxDirectory(projectDirectory: projectDirectory))
        case "smtp":
            guard let smtp else {
                throw HogMailError(file: self.path, "`transport.kind` is smtp, but there is no `transport.smtp` section with its `url`.")
            }
            var password: String?
            if let variable = smtp.passwordEnvironmentVariable, smtp.username != nil {
                guard let value = environment[variable], !value.isEmpty else {
                    throw HogMailError(file: self.path, "The SMTP password is read from the environment variable \(variable), which is not set. Set it (export \(variable)=…) or remove `username` for a server without AUTH.")
                }
                password = value
            }
            var settings = SMTPTransport.Settings(url: smtp.url, tls: .init(rawValue: smtp.tls) ?? .required, username: smtp.username,
                                                  password: password, connections: smtp.connections, heloDomain: list.from.domain)
            settings.passwordVariable = password == nil ? nil : smtp.passwordEnvironmentVariable
            settings.caFile = try smtp.caFile.map { try caFile($0, line: smtp.caFileLine, projectDirectory: projectDirectory) }
            return try SMTPTransport(settings: settings)
        case "ses":
            guard let ses else {
                throw HogMailError(file: self.path, "`transport.kind` is ses, but there is no `transport.ses` section with its `region`.")
            }
            func secret(_ variable: String) throws -> String {
                guard let value = environment[variable], !value.isEmpty else {
                    throw HogMailError(file: self.path, "The SES credentials are read from the environment variable \(variable), which is not set. Set it (export \(variable)=…); keys never go in hogmail.yml.")
                }
                return value
            }
            return try SESTransport(settings: .init(region: ses.region, endpoint: ses.endpoint,
                                                    accessKeyID: try secret(ses.accessKeyIDEnvironmentVariable),
                                                    secretAccessKey: try secret(ses.secretAccessKeyEnvironmentVariable),
                                                    connections: smtp?.connections ?? 4))
        default:
            throw HogMailError(file: self.path, "`transport.kind` is `\(transportKind)`; use outbox, smtp or ses.")
        }
    }
}

private extension Configuration {
    /// `transport.smtp.ca_file` as an absolute path, checked now: a CA file that is missing or
    /// holds no certificate is a line of hogmail.yml to fix, not a failure at the first message.
    func caFile(_ path: String, line: Int?, projectDirectory: URL) throws -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : projectDirectory.appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw HogMailError(file: self.path, line: line, "`transport.smtp.ca_file` is `\(path)`, and there is no such file (\(url.path)). Point it at the PEM file with your mail server's CA certificate, relative to the project folder or absolute.")
        }
        guard !isDirectory.boolValue else {
            throw HogMailError(file: self.path, line: line, "`transport.smtp.ca_file` is `\(path)`, which is a folder. Point it at the PEM file with your mail server's CA certificate.")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw HogMailError(file: self.path, line: line, "`transport.smtp.ca_file` is `\(path)`, which cannot be read: \(error.localizedDescription). Check its permissions: the user running HogMail must be able to read it.")
        }
        // libcurl (OpenSSL) reads PEM only; a DER file or a key would fail at the first message.
        guard data.range(of: Data("-----BEGIN CERTIFICATE-----".utf8)) != nil else {
            throw HogMailError(file: self.path, line: line, "`transport.smtp.ca_file` is `\(path)`, which holds no PEM certificate (a block starting `-----BEGIN CERTIFICATE-----`). Use the CA's certificate in PEM form; `openssl x509 -inform der -in CA.cer -out ca.pem` converts a DER file.")
        }
        return url.path
    }
}
