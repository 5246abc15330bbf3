import Foundation
import NN
import XCTest
@testable import MCJEPA

/// The dense content loss (`denseCellMatches`, `denseVICRegTerms`, `contentLossesWithBackward(dense:)`): the cells
/// two views of one frame share, on hand-built boxes; gradients against finite differences on the embeddings and
/// through the local projector and the encoder; and weight 0 computing nothing.
final class DenseVICRegTests: XCTestCase {
    /// Rows of `pairs` (a, b) as matches.
    func matches(_ pairs: [(Int, Int)]) -> [CellMatch] { pairs.map { CellMatch(first: $0.0, second: $0.1) } }

    /// View A covers x 0..<32 of the frame, view B x 8..<40 (the same rows), both 4x4 cells of 8 px: A's column c
    /// (centre 4 + 8c) lies in B's column c - 1, and B's column c (centre 12 + 8c) in A's column c + 1; A's first
    /// column and B's last see what the other view does not.
    func testTwoViewsEightPixelsApartMatchTheCellsOneColumnOver() {
        let a = ViewBox(x: 0, y: 0, width: 32, height: 32, flipped: false)
        let b = ViewBox(x: 8, y: 0, width: 32, height: 32, flipped: false)
        let found = denseCellMatches(firstBoxes: [a], secondBoxes: [b], sameFrame: [true], rows: 4, columns: 4)
        var expected: [(Int, Int)] = []
        for r in 0..<4 { for c in 1..<4 { expected.append((r * 4 + c, r * 4 + c - 1)) } }
        for r in 0..<4 { for c in 0..<3 { expected.append((r * 4 + c + 1, r * 4 + c)) } }
        XCTAssertEqual(found, matches(expected))
    }

    /// The same boxes with view B mirrored: B's cell column k shows frame column 3 - k of its box, so A's column c
    /// meets B's column 4 - c; and the second item of a batch numbers its cells after the first's.
    func testAMirroredViewMatchesMirroredColumnsAndLaterItemsAreOffsetByAPlane() {
        let a = ViewBox(x: 0, y: 0, width: 32, height: 32, flipped: false)
        let b = ViewBox(x: 8, y: 0, width: 32, height: 32, flipped: true)
        let found = denseCellMatches(firstBoxes: [a, a], secondBoxes: [b, b], sameFrame: [false, true], rows: 4, columns: 4)
        var expected: [(Int, Int)] = []
        for r in 0..<4 { for c in 1..<4 { expected.append((16 + r * 4 + c, 16 + r * 4 + 4 - c)) } }
        // B's column k (centre 36 - 8k) lies in A's column 4 - k, for k = 1...3.
        for r in 0..<4 { for k in 1..<4 { expected.append((16 + r * 4 + 4 - k, 16 + r * 4 + k)) } }
        XCTAssertEqual(found, matches(expected), "the temporal positive (item 0) gives no pairs")
    }

    /// A view twice as large (cells of 16 px) and offset down: each of B's cells holds the centres of 2x2 of A's.
    func testAViewAtAnotherScaleMatchesByFramePosition() {
        let a = ViewBox(x: 10, y: 20, width: 32, height: 32, flipped: false)
        let b = ViewBox(x: 10, y: 4, width: 64, height: 64, flipped: false)
        let found = denseCellMatches(firstBoxes: [a], secondBoxes: [b], sameFrame: [true], rows: 4, columns: 4)
        // A's row r has centre y 24 + 8r -> B row (20 + 8r) / 16; column c: x 14 + 8c -> B column (4 + 8c) / 16.
        var expected: [(Int, Int)] = []
        for r in 0..<4 { for c in 0..<4 { expected.append((r * 4 + c, (20 + 8 * r) / 16 * 4 + (4 + 8 * c) / 16)) } }
        // B's centres: x 18 + 16k inside A (10..<42) for k = 0, 1 -> A column (8 + 16k) / 8; y 12 + 16j inside A
        // (20..<52) for j = 1, 2 -> A row (16j - 8) / 8.
        for j in 1...2 { for k in 0...1 { expected.append(((16 * j - 8) / 8 * 4 + (8 + 16 * k) / 8, j * 4 + k)) } }
        XCTAssertEqual(found, matches(expected))
    }

    func testGradientsWithRespectToBothViewsEmbeddingsMatchFiniteDifferences() {
        var config = LossConfig()
        config.vicregInv = 2; config.vicregVar = 3; config.vicregCov = 5
        let a = smallEmbeddings(32, 4, seed: 5), b = smallEmbeddings(32, 4, seed: 6)
        let boxes = (ViewBox(x: 0, y: 0, width: 32, height: 32, flipped: false),
                     ViewBox(x: 8, y: 4, width: 40, height: 40, flipped: true))
        let found = denseCellMatches(firstBoxes: [boxes.0, boxes.1], secondBoxes: [boxes.1, boxes.0], sameFrame: [true, true],
                                     rows: 4, columns: 4)
        XCTAssertGreaterThan(found.count, 8)
        // The feature-space pairs are chosen once: the loss's gradient is the one for fixed pairs.
        let nearest = denseNearestNeighbourMatches(a, b, plane: 16, keep: 3)
        XCTAssertEqual(nearest.count, 12)
        let (terms, _) = denseVICRegTerms(a, b, matches: found, nearestMatches: nearest, config: config)
        XCTAssertEqual(terms.pairs, found.count)
        XCTAssertGreaterThan(terms.invariance, 0)
        XCTAssertGreaterThan(terms.invarianceNearest, 0)
        XCTAssertGreaterThan(terms.variance, 0, "every feature below the variance hinge")
        assertMatchesFiniteDifferences([("first", a, terms.gradFirst), ("second", b, terms.gradSecond)], eps: 1e-2) {
            Double(denseVICRegTerms(a, b, matches: found, nearestMatches: nearest, config: config).total)
        }
    }

    /// Feature-space pairs on one-dimensional embeddings: A = (0, 10, 20), B = (11, 1, 30) per item. From A: 0 -> B's
    /// 1 and 10 -> B's 11 (distance 1 each), 20 -> 11 (81); from B: 11 -> 10, 1 -> 0 (1 each), 30 -> 20 (100). With
    /// two kept per item and direction, the two of distance 1 each way; the second item's rows follow the first's.
    func testNearestNeighbourPairsAreTheClosestOfEachItemBothWays() {
        let a = Tensor(shape: [6, 1], values: [0, 10, 20, 0, 10, 20]), b = Tensor(shape: [6, 1], values: [11, 1, 30, 11, 1, 30])
        XCTAssertEqual(denseNearestNeighbourMatches(a, b, plane: 3, keep: 2),
                       matches([(0, 1), (1, 0), (1, 0), (0, 1), (3, 4), (4, 3), (4, 3), (3, 4)]))
        XCTAssertEqual(denseNearestNeighbourMatches(a, b, plane: 3, keep: 3).prefix(6),
                       matches([(0, 1), (1, 0), (2, 0), (1, 0), (0, 1), (2, 2)])[...])
        // Their invariance has a term (and gradient) of its own.
        let config = LossConfig()
        let (terms, _) = denseVICRegTerms(a, b, matches: [], nearestMatches: matches([(2, 0)]), config: config)
        XCTAssertEqual(terms.invariance, 0)
        XCTAssertEqual(terms.invarianceNearest, 81)
    }

    /// Without pairs the invariance is 0 and only variance and covariance pull.
    func testWithoutMatchesTheInvarianceIsZero() {
        let a = smallEmbeddings(8, 3, seed: 1), b = smallEmbeddings(8, 3, seed: 2)
        let (terms, _) = denseVICRegTerms(a, b, matches: [], config: LossConfig())
        XCTAssertEqual(terms.invariance, 0)
        XCTAssertEqual(terms.pairs, 0)
        XCTAssertEqual(terms.variance, (varianceLoss(samples: transposed(a)).value + varianceLoss(samples: transposed(b)).value) / 2)
    }

    func pseudoRandomImages(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.uniform() })
    }

    /// Two 64x64 views of three items (level 3: 8x8 cells), the first two items' boxes overlapping, the third a
    /// temporal positive.
    func denseInputs(weight: Float) -> DenseContent {
        let a = ViewBox(x: 0, y: 0, width: 96, height: 96, flipped: false)
        let b = ViewBox(x: 24, y: 12, width: 80, height: 80, flipped: true)
        return DenseContent(weight: weight, firstBoxes: [a, b, a], secondBoxes: [b, a, b], sameFrame: [true, true, false])
    }

    /// The model's parameter gradients with the dense loss on (the local projector's, and the encoder's through the
    /// level-3 feature maps) match finite differences of the total.
    func testModelGradientsThroughTheProjectorAndTheEncoderMatchFiniteDifferences() {
        let model = MCJEPAModel(config: ModelConfig.test.withLocalProjector(level: 3))
        model.initializeRandomly(seed: 4)
        let a = pseudoRandomImages([3, 3, 64, 64], seed: 1), b = pseudoRandomImages([3, 3, 64, 64], seed: 2)
        let config = LossConfig(), dense = denseInputs(weight: 0.7)
        model.parameters.zeroGradients()
        let report = model.contentLossesWithBackward(a, b, config: config, dense: dense)
        XCTAssertGreaterThan(try XCTUnwrap(report.terms["dense_pairs"]), 0)
        let t = report.terms
        let global = 25 * t["vicreg_inv"]! + 25 * t["vicreg_var"]! + t["vicreg_cov"]!
        XCTAssertEqual(t["dense"]!, 25 * t["dense_inv"]! + 25 * t["dense_var"]! + t["dense_cov"]!, accuracy: 1e-4)
        XCTAssertEqual(report.total, global + 0.7 * t["dense"]!, accuracy: 1e-4)
        let names = ["local_projector.linears.0.weight", "local_projector.linears.1.weight", "local_projector.norms.0.weight",
                     "encoder.levels.2.conv.weight", "encoder.levels.0.conv.weight"]
        let analytic = Dictionary(uniqueKeysWithValues: names.map { ($0, model.parameters.gradient($0).copy()) })
        // Without the dense loss the encoder's level-3 weights get another gradient: the check below sees the dense
        // term's part.
        model.parameters.zeroGradients()
        model.contentLossesWithBackward(a, b, config: config)
        let withoutDense = model.parameters.gradient("encoder.levels.2.conv.weight").array
        XCTAssertGreaterThan(zip(withoutDense, analytic["encoder.levels.2.conv.weight"]!.array).map { abs($0 - $1) }.max()!, 1e-4)
        func total() -> Float {
            model.parameters.zeroGradients()
            return model.contentLossesWithBackward(a, b, config: config, dense: dense).total
        }
        for name in names {
            let parameter = model.parameters[name], gradient = analytic[name]!
            XCTAssertGreaterThan(gradient.array.map(abs).max()!, 1e-5, "\(name) gets a gradient")
            // The entries with the largest gradients, where a missing or misplaced term shows most.
            let indices = (0..<gradient.count).sorted { abs(gradient.data[$0]) > abs(gradient.data[$1]) }.prefix(3)
            for i in indices {
                let kept = parameter.data[i], eps: Float = 3e-4
                parameter.data[i] = kept + eps; let up = total()
                parameter.data[i] = kept - eps; let down = total()
                parameter.data[i] = kept
                let numeric = (up - down) / (2 * eps)
                XCTAssertEqual(gradient.data[i], numeric, accuracy: 0.03 * abs(numeric) + 5e-3, "\(name)[\(i)]")
            }
        }
    }

    /// Weight 0 computes nothing of the dense loss: the report and every gradient are those without it, bit for bit.
    func testWeightZeroIsTheLossWithoutItBitForBit() {
        let model = MCJEPAModel(config: ModelConfig.test.withLocalProjector(level: 3))
        model.initializeRandomly(seed: 8)
        let a = pseudoRandomImages([3, 3, 64, 64], seed: 3), b = pseudoRandomImages([3, 3, 64, 64], seed: 4)
        func run(_ dense: DenseContent?) -> (LossReport, [[Float]]) {
            model.parameters.zeroGradients()
            let report = model.contentLossesWithBackward(a, b, config: LossConfig(), dense: dense)
            return (report, model.parameters.specs.map { model.parameters.gradient($0.name).array })
        }
        let (off, offGradients) = run(nil), (zero, zeroGradients) = run(denseInputs(weight: 0))
        XCTAssertEqual(zero.terms, off.terms)
        XCTAssertEqual(zero.total.bitPattern, off.total.bitPattern)
        XCTAssertEqual(zeroGradients, offGradients)
        XCTAssertNil(zero.terms["dense"])
    }

    /// The projector is a training head: configurations without it write no new JSON keys, one with it round-trips,
    /// and a file without it warm-starts a network with one (the projector fresh, everything else copied).
    func testTheProjectorRoundTripsInTheConfigAndWarmStartsFresh() throws {
        XCTAssertNil(ModelConfig.tiny.jsonObject["local_projector_level"])
        let config = ModelConfig.test.withLocalProjector(level: 3)
        XCTAssertEqual(config.localProjectorWidths, [32, 32])
        XCTAssertEqual(try ModelConfig.fromJSON(config.json).get(), config)
        var broken = config
        broken.localProjectorWidths = []
        XCTAssertNotNil(broken.validationError())

        let plain = MCJEPAModel(config: .test)
        plain.initializeRandomly(seed: 2)
        let model = MCJEPAModel(config: config)
        model.initializeRandomly(seed: 3)
        let fresh = try model.warmStart(from: plain, path: "plain.safetensors")
        XCTAssertEqual(fresh, model.parameters.specs.map(\.name).filter { $0.hasPrefix("local_projector.") })
        XCTAssertEqual(fresh.count, 6)
        for spec in plain.parameters.specs { XCTAssertEqual(model.parameters[spec.name].array, plain.parameters[spec.name].array) }
        // And back: a network without the projector leaves the file's out.
        let back = MCJEPAModel(config: .test)
        XCTAssertEqual(try back.warmStart(from: model, path: "dense.safetensors"), [])
    }

    /// A view's box says where it came from: the frame's pixels in the box, resized to the view and mirrored when
    /// the box says so, are the view up to the colour jitter, which on a grey frame without clipping (values in
    /// 0.35...0.65) is an affine map of the values. A wrong box, size or mirroring leaves a large residual.
    func testAContentViewsBoxIsWhereItsPixelsCameFrom() {
        let (width, height, size) = (96, 80, 64)
        var texture = SplitMix64(seed: 11)
        let grey = (0..<(width * height)).map { _ in 0.35 + 0.3 * texture.uniform() }
        let frame = FrameImage(width: width, height: height, planar: grey + grey + grey)
        var flips = 0
        for seed: UInt64 in 0..<12 {
            var rng = TrainingRNG(seed: seed)
            let (view, box) = Augment.contentViewWithBox(frame, size: size, rng: &rng)
            XCTAssertEqual(box.x.rounded(), box.x)
            XCTAssertTrue(box.x >= 0 && box.y >= 0 && box.x + box.width <= Float(width) && box.y + box.height <= Float(height), "\(box)")
            let (x, y, w, h) = (Int(box.x), Int(box.y), Int(box.width), Int(box.height))
            let region = Tensor(shape: [1, 1, h, w], values: (0..<(w * h)).map { grey[(y + $0 / w) * width + x + $0 % w] })
            let reference = resizeBilinearForward(region, height: size, width: size)
            flips += box.flipped ? 1 : 0
            // Least-squares a, b of view = a * reference + b over channel 0, then the largest residual.
            var pairs: [(Double, Double)] = []
            for row in 0..<size {
                for col in 0..<size {
                    let source = reference.data[row * size + (box.flipped ? size - 1 - col : col)]
                    pairs.append((Double(source), Double(view.data[row * size + col])))
                }
            }
            let n = Double(pairs.count)
            let (mx, my) = (pairs.map(\.0).reduce(0, +) / n, pairs.map(\.1).reduce(0, +) / n)
            let slope = pairs.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +) / pairs.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
            let residual = pairs.map { abs($0.1 - (my + slope * ($0.0 - mx))) }.max()!
            XCTAssertLessThan(residual, 1e-4, "seed \(seed), \(box)")
        }
        XCTAssertTrue((1...11).contains(flips), "both mirrored and plain views were checked")
    }

    /// PyTorch parity (Reference/mcjepa/export_dense_fixture.py): the same matched cells (by position, and by
    /// nearest neighbours in the projector's embedding), every content loss term and the gradients of every parameter
    /// the content loss reaches, with the dense loss at weight 0.7.
    func testMatchesLossTermsAndGradientsEqualThePyTorchReference() throws {
        let fixture = try ParityFixture.dense(), model = try ParityFixture.denseModel()
        XCTAssertEqual(model.config, ModelConfig.test.withLocalProjector(level: 3))
        func boxes(_ name: String) throws -> [ViewBox] {
            let t = try fixture.tensor(name)
            return (0..<t.shape[0]).map { n in
                let row = (0..<5).map { t.data[n * 5 + $0] }
                return ViewBox(x: row[0], y: row[1], width: row[2], height: row[3], flipped: row[4] != 0)
            }
        }
        let sameFrame = try fixture.tensor("io.same_frame").array.map { $0 != 0 }
        let nearest = try XCTUnwrap(Int(try XCTUnwrap(fixture.metadata["nearest_neighbours"], fixture.regenerate)))
        let dense = DenseContent(weight: try XCTUnwrap(Float(try XCTUnwrap(fixture.metadata["dense_weight"]))),
                                 firstBoxes: try boxes("io.boxes_a"), secondBoxes: try boxes("io.boxes_b"), sameFrame: sameFrame,
                                 nearestNeighbours: nearest)
        let found = denseCellMatches(firstBoxes: dense.firstBoxes, secondBoxes: dense.secondBoxes, sameFrame: sameFrame,
                                     rows: 8, columns: 8)
        let expected = try fixture.tensor("io.matches").array.map(Int.init)
        XCTAssertEqual(found.flatMap { [$0.first, $0.second] }, expected, "matched cells; \(fixture.regenerate)")
        let local = (model.localEmbeddingForTraining(model.encodeForTraining(try fixture.tensor("io.view_a")).features),
                     model.localEmbeddingForTraining(model.encodeForTraining(try fixture.tensor("io.view_b")).features))
        let nearestFound = denseNearestNeighbourMatches(local.0.embedding, local.1.embedding, plane: 64, keep: nearest)
        XCTAssertEqual(nearestFound.flatMap { [$0.first, $0.second] }, try fixture.tensor("io.nn_matches").array.map(Int.init),
                       "feature-space pairs; \(fixture.regenerate)")
        model.parameters.zeroGradients()
        let report = model.contentLossesWithBackward(try fixture.tensor("io.view_a"), try fixture.tensor("io.view_b"),
                                                     config: LossConfig(), dense: dense)
        for (name, value) in report.terms.merging(["total": report.total], uniquingKeysWith: { a, _ in a }) {
            let reference = try fixture.tensor("loss.\(name)").data[0]
            XCTAssertEqual(value, reference, accuracy: 1e-4 * max(1, abs(reference)), "\(name); \(fixture.regenerate)")
        }
        XCTAssertEqual(Set(report.terms.keys).union(["total"]),
                       Set(fixture.tensors.keys.filter { $0.hasPrefix("loss.") }.map { String($0.dropFirst(5)) }))
        for prefix in ["encoder.", "expander.", "local_projector."] {
            try fixture.assertParameterGradientsMatch(model, prefix: prefix)
        }
    }
}
