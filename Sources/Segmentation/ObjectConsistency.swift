/// Object-level consistency of a frame's label maps with the previous frame's masks carried by the flow: a region
/// an object's label covers in this frame that the flow does not connect to where the object was is a leak into a
/// look-alike region (appearance alone put it there), and is given to the next most likely label.
///
/// Per object label (never the background), on the frame's argmax mask:
/// - the object's support is the pixels where the carried maps give it more than 1/2 and the forward-backward check
///   passes (`FlowLabelWarp.warp`'s `valid`);
/// - each 8-connected region of pixels that take the object's label (`ConnectedComponents`) whose supported pixels
///   are fewer than `minimumSupportShare` of its own is removed: the object's probability there becomes 0 and
///   each pixel's other labels are rescaled to sum 1 (a pixel with nothing left is background);
/// - an object whose support is nearly empty (fewer than `minimumCarriedShare` of the frame's pixels: it was
///   hidden or absent, or the flow failed on it) keeps all its regions, so that an object re-appearing after a full
///   occlusion, which only appearance can find, is not lost.
/// Regions that overlap the support keep everything, their growth included: the step only judges regions as a
/// whole, so a leak that touches the object is not caught.
public struct ObjectConsistency {
    /// Whether `propagate` and `eval vos` run the step unless told otherwise.
    public static let enabledByDefault = false

    /// The share of a region's pixels that must be supported for it to stay.
    public static let minimumSupportShare: Float = 0.05
    /// The share of the frame's pixels below which an object's support is taken as empty (0.05%: 205 pixels at
    /// 854x480, about a 14x14 patch).
    public static let minimumCarriedShare: Float = 0.0005

    private var components = ConnectedComponents()
    private var best: [UInt8] = []

    public init() {}

    /// Removes the unsupported regions of each object from `maps` (labels x pixels, probabilities), given the
    /// carried maps and where the flow passed its check; returns how many pixels changed label.
    @discardableResult
    public mutating func apply(to maps: inout [Float], count labelCount: Int, width: Int, height: Int,
                               carried: [Float], valid: [Bool]) -> Int {
        let pixels = width * height
        precondition(maps.count == labelCount * pixels && carried.count == maps.count && valid.count == pixels,
                     "object consistency: maps, carried maps and check of different sizes")
        guard labelCount > 1, pixels > 0, labelCount <= 256 else { return 0 }
        if best.count != pixels { best = [UInt8](repeating: 0, count: pixels) }
        // Each pixel's most likely label (ties: the lower, as the final argmax), and each label's support in the
        // frame and in its own regions (carried maps are probabilities: at most one label is above 1/2).
        var carriedSupport = [Int](repeating: 0, count: labelCount)
        maps.withUnsafeBufferPointer { maps in
            carried.withUnsafeBufferPointer { carried in
                for i in 0..<pixels {
                    var label = 0, top = maps[i]
                    for l in 1..<labelCount where maps[l * pixels + i] > top { (label, top) = (l, maps[l * pixels + i]) }
                    best[i] = UInt8(label)
                    guard valid[i] else { continue }
                    for l in 1..<labelCount where carried[l * pixels + i] > 0.5 { carriedSupport[l] += 1 }
                }
            }
        }
        let minimumCarried = Int((Self.minimumCarriedShare * Float(pixels)).rounded(.up))
        guard carriedSupport.dropFirst().contains(where: { $0 >= minimumCarried }) else { return 0 }
        let count = components.label(best, width: width, height: height)
        var supported = [Int](repeating: 0, count: count)
        carried.withUnsafeBufferPointer { carried in
            for i in 0..<pixels where valid[i] && best[i] > 0 && carried[Int(best[i]) * pixels + i] > 0.5 {
                supported[Int(components.component[i])] += 1
            }
        }
        var removed = [Bool](repeating: false, count: count), any = false
        for c in 0..<count {
            let label = Int(components.value[c])
            guard label > 0, carriedSupport[label] >= minimumCarried else { continue }
            if Float(supported[c]) < Self.minimumSupportShare * Float(components.size[c]) {
                removed[c] = true
                any = true
            }
        }
        guard any else { return 0 }
        var changed = 0
        maps.withUnsafeMutableBufferPointer { maps in
            for i in 0..<pixels where removed[Int(components.component[i])] {
                let label = Int(best[i])
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
        return changed
    }
}
