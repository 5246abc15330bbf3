import Foundation
import Segmentation
import VideoIO

/// Where per-frame masks go (`propagate`, `segment`): a DAVIS palette PNG per frame, FOLDER/<name>.png, and with
/// `video` the frame with its mask drawn over it (MaskOverlay) at the frame's own timestamp, so the video keeps
/// the input's timing. All frames must have one size.
public final class MaskOutput {
    public let folder: URL
    public let videoPath: String?
    private let encodeOptions: EncodeOptions
    private let replace: Bool
    private let name: (Int) -> String
    private var writer: VideoWriter?
    private var size: (width: Int, height: Int)?
    public private(set) var framesWritten = 0
    /// Weight of the mask colours in the video's fill (outlines are solid).
    public var overlayOpacity: Float = 0.5
    /// Ids listed in a legend in the video's top-left corner (colour swatch and number); empty: none.
    public var legend: [UInt8] = []

    /// - Parameter replace: false refuses a `video` that exists when the finished video is renamed into place.
    public init(folder: String, video: String?, encodeOptions: EncodeOptions, replace: Bool = true,
                name: @escaping (Int) -> String) {
        self.folder = URL(fileURLWithPath: folder)
        self.replace = replace
        videoPath = video
        self.encodeOptions = encodeOptions
        self.name = name
    }

    public var videoFrameCount: Int { writer?.frameCount ?? 0 }

    /// Writes frame `frame`'s mask (`ids`: an object id per pixel).
    /// - Throws: `VideoIOError` naming the input when the frame's size changes, or the video when it cannot be written.
    public func write(frame: VideoFrame, ids: [UInt8], input: String) throws {
        if let size, size != (frame.width, frame.height) {
            throw VideoIOError(path: input, operation: "size change", message:
                "frame \(frame.index) is \(frame.width)x\(frame.height), earlier frames \(size.width)x\(size.height)")
        }
        size = (frame.width, frame.height)
        try DAVISMasks.write(ids, width: frame.width, height: frame.height,
                             path: folder.appendingPathComponent("\(name(frame.index)).png").path)
        if let videoPath {
            if writer == nil {
                writer = try VideoWriter(path: videoPath, width: frame.width, height: frame.height,
                                         options: VideoPipeline.encodeOptions(forPath: videoPath, matching: encodeOptions),
                                         replace: replace)
            }
            var drawn = MaskOverlay.draw(rgb: frame.rgb, width: frame.width, height: frame.height, labels: ids,
                                         opacity: overlayOpacity)
            MaskOverlay.drawLegend(rgb: &drawn, width: frame.width, height: frame.height, ids: legend)
            try writer?.write(VideoFrame(width: frame.width, height: frame.height, rgb: drawn, index: frame.index,
                                         pts: frame.pts, timeBase: frame.timeBase, seconds: frame.seconds),
                              imageNumber: frame.index)
        }
        framesWritten += 1
    }

    /// Completes the video (renamed into place only now).
    public func finish() throws { try writer?.finish() }
}
