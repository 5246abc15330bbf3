import NN

// Supervised training on pairs with exact flow (synthetic photo pairs): the forward flow only, no
// self-supervised terms. With every self-supervised weight at zero, `flowLossesWithBackward` still decodes the
// backward direction and evaluates every term for nothing; this path costs one decoder pass instead of two and
// adds PWC-Net's multi-scale supervision, which gives the coarse levels (the ones that find large motions) a
// direct signal instead of only what reaches them back through the finer levels' warps.

extension MCJEPAModel {
    /// `supervised_epe` = mean end-point error of the full-resolution forward flow, plus `levelWeight` x the mean
    /// over decoded levels of `level_epe_l<l>` = that level's end-point error against the target average-pooled
    /// to its resolution, in full-resolution pixels (level values x 2^l). Accumulates `gradientScale` x d total /
    /// d parameters. Images [N,3,H,W] in [0,1], H and W multiples of 64; `target` [N,2,H,W] frame 1 -> 2; with
    /// `samples`, only the flagged items count (see `endPointError`). Gradients only as far as the `trainable` parts
    /// need. `epeCap` > 0 truncates the full-resolution term per pixel (`LossConfig.epeCap`). With
    /// `alignmentIterations` > 0 the full-resolution term is the `FeatureAlignment`-aligned flow's.
    @discardableResult
    public func supervisedFlowLossWithBackward(_ img1: Tensor, _ img2: Tensor, target: Tensor, levelWeight: Float = 0,
                                               epeCap: Float = 0, gradientScale: Float = 1, samples: [Bool]? = nil,
                                               trainable: TrainableParts = .all, alignmentIterations: Int = 0) -> LossReport {
        precondition(target.shape == [img1.n, 2, img1.h, img1.w], "supervised flow: target \(target.shape) for images \(img1.shape)")
        let t1 = encodeForTraining(img1), t2 = encodeForTraining(img2)
        let decoded = flowForTraining(t1.features, t2.features)
        let (trace, alignment) = alignedForTraining(decoded, t1.features, t2.features, iterations: alignmentIterations)
        var report = LossReport()
        let (epe, gradFull) = endPointError(trace.full, target, samples: samples, cap: epeCap)
        scaleInPlace(gradFull, gradientScale)
        report.terms["supervised_epe"] = epe
        report.total = epe
        var gradLevels = [Tensor?](repeating: nil, count: trace.levels.count)
        if levelWeight != 0 {
            let perLevel = levelWeight / Float(trace.levels.count)
            var sum: Float = 0
            for (index, level) in config.decodedLevels.enumerated() {
                let (value, grad) = levelEndPointError(trace.levels[index], target: target, level: level, samples: samples)
                report.terms["level_epe_l\(level)"] = value
                sum += value
                scaleInPlace(grad, perLevel * gradientScale)
                gradLevels[index] = grad
            }
            report.terms["level_epe"] = sum / Float(trace.levels.count)
            report.total += perLevel * sum
        }
        let through = alignment.map { FeatureAlignment.backward($0, gradOutput: gradFull) }
        var fromFlow = backwardFlow(decoded, gradLevels: gradLevels, gradFull: through?.gradFlow ?? gradFull,
                                    trainable: trainable)
        guard trainable.encoder else { return report }
        let level = FeatureAlignment.level - 1
        fromFlow.feats1[level] = sumGradients([fromFlow.feats1[level], through?.gradFeatures1])
        fromFlow.feats2[level] = sumGradients([fromFlow.feats2[level], through?.gradFeatures2])
        backwardEncoder(t1, gradFeatures: fromFlow.feats1)
        backwardEncoder(t2, gradFeatures: fromFlow.feats2)
        return report
    }
}

/// End-point error of a level-`level` flow (values in level pixels) against a full-resolution target, in
/// full-resolution pixels: the target is average-pooled over 2^level x 2^level blocks, the flow scaled by 2^level.
/// Returns the value and its gradient with respect to the level flow; `samples` as in `endPointError`.
func levelEndPointError(_ flow: Tensor, target: Tensor, level: Int, samples: [Bool]? = nil) -> (value: Float, grad: Tensor) {
    let factor = 1 << level
    precondition(target.h == flow.h * factor && target.w == flow.w * factor,
                 "level \(level) flow \(flow.shape) does not match target \(target.shape)")
    let pooled = avgPool2dForward(target, kernel: factor)
    let upscaled = flow.copy()
    scaleInPlace(upscaled, Float(factor))
    let (value, grad) = endPointError(upscaled, pooled, samples: samples)
    scaleInPlace(grad, Float(factor))
    return (value, grad)
}
