import CDISFlow
import FlowIO

/// What turns a rough flow into a precise one on the frames: a refiner takes an initial flow (from the network)
/// and the two frames' luma and returns a flow of the same size.
public protocol FlowRefiner: Sendable {
    func refine(_ flow: FlowField, from first: GrayImage, to second: GrayImage) -> FlowField
}

extension CoarseToFineRefinement: FlowRefiner {}

/// OpenCV's DIS (dense inverse search: patch matching by inverse-compositional gradient descent, coarse to fine,
/// with a variational refinement at every scale) started from a given flow instead of from zero.
///
/// Why seed it: the network finds large motions that DIS's coarse-to-fine search loses (a fast object smaller than
/// its coarse patches), and DIS is precise where the motion is small, which the network's 1/8-resolution decoder
/// is not. Started from the network's flow, DIS corrects the network's small errors patch by patch and keeps its
/// large motions. `finestScale` 0 runs the search down to full resolution (OpenCV's medium preset stops at half),
/// which is what makes it sub-pixel precise on textured scenes.
public struct SeededDISSearch: FlowRefiner, Equatable {
    public enum Preset: Int32, Sendable {
        case ultrafast = 0, fast = 1, medium = 2
    }

    public var preset: Preset
    /// The finest pyramid level searched: 0 is full resolution, 1 half (the medium preset's own), and so on.
    public var finestScale: Int
    /// Frames with a side shorter than this are returned unrefined: DIS's patches (up to 12 px) need room.
    public static let minimumSide = 32

    public init(preset: Preset = .medium, finestScale: Int = 0) {
        precondition(finestScale >= 0 && finestScale <= 4, "finestScale \(finestScale) is outside 0...4")
        self.preset = preset
        self.finestScale = finestScale
    }

    /// The OpenCV version the search runs on.
    public static var openCVVersion: String { String(cString: dis_flow_opencv_version()) }

    /// OpenCV's worker threads for every search in this process (its own pool, separate from the network's).
    public static func setThreads(_ threads: Int) { dis_flow_set_threads(Int32(clamping: threads)) }

    public func refine(_ flow: FlowField, from first: GrayImage, to second: GrayImage) -> FlowField {
        precondition(flow.width == first.width && flow.height == first.height,
                     "search: \(flow.width)x\(flow.height) flow for \(first.width)x\(first.height) frames")
        guard min(first.width, first.height) >= Self.minimumSide else { return flow }
        var refined = search(from: first, to: second, initial: flow)
        refined.valid = flow.valid
        return refined
    }

    /// DIS's flow from `first` to `second`, started from `initial` when given, else from zero (plain DIS, the
    /// classical peer the benchmarks compare with). Frames must be at least `minimumSide` on each side.
    public func search(from first: GrayImage, to second: GrayImage, initial: FlowField? = nil) -> FlowField {
        precondition(second.width == first.width && second.height == first.height,
                     "search: \(first.width)x\(first.height) and \(second.width)x\(second.height) frames")
        precondition(min(first.width, first.height) >= Self.minimumSide,
                     "search: \(first.width)x\(first.height) frames are below \(Self.minimumSide) px")
        let (w, h) = (first.width, first.height)
        var interleaved = [Float](repeating: 0, count: 2 * w * h)
        if let flow = initial {
            precondition(flow.width == w && flow.height == h, "search: \(flow.width)x\(flow.height) initial flow for \(w)x\(h) frames")
            for i in 0..<(w * h) {
                // The flow's own unknown pixels start at zero motion, as FlowMetrics scores them.
                interleaved[2 * i] = flow.valid[i] ? flow.u[i] : 0
                interleaved[2 * i + 1] = flow.valid[i] ? flow.v[i] : 0
            }
        }
        let gray1 = first.bytes, gray2 = second.bytes
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32 = message.withUnsafeMutableBufferPointer { error in
            guard let dis = dis_flow_create(preset.rawValue, Int32(finestScale), error.baseAddress, error.count) else { return -1 }
            defer { dis_flow_destroy(dis) }
            return dis_flow_calc(dis, gray1, gray2, Int32(w), Int32(h), &interleaved, initial == nil ? 0 : 1,
                                 error.baseAddress, error.count)
        }
        // OpenCV refuses only arguments this type has already checked (sizes, types); a refusal is a bug here.
        precondition(status == 0, "OpenCV DIS failed: \(String(cString: message))")
        return FlowField(width: w, height: h,
                         u: stride(from: 0, to: 2 * w * h, by: 2).map { interleaved[$0] },
                         v: stride(from: 1, to: 2 * w * h, by: 2).map { interleaved[$0] })
    }
}

extension GrayImage {
    /// The luma rounded to 8 bits, clamped to 0...255: DIS reads 8-bit images.
    var bytes: [UInt8] { pixels.map { UInt8(max(0, min(255, $0.rounded()))) } }
}
