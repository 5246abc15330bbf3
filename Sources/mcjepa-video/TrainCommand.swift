import ArgumentParser
import Foundation
import VideoPipeline
import MCJEPA
import NN
import VideoIO

extension SyntheticShape: ExpressibleByArgument {}

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Self-supervised MC-JEPA training (flow + content, one shared encoder) on the CPU.",
        discussion: """
            INPUTS are video files, folders of videos, and WebDataset shards (.tar) or folders of them written by \
            `preprocess`. Each step: one content batch (VICReg on two views) and, after --content-warmup, one flow \
            batch (both directions). RUN_DIR receives log.jsonl, step-XXXXXXX.safetensors + .state.safetensors \
            checkpoints, latest.json, and model.safetensors (loadable by `flow --model`). --resume continues from \
            latest.json; with the same seed and options the result equals an uninterrupted run.
            """)

    @Argument(help: "Videos, shards (.tar) and folders of them.") var inputs: [String] = []
    @Option(name: [.customShort("o"), .customLong("output"), .customLong("out")], help: "Run folder (RUN_DIR).") var out: String
    @Option(help: "Model size: tiny, test or paper.") var preset = "tiny"
    @Option(help: "Total optimisation steps.") var steps = 100_000
    @Option(help: "Flow pairs per step.") var batch = 4
    @Option(help: "Content images per step (two views each), at least 2.") var contentBatch = 16
    @Option(help: "Flow crop as HEIGHTxWIDTH, height first (unlike --size WIDTHxHEIGHT elsewhere), multiples of 64.")
    var crop = "256x320"
    @Option(help: "Content view side, a multiple of 64.") var contentSize = 128
    @Option(help: "Share (0...1) of content items whose two views come from the two frames of a pair (temporal positives) instead of one frame.")
    var contentTemporal: Float = 0
    @Option(help: "Temporal positives' frames are 1 to G frames apart in one video (uniform, either order) instead of a flow pair's frames; still photos give two views of one photo, shards a stored pair's frames (default: the flow pair's frames).")
    var contentGap: Int?
    @Option(help: "Multi-crop: smaller local views per content item (each a crop of 5-40% of the item's frame, in the VICReg loss against both global views).")
    var contentLocalViews = 0
    @Option(help: "Local view side, a multiple of 64 smaller than --content-size (with --content-local-views; default 64).")
    var contentLocalSize: Int?
    @Option(help: "Weight of the dense content loss (VICRegL-style, 0 = off): a local projector (1x1 convs, new weights `local_projector.*`, not used by inference) embeds every cell of --content-dense-level's feature map of the two global views, and the cells of two views of one frame that cover the same point must agree (VICReg's invariance, with variance and covariance over all cells). Temporal positives give no cells matched by position (see --content-dense-nn).")
    var contentDense: Float = 0
    @Option(help: "Encoder level of the dense content loss (1...6, stride 2^level; with --content-dense); default: the --init file's projector's, else 3, the level propagation reads.")
    var contentDenseLevel: Int?
    @Option(help: "With --content-dense: VICRegL's feature-space matching as well, each cell's nearest cell of the other view in the projector's embedding, the K closest such pairs per item and direction in an invariance term of their own (dense_inv_nn); temporal positives give these pairs too (0 = off).")
    var contentDenseNn = 0
    @Option(help: "Folders of still photos for synthetic pairs with exact flow.") var synthetic: [String] = []
    @Option(help: "Weight of the end-point error on pairs with a flow: synthetic pairs, and shards written with preprocess --flow (0 = monitor only).") var supervisedWeight: Float = 0
    @Option(help: "Largest translation (px) of a synthetic layer between the two frames of a pair.") var syntheticMaxShift: Float = 12
    @Option(help: "Skew of synthetic translations: max-shift x u^P (u uniform), 1 = uniform, 2 = mostly small.") var syntheticShiftPower: Float = 1
    @Option(help: "Most layers in a synthetic pair (a background and 1 to N-1 moving cut-outs).") var syntheticLayers = 3
    @Flag(help: "Photometric jitter on synthetic pairs (colour shared by both frames, small per-frame changes, noise).") var syntheticJitter = false
    @Option(help: "Outline of the synthetic cut-outs: ellipse, or blob (irregular, with thin limbs and holes).") var syntheticShape: SyntheticShape = .ellipse
    @Option(help: "Largest rotation (degrees) of a synthetic layer between the two frames.") var syntheticRotation: Float = 5
    @Option(help: "Largest scale change of a synthetic layer between the two frames, as a log factor (0.1 = x0.90 to x1.11).") var syntheticZoom: Float = 0.05
    @Option(help: "Motion blur on synthetic pairs: longest exposure as a fraction of the frame interval (0 = sharp, up to 1); each pair draws its own in [0, F].") var syntheticMotionBlur: Float = 0
    @Option(help: "Weight of the multi-scale term (per-level EPE) when training supervised only.") var supervisedLevelWeight: Float = 0
    @Flag(help: "The flow losses and the supervised EPE see the network's flow at inference: the decoder's full flow after the feature alignment on the level-1 features (both directions); gradients reach the decoder and those features through it. synthetic_epe and eval_epe measure the aligned flow too.")
    var trainThroughAlignment = false
    @Option(help: "Synthetic pairs (fixed, own seed) whose mean EPE is logged as eval_epe at each checkpoint.") var evalSynthetic = 0
    @Option(help: "Content-only steps before the flow losses switch on.") var contentWarmup = 1000
    @Option(help: "Step from which occlusion masks may apply.") var occlusionStart = 3000
    @Option(help: "Occlusion masks apply only while at least this fraction of pixels is visible.") var minVisible: Float = 0.5
    @Option(help: "Peak learning rate.") var lr: Float = 5e-4
    @Option(help: "AdamW weight decay (not on biases and norm gains).") var weightDecay: Float = 0.05
    @Option(help: "Learning-rate warm-up steps.") var warmup = 500
    @Option(help: "Global gradient-norm clip (0 = off).") var clip: Float = 1.0
    @Option(help: "Largest frame distance of video pairs.") var maxStride = 2
    @Option(help: "Decode videos with the long side at most this.") var maxSide = 640
    @Option(help: "Frames kept in memory per video (the first N).") var maxFrames = 300
    @Option(help: "Decay of a moving average of the weights (0 = off, e.g. 0.999): checkpoints also write step-N.ema.safetensors, eval_epe is the average's, and model.safetensors holds the average.") var emaDecay: Float = 0
    @Option(help: "Checkpoint every N steps.") var ckptEvery = 1000
    @Option(help: "Checkpoints kept on disk, newest first (0 = all).") var keepCheckpoints = 3
    @Option(help: "Log every N steps.") var logEvery = 10
    @Option(help: "Stop after this step (checkpointed; continue later with --resume).") var stopAt: Int?
    @Flag(help: "Continue from RUN_DIR/latest.json.") var resume = false
    @Option(help: "Random seed: the stream of pairs, crops and synthetic layers, and the initialisation of fresh tensors. Give a continuation (--init a run's weights) a seed of its own, or it replays that run's stream.") var seed: UInt64 = 0
    @Option(help: "Threads for decoding and the network.") var threads = 2
    @Option(help: "Decode flow down to this pyramid level (2 = quarter resolution); default: the --init file's, else the preset's.") var decoderStopLevel: Int?
    @Option(help: "Convex upsampling to full size with a mask head of this width (0 = bilinear); default: the --init file's, else the preset's (tiny: 32, test and paper: 0).") var upsamplerWidth: Int?
    @Flag(inversion: .prefixedNo, help: "One flow estimator per decoded level instead of one shared by all (more parameters, the same work); default: the --init file's, else the preset's (tiny: one per level, test and paper: shared).") var perLevelEstimators: Bool?
    @Option(help: "Iterations of the recurrent refinement at the decoder's finest level (0 = none); default: the --init file's, else the preset's (0). A file without it starts the head fresh, computing the file's flow.") var refinementIterations: Int?
    @Option(help: "Width of the recurrent refinement's update block (with --refinement-iterations); default: the --init file's, else \(ModelConfig.defaultRefinementWidth).") var refinementWidth: Int?
    @Option(help: "Iterations of the fine head at 1/4 resolution (0 = none), which adds a correction to the full-size flow; default: the --init file's, else 0. A file without it starts the head fresh, computing the file's flow.") var fineIterations: Int?
    @Option(help: "Width of the fine head's update block (with --fine-iterations); default: the --init file's, else \(ModelConfig.defaultFineWidth).") var fineWidth: Int?
    @Option(name: .customLong("init"), help: "Start from these weights (safetensors); with --decoder-stop-level finer than the file's, the new levels' reductions (and a convex upsampler) start fresh and a new level's own estimator as a copy of the file's finest, with --upsampler-width on a bilinear file, the upsampler starts as bilinear upsampling, with --per-level-estimators on a file with a shared estimator, every level's estimator starts as a copy of it, and with --refinement-iterations on a file without the refinement, the head starts fresh (its last conv at zero: the file's flow).") var initWeights: String?
    @Option(name: .customLong("new-weights-lr-scale"), help: "Learning-rate multiplier for the weights --init did not have (fresh tensors): they have further to go than the ones carried over.") var newWeightsLRScale: Float = 1
    @Option(help: "Override a loss setting, e.g. smooth_weight=50 (repeatable).") var loss: [String] = []
    @Option(name: .customLong("train-only"), help: ArgumentHelp("Update only the parameters whose names start with PREFIX (repeatable), e.g. decoder.fine.: the others keep their values exactly, and the backward pass stops where it reaches none of them (no content batch when neither encoder. nor expander. trains).", valueName: "PREFIX")) var trainOnly: [String] = []

    func validate() throws {
        guard ModelConfig.presets[preset] != nil else { throw ValidationError("--preset \(preset): expected tiny, test or paper") }
        if let decoderStopLevel, !(1...ModelConfig.levelCount).contains(decoderStopLevel) {
            throw ValidationError("--decoder-stop-level \(decoderStopLevel): expected 1 to \(ModelConfig.levelCount)")
        }
        if let upsamplerWidth, !(0...1024).contains(upsamplerWidth) {
            throw ValidationError("--upsampler-width \(upsamplerWidth): expected 0 (bilinear) to 1024")
        }
        if let refinementIterations, !(0...64).contains(refinementIterations) {
            throw ValidationError("--refinement-iterations \(refinementIterations): expected 0 (none) to 64")
        }
        if let refinementWidth, !(1...1024).contains(refinementWidth) {
            throw ValidationError("--refinement-width \(refinementWidth): expected 1 to 1024")
        }
        if refinementWidth != nil && (refinementIterations ?? 0) == 0 {
            throw ValidationError("--refinement-width needs --refinement-iterations above 0")
        }
        if let fineIterations, !(0...64).contains(fineIterations) {
            throw ValidationError("--fine-iterations \(fineIterations): expected 0 (none) to 64")
        }
        if let fineWidth, !(1...1024).contains(fineWidth) {
            throw ValidationError("--fine-width \(fineWidth): expected 1 to 1024")
        }
        if fineWidth != nil && (fineIterations ?? 0) == 0 {
            throw ValidationError("--fine-width needs --fine-iterations above 0")
        }
        guard syntheticMaxShift >= 0 else { throw ValidationError("--synthetic-max-shift must be >= 0") }
        guard syntheticShiftPower >= 1 else { throw ValidationError("--synthetic-shift-power must be >= 1") }
        guard (0...1).contains(syntheticMotionBlur) else { throw ValidationError("--synthetic-motion-blur must be in [0, 1]") }
        guard syntheticLayers >= 2 else { throw ValidationError("--synthetic-layers must be at least 2") }
        guard (0...45).contains(syntheticRotation) else { throw ValidationError("--synthetic-rotation must be in [0, 45] degrees") }
        guard (0...0.5).contains(syntheticZoom) else { throw ValidationError("--synthetic-zoom must be in [0, 0.5]") }
        guard newWeightsLRScale > 0 && newWeightsLRScale <= 1000 else { throw ValidationError("--new-weights-lr-scale must be in (0, 1000]") }
        guard supervisedLevelWeight >= 0 else { throw ValidationError("--supervised-level-weight must be >= 0") }
        guard let c = parsedCrop, c.height > 0, c.width > 0, c.height % 64 == 0, c.width % 64 == 0 else {
            throw ValidationError("--crop \(crop): expected HEIGHTxWIDTH (height first), positive multiples of 64")
        }
        guard contentSize > 0 && contentSize % 64 == 0 else { throw ValidationError("--content-size must be a positive multiple of 64") }
        guard contentBatch >= 2 else { throw ValidationError("--content-batch must be at least 2 (VICReg variance needs a batch)") }
        guard emaDecay >= 0 && emaDecay < 1 else { throw ValidationError("--ema-decay must be in [0, 1)") }
        guard keepCheckpoints >= 0 else { throw ValidationError("--keep-checkpoints must be 0 (all) or more") }
        guard steps >= 1, batch >= 1, ckptEvery >= 1, logEvery >= 1, threads >= 1, maxStride >= 1 else {
            throw ValidationError("--steps, --batch, --ckpt-every, --log-every, --threads and --max-stride must be at least 1")
        }
        try OptionRange.check(threads, OptionRange.threads, "--threads")
        try OptionRange.check(maxStride, OptionRange.stride, "--max-stride")
        try OptionRange.check(maxSide, 8...OptionRange.side.upperBound, "--max-side")
        try OptionRange.check(batch, 1...1024, "--batch")
        try OptionRange.check(contentBatch, 2...4096, "--content-batch")
        try OptionRange.check(c.height, 64...4096, "--crop height")
        try OptionRange.check(c.width, 64...4096, "--crop width")
        try OptionRange.check(contentSize, 64...4096, "--content-size")
        try OptionRange.check(contentTemporal, 0...1, "--content-temporal")
        try OptionRange.check(contentGap, 1...100_000, "--content-gap")
        if contentGap != nil && contentTemporal == 0 {
            throw ValidationError("--content-gap needs --content-temporal above 0 (the share of items it applies to)")
        }
        try OptionRange.check(contentLocalViews, 0...64, "--content-local-views")
        try OptionRange.checkFinite(contentDense, "--content-dense")
        try OptionRange.check(contentDense, 0...1000, "--content-dense")
        if let contentDenseLevel {
            guard contentDense > 0 else { throw ValidationError("--content-dense-level needs --content-dense above 0") }
            try OptionRange.check(contentDenseLevel, 1...ModelConfig.levelCount, "--content-dense-level")
        }
        try OptionRange.check(contentDenseNn, 0...4096, "--content-dense-nn")
        if contentDenseNn > 0 && contentDense == 0 { throw ValidationError("--content-dense-nn needs --content-dense above 0") }
        if let contentLocalSize {
            guard contentLocalViews > 0 else { throw ValidationError("--content-local-size needs --content-local-views above 0") }
            guard contentLocalSize > 0 && contentLocalSize % 64 == 0 else {
                throw ValidationError("--content-local-size \(contentLocalSize): expected a positive multiple of 64")
            }
        }
        guard contentLocalViews == 0 || localSize < contentSize else {
            throw ValidationError("--content-local-size \(localSize): expected smaller than --content-size \(contentSize)")
        }
        try OptionRange.check(maxFrames, 1...100_000, "--max-frames")
        // A bound, not a measurement: a batch of crops with the activations the backward pass keeps (about 1 KB
        // per pixel for the tiny model), and one video's --max-frames frames at --max-side, must fit in memory.
        try OptionRange.checkFitsInMemory(width: c.width, height: c.height, bytesPerPixel: 1024 * batch, "--crop")
        try OptionRange.checkFitsInMemory(width: maxSide, height: maxSide, bytesPerPixel: 3 * maxFrames, "--max-side")
        for (value, option) in [(lr, "--lr"), (weightDecay, "--weight-decay"), (clip, "--clip"), (minVisible, "--min-visible"),
                                (supervisedWeight, "--supervised-weight")] {
            try OptionRange.checkFinite(value, option)
        }
        guard !inputs.isEmpty || !synthetic.isEmpty else { throw ValidationError("give INPUTS and/or --synthetic") }
        _ = try lossConfig()
    }

    /// The dense loss's level: --content-dense-level, else the --init file's projector's, else the default (3).
    func denseLevel(initial: ModelConfig?) -> Int {
        if let contentDenseLevel { return contentDenseLevel }
        if let level = initial?.localProjectorLevel, level > 0 { return level }
        return ModelConfig.defaultLocalProjectorLevel
    }

    /// The local views' side: --content-local-size, 64 by default.
    var localSize: Int { contentLocalSize ?? 64 }

    var parsedCrop: (height: Int, width: Int)? {
        let parts = crop.lowercased().split(separator: "x").compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    func lossConfig() throws -> LossConfig {
        do { return try LossConfig().overridden(by: loss) } catch let error as TrainingError {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        setThreads(threads)
        var options = TrainerOptions()
        options.steps = steps; options.batch = batch; options.contentBatch = contentBatch
        options.crop = parsedCrop!; options.contentSize = contentSize; options.contentWarmup = contentWarmup
        options.occlusionStart = occlusionStart; options.minVisible = minVisible; options.learningRate = lr
        options.weightDecay = weightDecay; options.warmup = warmup; options.clip = clip
        options.supervisedWeight = supervisedWeight; options.checkpointEvery = ckptEvery; options.keepCheckpoints = keepCheckpoints; options.logEvery = logEvery
        options.supervisedLevelWeight = supervisedLevelWeight
        options.emaDecay = emaDecay
        options.seed = seed
        options.loss = try lossConfig()
        options.trainOnly = trainOnly
        options.contentDense = contentDense
        options.contentDenseNearest = contentDenseNn
        options.trainThroughAlignment = trainThroughAlignment
        do {
            let sources = try buildSources()
            let initial = try initWeights.map { try WeightsFile.load(path: $0) }
            let (model, fresh) = try MCJEPAModel.forTraining(
                preset: ModelConfig.presets[preset]!, choices: DecoderChoices(
                    stopLevel: decoderStopLevel, upsamplerWidth: upsamplerWidth, perLevelEstimators: perLevelEstimators,
                    refinementIterations: refinementIterations, refinementWidth: refinementWidth,
                    fineIterations: fineIterations, fineWidth: fineWidth,
                    localProjectorLevel: contentDense > 0 ? denseLevel(initial: initial?.model.config) : nil),
                initial: initial, seed: seed)
            if let initial, !fresh.isEmpty {
                note("\(initial.path) has \(initial.model.config); starting \(fresh.joined(separator: ", ")) fresh")
            }
            let sampler = MixedSampler(sources: sources, crop: options.crop, contentSize: contentSize,
                                       temporalPositives: contentTemporal, temporalGap: contentGap,
                                       localViews: contentLocalViews, localSize: localSize)
            let trainer = try Trainer(model: model, sampler: sampler, options: options, folder: out, resume: resume)
            if initial != nil, newWeightsLRScale != 1 {
                trainer.learningRateScales = model.newWeightLearningRateScales(fresh: fresh, scale: newWeightsLRScale)
                let count = trainer.learningRateScales.values.reduce(0) { $0 + $1.array.filter { $0 != 1 }.count }
                note("\(count) new weights learn at \(newWeightsLRScale) x the rate")
            }
            if evalSynthetic > 0, let synthetic = sources.first(where: { $0 is SyntheticPairSource }) {
                trainer.evaluationBatches = try MixedSampler.evaluationBatches(from: synthetic, count: evalSynthetic,
                                                                               crop: options.crop, contentSize: contentSize)
            }
            let changed = model.config == ModelConfig.presets[preset]! ? "" : " changed to \(model.config)"
            note("preset \(preset)\(changed), \(model.parameters.parameterCount) parameters, "
                 + "sources \(sources.map(\.name).joined(separator: ", ")), from step \(trainer.state.step)")
            if !trainOnly.isEmpty {
                let count = zip(model.parameters.specs, trainer.updatedParameters).filter(\.1)
                    .reduce(0) { $0 + $1.0.shape.reduce(1, *) }
                note("training only \(trainOnly.joined(separator: ", ")) (\(count) parameters); the others stay as they are"
                     + (trainer.computesContent || !options.loss.hasContentTerms ? ""
                        : "; no content batch: its loss reaches no trained parameter"))
            }
            try trainer.run(stopAt: stopAt) { print($0) }
            if trainer.state.step == steps {
                print("wrote \(out)/model.safetensors (step \(trainer.state.step))")
            } else {
                print("stopped at step \(trainer.state.step) of \(steps); continue with --resume")
            }
        } catch where failure(of: error) == nil && !(error is ExitCode) {
            printError("\(out): \(describe(error))"); throw Exit.failure
        }
    }

    /// A status line on standard error, as `train: MESSAGE`.
    private func note(_ message: String) {
        FileHandle.standardError.write(Data("train: \(message)\n".utf8))
    }

    private func buildSources() throws -> [TrainingPairSource] {
        try trainingSources(inputs: inputs, synthetic: synthetic, scratchFolder: out, maxStride: maxStride, maxSide: maxSide,
                            maxFrames: maxFrames, threads: threads) { photos in
            // Photos moved as layers into pairs 64 px larger than the crop.
            SyntheticPairSource(photos: photos, height: parsedCrop!.height + 64, width: parsedCrop!.width + 64,
                                maxShift: syntheticMaxShift, shiftPower: syntheticShiftPower, maxLayers: syntheticLayers,
                                jitter: syntheticJitter, motionBlur: syntheticMotionBlur, shape: syntheticShape,
                                maxRotation: syntheticRotation, maxZoom: syntheticZoom)
        }
    }
}
