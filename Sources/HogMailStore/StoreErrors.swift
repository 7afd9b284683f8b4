import Foundation
import GRDB
import HogMail

/// A database failure said for the person at the terminal: what happened to the store and
/// what to do, never an SQLite result code and statement.
public enum StoreErrors {
    public static func sentence(for error: any Error, storePath: String? = nil) -> String? {
        if let error = error as? StoreCopy.Failure { return error.description }
        if let error = error as? StoreEngineError {
            switch error {
            case .statement(let state, _) where state?.hasPrefix("53") == true || state?.hasPrefix("57") == true || state?.hasPrefix("08") == true:
                // Out of resources, shut down, connection exceptions: the server's state, not HogMail's.
                return "\(error) The PostgreSQL server is overloaded, restarting or unreachable; nothing was half-written. Run the command again when it is back."
            case .statement:
                return "\(error) Nothing was half-written; if it happens again, report it with the command you ran."
            default:
                return error.description
            }
        }
        guard let error = error as? DatabaseError else { return nil }
        let store = storePath.map { "The subscriber store \($0)" } ?? "The subscriber store"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return "\(store) is busy: another hogmail process is writing to it. Wait for it to finish, then run the command again."
        case .SQLITE_READONLY:
            return "\(store) is read-only. Give the user running hogmail write access to the file and its folder."
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return "\(store) is damaged or is not a HogMail store. Restore it from a backup, or point `store.path` in hogmail.yml at the right file."
        case .SQLITE_FULL:
            return "The disk that holds the subscriber store is full. Free some space, then run the command again; nothing was half-written."
        case .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_PERM:
            return "\(store) cannot be read or written (\(error.message ?? "input/output error")). Check the file, its folder and their permissions."
        default:
            return "\(store) refused an operation (\(error.message ?? "SQLite result \(error.resultCode.rawValue)")). Nothing was half-written; if it happens again, report it with the command you ran."
        }
    }
}
