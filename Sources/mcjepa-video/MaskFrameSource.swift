import Foundation
import VideoIO

/// Where `propagate` and `segment` get frames: a video, or a folder of still frames (e.g. a DAVIS
/// `JPEGImages/480p/<seq>` folder), each frame with the name its mask file takes.
enum MaskFrameSource {
    case video(VideoReader)
    /// Image files (.jpg, .jpeg, .png) in name order.
    case images([URL])

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// A folder's images, or else a video; prints the one-line error and throws exit 3 when neither opens.
    static func open(_ path: String, threads: Int) throws -> MaskFrameSource {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let images = names.filter { !$0.hasPrefix(".") && imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted().map { URL(fileURLWithPath: path).appendingPathComponent($0) }
            guard !images.isEmpty else {
                printError("\(path): no frames in the folder (expected .jpg or .png images)")
                throw Exit.badInput
            }
            return .images(images)
        }
        do {
            return .video(try VideoReader(path: path, options: DecodeOptions(threads: threads)))
        } catch let error as VideoIOError {
            printError(error.description)
            throw Exit.badInput
        }
    }

    /// Frame count for the progress bar, when known.
    var expectedFrames: Int? {
        switch self {
        case .video(let reader): return reader.info.metadataFrameCount
        case .images(let urls): return urls.count
        }
    }

    /// Frames so far -> the next frame and its mask's file name without extension: the video frame's index as
    /// %06d, or the image's own name (so masks of a DAVIS folder are named as its annotations are).
    func next(after count: Int) throws -> (name: String, frame: VideoFrame)? {
        switch self {
        case .video(let reader):
            return try reader.nextFrame().map { (String(format: "%06d", $0.index), $0) }
        case .images(let urls):
            guard count < urls.count else { return nil }
            let image = try readImage(path: urls[count].path)
            return (urls[count].deletingPathExtension().lastPathComponent,
                    VideoFrame(width: image.width, height: image.height, rgb: image.rgb, index: count))
        }
    }

    /// Options for the annotated video: the input's timing, or the encoder's default frame rate (30 fps) for a
    /// folder of frames.
    var encodeOptions: EncodeOptions {
        var options: EncodeOptions
        switch self {
        case .video(let reader): options = .matching(reader.info)
        case .images: options = EncodeOptions()
        }
        options.codec = .h264(crf: 20, preset: "veryfast")
        return options
    }
}
