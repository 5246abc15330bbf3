import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Nothing half-written, nothing clobbered: every output of the tool is written under one kind of temporary name
// beside its final path (same folder, so the rename is atomic), then renamed into place. A final output is
// renamed with "no replace" semantics (Linux renameat2 RENAME_NOREPLACE, macOS renamex_np RENAME_EXCL), so an
// output another process created while the command ran is refused at the rename, not only at the start.
// Temporary paths are registered until committed or discarded, so an interrupt can remove them all
// (`removeAllTemporaries`).

/// An output that could not be written or renamed into place: names the final path and the cause.
public struct AtomicOutputError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case exists, io }
    public let path: String
    public let reason: String
    public let kind: Kind
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String, kind: Kind) {
        self.path = path
        self.reason = reason
        self.kind = kind
    }
}

public enum AtomicOutput {
    /// `.NAME.tmp-PID-RANDOM` beside `path`: hidden, unique to this process and call, registered for removal
    /// on interrupt until `commit` or `discard`.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        TemporaryRegistry.shared.add(temporary)
        return temporary
    }

    /// Whether `name` (a file name, no folder) is a temporary of an output named `finalName`, from any process.
    public static func isTemporary(_ name: String, of finalName: String) -> Bool {
        name.hasPrefix(".\(finalName).tmp-")
    }

    /// Whether `name` is any temporary this scheme makes.
    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains(".tmp-")
    }

    /// Writes `bytes` to a temporary file and renames it to `path`. Every write error (a full disk included) is
    /// reported, and the temporary removed.
    /// - Parameter replace: false refuses an existing `path` at the rename (kind `.exists`).
    public static func write(_ bytes: some Collection<UInt8>, to path: String, replace: Bool = true) throws {
        let temporary = temporaryPath(for: path)
        do {
            try writeFile(bytes, to: temporary, reportingAs: path)
            try commit(temporary, to: path, replace: replace)
        } catch {
            discard(temporary)
            throw error
        }
    }

    /// Renames a finished temporary file or folder to `path`: with `replace`, an existing file is replaced
    /// atomically and an existing folder is swapped out and then removed; without, an existing `path` is refused
    /// (kind `.exists`) and the temporary is left for the caller to discard.
    public static func commit(_ temporary: String, to path: String, replace: Bool) throws {
        if replace {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                // rename(2) only replaces an empty folder: move the old one aside first, remove it afterwards.
                let aside = temporaryPath(for: path)
                guard rename(path, aside) == 0 else { throw failure(path, "cannot move the old output aside") }
                guard rename(temporary, path) == 0 else {
                    let error = failure(path, "cannot rename into place")
                    _ = rename(aside, path)
                    TemporaryRegistry.shared.remove(aside)
                    throw error
                }
                discard(aside)
            } else if rename(temporary, path) != 0 {
                throw failure(path, "cannot rename into place")
            }
        } else {
            try renameNoReplace(temporary, path)
        }
        TemporaryRegistry.shared.remove(temporary)
    }

    /// `.scratch-PID-RANDOM.EXT` in `folder`: a working file that keeps its extension (FFmpeg chooses image
    /// decoders by it), registered like a temporary so an interrupt removes it; `discard` it after use.
    public static func scratchPath(in folder: String, extension ext: String) -> String {
        let path = "\(folder)/.scratch-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).\(ext)"
        TemporaryRegistry.shared.add(path)
        return path
    }

    /// Removes the scratch files in `folder` left by processes that no longer run (killed with SIGKILL, which no
    /// handler sees); `legacyPrefix` names an older scheme `PREFIX<pid>-...` to clean up as well.
    public static func removeScratchOfDeadProcesses(in folder: String, legacyPrefix: String? = nil) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            let prefix = name.hasPrefix(".scratch-") ? ".scratch-" : legacyPrefix.flatMap { name.hasPrefix($0) ? $0 : nil }
            guard let prefix, let pid = Int32(name.dropFirst(prefix.count).prefix { $0.isNumber }) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: "\(folder)/\(name)")
            }
        }
    }

    /// Removes a temporary file or folder (and forgets it).
    public static func discard(_ temporary: String) {
        try? FileManager.default.removeItem(atPath: temporary)
        TemporaryRegistry.shared.remove(temporary)
    }

    /// Removes every temporary this process has not committed or discarded: for a signal handler, so an
    /// interrupt leaves no hidden partial output behind. Returns how many were removed.
    @discardableResult
    public static func removeAllTemporaries() -> Int {
        let paths = TemporaryRegistry.shared.all()
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
        return paths.count
    }

    // MARK: - System calls

    private static func failure(_ path: String, _ what: String, code: Int32 = errno) -> AtomicOutputError {
        if code == EEXIST || code == ENOTEMPTY {
            return AtomicOutputError(path: path, reason: "already exists (created while this command ran); pass -y/--overwrite to replace it", kind: .exists)
        }
        return AtomicOutputError(path: path, reason: "\(what): \(String(cString: strerror(code)))", kind: .io)
    }

    private static func writeFile(_ bytes: some Collection<UInt8>, to temporary: String, reportingAs path: String) throws {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure(path, "cannot create") }
        let result: Int32? = bytes.withContiguousStorageIfAvailable { buffer in writeAll(fd, buffer) }
            ?? Array(bytes).withUnsafeBufferPointer { writeAll(fd, $0) }
        let writeErrno = result ?? 0
        // close() reports errors a network or full file system delays until then.
        let closed = close(fd) == 0 ? 0 : errno
        if writeErrno != 0 { throw failure(path, "cannot write", code: writeErrno) }
        if closed != 0 { throw failure(path, "cannot write", code: closed) }
    }

    /// write(2) until done; 0, or the errno of the failure.
    private static func writeAll(_ fd: Int32, _ buffer: UnsafeBufferPointer<UInt8>) -> Int32 {
        var written = 0
        while written < buffer.count {
            #if canImport(Glibc)
            let n = Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            #else
            let n = Darwin.write(fd, buffer.baseAddress! + written, buffer.count - written)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += n
        }
        return 0
    }

    #if canImport(Glibc)
    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc 2.28+ has renameat2, but Swift's Glibc module does not export it (it needs _GNU_SOURCE).
    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()
    #endif

    private static func renameNoReplace(_ temporary: String, _ path: String) throws {
        #if canImport(Glibc)
        let renameNoReplaceFlag: UInt32 = 1 // RENAME_NOREPLACE
        if let renameat2 {
            if renameat2(AT_FDCWD, temporary, AT_FDCWD, path, renameNoReplaceFlag) == 0 { return }
            // Some file systems do not support the flag; fall back below only then.
            if errno != EINVAL && errno != ENOSYS { throw failure(path, "cannot rename into place") }
        }
        #elseif canImport(Darwin)
        if renamex_np(temporary, path, UInt32(RENAME_EXCL)) == 0 { return }
        if errno != ENOTSUP { throw failure(path, "cannot rename into place") }
        #endif
        // Fallback: link(2) refuses an existing target atomically, for files; a folder is checked just before.
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: temporary, isDirectory: &isFolder)
        if isFolder.boolValue {
            if FileManager.default.fileExists(atPath: path) { throw failure(path, "", code: EEXIST) }
            guard rename(temporary, path) == 0 else { throw failure(path, "cannot rename into place") }
        } else {
            guard link(temporary, path) == 0 else { throw failure(path, "cannot rename into place") }
            unlink(temporary)
        }
    }
}

/// The temporaries not yet committed or discarded, for removal on interrupt. A mutex, because the signal handler
/// runs on another thread than the writers.
final class TemporaryRegistry: Sendable {
    static let shared = TemporaryRegistry()
    private let paths = Mutex(Set<String>())

    func add(_ path: String) { paths.withLock { _ = $0.insert(path) } }
    func remove(_ path: String) { paths.withLock { _ = $0.remove(path) } }
    func all() -> [String] { paths.withLock { Array($0) } }
}
