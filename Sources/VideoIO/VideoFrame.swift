/// One decoded picture, upright and converted to packed 8-bit RGB, with its timing.
public struct VideoFrame: Sendable {
    public var width: Int
    public var height: Int
    /// Packed RGB24, row stride `width * 3`, top row first.
    public var rgb: [UInt8]
    /// 0-based position among the frames decoded from the start point (after `start` seeking, the first frame
    /// delivered has index 0).
    public var index: Int
    /// Presentation timestamp in `timeBase` units, as stored in the file.
    public var pts: Int64
    public var timeBase: Rational
    /// Presentation time in seconds from the start of the video stream (the stream's start time is 0).
    public var seconds: Double

    public init(width: Int, height: Int, rgb: [UInt8], index: Int = 0, pts: Int64 = 0,
                timeBase: Rational = Rational(1, 30), seconds: Double? = nil) {
        precondition(rgb.count == width * height * 3, "rgb must hold width * height * 3 bytes")
        self.width = width
        self.height = height
        self.rgb = rgb
        self.index = index
        self.pts = pts
        self.timeBase = timeBase
        self.seconds = seconds ?? Double(pts) * timeBase.doubleValue
    }

    /// The pixel as (r, g, b); `x` is the column, `y` the row.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (rgb[i], rgb[i + 1], rgb[i + 2])
    }

    /// The picture as planar float in [0, 1], channel-major (CHW: all R, then all G, then all B), the layout
    /// network inputs use.
    public func planarFloat() -> [Float] {
        let plane = width * height
        return [Float](unsafeUninitializedCapacity: plane * 3) { out, count in
            rgb.withUnsafeBufferPointer { src in
                let scale: Float = 1 / 255
                for i in 0..<plane {
                    out[i] = Float(src[3 * i]) * scale
                    out[plane + i] = Float(src[3 * i + 1]) * scale
                    out[2 * plane + i] = Float(src[3 * i + 2]) * scale
                }
            }
            count = plane * 3
        }
    }

    /// The picture without timing, e.g. for `writePNG`.
    public var image: RGBImage { RGBImage(width: width, height: height, rgb: rgb) }
}

/// Two frames `stride` apart: `first` is frame i, `second` frame i + stride.
public struct FramePair: Sendable {
    public var first: VideoFrame
    public var second: VideoFrame

    public init(first: VideoFrame, second: VideoFrame) {
        self.first = first
        self.second = second
    }
}

/// A still picture in packed 8-bit RGB (row stride `width * 3`).
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "rgb must hold width * height * 3 bytes")
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}
