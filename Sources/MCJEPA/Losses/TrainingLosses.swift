import NN

// `flow_losses` and `content_losses` of Reference/mcjepa/losses.py with their complete backward pass: the
// gradient of the weighted total is accumulated into `model.parameters` (through the decoder in both directions,
// the content branch and the shared encoder), so that a training step is forward + these + an optimizer update.

/// Loss terms by the reference's names (photo, feature, smooth, cycle, visible, varcov, var_l1.., cov_l1..,
/// vicreg_inv, vicreg_var, vicreg_cov, supervised_epe) and the weighted total.
public struct LossReport {
    public var terms: [String: Float] = [:]
    public var total: Float = 0
}

/// What the dense content loss needs besides the views: its weight in the content total, and per item where the two
/// global views lie in their frame (`ContentViews`' boxes) and whether they share one.
public struct DenseContent: Sendable {
    public var weight: Float
    public var firstBoxes: [ViewBox], secondBoxes: [ViewBox]
    public var sameFrame: [Bool]
    /// VICRegL's feature-space matching: the closest pairs of nearest neighbours kept per item and direction (0: off).
    public var nearestNeighbours: Int

    public init(weight: Float, firstBoxes: [ViewBox], secondBoxes: [ViewBox], sameFrame: [Bool], nearestNeighbours: Int = 0) {
        self.weight = weight; self.firstBoxes = firstBoxes; self.secondBoxes = secondBoxes; self.sameFrame = sameFrame
        self.nearestNeighbours = nearestNeighbours
    }
}

/// Outputs of the flow pass worth inspecting (the parity test compares them with the reference's).
public struct FlowPassOutputs {
    public let features1: [Tensor], features2: [Tensor]
    public let forward: DecoderTrace, backward: DecoderTrace
    /// Occlusion masks of the forward direction: full resolution, and per decoded level (coarse to fine).
    public let forwardMaskFull: Tensor, forwardMaskLevels: [Tensor]
    /// Smallest distance of a full-resolution pixel to the occlusion threshold (forward direction).
    public let maskMargin: Float
}

/// Gradients of one direction's terms with respect to its flows and the features.
private struct DirectionGradients {
    var levelsAB: [Tensor], fullAB: Tensor, fullBA: Tensor
    var featsA: [Tensor?], featsB: [Tensor?]
}

extension MCJEPAModel {
    /// Flow losses on a pair [N,3,H,W] in [0,1] (H, W multiples of 64), both directions; accumulates
    /// `gradientScale` x d total / d parameters. `targetFlow` (frame 1 -> 2, [N,2,H,W]) adds
    /// `supervisedWeight` x mean end-point error of the forward flow (synthetic pairs with exact flow), over the
    /// items flagged in `targetSamples` (all when nil). Gradients are computed only as far as the `trainable`
    /// parts need (the values do not depend on it). With `alignmentIterations` > 0 the full-resolution flows of both
    /// directions that the losses see are `FeatureAlignment`'s, as at inference (`alignedForTraining`).
    @discardableResult
    public func flowLossesWithBackward(_ img1: Tensor, _ img2: Tensor, config: LossConfig, gradientScale: Float = 1,
                                       targetFlow: Tensor? = nil, supervisedWeight: Float = 0,
                                       targetSamples: [Bool]? = nil, trainable: TrainableParts = .all,
                                       alignmentIterations: Int = 0)
        -> (report: LossReport, outputs: FlowPassOutputs) {
        let t1 = encodeForTraining(img1), t2 = encodeForTraining(img2)
        let f1 = t1.features, f2 = t2.features
        let decodedFw = flowForTraining(f1, f2), decodedBw = flowForTraining(f2, f1)
        let (fw, alignFw) = alignedForTraining(decodedFw, f1, f2, iterations: alignmentIterations)
        let (bw, alignBw) = alignedForTraining(decodedBw, f2, f1, iterations: alignmentIterations)
        var report = LossReport()

        let (termsFw, gradFw, maskFull, maskLevels, margin) = directionTerms(img1, img2, f1, f2, fw, bw, config)
        let (termsBw, gradBw, _, _, _) = directionTerms(img2, img1, f2, f1, bw, fw, config)
        for key in termsFw.keys { report.terms[key] = (termsFw[key]! + termsBw[key]!) / 2 }

        // Variance-covariance per level: every pixel of both frames is one sample.
        var featureGrad1 = [Tensor?](repeating: nil, count: ModelConfig.levelCount), featureGrad2 = featureGrad1
        var varcov: Float = 0
        for l in 0..<ModelConfig.levelCount {
            let samples = pixelsAsSamples([f1[l], f2[l]])
            let (v, gv) = varianceLoss(samples: samples)
            let (c, gc) = covarianceLoss(samples: samples)
            report.terms["var_l\(l + 1)"] = v
            report.terms["cov_l\(l + 1)"] = c
            varcov += config.varWeights[l] * v + config.covWeights[l] * c
            guard trainable.encoder, config.varWeights[l] != 0 || config.covWeights[l] != 0 else { continue }
            let g = Tensor(shape: samples.shape)
            accumulate(g, gv, scale: config.varWeights[l] * gradientScale)
            accumulate(g, gc, scale: config.covWeights[l] * gradientScale)
            let parts = samplesAsPixels(g, like: [f1[l], f2[l]])
            featureGrad1[l] = parts[0]
            featureGrad2[l] = parts[1]
        }
        report.terms["varcov"] = varcov
        let terms = report.terms
        report.total = config.photoWeight * terms["photo"]! + terms["feature"]! + config.smoothWeight * terms["smooth"]!
            + config.cycleWeight * terms["cycle"]! + varcov

        // Each direction's terms enter the total with weight 1/2 (they are averaged).
        let half = gradientScale / 2
        let dFullFw = gradFw.fullAB.copy(), dFullBw = gradBw.fullAB.copy()
        accumulate(dFullFw, gradBw.fullBA)
        accumulate(dFullBw, gradFw.fullBA)
        if let targetFlow, supervisedWeight > 0 {
            let (epe, gradEPE) = endPointError(fw.full, targetFlow, samples: targetSamples, cap: config.epeCap)
            report.terms["supervised_epe"] = epe
            report.total += supervisedWeight * epe
            accumulate(dFullFw, gradEPE, scale: supervisedWeight * gradientScale / half)
        }
        scaleInPlace(dFullFw, half); scaleInPlace(dFullBw, half)
        for g in gradFw.levelsAB + gradBw.levelsAB { scaleInPlace(g, half) }
        // Through the alignment (when on) to the decoder's full flows and the level-1 features of both frames.
        let throughFw = alignFw.map { FeatureAlignment.backward($0, gradOutput: dFullFw) }
        let throughBw = alignBw.map { FeatureAlignment.backward($0, gradOutput: dFullBw) }
        let fromFw = backwardFlow(decodedFw, gradLevels: gradFw.levelsAB, gradFull: throughFw?.gradFlow ?? dFullFw,
                                  trainable: trainable)
        let fromBw = backwardFlow(decodedBw, gradLevels: gradBw.levelsAB, gradFull: throughBw?.gradFlow ?? dFullBw,
                                  trainable: trainable)
        let outputs = FlowPassOutputs(features1: f1, features2: f2, forward: fw, backward: bw,
                                      forwardMaskFull: maskFull, forwardMaskLevels: maskLevels, maskMargin: margin)
        guard trainable.encoder else { return (report, outputs) }
        for l in 0..<ModelConfig.levelCount {
            featureGrad1[l] = sumGradients([featureGrad1[l], fromFw.feats1[l], fromBw.feats2[l],
                                            scaled(gradFw.featsA[l], half), scaled(gradBw.featsB[l], half)])
            featureGrad2[l] = sumGradients([featureGrad2[l], fromFw.feats2[l], fromBw.feats1[l],
                                            scaled(gradFw.featsB[l], half), scaled(gradBw.featsA[l], half)])
        }
        let level = FeatureAlignment.level - 1
        featureGrad1[level] = sumGradients([featureGrad1[level], throughFw?.gradFeatures1, throughBw?.gradFeatures2])
        featureGrad2[level] = sumGradients([featureGrad2[level], throughFw?.gradFeatures2, throughBw?.gradFeatures1])
        backwardEncoder(t1, gradFeatures: featureGrad1)
        backwardEncoder(t2, gradFeatures: featureGrad2)
        return (report, outputs)
    }

    /// VICReg through the expander on two augmented views [B,3,H,W] (B >= 2) and, optionally, multi-crop local views
    /// [M*B,3,h,w] (view-major: rows m*B..<(m+1)*B are local view m of the B items, usually smaller than the global
    /// views), encoded in one pass of their own (`vicregMultiViewTerms`; without local views the loss and gradients
    /// are the two-view VICReg's exactly); accumulates `gradientScale` x d total / d parameters (only the expander's
    /// when the encoder is not `trainable`). With `dense` (a weight above 0; the model must have a local projector),
    /// adds weight x the dense VICReg of the two global views' cells (`denseVICRegTerms`) at the projector's level,
    /// whose gradient reaches the encoder there; without it nothing of the dense loss is computed.
    @discardableResult
    public func contentLossesWithBackward(_ viewA: Tensor, _ viewB: Tensor, localViews: Tensor? = nil, config: LossConfig,
                                          dense: DenseContent? = nil,
                                          gradientScale: Float = 1, trainable: TrainableParts = .all) -> LossReport {
        let batch = viewA.n
        precondition(localViews.map { $0.n % batch == 0 } ?? true, "local views: \(localViews!.n) rows for \(batch) items")
        let ta = encodeForTraining(viewA), tb = encodeForTraining(viewB)
        let ca = contentForTraining(ta.features), cb = contentForTraining(tb.features)
        let tl = localViews.map(encodeForTraining)
        let cl = tl.map { contentForTraining($0.features) }
        let locals = cl.map { splitRows($0.embedding, into: $0.embedding.shape[0] / batch) } ?? []
        let (terms, total) = vicregMultiViewTerms(ca.embedding, cb.embedding, locals: locals, config: config)
        var report = LossReport(terms: ["vicreg_inv": terms.invariance, "vicreg_var": terms.variance,
                                        "vicreg_cov": terms.covariance], total: total)
        report.terms["vicreg_inv_local"] = terms.localInvariance
        // The dense loss's gradients with respect to the two global views' feature maps at the projector's level.
        var denseGrads: [Tensor?] = [nil, nil]
        if let dense, dense.weight > 0 {
            precondition(self.config.localProjectorLevel > 0, "dense content loss: \(self.config) has no local projector")
            let level = self.config.localProjectorLevel, map = ta.features[level - 1]
            let la = localEmbeddingForTraining(ta.features), lb = localEmbeddingForTraining(tb.features)
            let matches = denseCellMatches(firstBoxes: dense.firstBoxes, secondBoxes: dense.secondBoxes,
                                           sameFrame: dense.sameFrame, rows: map.h, columns: map.w)
            let nearest = dense.nearestNeighbours == 0 ? []
                : denseNearestNeighbourMatches(la.embedding, lb.embedding, plane: map.h * map.w, keep: dense.nearestNeighbours)
            let (denseTerms, denseTotal) = denseVICRegTerms(la.embedding, lb.embedding, matches: matches,
                                                            nearestMatches: nearest, config: config)
            report.terms["dense_inv"] = denseTerms.invariance
            if dense.nearestNeighbours > 0 { report.terms["dense_inv_nn"] = denseTerms.invarianceNearest }
            report.terms["dense_var"] = denseTerms.variance
            report.terms["dense_cov"] = denseTerms.covariance
            report.terms["dense_pairs"] = Float(denseTerms.pairs)
            report.terms["dense"] = denseTotal
            report.total += dense.weight * denseTotal
            scaleInPlace(denseTerms.gradFirst, dense.weight * gradientScale)
            scaleInPlace(denseTerms.gradSecond, dense.weight * gradientScale)
            denseGrads = [backwardLocalEmbedding(la, gradEmbedding: denseTerms.gradFirst),
                          backwardLocalEmbedding(lb, gradEmbedding: denseTerms.gradSecond)]
        }
        var passes = [(ta, ca, terms.gradFirst, denseGrads[0]), (tb, cb, terms.gradSecond, denseGrads[1])]
        if let tl, let cl { passes.append((tl, cl, joinRows(terms.gradLocals), nil)) }
        let top = ModelConfig.levelCount - 1
        for (trace, content, grad, denseGrad) in passes {
            scaleInPlace(grad, gradientScale)
            let dTop = backwardContent(content, gradRepresentation: nil, gradEmbedding: grad)
            guard trainable.encoder else { continue }
            var grads = [Tensor?](repeating: nil, count: ModelConfig.levelCount)
            grads[top] = dTop
            if let denseGrad {
                let level = self.config.localProjectorLevel - 1
                grads[level] = sumGradients([grads[level], denseGrad])
            }
            backwardEncoder(trace, gradFeatures: grads)
        }
        return report
    }

    /// `trace` with its full-resolution flow replaced by `FeatureAlignment`'s on the two frames' level-1 features, and
    /// the alignment's record for its backward; with 0 iterations `trace` itself and no record.
    func alignedForTraining(_ trace: DecoderTrace, _ featsA: [Tensor], _ featsB: [Tensor], iterations: Int)
        -> (trace: DecoderTrace, record: FeatureAlignment.Record?) {
        guard iterations > 0 else { return (trace, nil) }
        let level = FeatureAlignment.level - 1
        let (aligned, record) = FeatureAlignment.align(trace.full, features1: featsA[level], features2: featsB[level],
                                                       iterations: iterations, recording: true)
        return (DecoderTrace(levels: trace.levels, full: aligned, record: trace.record), record)
    }

    /// One direction a -> b (`_direction_terms`): values, and gradients of the unweighted-by-1/2 direction total
    /// photo_weight * photo + feature + smooth_weight * smooth + cycle_weight * cycle.
    private func directionTerms(_ imgA: Tensor, _ imgB: Tensor, _ featsA: [Tensor], _ featsB: [Tensor],
                                _ ab: DecoderTrace, _ ba: DecoderTrace, _ config: LossConfig)
        -> ([String: Float], DirectionGradients, Tensor, [Tensor], Float) {
        let (maskFull, margin) = occlusionMask(forward: ab.full, backward: ba.full, alpha1: config.occAlpha1, alpha2: config.occAlpha2)
        var grads = DirectionGradients(levelsAB: ab.levels.map { Tensor(shape: $0.shape) }, fullAB: Tensor(shape: ab.full.shape),
                                       fullBA: Tensor(shape: ba.full.shape),
                                       featsA: Array(repeating: nil, count: ModelConfig.levelCount), featsB: Array(repeating: nil, count: ModelConfig.levelCount))
        // Photometric on the full-resolution flow.
        let photoMask = config.useOcclusion ? maskFull : Tensor(shape: maskFull.shape, repeating: 1)
        let reconstruction = backwardWarp(imgB, ab.full)
        let (photo, dRecon) = photometricLoss(target: imgA, reconstruction: reconstruction, mask: photoMask,
                                              l1Weight: config.photoL1, ssimWeight: config.photoSSIM)
        scaleInPlace(dRecon, config.photoWeight)
        backwardWarpBackward(image: imgB, flow: ab.full, gradOutput: dRecon, gradImage: nil, gradFlow: grads.fullAB)

        // Feature regression per decoded level.
        var feature: Float = 0, maskLevels: [Tensor] = []
        for (index, level) in self.config.decodedLevels.enumerated() {
            let flowAB = ab.levels[index], flowBA = ba.levels[index]
            let mask = occlusionMask(forward: flowAB, backward: flowBA, alpha1: config.occAlpha1, alpha2: config.occAlpha2).mask
            maskLevels.append(mask)
            let used = config.useOcclusion ? mask : Tensor(shape: mask.shape, repeating: 1)
            let l = level - 1, weight = config.featureWeights[l]
            let warped = backwardWarp(featsB[l], flowAB)
            let (value, gTarget, gWarped) = featureRegressionLoss(target: featsA[l], warped: warped, mask: used)
            feature += weight * value
            guard weight != 0 else { continue }
            scaleInPlace(gTarget, weight); scaleInPlace(gWarped, weight)
            let gB = Tensor(shape: featsB[l].shape)
            backwardWarpBackward(image: featsB[l], flow: flowAB, gradOutput: gWarped, gradImage: gB, gradFlow: grads.levelsAB[index])
            grads.featsA[l] = sumGradients([grads.featsA[l], gTarget])
            grads.featsB[l] = sumGradients([grads.featsB[l], gB])
        }

        // Smoothness of the finest decoded flow against the image at its resolution.
        let finestIndex = ab.levels.count - 1, finest = ab.levels[finestIndex]
        let small = resizeBilinearForward(imgA, height: finest.h, width: finest.w)
        let (smooth, dSmooth) = smoothnessLoss(flow: finest, image: small, edge: config.smoothEdge)
        accumulate(grads.levelsAB[finestIndex], dSmooth, scale: config.smoothWeight)

        // Cycle consistency, always masked.
        let (cycle, dCycleAB, dCycleBA) = cycleLoss(forward: ab.full, backward: ba.full, mask: maskFull)
        accumulate(grads.fullAB, dCycleAB, scale: config.cycleWeight)
        accumulate(grads.fullBA, dCycleBA, scale: config.cycleWeight)

        let terms: [String: Float] = ["photo": photo, "feature": feature, "smooth": smooth, "cycle": cycle,
                                      "visible": Float(Double(sum(maskFull)) / Double(maskFull.count))]
        return (terms, grads, maskFull, maskLevels, margin)
    }

}

/// Mean over pixels of |flow - target| (end-point error) and its gradient with respect to `flow`. With
/// `samples` (one flag per batch item), only the flagged items count: the mean is over their pixels and the other
/// items get no gradient, so a batch that mixes pairs with and without exact flow is supervised where it can be.
/// A non-finite target value marks its pixel unknown (a teacher's flow that failed its forward-backward check,
/// `preprocess --flow --mask-inconsistent`): the mean is over the known pixels and unknown ones get no gradient.
/// With `cap` > 0 each known pixel counts min(error, cap) (`LossConfig.epeCap`): past the cap, no gradient.
public func endPointError(_ flow: Tensor, _ target: Tensor, samples: [Bool]? = nil,
                          cap: Float = 0) -> (value: Float, grad: Tensor) {
    precondition(flow.shape == target.shape, "end-point error: flow \(flow.shape) vs target \(target.shape)")
    precondition(samples == nil || samples!.count == flow.n, "end-point error: \(samples!.count) sample flags for \(flow.n) items")
    let N = flow.n, plane = flow.h * flow.w
    let grad = Tensor(shape: flow.shape)
    var known = 0
    var total = 0.0
    // The direction of each known pixel's error first, divided by the count of known pixels once it is known.
    for n in 0..<N where samples?[n] ?? true {
        for p in 0..<plane {
            let iu = n * 2 * plane + p, iv = iu + plane
            guard target.data[iu].isFinite && target.data[iv].isFinite else { continue }
            let du = flow.data[iu] - target.data[iu], dv = flow.data[iv] - target.data[iv]
            let e = (du * du + dv * dv).squareRoot()
            known += 1
            if cap > 0 && e > cap {
                total += Double(cap)
                continue
            }
            total += Double(e)
            guard e > 0 else { continue }
            grad.data[iu] = du / e
            grad.data[iv] = dv / e
        }
    }
    guard known > 0 else { return (0, grad) }
    let count = Float(known)
    for i in 0..<grad.count { grad.data[i] /= count }
    return (Float(total / Double(count)), grad)
}

func scaleInPlace(_ t: Tensor, _ s: Float) {
    guard s != 1 else { return }
    for i in 0..<t.count { t.data[i] *= s }
}

private func scaled(_ t: Tensor?, _ s: Float) -> Tensor? {
    guard let t else { return nil }
    let c = t.copy()
    scaleInPlace(c, s)
    return c
}

/// [K*B, D] -> K tensors [B, D] of consecutive rows.
private func splitRows(_ x: Tensor, into parts: Int) -> [Tensor] {
    let rows = x.shape[0] / parts, width = x.shape[1]
    return (0..<parts).map { part in
        let out = Tensor(shape: [rows, width])
        out.data.update(from: x.data + part * rows * width, count: rows * width)
        return out
    }
}

/// The adjoint of `splitRows`: K tensors [B, D] -> [K*B, D].
private func joinRows(_ parts: [Tensor]) -> Tensor {
    let (rows, width) = (parts[0].shape[0], parts[0].shape[1])
    let out = Tensor(shape: [parts.count * rows, width])
    for (k, part) in parts.enumerated() { (out.data + k * rows * width).update(from: part.data, count: rows * width) }
    return out
}

/// Sum of the present gradients (nil when none is).
func sumGradients(_ parts: [Tensor?]) -> Tensor? {
    let present = parts.compactMap { $0 }
    guard let first = present.first else { return nil }
    let total = first.copy()
    for part in present.dropFirst() { accumulate(total, part) }
    return total
}
