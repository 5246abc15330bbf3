import Foundation

/// An output folder written under a hidden name beside its final path and renamed into place only when complete,
/// so an error or Ctrl-C never leaves a half-written output (the hidden folder is removed then).
/// Use with `defer { staged.discardUnlessCommitted() }`, which also keeps it alive to the end of the scope.
final class StagedOutputFolder {
    let finalPath: String
    /// Where files go until `commit()`.
    let path: String
    private let interruptCleanup: InterruptCleanup
    private var committed = false

    /// Creates the hidden folder (exit 1 when it cannot).
    init(_ finalPath: String) throws {
        self.finalPath = finalPath
        path = temporarySibling(of: finalPath)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            printError("\(finalPath): cannot create the output folder (\(error.localizedDescription))")
            throw Exit.failure
        }
        interruptCleanup = InterruptCleanup(removing: path)
    }

    /// Replaces whatever stands at the final path (the caller has checked `--overwrite`) with the finished folder.
    func commit() throws {
        if FileManager.default.fileExists(atPath: finalPath) { try FileManager.default.removeItem(atPath: finalPath) }
        try FileManager.default.moveItem(atPath: path, toPath: finalPath)
        committed = true
    }

    /// `commit()`, or exit 1 with a one-line message.
    func commitOrExit() throws {
        do { try commit() } catch {
            printError("\(finalPath): cannot complete the output (\(error.localizedDescription))")
            throw Exit.failure
        }
    }

    func discardUnlessCommitted() {
        interruptCleanup.cancel()
        if !committed { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// `INPUT_BASENAME.SUFFIX` in the input's folder: where a command's output folder goes by default.
func defaultOutputFolder(for input: String, suffix: String) -> String {
    let url = URL(fileURLWithPath: input)
    return url.deletingLastPathComponent().appendingPathComponent(url.deletingPathExtension().lastPathComponent + "." + suffix).path
}

/// Refuses to replace an existing path unless allowed (exit 1); with `overwrite` it is replaced only when the new
/// output is complete.
func checkOutputFree(_ path: String, overwrite: Bool) throws {
    if FileManager.default.fileExists(atPath: path) && !overwrite {
        printError("\(path): already exists; pass -y/--overwrite to replace it")
        throw Exit.failure
    }
}

/// A hidden name beside `path` for writing before the final rename (same folder, so the rename is atomic).
func temporarySibling(of path: String) -> String {
    let url = URL(fileURLWithPath: path)
    return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
}
