import CDISFlow
import FlowIO
import Foundation

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
    /// DIS's parameters (`Configuration`), and how many times the search runs, each pass seeded by the last.
    public var configuration: Configuration

    /// Frames with a side shorter than this are returned unrefined: DIS's patches need room.
    public static let minimumSide = 32

    /// - Precondition: `configuration` is valid (`Configuration.validate()`); a user's values are checked there first.
    public init(_ configuration: Configuration = .standard) {
        do { try configuration.validate() } catch { preconditionFailure("\(error)") }
        self.configuration = configuration
    }

    /// The OpenCV version the search runs on.
    public static var openCVVersion: String { String(cString: dis_flow_opencv_version()) }

    /// OpenCV's worker threads for every search in this process (its own pool, separate from the network's).
    public static func setThreads(_ threads: Int) { dis_flow_set_threads(Int32(clamping: threads)) }

    /// Whether frames of this size can be searched down to `finestScale`. OpenCV picks its coarsest pyramid level
    /// from the frame and patch sizes (the formula below is its own); a coarsest level finer than `finestScale`
    /// leaves its buffers unset (OpenCV 4.6), so such frames are not searched at all.
    public func canSearch(width: Int, height: Int) -> Bool {
        guard min(width, height) >= Self.minimumSide else { return false }
        let patch = configuration.patchSize
        // As OpenCV computes it, integer division included.
        let coarsest = min(Int(log(Double(max(width, height)) / (4 * Double(patch))) / log(2.0) + 0.5),
                           Int(log(Double(min(width, height) / patch)) / log(2.0)))
        return coarsest >= configuration.finestScale
    }

    public func refine(_ flow: FlowField, from first: GrayImage, to second: GrayImage) -> FlowField {
        precondition(flow.width == first.width && flow.height == first.height,
                     "search: \(flow.width)x\(flow.height) flow for \(first.width)x\(first.height) frames")
        guard canSearch(width: first.width, height: first.height) else { return flow }
        var refined = search(from: first, to: second, initial: flow)
        refined.valid = flow.valid
        return refined
    }

    /// DIS's flow from `first` to `second`, started from `initial` when given, else from zero (plain DIS, the
    /// classical peer the benchmarks compare with). Frames must pass `canSearch`.
    public func search(from first: GrayImage, to second: GrayImage, initial: FlowField? = nil) -> FlowField {
        precondition(second.width == first.width && second.height == first.height,
                     "search: \(first.width)x\(first.height) and \(second.width)x\(second.height) frames")
        precondition(canSearch(width: first.width, height: first.height),
                     "search: \(first.width)x\(first.height) frames are too small for \(configuration)")
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
        var params = configuration.params
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32 = message.withUnsafeMutableBufferPointer { error in
            guard let dis = dis_flow_create(&params, error.baseAddress, error.count) else { return -1 }
            defer { dis_flow_destroy(dis) }
            for pass in 0..<configuration.passes {
                // Every pass after the first starts from the previous pass's flow, left in `interleaved`.
                let seeded: Int32 = initial != nil || pass > 0 ? 1 : 0
                let status = dis_flow_calc(dis, gray1, gray2, Int32(w), Int32(h), &interleaved, seeded,
                                           error.baseAddress, error.count)
                if status != 0 { return status }
            }
            return 0
        }
        // OpenCV refuses only arguments this type has already checked (sizes, types); a refusal is a bug here.
        precondition(status == 0, "OpenCV DIS failed: \(String(cString: message))")
        let n = w * h
        let u = [Float](unsafeUninitializedCapacity: n) { u, count in
            for i in 0..<n { u[i] = interleaved[2 * i] }
            count = n
        }
        let v = [Float](unsafeUninitializedCapacity: n) { v, count in
            for i in 0..<n { v[i] = interleaved[2 * i + 1] }
            count = n
        }
        return FlowField(width: w, height: h, u: u, v: v)
    }
}

extension GrayImage {
    /// The luma rounded to 8 bits (halves away from zero), clamped to 0...255: DIS reads 8-bit images.
    ///
    /// Clamped first, then rounded as the whole part plus one where the fraction is at least a half: the bytes of
    /// `UInt8(max(0, min(255, value.rounded())))` (a NaN gives 255 both ways), without a call to `roundf` per
    /// pixel (each frame's luma is converted four times per frame of a video: two searches, two frames each).
    var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: pixels.count) { bytes, count in
            pixels.withUnsafeBufferPointer { pixels in
                for i in 0..<pixels.count {
                    let clamped = max(0, min(255, pixels[i]))
                    let whole = Int(clamped)
                    // Exact: `clamped` and its whole part are within 0...255.
                    bytes[i] = UInt8(clamped - Float(whole) >= 0.5 ? whole + 1 : whole)
                }
            }
            count = pixels.count
        }
    }
}
