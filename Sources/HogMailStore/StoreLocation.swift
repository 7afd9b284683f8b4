import Foundation
import HogMail

extension SubscriberStore {
    /// The project's store as hogmail.yml names it: the SQLite file (`store.path`, or
    /// `store.url: sqlite:FILE`), or the PostgreSQL server of `store.url`, with the password from
    /// the variable `store.password_env` names. Local files of a server store (the log of
    /// accepted messages) stay in the project's folder.
    public static func open(_ project: Project, _ configuration: Configuration,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SubscriberStore {
        guard let url = configuration.storeServerURL else {
            return try SubscriberStore(path: project.storePath(configuration))
        }
        return try SubscriberStore(postgres: try serverLocation(url, configuration, environment: environment),
                                   localFolder: project.directory.appendingPathComponent(".hogmail").path)
    }

    /// The store if it exists already: an SQLite file not made yet means nothing was ever sent
    /// (nil); a server store always exists once configured.
    public static func openIfExisting(_ project: Project, _ configuration: Configuration,
                                      environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SubscriberStore? {
        if configuration.storeServerURL == nil, !FileManager.default.fileExists(atPath: project.storePath(configuration)) { return nil }
        return try open(project, configuration, environment: environment)
    }

    static func serverLocation(_ url: String, _ configuration: Configuration, environment: [String: String]) throws -> PostgresLocation {
        var password: String?
        if let variable = configuration.storePasswordEnvironmentVariable {
            guard let value = environment[variable], !value.isEmpty else {
                throw HogMailError(file: configuration.path, "`store.password_env` names the environment variable \(variable), which is not set. Set it to the PostgreSQL password (export \(variable)=…) before running HogMail.")
            }
            password = value
        }
        do {
            return try PostgresLocation(url: url, password: password)
        } catch {
            throw HogMailError(file: configuration.path, line: configuration.storeURLLine, "`store.url`: \(error)")
        }
    }
}

extension SubscriberStore {
    /// The key of the send lock on a PostgreSQL store ("hogsend" in ASCII).
    static let sendLockKey: Int64 = 0x68_6F67_7365_6E64

    /// On PostgreSQL, the store-wide send lock: held by one sender at a time, dropped by the
    /// server when that sender's process dies. `.failure` says who holds it.
    public func takeServerSendLock() throws -> Result<PostgresSessionLock, PostgresSessionLock.Held> {
        guard let server = engine as? PostgresStoreDatabase else {
            preconditionFailure("The server send lock is PostgreSQL's; an SQLite store locks a file beside it.")
        }
        return try server.takeSessionLock(Self.sendLockKey)
    }
}
