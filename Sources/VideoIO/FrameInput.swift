import Foundation

/// Where frames come from: a video file (or an ffmpeg image pattern such as `frames/%06d.png`, which FFmpeg's
/// image2 demuxer reads as a video), or a list of image files (an image pair, or a folder of frames sorted by name).
///
/// A source is a description, not an open file: `frames(_:)` opens it anew for each iteration, so a pipeline can
/// read the same source twice (the second frame of a pair far ahead of the first) without holding the frames
/// in between.
///
/// ```swift
/// let source = try FrameInput(inputs: ["clip.mp4"])          // or ["a.png", "b.png"], or ["frames/"]
/// for try await frame in source.frames(DecodeOptions()) { print(frame.index, source.name(ofFrame: frame.index)) }
/// ```
public enum FrameInput: Sendable, Equatable {
    /// Anything FFmpeg opens as a video: a file, or a printf-style image pattern.
    case video(path: String)
    /// Two still images, frames 0 and 1.
    case imagePair(String, String)
    /// A folder's still images sorted by name (`images`: their paths), each one frame, and each frame's outputs
    /// named as its image.
    case folder(path: String, images: [String])

    /// Extensions of the still images a folder contributes.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp", "ppm"]
    /// Frames per second given to still images (what `start`/`duration` count in, and a rendered video's rate).
    public static let imageFrameRate: Int32 = 30

    /// One input: a folder (its images sorted by name), a pattern or a video file. Two inputs: an image pair.
    /// - Throws: `VideoIOError` when a folder holds no images or the inputs are neither one nor two paths.
    public init(inputs: [String]) throws {
        switch inputs.count {
        case 1:
            let path = inputs[0]
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                let images = names.filter { !$0.hasPrefix(".") && Self.isImage($0) }.sorted()
                guard !images.isEmpty else {
                    throw VideoIOError(path: path, operation: "cannot open",
                                       message: "no frames in the folder (expected .jpg or .png images)")
                }
                self = .folder(path: path, images: images.map { URL(fileURLWithPath: path).appendingPathComponent($0).path })
            } else {
                self = .video(path: path)
            }
        case 2:
            self = .imagePair(inputs[0], inputs[1])
        default:
            throw VideoIOError(path: inputs.joined(separator: " "), operation: "cannot open",
                               message: "give one video, pattern or folder of frames, or two images")
        }
    }

    static func isImage(_ name: String) -> Bool {
        imageExtensions.contains((name as NSString).pathExtension.lowercased())
    }

    /// What to name outputs of frame `index` (counted from `start`): an image's own name without extension when
    /// the source is a folder of frames, else the index as %06d.
    public func name(ofFrame index: Int, options: DecodeOptions = .init()) -> String {
        if case .folder(_, let paths) = self {
            let position = index + firstImage(options)
            if position < paths.count { return URL(fileURLWithPath: paths[position]).deletingPathExtension().lastPathComponent }
        }
        return String(format: "%06d", index)
    }

    /// The path errors about the whole source should name.
    public var displayPath: String {
        switch self {
        case .video(let path): return path
        case .imagePair(let first, let second): return "\(first), \(second)"
        case .folder(let path, _): return path
        }
    }

    /// Still images are timed `imageFrameRate` frames per second, so `start`/`duration` select them as they
    /// would a video's frames.
    private var imagePaths: [String] {
        switch self {
        case .video: return []
        case .imagePair(let first, let second): return [first, second]
        case .folder(_, let images): return images
        }
    }

    private func firstImage(_ options: DecodeOptions) -> Int {
        Int((max(0, options.start) * Double(Self.imageFrameRate) - 1e-6).rounded(.up))
    }

    /// Positions (in `paths`) of the images inside [start, start + duration).
    private func imageRange(count: Int, _ options: DecodeOptions) -> Range<Int> {
        let first = min(count, firstImage(options))
        guard let duration = options.duration else { return first..<count }
        let end = Int(((max(0, options.start) + max(0, duration)) * Double(Self.imageFrameRate) - 1e-6).rounded(.up))
        return first..<max(first, min(count, end))
    }

    /// Opens the source for one pass over its frames.
    /// - Throws: `VideoIOError` naming the file when it cannot be opened.
    public func open(_ options: DecodeOptions) throws -> FrameReader {
        switch self {
        case .video(let path):
            return FrameReader(video: try VideoReader(path: path, options: options))
        case .imagePair, .folder:
            let paths = imagePaths
            return FrameReader(images: Array(paths[imageRange(count: paths.count, options)]), size: options.size)
        }
    }

    /// The frames as an `AsyncSequence`; each iteration opens the source again.
    public func frames(_ options: DecodeOptions) -> InputFrames { InputFrames(source: self, options: options) }
}

/// One pass over a `FrameInput`'s frames: `next()` decodes one frame.
public final class FrameReader {
    private let video: VideoReader?
    private let images: [String]
    private let size: DecodeOptions.OutputSize
    private var position = 0

    init(video: VideoReader) {
        self.video = video
        images = []
        size = .native
    }

    init(images: [String], size: DecodeOptions.OutputSize) {
        video = nil
        self.images = images
        self.size = size
    }

    /// The video's headers; nil for still images.
    public var info: VideoInfo? { video?.info }

    /// How many frames the pass should deliver, for progress and ETA (nil when the file does not say).
    public var expectedFrames: Int? {
        guard let video else { return images.count }
        let info = video.info, options = video.options
        let rate = info.averageFrameRate.isValid ? info.averageFrameRate.doubleValue : 0
        guard rate > 0, info.duration > 0 else { return info.metadataFrameCount }
        let seconds = min(options.duration ?? .infinity, max(0, info.duration - options.start))
        return max(1, Int((seconds * rate).rounded()))
    }

    /// Encoder options that keep the source's timing (still images: `FrameInput.imageFrameRate` fps).
    public var encodeOptions: EncodeOptions {
        if let info { return .matching(info) }
        return EncodeOptions(frameRate: Rational(FrameInput.imageFrameRate, 1))
    }

    /// The next frame, or nil after the last.
    /// - Throws: `VideoIOError` naming the file that cannot be read or decoded.
    public func next() throws -> VideoFrame? {
        if let video { return try video.nextFrame() }
        guard position < images.count else { return nil }
        defer { position += 1 }
        var image = try readImage(path: images[position])
        if case .maxSide(let side) = size, max(image.width, image.height) > side {
            image = image.resized(maxSide: side)
        } else if case .exact(let width, let height) = size, (width, height) != (image.width, image.height) {
            image = image.resized(width: width, height: height)
        }
        let rate = Rational(1, FrameInput.imageFrameRate)
        return VideoFrame(width: image.width, height: image.height, rgb: image.rgb, index: position,
                          pts: Int64(position), timeBase: rate)
    }
}

/// A `FrameInput`'s frames as a Sendable `AsyncSequence` (so it can feed a `buffer`): the source is opened
/// when iteration starts.
public struct InputFrames: AsyncSequence, Sendable {
    public typealias Element = VideoFrame
    public let source: FrameInput
    public let options: DecodeOptions

    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: FrameInput
        let options: DecodeOptions
        var reader: FrameReader?

        public mutating func next() async throws -> VideoFrame? {
            if reader == nil { reader = try source.open(options) }
            return try reader!.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source, options: options) }
}

extension RGBImage {
    /// Shrunk (bilinear, never enlarged) so the longer side is at most `maxSide`, keeping the aspect ratio.
    func resized(maxSide: Int) -> RGBImage {
        let scale = Double(maxSide) / Double(max(width, height))
        return resized(width: max(1, Int((Double(width) * scale).rounded())),
                       height: max(1, Int((Double(height) * scale).rounded())))
    }

    /// Bilinear resampling to `newWidth` x `newHeight` (pixel centres aligned).
    func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        let sx = Double(width) / Double(newWidth), sy = Double(height) / Double(newHeight)
        for y in 0..<newHeight {
            let fy = max(0, min(Double(height - 1), (Double(y) + 0.5) * sy - 0.5))
            let y0 = Int(fy), y1 = min(height - 1, y0 + 1), wy = fy - Double(y0)
            for x in 0..<newWidth {
                let fx = max(0, min(Double(width - 1), (Double(x) + 0.5) * sx - 0.5))
                let x0 = Int(fx), x1 = min(width - 1, x0 + 1), wx = fx - Double(x0)
                for c in 0..<3 {
                    let top = Double(rgb[(y0 * width + x0) * 3 + c]) * (1 - wx) + Double(rgb[(y0 * width + x1) * 3 + c]) * wx
                    let bottom = Double(rgb[(y1 * width + x0) * 3 + c]) * (1 - wx) + Double(rgb[(y1 * width + x1) * 3 + c]) * wx
                    out[(y * newWidth + x) * 3 + c] = UInt8(max(0, min(255, (top * (1 - wy) + bottom * wy).rounded())))
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, rgb: out)
    }
}
