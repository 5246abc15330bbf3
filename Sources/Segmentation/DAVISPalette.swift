/// The DAVIS (= PASCAL VOC) palette: colour k is built from the bits of k spread over R, G and B, so 1 is dark
/// red (128,0,0), 2 dark green (0,128,0), 3 olive (128,128,0), 4 navy (0,0,128)...
public enum DAVISPalette {
    /// 256 RGB triplets, 768 bytes.
    public static let rgb: [UInt8] = (0..<256).flatMap { index -> [UInt8] in
        var r = 0, g = 0, b = 0, k = index
        for shift in 0..<8 {
            r |= ((k >> 0) & 1) << (7 - shift)
            g |= ((k >> 1) & 1) << (7 - shift)
            b |= ((k >> 2) & 1) << (7 - shift)
            k >>= 3
        }
        return [UInt8(r), UInt8(g), UInt8(b)]
    }

    public static func color(_ index: UInt8) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = Int(index) * 3
        return (rgb[i], rgb[i + 1], rgb[i + 2])
    }
}
