import Foundation
import NN

/// An online discriminative target model for one video: a linear classifier from cell descriptors to label
/// fractions, fitted in closed form at test time (in the spirit of FRTM's and LWL's target models, but ridge
/// regression instead of a few steepest-descent steps, so that it costs a few milliseconds on a CPU).
///
/// Label propagation (`LabelPropagation`) matches each cell to a few stored cells: it is local and has no notion
/// of what separates the object from the background, so it drifts as the object's appearance changes and follows
/// background cells that happen to resemble a few object cells. The target model instead fits one hyperplane per
/// label over every labelled cell of the video so far, which is what a background look-alike needs to be refused.
///
/// Notation: n cells, D = channels + 1 (each cell's descriptor scaled to unit length, then a constant 1 for the
/// bias; with `randomFeatures` R > 0, D = R + 1, the unit descriptor mapped to R random Fourier features first), L labels (background first, as `LabelPropagation.objectIDs`). Per frame f, with cell weights w_i summing
/// to 1 and targets y_i (the cell's label fractions, summing to 1):
///     G_f = sum_i w_i x_i x_i^T (D x D),   H_f = sum_i w_i x_i y_i^T (D x L).
/// The model solves (G + lambda R) Theta = H, with R the identity without the bias entry, and
///     G = a G_first + (1 - a) (sum_f g^(t-f) G_f) / (sum_f g^(t-f))   (H alike)
/// over the frames added since the first: the first frame, the only one with a given mask, keeps share a
/// (`firstFrameShare`), the recent ones the rest with exponential forgetting g. Scores are x^T Theta.
/// Because the bias is not shrunk and each target sums to 1, the scores of each cell sum to exactly 1 (Theta 1 is
/// the bias unit vector): clamping negatives and rescaling makes them probabilities.
/// Cell weights are even over a frame's qualifying cells (`balancesLabels`: each label present gets the same
/// total weight instead, split evenly over its cells). Even weights leave a small object, a few percent of the
/// cells, with low scores, which the caller rescales per label as the affinity's maps are (`norm_mask`); balanced
/// ones push the boundary into the background, whose false positives then enter the next fits as object (on
/// the synthetic VOS set the object grew frame after frame).
public final class TargetModel {
    public struct Configuration: Sendable, Equatable {
        /// lambda: ridge regularisation of the descriptor weights (not the bias). The descriptors have unit
        /// length and the weights sum to 1, so G's trace is 1 over the descriptor part.
        public var regularisation: Float
        /// g: how much a recent frame's statistics keep per later frame.
        public var forgetting: Float
        /// a: the first frame's share of the statistics once recent frames have been added.
        public var firstFrameShare: Float
        /// A later frame's cell enters the fit only if its best label fraction reaches this (cells along the
        /// predicted edges, half one label and half another, would teach the model its own uncertainty).
        public var confidence: Float
        /// Each label present in a frame gets the same total weight (else each qualifying cell the same).
        public var balancesLabels: Bool
        /// R: 0, a linear model of the unit descriptors; else R random Fourier features of them,
        /// z(x) = sqrt(2 / R) cos(W x + b) with W ~ N(0, 1 / kernelWidth^2) and b ~ U(0, 2 pi) (Rahimi and Recht):
        /// z(x) . z(y) approximates the Gaussian kernel exp(-|x - y|^2 / (2 kernelWidth^2)), so the ridge fit is
        /// kernel ridge regression, which can draw a boundary around a region of descriptor space instead of one
        /// hyperplane through it. Fixed per model (seed 1), the same draw for every frame.
        public var randomFeatures: Int
        /// The Gaussian kernel's width on unit descriptors (the affinity's exp(cos / 0.1) is width sqrt(0.1)).
        public var kernelWidth: Float

        public init(regularisation: Float = 1e-3, forgetting: Float = 0.9, firstFrameShare: Float = 0.5,
                    confidence: Float = 0.9, balancesLabels: Bool = false, randomFeatures: Int = 0,
                    kernelWidth: Float = 0.5) {
            self.regularisation = regularisation
            self.forgetting = forgetting
            self.firstFrameShare = firstFrameShare
            self.confidence = confidence
            self.balancesLabels = balancesLabels
            self.randomFeatures = randomFeatures
            self.kernelWidth = kernelWidth
        }

        /// Why the configuration cannot be used, or nil.
        public var problem: String? {
            if !(regularisation > 0 && regularisation.isFinite) { return "target model regularisation must be positive" }
            if !(forgetting >= 0 && forgetting <= 1) { return "target model forgetting must be in 0...1" }
            if !(firstFrameShare > 0 && firstFrameShare <= 1) { return "target model first-frame share must be in (0, 1]" }
            if !(confidence >= 0 && confidence <= 1) { return "target model confidence must be in 0...1" }
            if !(0...1024).contains(randomFeatures) { return "target model random features must be in 0...1024" }
            if !(kernelWidth > 0 && kernelWidth.isFinite) { return "target model kernel width must be positive" }
            return nil
        }
    }

    /// A frame's descriptors as the model reads them: n rows of D values (unit descriptor, then 1).
    public struct Design: Sendable {
        public let rows: [Float]
        public let cells: Int
    }

    public let configuration: Configuration
    public let labelCount: Int
    /// The descriptor's channels and the grid it was made on.
    public let channels: Int, gridWidth: Int, gridHeight: Int
    /// D: the features the ridge fit sees per cell (the unit descriptor or its random features), then the bias.
    public var dimension: Int { (configuration.randomFeatures > 0 ? configuration.randomFeatures : channels) + 1 }
    /// W (R x channels, row-major) and b (R) of the random features; empty for a linear model.
    let projection: [Float], phases: [Float]
    /// Theta transposed: L rows of D coefficients (the last one the bias).
    public private(set) var coefficients: [Float] = []
    /// The first frame's statistics, and the forgetting sums of the later frames' (nil before any).
    let first: (gram: [Double], cross: [Double])
    var recent: (gram: [Double], cross: [Double], weight: Double)?

    /// Fits the model on the first frame: its descriptors (channels x gridHeight x gridWidth) and, per label, the
    /// fraction of each cell that carries it (L x cells, planar, each cell summing to 1). Every cell enters the
    /// first fit, mixed ones as soft targets: the first mask is given, not predicted.
    /// - Throws: `SegmentationError` when the labels do not fit the grid or the configuration is out of range.
    public init(firstDescriptors: FeatureMap, labels: [Float], labelCount: Int,
                configuration: Configuration = Configuration()) throws {
        if let problem = configuration.problem { throw SegmentationError(file: "", reason: problem) }
        let cells = firstDescriptors.width * firstDescriptors.height
        guard labelCount > 0, labels.count == labelCount * cells else {
            throw SegmentationError(file: "", reason: "target model: \(labels.count) label values for \(labelCount) labels of \(cells) cells")
        }
        self.configuration = configuration
        self.labelCount = labelCount
        channels = firstDescriptors.channels
        gridWidth = firstDescriptors.width
        gridHeight = firstDescriptors.height
        var random = SplitMix64(seed: 1)
        let r = configuration.randomFeatures
        projection = (0..<(r * channels)).map { _ in random.normal() / configuration.kernelWidth }
        phases = (0..<r).map { _ in random.uniform(0, 2 * .pi) }
        let design = Self.design(firstDescriptors, projection: projection, phases: phases)
        // With confidence 0 every cell qualifies, and a feature map has at least one.
        first = Self.statistics(design, labels: labels, labelCount: labelCount, confidence: 0,
                                balancesLabels: configuration.balancesLabels)!
        solve()
    }

    /// A frame's descriptors in the model's layout, checked against the first frame's grid.
    public func design(_ descriptors: FeatureMap) throws -> Design {
        guard descriptors.channels == channels, descriptors.width == gridWidth, descriptors.height == gridHeight else {
            throw SegmentationError(file: "", reason: "target model: descriptors are \(descriptors.channels)x\(descriptors.height)x\(descriptors.width), the first frame's were \(channels)x\(gridHeight)x\(gridWidth)")
        }
        return Self.design(descriptors, projection: projection, phases: phases)
    }

    /// Unit descriptors, or their random features when `phases` is not empty, each row ending with a 1.
    static func design(_ descriptors: FeatureMap, projection: [Float], phases: [Float]) -> Design {
        let unit = descriptors.unitVectorsPerCell(), c = descriptors.channels
        let cells = descriptors.width * descriptors.height
        let features = phases.isEmpty ? c : phases.count, d = features + 1
        var rows = [Float](repeating: 1, count: cells * d)
        if phases.isEmpty {
            for cell in 0..<cells { for ch in 0..<c { rows[cell * d + ch] = unit[cell * c + ch] } }
            return Design(rows: rows, cells: cells)
        }
        // W x for every cell at once (cells x R), then sqrt(2 / R) cos(. + b).
        var projected = [Float](repeating: 0, count: cells * features)
        unit.withUnsafeBufferPointer { x in
            projection.withUnsafeBufferPointer { w in
                projected.withUnsafeMutableBufferPointer { out in
                    multiplyTransposedOnThisThread(m: cells, n: features, k: c, a: x.baseAddress!, b: w.baseAddress!,
                                                   c: out.baseAddress!)
                }
            }
        }
        let scale = (2 / Float(features)).squareRoot()
        for cell in 0..<cells {
            for j in 0..<features { rows[cell * d + j] = scale * cos(projected[cell * features + j] + phases[j]) }
        }
        return Design(rows: rows, cells: cells)
    }

    /// Raw scores x^T Theta, planar (L x cells); each cell's sum to 1 up to rounding.
    public func scores(_ design: Design) -> [Float] {
        let (d, n, l) = (dimension, design.cells, labelCount)
        var cellMajor = [Float](repeating: 0, count: n * l)
        design.rows.withUnsafeBufferPointer { x in
            coefficients.withUnsafeBufferPointer { theta in
                cellMajor.withUnsafeMutableBufferPointer { out in
                    multiplyTransposedOnThisThread(m: n, n: l, k: d, a: x.baseAddress!, b: theta.baseAddress!, c: out.baseAddress!)
                }
            }
        }
        var planar = [Float](repeating: 0, count: n * l)
        for cell in 0..<n { for label in 0..<l { planar[label * n + cell] = cellMajor[cell * l + label] } }
        return planar
    }

    /// The scores as probabilities, planar (L x cells): negatives clamped to 0, each cell rescaled to sum 1 (a
    /// cell with nothing left is background).
    public func probabilities(_ design: Design) -> [Float] {
        var maps = scores(design)
        let n = design.cells
        for cell in 0..<n {
            var total: Float = 0
            for label in 0..<labelCount {
                let value = max(0, maps[label * n + cell])
                maps[label * n + cell] = value
                total += value
            }
            if total > 1e-12 {
                for label in 0..<labelCount { maps[label * n + cell] /= total }
            } else {
                maps[cell] = 1
            }
        }
        return maps
    }

    /// Adds a segmented frame: its design and its final label fractions per cell (L x cells, planar); only cells
    /// whose best label reaches `confidence` count. Re-solves. A frame with no such cell changes nothing but the
    /// forgetting of the older ones.
    public func update(_ design: Design, labels: [Float]) throws {
        guard design.cells == gridWidth * gridHeight, design.rows.count == design.cells * dimension,
              labels.count == labelCount * design.cells else {
            throw SegmentationError(file: "", reason: "target model: a frame of \(design.cells) cells and \(labels.count) label values, expected \(gridWidth * gridHeight) cells and \(labelCount) labels")
        }
        let g = Double(configuration.forgetting)
        var (gram, cross, weight) = recent ?? ([Double](repeating: 0, count: first.gram.count),
                                               [Double](repeating: 0, count: first.cross.count), 0)
        for i in gram.indices { gram[i] *= g }
        for i in cross.indices { cross[i] *= g }
        weight *= g
        if let frame = Self.statistics(design, labels: labels, labelCount: labelCount, confidence: configuration.confidence,
                                       balancesLabels: configuration.balancesLabels) {
            for i in gram.indices { gram[i] += frame.gram[i] }
            for i in cross.indices { cross[i] += frame.cross[i] }
            weight += 1
        }
        recent = (gram, cross, weight)
        solve()
    }

    /// One frame's G and H (see the type's notes), or nil when no cell qualifies.
    static func statistics(_ design: Design, labels: [Float], labelCount: Int, confidence: Float,
                           balancesLabels: Bool) -> (gram: [Double], cross: [Double])? {
        let n = design.cells, d = design.rows.count / max(n, 1)
        // Each qualifying cell's label (its best) and the label counts, for the balanced weights.
        var best = [Int](repeating: -1, count: n), counts = [Int](repeating: 0, count: labelCount)
        for cell in 0..<n {
            var label = 0
            for l in 1..<max(labelCount, 1) where labels[l * n + cell] > labels[label * n + cell] { label = l }
            guard labels[label * n + cell] >= confidence else { continue }
            best[cell] = label
            counts[label] += 1
        }
        let present = counts.filter { $0 > 0 }.count, qualifying = counts.reduce(0, +)
        guard present > 0 else { return nil }
        // X^T (W X) and X^T (W Y) as two products with k = n: the descriptors transposed (D x n) against the
        // weighted descriptors (D x n) and the weighted targets (L x n, already planar).
        var xT = [Float](repeating: 0, count: d * n), weightedXT = [Float](repeating: 0, count: d * n)
        var weightedY = [Float](repeating: 0, count: labelCount * n)
        for cell in 0..<n where best[cell] >= 0 {
            let w = 1 / Float(balancesLabels ? present * counts[best[cell]] : qualifying)
            for j in 0..<d {
                let value = design.rows[cell * d + j]
                xT[j * n + cell] = value
                weightedXT[j * n + cell] = w * value
            }
            for l in 0..<labelCount { weightedY[l * n + cell] = w * labels[l * n + cell] }
        }
        var gram = [Float](repeating: 0, count: d * d), cross = [Float](repeating: 0, count: d * labelCount)
        xT.withUnsafeBufferPointer { x in
            weightedXT.withUnsafeBufferPointer { wx in
                gram.withUnsafeMutableBufferPointer { out in
                    multiplyTransposedOnThisThread(m: d, n: d, k: n, a: x.baseAddress!, b: wx.baseAddress!, c: out.baseAddress!)
                }
            }
            weightedY.withUnsafeBufferPointer { wy in
                cross.withUnsafeMutableBufferPointer { out in
                    multiplyTransposedOnThisThread(m: d, n: labelCount, k: n, a: x.baseAddress!, b: wy.baseAddress!, c: out.baseAddress!)
                }
            }
        }
        return (gram.map(Double.init), cross.map(Double.init))
    }

    /// Theta from the current statistics (see the type's notes).
    func solve() {
        let (d, l) = (dimension, labelCount)
        var a = first.gram, b = first.cross
        if let recent, recent.weight > 0 {
            let share = Double(configuration.firstFrameShare), rest = (1 - share) / recent.weight
            for i in a.indices { a[i] = share * a[i] + rest * recent.gram[i] }
            for i in b.indices { b[i] = share * b[i] + rest * recent.cross[i] }
        }
        for j in 0..<(d - 1) { a[j * d + j] += Double(configuration.regularisation) }
        let theta = Self.solveSymmetric(a, b, size: d, columns: l)
        coefficients = [Float](repeating: 0, count: l * d)
        for j in 0..<d { for label in 0..<l { coefficients[label * d + j] = Float(theta[j * l + label]) } }
    }

    /// X (size x columns, row-major) with A X = B for a symmetric positive definite A (size x size), by Cholesky
    /// (A = L L^T, then two triangular solves). D is at most a few hundred, so plain loops in Double do. A pivot
    /// that is not positive (A only semi-definite, which the regularisation and the bias's positive weight rule
    /// out) is clamped to a tiny positive value rather than producing NaN.
    static func solveSymmetric(_ a: [Double], _ b: [Double], size n: Int, columns: Int) -> [Double] {
        var factor = a
        for j in 0..<n {
            var pivot = factor[j * n + j]
            for k in 0..<j { pivot -= factor[j * n + k] * factor[j * n + k] }
            pivot = max(pivot, 1e-12).squareRoot()
            factor[j * n + j] = pivot
            for i in (j + 1)..<max(n, j + 1) {
                var value = factor[i * n + j]
                for k in 0..<j { value -= factor[i * n + k] * factor[j * n + k] }
                factor[i * n + j] = value / pivot
            }
        }
        var x = b
        // L y = b, then L^T x = y, column by column of the right-hand side.
        for c in 0..<columns {
            for i in 0..<n {
                var value = x[i * columns + c]
                for k in 0..<i { value -= factor[i * n + k] * x[k * columns + c] }
                x[i * columns + c] = value / factor[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {
                var value = x[i * columns + c]
                for k in (i + 1)..<max(n, i + 1) { value -= factor[k * n + i] * x[k * columns + c] }
                x[i * columns + c] = value / factor[i * n + i]
            }
        }
        return x
    }
}
