import Foundation

/// Writes a build's files so that readers never see half of it: everything goes to a
/// staging folder beside the output first, then each issue folder and top-level file
/// is renamed into place.
struct OutputWriter {
    var directory: URL

    /// `remove`: issue folders that must no longer be here (an issue made a draft again).
    func write(folders: [String: [(String, Data)]], topLevel: [(String, Data)], remove: [String] = []) throws {
        let manager = FileManager.default
        let shown = directory.path
        do {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw HogMailError(file: shown, "The output folder cannot be created: \(Self.reason(error)). Choose another folder with `--out DIR` or fix the permissions.")
        }
        let staging = directory.appendingPathComponent(".hogmail-staging-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        defer { try? manager.removeItem(at: staging) }
        do {
            try manager.createDirectory(at: staging, withIntermediateDirectories: false)
            for (folder, files) in folders {
                let folderURL = staging.appendingPathComponent(folder)
                try manager.createDirectory(at: folderURL, withIntermediateDirectories: true)
                for (name, data) in files { try data.write(to: folderURL.appendingPathComponent(name)) }
                try keepEarlierImages(of: folder, in: folderURL)
            }
            for (name, data) in topLevel { try data.write(to: staging.appendingPathComponent(name)) }
        } catch {
            throw HogMailError(file: shown, "The output folder cannot be written: \(Self.reason(error)). Nothing was changed in it. Choose another folder with `--out DIR` or fix the permissions.")
        }
        do {
            for folder in folders.keys.sorted() {
                let target = directory.appendingPathComponent(folder)
                let old = staging.appendingPathComponent(".old-\(folder)")
                if manager.fileExists(atPath: target.path) { try manager.moveItem(at: target, to: old) }
                try manager.moveItem(at: staging.appendingPathComponent(folder), to: target)
            }
            for folder in remove where !folders.keys.contains(folder) {
                let target = directory.appendingPathComponent(folder)
                if manager.fileExists(atPath: target.path) {
                    try manager.moveItem(at: target, to: staging.appendingPathComponent(".old-\(folder)"))
                }
            }
            for (name, _) in topLevel {
                // rename(2) replaces the old file atomically.
                if rename(staging.appendingPathComponent(name).path, directory.appendingPathComponent(name).path) != 0 {
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
            }
        } catch {
            throw HogMailError(file: shown, "The new output could not be moved into place: \(Self.reason(error)).")
        }
    }

    /// An image of an earlier build stays beside the new one: emails already sent link its
    /// old name, and a hashed name promises caches that it never changes.
    func keepEarlierImages(of folder: String, in staged: URL) throws {
        let manager = FileManager.default
        let current = directory.appendingPathComponent(folder)
        guard let names = try? manager.contentsOfDirectory(atPath: current.path) else { return }
        for name in names where name.range(of: LocalImages.hashedNamePattern, options: .regularExpression) != nil {
            let target = staged.appendingPathComponent(name)
            let source = current.appendingPathComponent(name)
            guard !manager.fileExists(atPath: target.path),
                  (try? manager.attributesOfItem(atPath: source.path)[.type] as? FileAttributeType) == .typeRegular else { continue }
            try manager.copyItem(at: source, to: target)
        }
    }

    static func reason(_ error: Error) -> String {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}
