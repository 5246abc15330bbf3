import AtomicOutput
import Foundation
import NN

/// Training settings, with Reference/mcjepa/train.py's names and defaults.
public struct TrainerOptions {
    public var steps = 100_000
    public var batch = 4                 // flow pairs per step
    public var contentBatch = 16         // content images per step (two views each), >= 2
    public var crop = (height: 256, width: 320)
    public var contentSize = 128
    public var contentWarmup = 1000      // content-only steps before the flow losses switch on
    public var occlusionStart = 3000     // step from which occlusion masks may apply
    public var minVisible: Float = 0.5   // ... and only while at least this fraction of pixels is visible
    public var learningRate: Float = 5e-4
    public var weightDecay: Float = 0.05
    public var warmup = 500
    public var clip: Float = 1.0         // global gradient-norm clip (0 = off)
    public var supervisedWeight: Float = 0
    /// Weight of the multi-scale term (per-level end-point errors) in the supervised loss; used on the
    /// supervised-only path (see `Trainer.step`).
    public var supervisedLevelWeight: Float = 0
    /// Decay of the exponential moving average of the weights (0 = off). With it, every checkpoint also writes
    /// `step-N.ema.safetensors`, `eval_epe` is the average's, and `model.safetensors` holds the average: a
    /// small-batch run's weights swing from checkpoint to checkpoint, and the average smooths them.
    public var emaDecay: Float = 0
    public var checkpointEvery = 1000
    public var keepCheckpoints = 3         // newest checkpoints kept on disk (0 = all)
    public var logEvery = 10
    public var seed: UInt64 = 0
    public var loss = LossConfig()
    /// Weight of the dense (VICRegL-style) content loss on the two global views' cells (0 = off: nothing of it is
    /// computed and the run is the same as without it). Needs a model with a local projector (`withLocalProjector`).
    public var contentDense: Float = 0
    /// With the dense loss: VICRegL's feature-space matching, the closest nearest-neighbour pairs kept per item and
    /// direction (0 = off).
    public var contentDenseNearest = 0
    /// Parameter-name prefixes of the only parameters updated (empty: every parameter). The others keep their values
    /// bit for bit, and the backward pass stops where no gradient reaches a trained one (`TrainableParts`).
    public var trainOnly: [String] = []
    /// The full-resolution flows that the flow losses and the supervised EPE see (both directions), and the
    /// monitored `synthetic_epe` and `eval_epe`, are the network's flow at inference: the decoder's after
    /// `FeatureAlignment` (its default iterations). Gradients flow back through the alignment into the decoder's
    /// full flow and both frames' level-1 features, so the decoder and those features adapt to it. Off: the
    /// decoder's flow, as before, bit for bit.
    public var trainThroughAlignment = false
    /// The alignment iterations a training pass runs (0 when `trainThroughAlignment` is off).
    public var alignmentIterations: Int { trainThroughAlignment ? FeatureAlignment.defaultIterations : 0 }

    public init() {}
}

/// Why training stopped early.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    /// Whether writing the run folder failed (the tool failed: exit 1) rather than the training data or options
    /// being unusable (bad input: exit 3).
    public let isAboutOutput: Bool
    public init(description: String, isAboutOutput: Bool = false) {
        self.description = description
        self.isAboutOutput = isAboutOutput
    }
}

/// The self-supervised MC-JEPA training loop (train.py `main`): each step one content batch (VICReg on two
/// views, and the sampler's multi-crop local views) and, after the content warm-up, one flow batch (both directions), both gradients into the shared
/// encoder; global-norm clipping; AdamW with linear warm-up then cosine decay to 1% of the rate; checkpoints.
/// Terms whose weights are all zero are not computed: no content pass without VICReg, and a supervised-only
/// flow pass (forward direction, optional multi-scale term) when no self-supervised flow term is on. With
/// `trainOnly`, only the named parameters are updated, and the passes whose loss reaches none of them are skipped
/// (the content batch when neither the encoder nor the expander trains).
public final class Trainer {
    public let model: MCJEPAModel
    public let options: TrainerOptions
    public let sampler: MixedSampler
    public let folder: String
    public private(set) var state: TrainingState
    let optimizer: AdamW
    let decay: [Bool]
    /// Per parameter (in `specs` order): whether it is updated.
    let updated: [Bool]
    public var updatedParameters: [Bool] { updated }
    /// The parts of the network that hold an updated parameter.
    public let trainable: TrainableParts
    private var rng: TrainingRNG
    /// The moving average of the weights, when `options.emaDecay` > 0.
    public let average: MCJEPAModel?

    public init(model: MCJEPAModel, sampler: MixedSampler, options: TrainerOptions, folder: String, resume: Bool) throws {
        self.model = model; self.sampler = sampler; self.options = options; self.folder = folder
        let specs = model.parameters.specs
        // Biases and norm gains (1-D) get no weight decay, as in the reference's parameter groups.
        decay = specs.map { $0.shape.count > 1 }
        if let unmatched = options.trainOnly.first(where: { prefix in !specs.contains { $0.name.hasPrefix(prefix) } }) {
            throw TrainingError(description: "--train-only \(unmatched): no parameter of \(model.config) starts with it")
        }
        if options.contentDense > 0 && model.config.localProjectorLevel == 0 {
            throw TrainingError(description: "the dense content loss needs a network with a local projector; \(model.config) has none")
        }
        updated = specs.map { spec in options.trainOnly.isEmpty || options.trainOnly.contains { spec.name.hasPrefix($0) } }
        trainable = TrainableParts(trainable: zip(specs, updated).filter(\.1).map(\.0.name))
        optimizer = AdamW(parameterShapes: specs.map(\.shape), learningRate: options.learningRate, weightDecay: options.weightDecay)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        rng = TrainingRNG(seed: options.seed)
        state = TrainingState(step: 0, optimizerStep: 0, rngState: rng.state, visible: 0)
        // The average starts at the initial (or --init) weights; a resumed run restores its own.
        average = options.emaDecay > 0 ? MCJEPAModel(config: model.config) : nil
        average?.copyParameters(from: model)
        if resume, let restored = try TrainingCheckpoint.resume(folder: folder, model: model, optimizer: optimizer,
                                                                average: average) {
            state = restored
            rng = TrainingRNG(state: restored.rngState)
        }
    }

    /// Fixed pairs with exact flow (e.g. synthetic, from their own seed) whose mean end-point error is logged as
    /// `eval_epe` at the start of a fresh run and at every checkpoint: a steadier progress figure than the
    /// per-batch `synthetic_epe`.
    public var evaluationBatches: [FlowBatch] = []

    /// Mean end-point error of the forward flow of `evaluated` (default: the trained weights) over
    /// `evaluationBatches` (nil when there are none).
    public func evaluationEPE(of evaluated: MCJEPAModel? = nil) -> Float? {
        let model = evaluated ?? self.model
        guard !evaluationBatches.isEmpty else { return nil }
        var total: Float = 0
        for batch in evaluationBatches {
            guard let target = batch.flow else { continue }
            total += endPointError(monitoredFlow(of: model, batch), target, samples: batch.flowSamples).value
        }
        return total / Float(evaluationBatches.count)
    }

    /// The forward full-resolution flow the losses see (aligned with `trainThroughAlignment`), for monitoring.
    private func monitoredFlow(of model: MCJEPAModel, _ batch: FlowBatch) -> Tensor {
        let f1 = model.encode(batch.first), f2 = model.encode(batch.second)
        let level = FeatureAlignment.level - 1
        return FeatureAlignment.align(model.flow(f1, f2).full, features1: f1[level], features2: f2[level],
                                      iterations: options.alignmentIterations)
    }

    /// Per-element learning-rate multipliers by parameter name (`newWeightLearningRateScales`); parameters without
    /// an entry learn at the schedule's rate. Not saved in checkpoints: a resumed run recomputes them from the same
    /// command.
    public var learningRateScales: [String: Tensor] = [:]

    /// Whether a step computes the content (VICReg) pass: some VICReg weight is on and the encoder or the expander
    /// trains.
    public var computesContent: Bool {
        options.loss.hasContentTerms && trainable.content
    }

    /// Learning rate at `step` (train.py `lr_at`).
    public func learningRate(at step: Int) -> Float {
        cosineLearningRate(step: step, baseLR: options.learningRate, warmupSteps: options.warmup,
                           totalSteps: options.steps, minLR: 0.01 * options.learningRate)
    }

    /// One optimisation step; returns the log record's loss terms.
    public func step() throws -> [String: Float] {
        let step = state.step
        var loss = options.loss
        loss.useOcclusion = step >= options.occlusionStart && state.visible >= options.minVisible
        let flowOn = step >= options.contentWarmup
        // With every VICReg weight at zero, or nothing it reaches trained, the content pass contributes nothing: skip
        // it (and its batch).
        let contentOn = computesContent
        let views = contentOn ? try sampler.contentBatch(options.contentBatch, rng: &rng) : nil
        let flowBatch = flowOn ? try sampler.flowBatch(options.batch, rng: &rng) : nil
        model.parameters.zeroGradients()
        var terms: [String: Float] = [:]
        var total: Float = 0
        if let views {
            let dense = options.contentDense > 0
                ? DenseContent(weight: options.contentDense, firstBoxes: views.firstBoxes, secondBoxes: views.secondBoxes,
                               sameFrame: views.sameFrame, nearestNeighbours: options.contentDenseNearest) : nil
            let content = model.contentLossesWithBackward(views.first, views.second, localViews: views.local, config: loss,
                                                          dense: dense, trainable: trainable)
            terms = content.terms
            terms["content"] = content.total
            total = content.total
        }
        if let batch = flowBatch, let target = batch.flow, options.supervisedWeight > 0, !loss.hasSelfSupervisedFlowTerms {
            // Supervised only: the forward flow against the exact one, half the cost of the full flow pass.
            let report = model.supervisedFlowLossWithBackward(batch.first, batch.second, target: target,
                                                              levelWeight: options.supervisedLevelWeight,
                                                              epeCap: loss.epeCap, gradientScale: options.supervisedWeight,
                                                              samples: batch.flowSamples, trainable: trainable,
                                                              alignmentIterations: options.alignmentIterations)
            terms.merge(report.terms) { _, new in new }
            terms["synthetic_epe"] = terms.removeValue(forKey: "supervised_epe")
            terms["flow"] = options.supervisedWeight * report.total
            total += options.supervisedWeight * report.total
        } else if let batch = flowBatch {
            let (flow, _) = model.flowLossesWithBackward(batch.first, batch.second, config: loss, targetFlow: batch.flow,
                                                         supervisedWeight: options.supervisedWeight,
                                                         targetSamples: batch.flowSamples, trainable: trainable,
                                                         alignmentIterations: options.alignmentIterations)
            terms.merge(flow.terms) { _, new in new }
            terms["flow"] = flow.total
            total += flow.total
            if let target = batch.flow, terms["supervised_epe"] == nil {
                // Monitoring only: EPE of the forward flow on synthetic pairs without supervision.
                terms["synthetic_epe"] = endPointError(monitoredFlow(of: model, batch), target, samples: batch.flowSamples).value
            } else if let epe = terms.removeValue(forKey: "supervised_epe") {
                terms["synthetic_epe"] = epe
            }
            state.visible = flow.terms["visible"] ?? state.visible
        }
        guard total.isFinite else {
            throw TrainingError(description: "step \(step): loss is \(total); lower --lr or check the data")
        }
        terms["total"] = total
        let gradients = model.parameters.specs.map { model.parameters.gradient($0.name) }
        if options.clip > 0 {
            // The norm of the updated parameters' gradients (a frozen one's may be partly computed, and is not used).
            var squares = 0.0
            for (g, isUpdated) in zip(gradients, updated) where isUpdated { for i in 0..<g.count { squares += Double(g.data[i]) * Double(g.data[i]) } }
            let norm = Float(squares.squareRoot())
            terms["grad_norm"] = norm
            // torch's clip_grad_norm_: scale by clip / (norm + 1e-6) when that is below 1.
            let factor = options.clip / (norm + 1e-6)
            if factor < 1 { for g in gradients { scaleInPlace(g, factor) } }
        }
        optimizer.learningRate = learningRate(at: step)
        let specs = model.parameters.specs
        optimizer.update(parameters: specs.map { model.parameters[$0.name] }, gradients: gradients, decay: decay,
                         learningRateScales: learningRateScales.isEmpty ? nil : specs.map { learningRateScales[$0.name] },
                         updating: options.trainOnly.isEmpty ? nil : updated)
        if let average { updateAverage(average) }
        terms["occlusion_on"] = loss.useOcclusion ? 1 : 0
        state.step = step + 1
        state.optimizerStep = optimizer.step
        state.rngState = rng.state
        return terms
    }

    /// average = decay * average + (1 - decay) * weights, parameter by parameter.
    private func updateAverage(_ average: MCJEPAModel) {
        let keep = options.emaDecay, take = 1 - options.emaDecay
        for spec in model.parameters.specs {
            let mean = average.parameters[spec.name].data, current = model.parameters[spec.name].data
            for i in 0..<average.parameters[spec.name].count { mean[i] = keep * mean[i] + take * current[i] }
        }
    }

    /// The `eval_epe` record(s) of `step`: the average's EPE, and the trained weights' as `eval_epe_raw`, when
    /// there is an average; the trained weights' otherwise.
    private func evaluationRecord(step: Int) -> EvaluationLogRecord? {
        guard let epe = evaluationEPE(of: average) else { return nil }
        return EvaluationLogRecord(step: step, evalEPE: Double(epe),
                                   evalEPERaw: average != nil ? evaluationEPE().map(Double.init) : nil)
    }

    /// Keeps only the log records of steps up to `step` (the checkpoint a resumed run starts from; none for a fresh
    /// start), so that steps a killed run logged after its last checkpoint, which the resumed run does again, are
    /// logged once. A line cut short by the kill is dropped too.
    static func truncateLog(_ path: String, toStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return }
        var kept = Data()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard step > 0, let record = try? JSONDecoder().decode(LoggedStep.self, from: Data(line)),
                  record.step <= step else { continue }
            kept.append(contentsOf: line)
            kept.append(UInt8(ascii: "\n"))
        }
        guard kept.count != data.count else { return }
        do {
            try AtomicOutput.write(kept, to: path)
        } catch let error as AtomicOutputError {
            throw TrainingError(description: error.description, isAboutOutput: true)
        }
    }

    /// Runs to `options.steps`, logging JSON lines to `log.jsonl` (and `progress`), checkpointing every
    /// `checkpointEvery` steps and at the end, then writes `model.safetensors`.
    /// `stopAt` ends the session early (after a checkpoint) so that a long run can span several sessions.
    public func run(stopAt: Int? = nil, progress: (String) -> Void = { _ in }) throws {
        let end = min(options.steps, stopAt ?? options.steps)
        let logPath = "\(folder)/log.jsonl"
        try Self.truncateLog(logPath, toStep: state.step)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw TrainingError(description: "\(logPath): cannot write", isAboutOutput: true) }
        defer { try? log.close() }
        log.seekToEndOfFile()
        let encoder = JSONEncoder.trainingLog
        func writeRecord(_ record: some Encodable) throws {
            let data = try encoder.encode(record)
            // write(contentsOf:) reports a full disk; write(_:) would trap.
            do { try log.write(contentsOf: data + Data("\n".utf8)) } catch {
                throw TrainingError(description: "\(logPath): cannot write", isAboutOutput: true)
            }
            progress(String(decoding: data, as: UTF8.self))
        }
        if state.step == 0, let record = evaluationRecord(step: 0) { try writeRecord(record) }
        var lastTime = Date(), stepsSince = 0
        while state.step < end {
            let lr = learningRate(at: state.step)
            let terms = try step()
            stepsSince += 1
            let done = state.step
            if done % options.logEvery == 0 || done == options.steps {
                let now = Date()
                try writeRecord(StepLogRecord(step: done, lr: Double(lr),
                                              stepsPerSecond: Double(stepsSince) / max(1e-9, now.timeIntervalSince(lastTime)),
                                              terms: terms.mapValues(Double.init)))
                lastTime = now; stepsSince = 0
            }
            if done % options.checkpointEvery == 0 || done == end {
                try TrainingCheckpoint.save(folder: folder, model: model, optimizer: optimizer, state: state,
                                            keep: options.keepCheckpoints, average: average)
                if let record = evaluationRecord(step: done) { try writeRecord(record) }
            }
        }
        guard state.step == options.steps else { return }
        var metadata = ["step": String(state.step)]
        if average != nil { metadata["ema_decay"] = String(options.emaDecay) }
        try TrainingCheckpoint.saveWeights(average ?? model, to: "\(folder)/model.safetensors", metadata: metadata)
    }
}
