import FlowIO
import XCTest
@testable import Segmentation

/// The online target model (`TargetModel`): its fit against the ridge solution computed directly, a separable
/// labelling recovered, probabilities out, bad input refused; and flow-guided propagation with it.
final class TargetModelTests: XCTestCase {
    /// A deterministic pseudo-random value in -1...1.
    func noise(_ i: Int, _ salt: Int) -> Float { Float(((i &* 7919 &+ salt &* 104729) % 2003 + 2003) % 2003) / 1001 - 1 }

    /// A channels x height x width map of pseudo-random values.
    func randomMap(channels: Int, height: Int, width: Int, salt: Int) -> FeatureMap {
        FeatureMap(channels: channels, height: height, width: width,
                   values: (0..<(channels * height * width)).map { noise($0, salt) })
    }

    /// Soft label fractions (L x cells, planar, each cell summing to 1), most cells nearly pure.
    func randomLabels(count labelCount: Int, cells: Int, salt: Int) -> [Float] {
        var labels = [Float](repeating: 0, count: labelCount * cells)
        for cell in 0..<cells {
            let main = (cell * 5 + salt) % labelCount, other = (main + 1) % labelCount
            let purity: Float = cell % 4 == 0 ? 0.6 : 0.95
            labels[main * cells + cell] = purity
            labels[other * cells + cell] = 1 - purity
        }
        return labels
    }

    /// Ridge regression written out from its definition, in Double: unit descriptors with a bias, cell weights
    /// balancing the labels of the cells whose best fraction reaches `confidence`, statistics per frame mixed
    /// with the first frame's share and exponential forgetting, then the normal equations solved by Gaussian
    /// elimination with partial pivoting (not the model's Cholesky). Returns Theta (D x L, row-major).
    func directRidge(frames: [(FeatureMap, [Float])], labelCount: Int, configuration: TargetModel.Configuration) -> [Double] {
        let c = frames[0].0.channels, d = c + 1
        func statistics(_ map: FeatureMap, _ labels: [Float], confidence: Float) -> ([Double], [Double], Bool) {
            let n = map.width * map.height
            var rows: [[Double]] = [], targets: [[Double]] = [], classes: [Int] = []
            for cell in 0..<n {
                var x = (0..<c).map { Double(map.values[$0 * n + cell]) }
                let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
                x = x.map { norm > 0 ? $0 / norm : 0 } + [1]
                let y = (0..<labelCount).map { Double(labels[$0 * n + cell]) }
                let best = y.indices.max { y[$0] < y[$1] || (y[$0] == y[$1] && $0 > $1) }!
                guard y[best] >= Double(confidence) else { continue }
                rows.append(x); targets.append(y); classes.append(best)
            }
            let present = Set(classes).count
            var g = [Double](repeating: 0, count: d * d), h = [Double](repeating: 0, count: d * labelCount)
            for (k, x) in rows.enumerated() {
                let w = 1 / Double(configuration.balancesLabels ? present * classes.filter { $0 == classes[k] }.count : rows.count)
                for i in 0..<d {
                    for j in 0..<d { g[i * d + j] += w * x[i] * x[j] }
                    for l in 0..<labelCount { h[i * labelCount + l] += w * x[i] * targets[k][l] }
                }
            }
            return (g, h, !rows.isEmpty)
        }
        var (a, b, _) = statistics(frames[0].0, frames[0].1, confidence: 0)
        if frames.count > 1 {
            var rg = [Double](repeating: 0, count: d * d), rh = [Double](repeating: 0, count: d * labelCount), weight = 0.0
            let forgetting = Double(configuration.forgetting)
            for (map, labels) in frames.dropFirst() {
                let (g, h, any) = statistics(map, labels, confidence: configuration.confidence)
                rg = rg.map { $0 * forgetting }; rh = rh.map { $0 * forgetting }; weight *= forgetting
                if any { for i in rg.indices { rg[i] += g[i] }; for i in rh.indices { rh[i] += h[i] }; weight += 1 }
            }
            let share = Double(configuration.firstFrameShare)
            for i in a.indices { a[i] = share * a[i] + (1 - share) * rg[i] / weight }
            for i in b.indices { b[i] = share * b[i] + (1 - share) * rh[i] / weight }
        }
        for j in 0..<c { a[j * d + j] += Double(configuration.regularisation) }
        // Gaussian elimination on [A | B].
        var m = (0..<d).map { i in Array(a[(i * d)..<((i + 1) * d)]) + Array(b[(i * labelCount)..<((i + 1) * labelCount)]) }
        for col in 0..<d {
            let pivot = (col..<d).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            for row in 0..<d where row != col {
                let factor = m[row][col] / m[col][col]
                for k in col..<(d + labelCount) { m[row][k] -= factor * m[col][k] }
            }
        }
        var theta = [Double](repeating: 0, count: d * labelCount)
        for i in 0..<d { for l in 0..<labelCount { theta[i * labelCount + l] = m[i][d + l] / m[i][i] } }
        return theta
    }

    func assertCoefficients(_ model: TargetModel, equal theta: [Double], _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        let (d, l) = (model.dimension, model.labelCount)
        let scale = theta.map(abs).max()!
        for j in 0..<d {
            for label in 0..<l {
                XCTAssertEqual(Double(model.coefficients[label * d + j]), theta[j * l + label], accuracy: 1e-4 * max(1, scale),
                               "\(message): coefficient \(j) of label \(label)", file: file, line: line)
            }
        }
    }

    func test_the_first_fit_and_each_update_are_the_ridge_solutions_computed_directly() throws {
        for balancesLabels in [false, true] {
            try checkRidgeSolutions(balancesLabels: balancesLabels)
        }
    }

    func checkRidgeSolutions(balancesLabels: Bool) throws {
        let (c, h, w, labelCount) = (6, 5, 7, 3)
        let configuration = TargetModel.Configuration(regularisation: 0.02, forgetting: 0.8, firstFrameShare: 0.4,
                                                      confidence: 0.9, balancesLabels: balancesLabels)
        let frames = (0..<3).map { t in
            (randomMap(channels: c, height: h, width: w, salt: t), randomLabels(count: labelCount, cells: h * w, salt: t))
        }
        let model = try TargetModel(firstDescriptors: frames[0].0, labels: frames[0].1, labelCount: labelCount,
                                    configuration: configuration)
        XCTAssertEqual(model.dimension, c + 1)
        assertCoefficients(model, equal: directRidge(frames: [frames[0]], labelCount: labelCount, configuration: configuration),
                           "first frame")
        for t in 1..<3 {
            try model.update(try model.design(frames[t].0), labels: frames[t].1)
            assertCoefficients(model, equal: directRidge(frames: Array(frames[0...t]), labelCount: labelCount,
                                                         configuration: configuration), "after frame \(t)")
        }
        // The updates moved the fit (the test would not notice updates that did nothing otherwise).
        let firstOnly = try TargetModel(firstDescriptors: frames[0].0, labels: frames[0].1, labelCount: labelCount,
                                        configuration: configuration)
        XCTAssertGreaterThan(zip(model.coefficients, firstOnly.coefficients).map { abs($0 - $1) }.max()!, 1e-3)
    }

    func test_a_frame_without_confident_cells_only_ages_the_older_ones() throws {
        let (c, h, w) = (4, 3, 4)
        let configuration = TargetModel.Configuration(regularisation: 0.01, forgetting: 0.5, firstFrameShare: 0.5, confidence: 0.9)
        let first = randomMap(channels: c, height: h, width: w, salt: 1), second = randomMap(channels: c, height: h, width: w, salt: 2)
        let labels = randomLabels(count: 2, cells: h * w, salt: 1)
        let model = try TargetModel(firstDescriptors: first, labels: labels, labelCount: 2, configuration: configuration)
        try model.update(try model.design(second), labels: randomLabels(count: 2, cells: h * w, salt: 2))
        let before = model.coefficients
        // Every cell half and half: none reaches 0.9.
        try model.update(try model.design(first), labels: [Float](repeating: 0.5, count: 2 * h * w))
        // One recent frame, aged: its average is unchanged, so is the fit.
        for (a, b) in zip(model.coefficients, before) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func test_a_linearly_separable_labelling_is_recovered_exactly_on_its_frame_and_a_new_one() throws {
        // Three labels whose cells point in three directions 120 degrees apart (+-25 degrees, random lengths: the
        // model normalises them), on a 2-channel map.
        func frame(salt: Int) -> (FeatureMap, [Float], [Int]) {
            let (h, w) = (9, 11), cells = h * w
            var values = [Float](repeating: 0, count: 2 * cells), labels = [Float](repeating: 0, count: 3 * cells)
            var truth = [Int](repeating: 0, count: cells)
            for cell in 0..<cells {
                let label = (cell * 7 + salt) % 3
                let angle = Float(label) * 2 * .pi / 3 + 0.44 * noise(cell, salt)
                let length = 1.5 + noise(cell, salt + 9)
                values[cell] = length * cos(angle)
                values[cells + cell] = length * sin(angle)
                labels[label * cells + cell] = 1
                truth[cell] = label
            }
            return (FeatureMap(channels: 2, height: h, width: w, values: values), labels, truth)
        }
        let (map, labels, truth) = frame(salt: 3)
        let model = try TargetModel(firstDescriptors: map, labels: labels, labelCount: 3,
                                    configuration: .init(regularisation: 1e-4))
        for (descriptors, expected, name) in [(map, truth, "the first frame"), (frame(salt: 11).0, frame(salt: 11).2, "a new frame")] {
            let probabilities = model.probabilities(try model.design(descriptors))
            let cells = expected.count
            for cell in 0..<cells {
                let best = (0..<3).max { probabilities[$0 * cells + cell] < probabilities[$1 * cells + cell] }!
                XCTAssertEqual(best, expected[cell], "\(name), cell \(cell)")
            }
        }
    }

    func test_scores_sum_to_one_per_cell_and_probabilities_are_probabilities() throws {
        let (c, h, w, labelCount) = (5, 6, 8, 4)
        // Labels that follow the descriptors' first channel in four bands: a fit that extrapolates past 0 and 1.
        let map = randomMap(channels: c, height: h, width: w, salt: 5)
        var labels = [Float](repeating: 0, count: labelCount * h * w)
        for cell in 0..<(h * w) { labels[min(3, Int((map.values[cell] + 1) * 2)) * h * w + cell] = 1 }
        let model = try TargetModel(firstDescriptors: map, labels: labels, labelCount: labelCount,
                                    configuration: .init(regularisation: 1e-3))
        let design = try model.design(randomMap(channels: c, height: h, width: w, salt: 6))
        let scores = model.scores(design), probabilities = model.probabilities(design)
        let cells = h * w
        var clamped = 0
        for cell in 0..<cells {
            let total = (0..<labelCount).reduce(Float(0)) { $0 + scores[$1 * cells + cell] }
            XCTAssertEqual(total, 1, accuracy: 1e-4, "the unshrunk bias makes each cell's scores sum to 1")
            XCTAssertEqual((0..<labelCount).reduce(Float(0)) { $0 + probabilities[$1 * cells + cell] }, 1, accuracy: 1e-5)
            for l in 0..<labelCount {
                XCTAssertTrue((0...1).contains(probabilities[l * cells + cell]))
                if scores[l * cells + cell] < 0 { clamped += 1 }
            }
        }
        XCTAssertGreaterThan(clamped, 0, "some scores were negative: the clamping was exercised")
    }

    func test_bad_input_is_refused_with_a_reason() throws {
        let map = randomMap(channels: 3, height: 4, width: 5, salt: 1)
        let labels = randomLabels(count: 2, cells: 20, salt: 1)
        XCTAssertThrowsError(try TargetModel(firstDescriptors: map, labels: Array(labels.dropLast()), labelCount: 2)) {
            XCTAssertTrue("\($0)".contains("label values"), "\($0)")
        }
        XCTAssertThrowsError(try TargetModel(firstDescriptors: map, labels: labels, labelCount: 2,
                                             configuration: .init(regularisation: 0))) {
            XCTAssertTrue("\($0)".contains("regularisation must be positive"), "\($0)")
        }
        XCTAssertThrowsError(try TargetModel(firstDescriptors: map, labels: labels, labelCount: 2,
                                             configuration: .init(forgetting: 1.5)))
        let model = try TargetModel(firstDescriptors: map, labels: labels, labelCount: 2)
        XCTAssertThrowsError(try model.design(randomMap(channels: 3, height: 5, width: 4, salt: 2))) {
            XCTAssertTrue("\($0)".contains("the first frame's were 3x4x5"), "\($0)")
        }
        XCTAssertThrowsError(try model.update(try model.design(map), labels: [0.5])) {
            XCTAssertTrue("\($0)".contains("expected 20 cells and 2 labels"), "\($0)")
        }
    }

    // MARK: - In flow-guided propagation

    /// A 48x32 frame: a red square at x0..<x0+16, rows 8..<24, over a gradient; its mask; colour patches.
    func scene(x0: Int) -> (rgb: [UInt8], mask: [UInt8], patches: FeatureMap) {
        let (w, h) = (48, 32)
        var rgb = [UInt8](repeating: 0, count: w * h * 3), mask = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let inside = (x0..<(x0 + 16)).contains(x) && (8..<24).contains(y)
                let pixel: [UInt8] = inside ? [220, 30, 30] : [UInt8(40 + x * 3), UInt8(60 + y * 4), 120]
                for c in 0..<3 { rgb[(y * w + x) * 3 + c] = pixel[c] }
                mask[y * w + x] = inside ? 1 : 0
            }
        }
        return (rgb, mask, ColourPatchFeatures.features(rgb: rgb, width: w, height: h, stride: 8))
    }

    func test_flow_guided_propagation_with_a_target_model_gives_probabilities_and_updates_it() throws {
        let first = scene(x0: 8)
        let configuration = FlowGuidedPropagation.Configuration(fusion: .average, targetModel: .init())
        let propagation = try FlowGuidedPropagation(firstCues: [first.patches], targetDescriptors: first.patches,
                                                    firstMask: first.mask, frameWidth: 48, frameHeight: 32,
                                                    configuration: configuration)
        let model = try XCTUnwrap(propagation.targetModel)
        let fitted = model.coefficients
        for (t, x0) in [16, 24].enumerated() {
            let next = scene(x0: x0)
            let appearance = try propagation.appearance([next.patches], targetDescriptors: next.patches)
            let pixels = 48 * 32
            for i in 0..<pixels {
                XCTAssertEqual(appearance.maps[i] + appearance.maps[pixels + i], 1, accuracy: 1e-5)
                XCTAssertTrue((0...1).contains(appearance.maps[i]) && (0...1).contains(appearance.maps[pixels + i]))
            }
            let mask = try propagation.propagate(appearance, rgb: next.rgb, backward: nil, forward: nil)
            let agree = zip(mask, next.mask).filter { $0 == $1 }.count
            XCTAssertGreaterThan(Float(agree) / Float(pixels), 0.95, "frame \(t + 1): the red square is found")
        }
        XCTAssertNotEqual(model.coefficients, fitted, "the model was refitted on the predicted frames")
        // Confidence fusion runs too and gives probabilities.
        let pooled = try FlowGuidedPropagation(firstCues: [first.patches], targetDescriptors: first.patches,
                                               firstMask: first.mask, frameWidth: 48, frameHeight: 32,
                                               configuration: .init(fusion: .confidence, targetModel: .init()))
        let maps = try pooled.appearance([scene(x0: 12).patches], targetDescriptors: scene(x0: 12).patches).maps
        for i in 0..<(48 * 32) { XCTAssertEqual(maps[i] + maps[48 * 32 + i], 1, accuracy: 1e-5) }
    }

    func test_target_model_descriptors_must_come_with_a_target_model_and_fit_the_grid() throws {
        let first = scene(x0: 8)
        XCTAssertThrowsError(try FlowGuidedPropagation(firstCues: [first.patches], firstMask: first.mask, frameWidth: 48,
                                                       frameHeight: 32, configuration: .init(targetModel: .init()))) {
            XCTAssertTrue("\($0)".contains("needs the first frame's descriptors"), "\($0)")
        }
        XCTAssertThrowsError(try FlowGuidedPropagation(firstCues: [first.patches], targetDescriptors: first.patches,
                                                       firstMask: first.mask, frameWidth: 48, frameHeight: 32)) {
            XCTAssertTrue("\($0)".contains("without a target model"), "\($0)")
        }
        let propagation = try FlowGuidedPropagation(firstCues: [first.patches], targetDescriptors: first.patches,
                                                    firstMask: first.mask, frameWidth: 48, frameHeight: 32,
                                                    configuration: .init(targetModel: .init()))
        XCTAssertThrowsError(try propagation.appearance([first.patches])) {
            XCTAssertTrue("\($0)".contains("needs the frame's descriptors"), "\($0)")
        }
        XCTAssertThrowsError(try propagation.appearance([first.patches],
                                                        targetDescriptors: randomMap(channels: 12, height: 3, width: 6, salt: 1)))
    }
}

extension TargetModelTests {
    func test_an_objects_target_probability_is_kept_only_near_where_it_was() {
        // A 9 x 7 grid, two objects: label 1 held at cell (2, 3) (a quarter exactly), label 2 nowhere
        // (0.2 at (8, 0), under a quarter). Every cell says 0.2 / 0.3 / 0.5.
        let (w, h) = (9, 7), cells = w * h
        var previous = [Float](repeating: 0, count: 3 * cells)
        for cell in 0..<cells { previous[cell] = 1 }
        previous[cells + 3 * w + 2] = 0.25; previous[3 * w + 2] = 0.75
        previous[2 * cells + 8] = 0.2; previous[8] = 0.8
        var probabilities = [Float](repeating: 0, count: 3 * cells)
        for cell in 0..<cells { (probabilities[cell], probabilities[cells + cell], probabilities[2 * cells + cell]) = (0.2, 0.3, 0.5) }
        FlowGuidedPropagation.confine(&probabilities, near: previous, count: 3, gridWidth: w, gridHeight: h, radius: 2)
        for y in 0..<h {
            for x in 0..<w {
                let cell = y * w + x, inside = abs(x - 2) <= 2 && abs(y - 3) <= 2
                XCTAssertEqual(probabilities[cells + cell], inside ? 0.3 : 0, "label 1 at (\(x), \(y))")
                XCTAssertEqual(probabilities[2 * cells + cell], 0, "label 2 at (\(x), \(y)): held nowhere")
                XCTAssertEqual(probabilities[cell], inside ? 0.7 : 1, accuracy: 1e-6, "background at (\(x), \(y))")
            }
        }
    }
}

extension TargetModelTests {
    func test_random_features_approximate_the_gaussian_kernel() throws {
        // Unit descriptors at known angles in 3 channels; 512 random features of width 0.5.
        let angles: [Float] = [0, 0.2, 0.5, 1.0, 2.0]
        let cells = angles.count
        var values = [Float](repeating: 0, count: 3 * cells)
        for (cell, angle) in angles.enumerated() { values[cell] = cos(angle); values[cells + cell] = sin(angle); values[2 * cells + cell] = 0 }
        let map = FeatureMap(channels: 3, height: 1, width: cells, values: values)
        var labels = [Float](repeating: 0, count: 2 * cells)
        for cell in 0..<cells { labels[cell] = 1 }
        let model = try TargetModel(firstDescriptors: map, labels: labels, labelCount: 2,
                                    configuration: .init(randomFeatures: 512, kernelWidth: 0.5))
        XCTAssertEqual(model.dimension, 513)
        let design = try model.design(map), d = model.dimension
        for i in 0..<cells {
            for j in 0..<cells {
                let z = (0..<(d - 1)).reduce(Float(0)) { $0 + design.rows[i * d + $1] * design.rows[j * d + $1] }
                let squared = 2 - 2 * cos(angles[i] - angles[j])
                XCTAssertEqual(z, exp(-squared / (2 * 0.25)), accuracy: 0.12, "cells \(i), \(j)")
            }
            XCTAssertEqual(design.rows[i * d + d - 1], 1, "the bias")
        }
    }

    func test_random_features_recover_a_ring_that_no_hyperplane_separates() throws {
        // 2-channel descriptors on the unit circle; label 1 on two opposite arcs (|angle| < 0.6 or near pi), label
        // 0 elsewhere: linearly inseparable (a line through the circle cuts off one arc, not two opposite ones).
        let cells = 120
        var values = [Float](repeating: 0, count: 2 * cells), labels = [Float](repeating: 0, count: 2 * cells)
        var truth = [Int](repeating: 0, count: cells)
        for cell in 0..<cells {
            let angle = Float(cell) * 2 * .pi / Float(cells)
            values[cell] = cos(angle); values[cells + cell] = sin(angle)
            let object = abs(cos(angle)) > cos(0.6)
            truth[cell] = object ? 1 : 0
            labels[(object ? 1 : 0) * cells + cell] = 1
        }
        let map = FeatureMap(channels: 2, height: 1, width: cells, values: values)
        func errors(_ configuration: TargetModel.Configuration) throws -> Int {
            let model = try TargetModel(firstDescriptors: map, labels: labels, labelCount: 2, configuration: configuration)
            let p = model.probabilities(try model.design(map))
            return (0..<cells).filter { (p[cells + $0] > p[$0] ? 1 : 0) != truth[$0] }.count
        }
        XCTAssertEqual(try errors(.init(regularisation: 1e-4, randomFeatures: 256, kernelWidth: 0.3)), 0)
        XCTAssertGreaterThan(try errors(.init(regularisation: 1e-4)), 10, "the linear model cannot")
    }
}
