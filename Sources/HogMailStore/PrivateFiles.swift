import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that hold subscribers' data (the store, its log, the outbox's messages with their
/// unsubscribe links) are for the owner only: folders HogMail creates are 0700, files 0600.
/// Modes are set with chmod after creating, so a permissive umask cannot widen them.
public enum PrivateFiles {
    public static let directoryMode: mode_t = 0o700
    public static let fileMode: mode_t = 0o600

    /// Creates the folder and any missing parents, each 0700. Folders that exist keep their mode:
    /// the person who made them chose it.
    public static func createDirectory(at url: URL) throws {
        var missing: [String] = []
        var current = url.standardizedFileURL.path
        while !current.isEmpty, current != "/", !FileManager.default.fileExists(atPath: current) {
            missing.append(current)
            current = (current as NSString).deletingLastPathComponent
        }
        for path in missing.reversed() {
            if mkdir(path, directoryMode) == 0 {
                chmod(path, directoryMode)
            } else if errno != EEXIST {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
    }

    /// Creates an empty 0600 file at `path` unless one exists; true when it was created.
    @discardableResult
    public static func createFile(atPath path: String) throws -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        fchmod(descriptor, fileMode)
        close(descriptor)
        return true
    }

    /// Writes `bytes` to a file that must not exist yet, created 0600.
    public static func write(_ bytes: [UInt8], toNewFileAtPath path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        fchmod(descriptor, fileMode)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                posixWrite(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            written += result
        }
    }

    /// The permission bits of the file at `path`, or nil when it does not exist.
    public static func mode(ofPath path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// Takes every permission away from others (the world) on an existing file; the owner's
    /// and the group's stay.
    public static func closeToOthers(_ path: String) {
        if let mode = mode(ofPath: path), mode & 0o007 != 0 { chmod(path, mode & ~0o007) }
    }
}

/// `write(2)`, out of reach of `PrivateFiles.write`'s name.
private func posixWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, pointer, count)
}
