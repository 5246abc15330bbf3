import CDISFlow
import Foundation

extension SeededDISSearch {
    /// OpenCV DIS's parameters (each is a `cv::DISOpticalFlow` setter; the names below are those setters' in
    /// kebab case) and the number of passes. Written and read as `KEY=VALUE,KEY=VALUE` (`description`,
    /// `init(parsing:base:)`): what `--search-options` takes.
    public struct Configuration: Equatable, Sendable, CustomStringConvertible {
        /// The finest pyramid level searched: 0 is full resolution, 1 half (the medium preset's own), and so on.
        public var finestScale: Int
        /// Side of the square patches matched, in pixels of each level.
        public var patchSize: Int
        /// Distance between neighbouring patches: smaller is denser (more patches, more work).
        public var patchStride: Int
        /// Inverse-compositional gradient-descent iterations per patch and level.
        public var gradientDescentIterations: Int
        /// Fixed-point iterations of the variational refinement after each level's densification (0: none).
        public var variationalRefinementIterations: Int
        /// The variational refinement's smoothness, colour-constancy and gradient-constancy weights.
        public var variationalRefinementAlpha: Float
        public var variationalRefinementDelta: Float
        public var variationalRefinementGamma: Float
        /// Patches compared after subtracting their mean (robust to lighting changes).
        public var useMeanNormalization: Bool
        /// Each patch also tries its neighbours' flows as a start.
        public var useSpatialPropagation: Bool
        /// Whole coarse-to-fine searches run, each after the first seeded by the previous one's flow.
        public var passes: Int

        public init(finestScale: Int, patchSize: Int, patchStride: Int, gradientDescentIterations: Int,
                    variationalRefinementIterations: Int, variationalRefinementAlpha: Float,
                    variationalRefinementDelta: Float, variationalRefinementGamma: Float,
                    useMeanNormalization: Bool, useSpatialPropagation: Bool, passes: Int = 1) {
            self.finestScale = finestScale
            self.patchSize = patchSize
            self.patchStride = patchStride
            self.gradientDescentIterations = gradientDescentIterations
            self.variationalRefinementIterations = variationalRefinementIterations
            self.variationalRefinementAlpha = variationalRefinementAlpha
            self.variationalRefinementDelta = variationalRefinementDelta
            self.variationalRefinementGamma = variationalRefinementGamma
            self.useMeanNormalization = useMeanNormalization
            self.useSpatialPropagation = useSpatialPropagation
            self.passes = passes
        }

        /// OpenCV's medium preset (`cv::DISOpticalFlow::PRESET_MEDIUM`, searched to half resolution): what plain
        /// DIS medium, the classical peer, runs.
        public static let medium = Configuration(
            finestScale: 1, patchSize: 8, patchStride: 3, gradientDescentIterations: 25,
            variationalRefinementIterations: 5, variationalRefinementAlpha: 20, variationalRefinementDelta: 5,
            variationalRefinementGamma: 10, useMeanNormalization: true, useSpatialPropagation: true)

        /// What `flow` runs on the network's flow by default: the medium preset searched to full resolution, with
        /// 12 gradient-descent iterations instead of 25 and the variational refinement's smoothness weight at 40
        /// instead of 20. Started from the network's flow, fewer descent steps keep patches nearer that seed and
        /// the stronger smoothing evens out the patches that still drift. Chosen on two held-out synthetic sets
        /// (`Reference/synthetic_flow_set.py`, seeds 12345 and 2024: 0.673x -> 0.660x and 0.642x -> 0.629x DIS
        /// medium's EPE in geometric mean over the pairs) for about 5% less CPU; the preset's own values give the
        /// previous default (`gradient-descent-iterations=25,variational-refinement-alpha=20`).
        public static let standard: Configuration = {
            var configuration = medium
            configuration.finestScale = 0
            configuration.gradientDescentIterations = 12
            configuration.variationalRefinementAlpha = 40
            return configuration
        }()

        // MARK: limits

        /// The ranges a configuration is held to: far beyond any useful value, and inside what OpenCV computes
        /// without failing (it checks none of them itself).
        public static let finestScaleRange = 0...8
        /// (The patch stride is held to 1...patchSize: a larger stride would leave pixels no patch covers.)
        public static let patchSizeRange = 4...32
        public static let iterationsRange = 0...500
        public static let weightRange: ClosedRange<Float> = 0...10_000
        public static let passesRange = 1...8

        /// Throws `SearchConfigurationError` naming the first parameter out of its range.
        public func validate() throws {
            func check<T: Comparable>(_ key: Key, _ value: T, _ range: ClosedRange<T>, _ note: String = "") throws {
                guard range.contains(value) else {
                    throw SearchConfigurationError("\(key.rawValue) must be in \(range.lowerBound)...\(range.upperBound)\(note), got \(value)")
                }
            }
            try check(.finestScale, finestScale, Self.finestScaleRange)
            try check(.patchSize, patchSize, Self.patchSizeRange)
            try check(.patchStride, patchStride, 1...patchSize, " (the patch size)")
            try check(.gradientDescentIterations, gradientDescentIterations, Self.iterationsRange)
            try check(.variationalRefinementIterations, variationalRefinementIterations, Self.iterationsRange)
            for (key, value) in [(Key.variationalRefinementAlpha, variationalRefinementAlpha),
                                 (.variationalRefinementDelta, variationalRefinementDelta),
                                 (.variationalRefinementGamma, variationalRefinementGamma)] {
                try check(key, value, Self.weightRange)   // NaN is in no range
            }
            try check(.passes, passes, Self.passesRange)
        }

        // MARK: text form

        /// The parameters' names in the text form, in the order `description` writes them.
        public enum Key: String, CaseIterable, Sendable {
            case finestScale = "finest-scale", patchSize = "patch-size", patchStride = "patch-stride"
            case gradientDescentIterations = "gradient-descent-iterations"
            case variationalRefinementIterations = "variational-refinement-iterations"
            case variationalRefinementAlpha = "variational-refinement-alpha"
            case variationalRefinementDelta = "variational-refinement-delta"
            case variationalRefinementGamma = "variational-refinement-gamma"
            case useMeanNormalization = "mean-normalization", useSpatialPropagation = "spatial-propagation"
            case passes
        }

        /// Every parameter as `KEY=VALUE`, comma-separated; `init(parsing:)` reads it back to the same value.
        public var description: String {
            Key.allCases.map { key in
                let value: String = switch key {
                case .finestScale: "\(finestScale)"
                case .patchSize: "\(patchSize)"
                case .patchStride: "\(patchStride)"
                case .gradientDescentIterations: "\(gradientDescentIterations)"
                case .variationalRefinementIterations: "\(variationalRefinementIterations)"
                case .variationalRefinementAlpha: "\(variationalRefinementAlpha)"
                case .variationalRefinementDelta: "\(variationalRefinementDelta)"
                case .variationalRefinementGamma: "\(variationalRefinementGamma)"
                case .useMeanNormalization: "\(useMeanNormalization)"
                case .useSpatialPropagation: "\(useSpatialPropagation)"
                case .passes: "\(passes)"
                }
                return "\(key.rawValue)=\(value)"
            }.joined(separator: ",")
        }

        /// `base` with the parameters `text` names (`KEY=VALUE,KEY=VALUE`, keys as in `Key`, booleans
        /// true/false) set, then validated.
        /// - Throws: `SearchConfigurationError` (one line) for an unknown or repeated key, a value that does not
        ///   parse, or a parameter out of its range.
        public init(parsing text: String, base: Configuration = .standard) throws {
            self = base
            var seen: Set<Key> = []
            for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw SearchConfigurationError("expected KEY=VALUE, got '\(item)'")
                }
                let name = parts[0].trimmingCharacters(in: .whitespaces), value = parts[1].trimmingCharacters(in: .whitespaces)
                guard let key = Key(rawValue: name) else {
                    throw SearchConfigurationError("unknown parameter '\(name)' (known: \(Key.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard seen.insert(key).inserted else { throw SearchConfigurationError("\(name) is given twice") }
                func integer() throws -> Int {
                    guard let number = Int(value) else { throw SearchConfigurationError("\(name) must be an integer, got '\(value)'") }
                    return number
                }
                func real() throws -> Float {
                    guard let number = Float(value), number.isFinite else {
                        throw SearchConfigurationError("\(name) must be a finite number, got '\(value)'")
                    }
                    return number
                }
                func flag() throws -> Bool {
                    switch value {
                    case "true", "1": return true
                    case "false", "0": return false
                    default: throw SearchConfigurationError("\(name) must be true or false, got '\(value)'")
                    }
                }
                switch key {
                case .finestScale: finestScale = try integer()
                case .patchSize: patchSize = try integer()
                case .patchStride: patchStride = try integer()
                case .gradientDescentIterations: gradientDescentIterations = try integer()
                case .variationalRefinementIterations: variationalRefinementIterations = try integer()
                case .variationalRefinementAlpha: variationalRefinementAlpha = try real()
                case .variationalRefinementDelta: variationalRefinementDelta = try real()
                case .variationalRefinementGamma: variationalRefinementGamma = try real()
                case .useMeanNormalization: useMeanNormalization = try flag()
                case .useSpatialPropagation: useSpatialPropagation = try flag()
                case .passes: passes = try integer()
                }
            }
            try validate()
        }

        /// The C interface's form of the DIS parameters (all but `passes`, which the Swift side loops over).
        var params: dis_flow_params {
            dis_flow_params(finest_scale: Int32(finestScale), patch_size: Int32(patchSize), patch_stride: Int32(patchStride),
                            gradient_descent_iterations: Int32(gradientDescentIterations),
                            variational_refinement_iterations: Int32(variationalRefinementIterations),
                            variational_refinement_alpha: variationalRefinementAlpha,
                            variational_refinement_delta: variationalRefinementDelta,
                            variational_refinement_gamma: variationalRefinementGamma,
                            use_mean_normalization: useMeanNormalization ? 1 : 0,
                            use_spatial_propagation: useSpatialPropagation ? 1 : 0)
        }

        /// The parameters OpenCV's medium preset sets, read back from OpenCV (one pass): what `medium` must equal.
        static func openCVMedium() -> Configuration {
            var params = dis_flow_params()
            var message = [CChar](repeating: 0, count: 256)
            let status = message.withUnsafeMutableBufferPointer {
                dis_flow_preset_params(Int32(DIS_FLOW_PRESET_MEDIUM), &params, $0.baseAddress, $0.count)
            }
            precondition(status == 0, "OpenCV DIS preset: \(String(cString: message))")
            return Configuration(
                finestScale: Int(params.finest_scale), patchSize: Int(params.patch_size), patchStride: Int(params.patch_stride),
                gradientDescentIterations: Int(params.gradient_descent_iterations),
                variationalRefinementIterations: Int(params.variational_refinement_iterations),
                variationalRefinementAlpha: params.variational_refinement_alpha,
                variationalRefinementDelta: params.variational_refinement_delta,
                variationalRefinementGamma: params.variational_refinement_gamma,
                useMeanNormalization: params.use_mean_normalization != 0,
                useSpatialPropagation: params.use_spatial_propagation != 0)
        }
    }
}

/// A search configuration a user wrote that cannot run: one line naming the parameter and the cause.
public struct SearchConfigurationError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the parameter: "patch-stride must be in 1...8 (the patch size), got 9".
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "search options: \(reason)" }
}
