import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nothing half-written: files are written under a temporary name unique to this process, then renamed.
enum AtomicFile {
    /// Temporary sibling of `path`; the pid keeps two workers that race on one file from sharing a temp file.
    static func temporaryPath(for path: String) -> String {
        "\(path).tmp-\(getpid())"
    }

    /// rename(2): atomic on one file system, and replaces an existing target (unlike FileManager.moveItem).
    static func commit(_ temporary: String, to path: String) throws {
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw DatasetError.output(path: path, reason: "cannot rename into place: \(reason)")
        }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryPath(for: path)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw DatasetError.output(path: path, reason: "cannot write (\(temporary))")
        }
        try commit(temporary, to: path)
    }
}
