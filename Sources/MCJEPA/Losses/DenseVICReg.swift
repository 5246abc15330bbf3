import NN

// Dense (local) VICReg, VICRegL's location-based matching (Bardes et al. 2022): an image-level pooled objective
// does not teach a feature map which of its cells is which, so here the embeddings of single cells must agree.
// Two views of one frame each embed every cell of a level's feature map (the local projector, pixel by pixel).
// A cell of view A matches the cell of view B whose box holds A's cell centre in the frame: both views saw that
// point, and B's cell centre is within one B cell of A's. Both directions (A -> B and B -> A) give pairs, so that
// a small view matched into a large one counts as much as the reverse. With P pairs and M = N*H*W rows per view:
//   invariance = mean over the P pairs of MSE(z_A[i], z_B[j])   (0 without pairs)
//   variance   = (variance term of all M rows of A + that of B) / 2
//   covariance = covariance term of A's rows + that of B's
// the two-view VICReg terms (`vicregTerms`) with matched cells in place of matched images, weighted 25/25/1 alike.
// Views of two different frames (temporal positives) have no known geometry: they give no pairs, but their cells
// still count in the variance and covariance. Optionally (VICRegL's feature-based matching) each item's K closest
// pairs of nearest neighbours in embedding space, either direction, add an invariance of their own,
//   invariance_nn = mean over those pairs of MSE          (the pairs are chosen without gradient)
// which temporal positives also give.

/// A matched cell pair: row `first` of view A's local embeddings and row `second` of view B's.
public struct CellMatch: Equatable, Sendable {
    public var first: Int, second: Int
    public init(first: Int, second: Int) { self.first = first; self.second = second }
}

/// The matched cells of the items of a batch, both directions, rows numbered as `pixelRows` numbers them
/// (n*H*W + row*W + column). Items whose `sameFrame` is false give none.
public func denseCellMatches(firstBoxes: [ViewBox], secondBoxes: [ViewBox], sameFrame: [Bool],
                             rows: Int, columns: Int) -> [CellMatch] {
    precondition(firstBoxes.count == secondBoxes.count && firstBoxes.count == sameFrame.count,
                 "dense matches: \(firstBoxes.count), \(secondBoxes.count) boxes, \(sameFrame.count) flags")
    let plane = rows * columns
    var matches: [CellMatch] = []
    for n in firstBoxes.indices where sameFrame[n] {
        let a = firstBoxes[n], b = secondBoxes[n], base = n * plane
        for r in 0..<rows {
            for c in 0..<columns {
                let p = a.centre(row: r, column: c, rows: rows, columns: columns)
                if let hit = b.cell(containing: p.x, p.y, rows: rows, columns: columns) {
                    matches.append(CellMatch(first: base + r * columns + c, second: base + hit.row * columns + hit.column))
                }
            }
        }
        for r in 0..<rows {
            for c in 0..<columns {
                let p = b.centre(row: r, column: c, rows: rows, columns: columns)
                if let hit = a.cell(containing: p.x, p.y, rows: rows, columns: columns) {
                    matches.append(CellMatch(first: base + hit.row * columns + hit.column, second: base + r * columns + c))
                }
            }
        }
    }
    return matches
}

/// VICRegL's feature-space matching: for each cell of view A, its nearest cell of view B in embedding space (squared
/// Euclidean distance, among the same item's cells), of which the `keep` closest pairs of each item count; then the
/// same from B to A. It needs no geometry, so temporal positives give pairs too. Rows as `pixelRows` numbers them,
/// `plane` cells per item; pairs by item, A -> B then B -> A, each by increasing distance (ties: lower row first).
public func denseNearestNeighbourMatches(_ first: Tensor, _ second: Tensor, plane: Int, keep: Int) -> [CellMatch] {
    precondition(first.shape == second.shape && first.rank == 2 && first.shape[0] % plane == 0,
                 "nearest neighbours: embeddings \(first.shape), \(second.shape), \(plane) cells per item")
    let (M, D) = (first.shape[0], first.shape[1])
    func distance(_ a: Tensor, _ i: Int, _ b: Tensor, _ j: Int) -> Float {
        let x = a.data + i * D, y = b.data + j * D
        var total: Float = 0
        for d in 0..<D { let diff = x[d] - y[d]; total += diff * diff }
        return total
    }
    /// Each row of `from` in `rows` with its nearest row of `to`, the `keep` closest.
    func closest(_ from: Tensor, _ to: Tensor, _ rows: Range<Int>) -> [(row: Int, match: Int)] {
        let nearest = rows.map { i -> (distance: Float, row: Int, match: Int) in
            var best = (distance: Float.infinity, row: i, match: rows.lowerBound)
            for j in rows {
                let d = distance(from, i, to, j)
                if d < best.distance { best = (d, i, j) }
            }
            return best
        }
        return nearest.sorted { ($0.distance, $0.row) < ($1.distance, $1.row) }.prefix(keep).map { ($0.row, $0.match) }
    }
    var matches: [CellMatch] = []
    for base in stride(from: 0, to: M, by: plane) {
        let rows = base..<(base + plane)
        matches += closest(first, second, rows).map { CellMatch(first: $0.row, second: $0.match) }
        matches += closest(second, first, rows).map { CellMatch(first: $0.match, second: $0.row) }
    }
    return matches
}

/// Dense VICReg terms, and the gradients of the weighted total (config's vicreg weights) with respect to both
/// views' local embeddings [M, D]. `invarianceNearest` is the invariance over `nearestMatches` (VICRegL's
/// feature-space pairs, 0 without any), weighted as the invariance.
public struct DenseVICRegTerms {
    public var invariance: Float, variance: Float, covariance: Float
    public var invarianceNearest: Float = 0
    /// Matched pairs (both directions).
    public var pairs: Int
    public var gradFirst: Tensor, gradSecond: Tensor
}

public func denseVICRegTerms(_ first: Tensor, _ second: Tensor, matches: [CellMatch], nearestMatches: [CellMatch] = [],
                             config: LossConfig) -> (terms: DenseVICRegTerms, total: Float) {
    precondition(first.shape == second.shape && first.rank == 2, "dense vicreg: embeddings \(first.shape) and \(second.shape)")
    let (M, D) = (first.shape[0], first.shape[1])
    let gradFirst = Tensor(shape: first.shape), gradSecond = Tensor(shape: second.shape)
    /// The mean squared difference of the pairs (0 without any); accumulates its weighted gradient.
    func invariance(_ pairs: [CellMatch]) -> Float {
        guard !pairs.isEmpty else { return 0 }
        var squares = 0.0
        let count = Float(pairs.count * D)
        for match in pairs {
            precondition(match.first < M && match.second < M, "dense vicreg: match \(match) beyond \(M) rows")
            let za = first.data + match.first * D, zb = second.data + match.second * D
            let ga = gradFirst.data + match.first * D, gb = gradSecond.data + match.second * D
            for d in 0..<D {
                let diff = za[d] - zb[d]
                squares += Double(diff) * Double(diff)
                let g = config.vicregInv * 2 * diff / count
                ga[d] += g
                gb[d] -= g
            }
        }
        return Float(squares / Double(pairs.count * D))
    }
    let located = invariance(matches), nearest = invariance(nearestMatches)
    let (variance, covariance) = twoViewVarianceCovariance(first, second, config: config, gradA: gradFirst,
                                                           gradB: gradSecond)
    let terms = DenseVICRegTerms(invariance: located, variance: variance, covariance: covariance,
                                 invarianceNearest: nearest, pairs: matches.count, gradFirst: gradFirst, gradSecond: gradSecond)
    let total = config.vicregInv * (terms.invariance + terms.invarianceNearest) + config.vicregVar * terms.variance
        + config.vicregCov * terms.covariance
    return (terms, total)
}
