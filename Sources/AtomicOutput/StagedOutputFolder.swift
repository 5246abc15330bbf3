import Foundation

/// An output folder written under a hidden name beside its final path and renamed into place only when complete,
/// so an error or Ctrl-C never leaves a half-written output (the hidden folder is removed then; on a signal, by
/// `InterruptCleanup`). Use with `defer { staged.discardUnlessCommitted() }`, which also keeps it alive to the end
/// of the scope.
public final class StagedOutputFolder {
    public let finalPath: String
    /// Where files go until `commit()`.
    public let path: String
    private let overwrite: Bool
    private let outputExtensions: Set<String>
    private var committed = false

    /// Creates the hidden folder.
    /// - Parameter outputExtensions: the extensions of every file the command may write there (in any run, any
    ///   format): with `overwrite`, a folder holding only such files is an earlier output and may be replaced.
    /// - Throws: `AtomicOutputError` (`.io`) naming `finalPath` when the folder cannot be created.
    public init(_ finalPath: String, overwrite: Bool, outputExtensions: Set<String>) throws {
        self.finalPath = finalPath
        self.overwrite = overwrite
        self.outputExtensions = outputExtensions
        path = AtomicOutput.temporaryPath(for: finalPath)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw AtomicOutputError(path: finalPath, reason: "cannot create the output folder (\(error.localizedDescription))",
                                    kind: .io)
        }
    }

    /// Renames the finished folder to the final path. Without `overwrite` an existing path is refused here, at
    /// the rename (it may have appeared while the command ran); with it, only an earlier output of the same kind
    /// is replaced (see `checkReplaceable`). On failure `alsoWritten` (outputs completed before the folder, such
    /// as a rendered video) are removed, so a failed run leaves no final output.
    /// - Throws: `AtomicOutputError` naming the final path.
    public func commit(removingOnFailure alsoWritten: [String] = []) throws {
        do {
            if overwrite { try Self.checkReplaceable(finalPath, outputExtensions: outputExtensions) }
            try AtomicOutput.commit(path, to: finalPath, replace: overwrite)
            committed = true
        } catch {
            for path in alsoWritten { try? FileManager.default.removeItem(atPath: path) }
            throw error as? AtomicOutputError
                ?? AtomicOutputError(path: finalPath, reason: "cannot complete the output (\(error.localizedDescription))", kind: .io)
        }
    }

    public func discardUnlessCommitted() {
        if !committed { AtomicOutput.discard(path) }
    }

    /// `-y` replaces an earlier output, never something else that happens to stand at the path: an existing folder
    /// is replaced only when it holds nothing but plain files of the kinds the command writes (flow files, mask
    /// PNGs), so `-o ~ -y` or a pipeline's `overwrite: true` cannot delete a folder of other things.
    /// - Throws: `AtomicOutputError` (`.exists`) saying what stands in the way.
    public static func checkReplaceable(_ finalPath: String, outputExtensions kinds: Set<String>) throws {
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

    /// `INPUT_BASENAME.SUFFIX` in the input's folder: where a command's output folder goes by default. An image
    /// pattern (`frames/%06d.png`) names its frames, not the input: its output is named after its folder
    /// (`frames.SUFFIX`), as a folder of frames' is.
    public static func defaultPath(besides input: String, suffix: String) -> String {
        var url = URL(fileURLWithPath: input)
        if url.lastPathComponent.contains("%") { url = url.deletingLastPathComponent() }
        return url.deletingLastPathComponent().appendingPathComponent(url.deletingPathExtension().lastPathComponent + "." + suffix).path
    }
}

extension AtomicOutput {
    /// Refuses, before any work, to replace an existing path unless allowed. The check that counts is at the final
    /// rename (an output created meanwhile is refused there too); this one only saves the work.
    /// - Throws: `AtomicOutputError` (`.exists`) naming `path`.
    public static func checkFree(_ path: String, overwrite: Bool) throws {
        if FileManager.default.fileExists(atPath: path) && !overwrite {
            throw AtomicOutputError(path: path, reason: "already exists; pass -y/--overwrite to replace it", kind: .exists)
        }
    }
}
