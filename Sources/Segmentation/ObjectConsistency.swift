/// Object-level consistency of a frame's label maps with the previous frame's masks carried by the flow: an object
/// does not grow, in one frame, far past where the flow carried it, so the part of an object's label that lies far
/// from its carried mask is a leak into a look-alike region (appearance alone put it there), and is given to the
/// next most likely label.
///
/// Per object label (never the background), on the frame's argmax mask:
/// - the object's support is the pixels where the carried maps give it more than 1/2 and the forward-backward check
///   passes (`FlowLabelWarp.warp`'s `valid`);
/// - every pixel that takes the object's label with no supported pixel within `reach` pixels (a square window) is
///   removed: the object's probability there becomes 0 and the pixel's other labels are rescaled to sum 1 (a pixel
///   with nothing left is background). A region the flow does not explain (a part re-appearing from behind an
///   occluder, a disconnected piece) stays when it is near the object, and a leak that touches the object is cut
///   back to that distance instead of kept whole with the object;
/// - an object whose support is nearly empty (fewer than `minimumCarriedShare` of the frame's pixels: it was
///   hidden or absent, or the flow failed on it) keeps all its pixels, so that an object re-appearing after a full
///   occlusion, which only appearance can find, is not lost.
/// A first form judged whole 8-connected regions by their share of supported pixels: on the synthetic VOS set it
/// removed parts of objects re-appearing beside an occluder and kept the leaks that grow out of the object
/// (Training/TRIALS.md).
public struct ObjectConsistency {
    /// Whether `propagate` and `eval vos` run the step unless told otherwise.
    public static let enabledByDefault = false

    /// How far (pixels, in x and in y) past an object's support its label may reach in one frame: 32, four cells
    /// of the stride-8 grid; the genuine growth of objects between frames of the synthetic VOS set stayed within
    /// about 40 px of the previous mask, where leaks at a cut reached 130-210 px.
    public static let reach = 32
    /// The share of the frame's pixels below which an object's support is taken as empty (0.05%: 205 pixels at
    /// 854x480, about a 14x14 patch).
    public static let minimumCarriedShare: Float = 0.0005

    private var best: [UInt8] = []
    /// Summed-area table of one object's support, (width + 1) x (height + 1).
    private var table: [Int32] = []

    public init() {}

    /// Removes each object's pixels that lie farther than `reach` from its support from `maps` (labels x pixels,
    /// probabilities), given the carried maps and where the flow passed its check; returns how many pixels changed
    /// label.
    @discardableResult
    public mutating func apply(to maps: inout [Float], count labelCount: Int, width: Int, height: Int,
                               carried: [Float], valid: [Bool]) -> Int {
        let pixels = width * height
        precondition(maps.count == labelCount * pixels && carried.count == maps.count && valid.count == pixels,
                     "object consistency: maps, carried maps and check of different sizes")
        guard labelCount > 1, pixels > 0, labelCount <= 256, pixels < Int(Int32.max) else { return 0 }
        if best.count != pixels {
            best = [UInt8](repeating: 0, count: pixels)
            table = [Int32](repeating: 0, count: (width + 1) * (height + 1))
        }
        // Each pixel's most likely label (ties: the lower, as the final argmax).
        maps.withUnsafeBufferPointer { maps in
            for i in 0..<pixels {
                var label = 0, top = maps[i]
                for l in 1..<labelCount where maps[l * pixels + i] > top { (label, top) = (l, maps[l * pixels + i]) }
                best[i] = UInt8(label)
            }
        }
        let minimumCarried = Int((Self.minimumCarriedShare * Float(pixels)).rounded(.up))
        let reach = Self.reach, stride = width + 1
        var changed = 0
        for label in 1..<labelCount {
            // The summed-area table of the support: T[y][x] = supported pixels above and left of (x, y).
            var supportCount = 0
            carried.withUnsafeBufferPointer { carried in
                table.withUnsafeMutableBufferPointer { table in
                    let plane = carried.baseAddress! + label * pixels
                    for y in 0..<height {
                        var row: Int32 = 0
                        for x in 0..<width {
                            let i = y * width + x
                            if valid[i] && plane[i] > 0.5 { row += 1; supportCount += 1 }
                            table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + row
                        }
                    }
                }
            }
            guard supportCount >= minimumCarried else { continue }
            maps.withUnsafeMutableBufferPointer { maps in
                table.withUnsafeBufferPointer { table in
                    for y in 0..<height {
                        let y0 = max(0, y - reach), y1 = min(height, y + reach + 1)
                        for x in 0..<width where Int(best[y * width + x]) == label {
                            let x0 = max(0, x - reach), x1 = min(width, x + reach + 1)
                            let near = table[y1 * stride + x1] - table[y0 * stride + x1] - table[y1 * stride + x0]
                                + table[y0 * stride + x0]
                            guard near == 0 else { continue }
                            let i = y * width + x
                            maps[label * pixels + i] = 0
                            var total: Float = 0
                            for l in 0..<labelCount { total += maps[l * pixels + i] }
                            if total > 1e-12 {
                                let scale = 1 / total
                                for l in 0..<labelCount { maps[l * pixels + i] *= scale }
                            } else {
                                maps[i] = 1
                            }
                            changed += 1
                        }
                    }
                }
            }
        }
        return changed
    }
}
