import AtomicOutput
import Foundation

/// An output folder written under a hidden name beside its final path and renamed into place only when complete,
/// so an error or Ctrl-C never leaves a half-written output (the hidden folder is removed then; on a signal, by
/// `InterruptCleanup`). Use with `defer { staged.discardUnlessCommitted() }`, which also keeps it alive to the end
/// of the scope.
final class StagedOutputFolder {
    let finalPath: String
    /// Where files go until `commit()`.
    let path: String
    private let overwrite: Bool
    private let outputExtensions: Set<String>
    private var committed = false

    /// Creates the hidden folder (exit 1 when it cannot).
    /// - Parameter outputExtensions: the extensions of every file the command may write there (in any run, any
    ///   format): with `overwrite`, a folder holding only such files is an earlier output and may be replaced.
    init(_ finalPath: String, overwrite: Bool, outputExtensions: Set<String>) throws {
        self.finalPath = finalPath
        self.overwrite = overwrite
        self.outputExtensions = outputExtensions
        path = AtomicOutput.temporaryPath(for: finalPath)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            printError("\(finalPath): cannot create the output folder (\(error.localizedDescription))")
            throw Exit.failure
        }
    }

    /// Renames the finished folder to the final path. Without `--overwrite` an existing path is refused here, at
    /// the rename (it may have appeared while the command ran); with it, only an earlier output of the same kind
    /// is replaced (see `checkReplaceable`).
    func commit() throws {
        if overwrite { try checkReplaceable(finalPath, outputExtensions: outputExtensions) }
        try AtomicOutput.commit(path, to: finalPath, replace: overwrite)
        committed = true
    }

    /// `commit()`, or exit 1 with a one-line message; then `alsoWritten` (outputs completed before the folder, such
    /// as a `--video`) are removed, so a failed run leaves no final output.
    func commitOrExit(removingOnFailure alsoWritten: [String] = []) throws {
        do { try commit() } catch {
            for path in alsoWritten { try? FileManager.default.removeItem(atPath: path) }
            printError((error as? AtomicOutputError)?.description
                       ?? "\(finalPath): cannot complete the output (\(error.localizedDescription))")
            throw Exit.failure
        }
    }

    func discardUnlessCommitted() {
        if !committed { AtomicOutput.discard(path) }
    }
}

/// `-y` replaces an earlier output, never something else that happens to stand at the path: an existing folder is
/// replaced only when it holds nothing but plain files of the kinds the command writes (flow files, mask PNGs),
/// so `-o ~ -y` or a pipeline's `overwrite: true` cannot delete a folder of other things.
func checkReplaceable(_ finalPath: String, outputExtensions kinds: Set<String>) throws {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: finalPath, isDirectory: &isFolder) else { return }
    guard isFolder.boolValue else {
        throw AtomicOutputError(path: finalPath, reason: "is a file, not an earlier output folder; -y replaces only those", kind: .exists)
    }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: finalPath)) ?? [] {
        var entryIsFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: "\(finalPath)/\(name)", isDirectory: &entryIsFolder)
        if entryIsFolder.boolValue || !kinds.contains((name as NSString).pathExtension) {
            throw AtomicOutputError(path: finalPath, reason: "holds \(name), which this command does not write; -y replaces only an earlier output (remove it yourself)", kind: .exists)
        }
    }
}

/// `INPUT_BASENAME.SUFFIX` in the input's folder: where a command's output folder goes by default.
func defaultOutputFolder(for input: String, suffix: String) -> String {
    let url = URL(fileURLWithPath: input)
    return url.deletingLastPathComponent().appendingPathComponent(url.deletingPathExtension().lastPathComponent + "." + suffix).path
}

/// Refuses, before any work, to replace an existing path unless allowed (exit 1). The check that counts is at the
/// final rename (an output created meanwhile is refused there too); this one only saves the work.
func checkOutputFree(_ path: String, overwrite: Bool) throws {
    if FileManager.default.fileExists(atPath: path) && !overwrite {
        printError("\(path): already exists; pass -y/--overwrite to replace it")
        throw Exit.failure
    }
}
