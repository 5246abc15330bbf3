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
// still count in the variance and covariance.

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

/// Dense VICReg terms, and the gradients of the weighted total (config's vicreg weights) with respect to both
/// views' local embeddings [M, D].
public struct DenseVICRegTerms {
    public var invariance: Float, variance: Float, covariance: Float
    /// Matched pairs (both directions).
    public var pairs: Int
    public var gradFirst: Tensor, gradSecond: Tensor
}

public func denseVICRegTerms(_ first: Tensor, _ second: Tensor, matches: [CellMatch], config: LossConfig)
    -> (terms: DenseVICRegTerms, total: Float) {
    precondition(first.shape == second.shape && first.rank == 2, "dense vicreg: embeddings \(first.shape) and \(second.shape)")
    let (M, D) = (first.shape[0], first.shape[1])
    let gradFirst = Tensor(shape: first.shape), gradSecond = Tensor(shape: second.shape)
    var squares = 0.0
    if !matches.isEmpty {
        let count = Float(matches.count * D)
        for match in matches {
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
    }
    let invariance = matches.isEmpty ? 0 : Float(squares / Double(matches.count * D))
    let ta = transposed(first), tb = transposed(second)
    let (va, gva) = varianceLoss(samples: ta), (vb, gvb) = varianceLoss(samples: tb)
    let (ca, gca) = covarianceLoss(samples: ta), (cb, gcb) = covarianceLoss(samples: tb)
    let ga = Tensor(shape: ta.shape), gb = Tensor(shape: tb.shape)
    accumulate(ga, gva, scale: config.vicregVar / 2); accumulate(ga, gca, scale: config.vicregCov)
    accumulate(gb, gvb, scale: config.vicregVar / 2); accumulate(gb, gcb, scale: config.vicregCov)
    accumulate(gradFirst, transposed(ga)); accumulate(gradSecond, transposed(gb))
    let terms = DenseVICRegTerms(invariance: invariance, variance: (va + vb) / 2, covariance: ca + cb,
                                 pairs: matches.count, gradFirst: gradFirst, gradSecond: gradSecond)
    let total = config.vicregInv * terms.invariance + config.vicregVar * terms.variance + config.vicregCov * terms.covariance
    return (terms, total)
}
