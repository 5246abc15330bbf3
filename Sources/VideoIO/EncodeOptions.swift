/// How a `VideoWriter` encodes: codec, timing, and display metadata.
public struct EncodeOptions: Sendable {
    public enum Codec: Sendable, Equatable {
        /// H.264 (libx264) in the container the path's extension names (mp4, mov, mkv), always yuv420p so every
        /// player can show it. Odd widths or heights are padded to even by repeating the last column or row:
        /// no input pixel is lost, and the output is one pixel wider or taller.
        case h264(crf: Int = 18, preset: String = "medium")
        /// Lossless FFV1 (bgr0, level 3) — use a .mkv path. Decodes back to exactly the pixels written.
        case ffv1
        /// A PNG image sequence. The path is a pattern like `out/%06d.png` or a directory (then `%06d.png`
        /// inside it); files are numbered from `firstImageNumber`.
        case png
    }

    public var codec: Codec
    /// Nominal frames per second: spacing of frames written without timestamps, and the stream's rate tag.
    public var frameRate: Rational
    /// Units of the timestamps in the file; nil uses 1 / frameRate. Pass the input's time base to keep its
    /// timestamps exactly (see `matching(_:codec:)`).
    public var timeBase: Rational?
    /// Clockwise degrees (0, 90, 180, 270) players turn the picture to show it, stored as a display matrix
    /// (mp4/mov). The pixels are written as given.
    public var rotation: Int
    /// Pixel aspect ratio stored in the stream; 1:1 for square pixels.
    public var sampleAspectRatio: Rational
    /// Encoder threads.
    public var threads: Int
    /// Number of the first file of a PNG sequence (ffmpeg's image2 convention is 1).
    public var firstImageNumber: Int
    /// Most frames between keyframes (H.264 GOP size); nil leaves the encoder's default (250 for libx264).
    /// Shorter intervals make seeking cheaper.
    public var keyframeInterval: Int?

    public init(codec: Codec = .h264(), frameRate: Rational = Rational(30, 1), timeBase: Rational? = nil,
                rotation: Int = 0, sampleAspectRatio: Rational = Rational(1, 1), threads: Int = 2,
                firstImageNumber: Int = 1) {
        self.codec = codec
        self.frameRate = frameRate
        self.timeBase = timeBase
        self.rotation = rotation
        self.sampleAspectRatio = sampleAspectRatio
        self.threads = threads
        self.firstImageNumber = firstImageNumber
    }

    /// Options that keep an input's timing: its time base and frame rate, so `write(_ frame:)` of the frames a
    /// `VideoReader` produced keeps their timestamps (shifted so the first is 0).
    public static func matching(_ info: VideoInfo, codec: Codec = .h264()) -> EncodeOptions {
        let rate = info.averageFrameRate.isValid ? info.averageFrameRate
            : (info.realFrameRate.isValid ? info.realFrameRate : Rational(30, 1))
        return EncodeOptions(codec: codec, frameRate: rate,
                             timeBase: info.timeBase.isValid ? info.timeBase : nil)
    }

    var effectiveTimeBase: Rational { timeBase ?? frameRate.inverted }
}
