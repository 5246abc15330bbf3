import CFFmpeg

/// An exact fraction, as FFmpeg uses for time bases, frame rates and aspect ratios.
public struct Rational: Hashable, Sendable, Codable, CustomStringConvertible {
    public var num: Int32
    public var den: Int32

    public init(_ num: Int32, _ den: Int32) {
        self.num = num
        self.den = den
    }

    public init(num: Int32, den: Int32) {
        self.init(num, den)
    }

    init(_ r: AVRational) {
        self.init(r.num, r.den)
    }

    var av: AVRational { AVRational(num: num, den: den) }

    /// The value as a Double; 0 when the denominator is 0 (FFmpeg's "unknown").
    public var doubleValue: Double { den == 0 ? 0 : Double(num) / Double(den) }

    /// False for FFmpeg's "unknown" (0/0, 0/1, x/0).
    public var isValid: Bool { num != 0 && den != 0 }

    /// The same value with the smallest terms, e.g. 60/2 -> 30/1.
    public var reduced: Rational {
        var n: Int32 = 0
        var d: Int32 = 0
        guard den != 0 else { return self }
        av_reduce(&n, &d, Int64(num), Int64(den), Int64(Int32.max))
        return Rational(n, d)
    }

    public var inverted: Rational { Rational(den, num) }

    public var description: String { "\(num)/\(den)" }
}
