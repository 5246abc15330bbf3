/// How a `VideoReader` decodes: threads, output size, and the time range.
public struct DecodeOptions: Sendable {
    /// The size frames come out at. All sizes are of the upright picture (after rotation).
    public enum OutputSize: Sendable, Equatable {
        /// The display size: rotation applied, non-square pixels stretched to square ones.
        case native
        /// The display size shrunk (never enlarged) so its longer side is at most this many pixels, keeping the
        /// aspect ratio.
        case maxSide(Int)
        /// Exactly this size, whatever the aspect ratio.
        case exact(width: Int, height: Int)
    }

    /// Decoder threads (`AVCodecContext.thread_count`).
    public var threads: Int
    public var size: OutputSize
    /// Seconds from the start of the stream to begin at. The reader seeks to the keyframe before and drops frames
    /// until this time (accurate seek), so the first frame is the first one shown at or after `start`, with the
    /// pixels a pass from the beginning gives it. Where a seek lands late or on a frame decoding cannot start from
    /// (MPEG program streams, falsely marked keyframes), the reader seeks further back, at worst to the beginning.
    public var start: Double
    /// Seconds to decode from `start`; nil decodes to the end. Frames shown before `start + duration` are kept.
    public var duration: Double?
    /// Stretch non-square pixels (sample aspect ratio other than 1:1) so the picture has its display proportions,
    /// as players show it. False keeps the stored width (rotation is still applied).
    public var squarePixels: Bool

    public init(threads: Int = 2, size: OutputSize = .native, start: Double = 0, duration: Double? = nil,
                squarePixels: Bool = true) {
        self.threads = threads
        self.size = size
        self.start = start
        self.duration = duration
        self.squarePixels = squarePixels
    }

    /// The common case of limiting the inference resolution: `.maxSide(n)`.
    public init(threads: Int = 2, maxSide: Int, start: Double = 0, duration: Double? = nil) {
        self.init(threads: threads, size: .maxSide(maxSide), start: start, duration: duration)
    }
}

/// Sizes of one picture on its way from the decoder to an upright RGB frame.
struct FrameGeometry: Equatable {
    /// Clockwise degrees (0, 90, 180, 270) the decoded picture is turned to stand upright.
    var rotation: Int
    /// Size swscale produces (before rotation).
    var scaledWidth: Int
    var scaledHeight: Int
    /// Size of the upright output frame.
    var outputWidth: Int { rotation % 180 == 0 ? scaledWidth : scaledHeight }
    var outputHeight: Int { rotation % 180 == 0 ? scaledHeight : scaledWidth }

    /// The display size of a `width` x `height` picture with sample aspect ratio `sar` turned by `rotation`.
    static func displaySize(width: Int, height: Int, sar: Rational, rotation: Int) -> (width: Int, height: Int) {
        var w = width
        if sar.isValid, sar.num != sar.den {
            // Stretch the width, as players do, so that pixels come out square.
            w = max(1, Int((Double(width) * sar.doubleValue).rounded()))
        }
        return rotation % 180 == 0 ? (w, height) : (height, w)
    }

    init(width: Int, height: Int, sar: Rational, rotation: Int, size: DecodeOptions.OutputSize) {
        self.rotation = rotation
        let display = Self.displaySize(width: width, height: height, sar: sar, rotation: rotation)
        var out = display
        switch size {
        case .native:
            break
        case .maxSide(let side):
            let longer = max(display.width, display.height)
            if side > 0, longer > side {
                let scale = Double(side) / Double(longer)
                out = (max(1, Int((Double(display.width) * scale).rounded())),
                       max(1, Int((Double(display.height) * scale).rounded())))
            }
        case .exact(let w, let h):
            out = (max(1, w), max(1, h))
        }
        if rotation % 180 == 0 {
            (scaledWidth, scaledHeight) = (out.width, out.height)
        } else {
            (scaledWidth, scaledHeight) = (out.height, out.width)
        }
    }
}
