import AtomicOutput
import CFFmpeg
import Foundation

/// Writes frames as numbered PNG files. They go to a hidden temporary folder next to the destination and are
/// moved into place by `finish()`, so an interrupted sequence leaves nothing under the final names.
final class ImageSequenceEncoder {
    /// printf-style pattern of the final files, e.g. `out/%06d.png`.
    private let pattern: String
    private let destinationFolder: String
    private let temporaryFolder: String
    private var nextNumber: Int
    private var fileNames: [String] = []
    private var finished = false
    private let encoder: FFmpegImageEncoder
    private let replace: Bool

    /// `path` is a pattern with one `%d`-style number (`out/%06d.png`) or a folder (files `%06d.png` inside);
    /// `replace: false` refuses to move a file over an existing one of the same name.
    init(path: String, firstNumber: Int, replace: Bool = true) throws {
        self.replace = replace
        pattern = path.contains("%") ? path : (path as NSString).appendingPathComponent("%06d.png")
        let folder = (pattern as NSString).deletingLastPathComponent
        destinationFolder = folder.isEmpty ? "." : folder
        nextNumber = firstNumber
        encoder = try FFmpegImageEncoder(format: .png)
        guard fileName(pattern: pattern, number: 0) != nil else {
            throw VideoIOError(path: path, operation: "cannot create",
                               message: "image pattern needs exactly one number like %06d")
        }
        temporaryFolder = AtomicOutput.temporaryPath(for: destinationFolder)
        do {
            try FileManager.default.createDirectory(atPath: temporaryFolder, withIntermediateDirectories: true)
        } catch {
            throw VideoIOError(path: path, operation: "cannot create", message: "cannot create folder next to it")
        }
    }

    deinit {
        AtomicOutput.discard(temporaryFolder)
    }

    /// Encodes the next file, numbered `number` or else one after the previous.
    func encode(rgb: [UInt8], width: Int, height: Int, number: Int? = nil) throws {
        let name = fileName(pattern: pattern, number: number ?? nextNumber)!
        nextNumber = (number ?? nextNumber) + 1
        let bytes: [UInt8]
        do {
            bytes = try encoder.encode(pixels: rgb, width: width, height: height, pixelFormat: AV_PIX_FMT_RGB24)
        } catch let error as VideoIOError {
            throw VideoIOError(path: name, operation: error.operation, code: error.code, message: error.message)
        }
        try writeAtomically(bytes, to: "\(temporaryFolder)/\(name)")
        fileNames.append(name)
    }

    /// Moves the files into the destination folder (created if missing).
    func finish() throws {
        do {
            try FileManager.default.createDirectory(atPath: destinationFolder, withIntermediateDirectories: true)
        } catch {
            throw VideoIOError(path: pattern, operation: "cannot create", message: "cannot create the folder")
        }
        for name in fileNames {
            let destination = "\(destinationFolder)/\(name)"
            do {
                try AtomicOutput.commit("\(temporaryFolder)/\(name)", to: destination, replace: replace)
            } catch let error as AtomicOutputError {
                throw VideoIOError(path: destination, operation: "cannot write", message: error.reason)
            }
        }
        AtomicOutput.discard(temporaryFolder)
    }
}

/// The file name (no folder) of image `number` under a printf-style `pattern`, via FFmpeg's
/// `av_get_frame_filename2` so patterns mean what they mean to the ffmpeg CLI; nil for a bad pattern.
private func fileName(pattern: String, number: Int) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    guard av_get_frame_filename2(&buffer, Int32(buffer.count), pattern, Int32(number), 0) == 0 else { return nil }
    return (String(cString: buffer) as NSString).lastPathComponent
}
