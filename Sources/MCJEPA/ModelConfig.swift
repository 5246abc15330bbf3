import Foundation

/// The network's shape, field for field the reference's `ModelConfig` (Reference/mcjepa/model.py), so a
/// weights file's `config` metadata (the reference's `to_dict()` as JSON) decodes into it.
public struct ModelConfig: Equatable, Sendable, CustomStringConvertible {
    /// Channels of levels 1..6 (strides 2, 4, ..., 64).
    public var widths: [Int]
    /// ConvNeXt blocks at levels 3..6 (levels 1 and 2 are the split stem: conv + LayerNorm only).
    public var blocks: [Int]
    /// The decoder runs from level 6 down to this level; the flow is then upsampled to full size (bilinearly, or
    /// by the convex upsampler when `upsamplerWidth` > 0).
    public var decoderStopLevel: Int
    /// Channels of each decoded level's 1x1 reduction feeding the shared estimator.
    public var reducedChannels: Int
    public var estimatorWidths: [Int]
    /// LayerNorm2d after every hidden estimator conv (before the activation).
    public var estimatorNorm: Bool
    public var contextWidths: [Int]
    public var contextDilations: [Int]
    public var expanderWidths: [Int]
    /// 0: the stop level's flow is upsampled bilinearly to full size. > 0: convex upsampling (RAFT's), whose mask
    /// head (a 3x3 conv of this width, leaky ReLU, a 1x1 conv to 9 x 4^stop logits) sees the stop level's estimator
    /// hidden features, frame-1 features and flow.
    public var upsamplerWidth: Int
    /// false: one flow estimator shared by every decoded level (IRR-PWC's sharing). true: one per level, as PWC-Net,
    /// named `decoder.estimators.l<level>.*`: more parameters for the same work, since each level runs one estimator
    /// either way.
    public var perLevelEstimators: Bool
    /// 0: none. > 0: this many iterations of the recurrent refinement at the stop level (RecurrentRefinement.swift),
    /// whose update block has `refinementWidth` channels; every iteration shares its weights.
    public var refinementIterations: Int
    /// The refinement block's width: > 0 when `refinementIterations` is, else 0.
    public var refinementWidth: Int
    /// 0: none. > 0: this many iterations of the fine head at level 2 (1/4), after the stop level's flow has gone to
    /// full size: the same update block as the refinement's, whose correction is added to the full-size flow.
    public var fineIterations: Int
    /// The fine head's block width: > 0 when `fineIterations` is, else 0.
    public var fineWidth: Int
    /// 0: none. 1...6: the encoder level whose feature map the local projector embeds, pixel by pixel, for the dense
    /// (VICRegL-style) content loss (`train --content-dense`). Training only: inference never runs it.
    public var localProjectorLevel: Int
    /// The local projector's widths (1x1 convs: Linear + LayerNorm + ReLU per hidden width, then a Linear, as the
    /// expander); empty when `localProjectorLevel` is 0.
    public var localProjectorWidths: [Int]

    public static let levelCount = 6
    /// Inputs are padded to a multiple of the coarsest stride.
    public static let padMultiple = 64
    public static let correlationRadius = 4
    public static var correlationChannels: Int { (2 * correlationRadius + 1) * (2 * correlationRadius + 1) }

    public init(widths: [Int], blocks: [Int], decoderStopLevel: Int, reducedChannels: Int, estimatorWidths: [Int],
                estimatorNorm: Bool, contextWidths: [Int], contextDilations: [Int] = [1, 2, 4, 8, 16, 1],
                expanderWidths: [Int], upsamplerWidth: Int = 0, perLevelEstimators: Bool = false,
                refinementIterations: Int = 0, refinementWidth: Int = 0, fineIterations: Int = 0, fineWidth: Int = 0,
                localProjectorLevel: Int = 0, localProjectorWidths: [Int] = []) {
        self.widths = widths
        self.blocks = blocks
        self.decoderStopLevel = decoderStopLevel
        self.reducedChannels = reducedChannels
        self.estimatorWidths = estimatorWidths
        self.estimatorNorm = estimatorNorm
        self.contextWidths = contextWidths
        self.contextDilations = contextDilations
        self.expanderWidths = expanderWidths
        self.upsamplerWidth = upsamplerWidth
        self.perLevelEstimators = perLevelEstimators
        self.refinementIterations = refinementIterations
        self.refinementWidth = refinementWidth
        self.fineIterations = fineIterations
        self.fineWidth = fineWidth
        self.localProjectorLevel = localProjectorLevel
        self.localProjectorWidths = localProjectorWidths
    }

    /// The local projector `train --content-dense` adds at `level`: 1x1 convs C -> 2C -> 2C (C the level's width), the
    /// expander's shape at the scale of one pixel.
    public func withLocalProjector(level: Int) -> ModelConfig {
        var config = self
        config.localProjectorLevel = level
        config.localProjectorWidths = (1...Self.levelCount).contains(level) ? [2 * widths[level - 1], 2 * widths[level - 1]] : []
        return config
    }

    /// The default level of the local projector: the one propagation (`eval vos`, `propagate`) reads, stride 8.
    public static let defaultLocalProjectorLevel = 3

    /// The width `train --refinement-iterations N` gives the refinement block when neither the command nor the
    /// --init file names one.
    public static let defaultRefinementWidth = 64

    /// The width `train --fine-iterations N` gives the fine head when neither the command nor the --init file names one.
    public static let defaultFineWidth = 32

    /// The level the fine head refines the flow at (strides of 4).
    public static let fineLevel = 2

    /// ConvNeXt-T sized (the paper's encoder; decoder widths as in PWC-Net).
    public static let paper = ModelConfig(
        widths: [48, 48, 96, 192, 384, 768], blocks: [3, 3, 9, 3], decoderStopLevel: 2, reducedChannels: 64,
        estimatorWidths: [128, 128, 96, 64, 32], estimatorNorm: true, contextWidths: [128, 128, 128, 96, 64, 32],
        expanderWidths: [8192, 8192, 8192])

    /// The CPU default and the built-in weights' network: an estimator per decoded level and a convex upsampler of
    /// width 32. (The training recipe's first steps trained it with one shared estimator and bilinear upsampling:
    /// `train --preset tiny --upsampler-width 0 --no-per-level-estimators`.)
    public static let tiny = ModelConfig(
        widths: [16, 16, 32, 64, 128, 256], blocks: [1, 1, 2, 1], decoderStopLevel: 3, reducedChannels: 32,
        estimatorWidths: [48, 48, 32, 32, 32], estimatorNorm: true, contextWidths: [32, 32, 32, 32, 32, 32],
        expanderWidths: [512, 512, 512], upsamplerWidth: 32, perLevelEstimators: true)

    /// The structure of `tiny` at very small widths, with one shared estimator and bilinear upsampling (the committed
    /// parity fixtures use it, and add the convex upsampler and per-level estimators in variants).
    public static let test = ModelConfig(
        widths: [8, 8, 16, 16, 24, 32], blocks: [1, 1, 2, 1], decoderStopLevel: 3, reducedChannels: 8,
        estimatorWidths: [16, 16, 12, 8, 8], estimatorNorm: true, contextWidths: [12, 12, 12, 8, 8, 8],
        expanderWidths: [32, 32, 32])

    public static let presets: [String: ModelConfig] = ["paper": paper, "tiny": tiny, "test": test]

    /// Name of the preset equal to this configuration, if any.
    public var presetName: String? { Self.presets.first { $0.value == self }?.key }

    /// Name of the preset this configuration is, up to its upsampler, estimator sharing and refinement.
    var presetFamily: String? {
        Self.presets.first { name, preset in
            var base = self
            base.upsamplerWidth = preset.upsamplerWidth
            base.perLevelEstimators = preset.perLevelEstimators
            base.refinementIterations = preset.refinementIterations
            base.refinementWidth = preset.refinementWidth
            base.fineIterations = preset.fineIterations
            base.fineWidth = preset.fineWidth
            base.localProjectorLevel = preset.localProjectorLevel
            base.localProjectorWidths = preset.localProjectorWidths
            return base == preset
        }?.key
    }

    /// Decoded levels, coarse to fine: 6, 5, ..., decoderStopLevel.
    public var decodedLevels: [Int] { Array((decoderStopLevel...Self.levelCount).reversed()) }

    /// Parameter-name prefix of the flow estimator that decodes `level`.
    public func estimatorPrefix(level: Int) -> String {
        perLevelEstimators ? "decoder.estimators.l\(level)" : "decoder.estimator"
    }

    /// Channels of an estimator's input: correlation, reduced frame-1 features, upsampled flow.
    public var estimatorInputChannels: Int { ModelConfig.correlationChannels + reducedChannels + 2 }

    /// Channels of the context network's input: the stop level's estimator hidden features and its flow.
    public var contextInputChannels: Int { estimatorWidths.last! + 2 }

    /// Channels of the refinement block's input: correlation, flow, the stop level's estimator hidden features.
    public var refinementInputChannels: Int { ModelConfig.correlationChannels + 2 + estimatorWidths.last! }

    /// Channels of the fine head's block input: correlation, flow, frame 1's level-2 features.
    public var fineInputChannels: Int { ModelConfig.correlationChannels + 2 + widths[Self.fineLevel - 1] }

    /// Every estimator's prefix, coarse to fine (one when shared), in state_dict order.
    public var estimatorPrefixes: [String] {
        (perLevelEstimators ? decodedLevels : [decoderStopLevel]).map { estimatorPrefix(level: $0) }
    }

    /// Checks the invariants the network relies on; returns the first problem.
    public func validationError() -> String? {
        if widths.count != Self.levelCount { return "widths needs \(Self.levelCount) entries, has \(widths.count)" }
        if blocks.count != Self.levelCount - 2 { return "blocks needs \(Self.levelCount - 2) entries, has \(blocks.count)" }
        if !(1...Self.levelCount).contains(decoderStopLevel) { return "decoder_stop_level \(decoderStopLevel) is not in 1...6" }
        if estimatorWidths.isEmpty || contextWidths.isEmpty || expanderWidths.isEmpty { return "empty layer widths" }
        if contextWidths.count != contextDilations.count { return "context_widths and context_dilations differ in length" }
        let all = widths + blocks + [reducedChannels] + estimatorWidths + contextWidths + contextDilations + expanderWidths
        if (all + [upsamplerWidth]).contains(where: { $0 < 0 || $0 > 1 << 16 }) { return "a width is negative or absurdly large" }
        if !(0...64).contains(refinementIterations) { return "refinement_iterations \(refinementIterations) is not in 0...64" }
        if refinementIterations > 0 && !(1...1024).contains(refinementWidth) {
            return "refinement_width \(refinementWidth) is not in 1...1024 (refinement_iterations is \(refinementIterations))"
        }
        if refinementIterations == 0 && refinementWidth != 0 { return "refinement_width without refinement_iterations" }
        if !(0...64).contains(fineIterations) { return "fine_iterations \(fineIterations) is not in 0...64" }
        if fineIterations > 0 && !(1...1024).contains(fineWidth) {
            return "fine_width \(fineWidth) is not in 1...1024 (fine_iterations is \(fineIterations))"
        }
        if fineIterations == 0 && fineWidth != 0 { return "fine_width without fine_iterations" }
        if fineIterations > 0 && decoderStopLevel <= Self.fineLevel {
            return "fine_iterations needs a decoder that stops above level \(Self.fineLevel) (decoder_stop_level is \(decoderStopLevel))"
        }
        if !(0...Self.levelCount).contains(localProjectorLevel) {
            return "local_projector_level \(localProjectorLevel) is not in 0...\(Self.levelCount)"
        }
        if (localProjectorLevel > 0) != !localProjectorWidths.isEmpty {
            return "local_projector_level and local_projector_widths go together (level \(localProjectorLevel), widths \(localProjectorWidths))"
        }
        if localProjectorWidths.contains(where: { !(1...(1 << 16)).contains($0) }) {
            return "local_projector_widths \(localProjectorWidths): a width is not in 1...65536"
        }
        if (widths + estimatorWidths + contextWidths + contextDilations + expanderWidths + [reducedChannels]).contains(0) {
            return "a width is zero"
        }
        return nil
    }

    public var description: String {
        // A preset with another upsampler or estimator sharing is still named by its preset.
        let name = presetFamily.map { "\($0) " } ?? ""
        let upsampler = upsamplerWidth > 0 ? ", convex upsampler \(upsamplerWidth)" : ""
        let estimators = perLevelEstimators ? ", an estimator per level" : ""
        let refinement = refinementIterations > 0
            ? ", refinement \(refinementIterations) iterations of width \(refinementWidth)" : ""
        let fine = fineIterations > 0 ? ", fine head \(fineIterations) iterations of width \(fineWidth) at 1/4" : ""
        let projector = localProjectorLevel > 0
            ? ", local projector \(localProjectorWidths) at level \(localProjectorLevel)" : ""
        return "\(name)(widths \(widths), blocks \(blocks), decoder 6->\(decoderStopLevel)\(estimators)\(refinement)\(upsampler)\(fine)\(projector))"
    }

    // MARK: JSON, with the reference's snake_case keys

    /// `upsampler_width` only when nonzero, `per_level_estimators` only when true and `refinement_iterations` /
    /// `refinement_width` only when the refinement is on, as the reference writes them: files of models without
    /// those features are unchanged (and `fine_iterations` / `fine_width`, `local_projector_level` /
    /// `local_projector_widths` likewise).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "widths": widths, "blocks": blocks, "decoder_stop_level": decoderStopLevel,
            "reduced_channels": reducedChannels, "estimator_widths": estimatorWidths, "estimator_norm": estimatorNorm,
            "context_widths": contextWidths, "context_dilations": contextDilations, "expander_widths": expanderWidths]
        if upsamplerWidth > 0 { object["upsampler_width"] = upsamplerWidth }
        if perLevelEstimators { object["per_level_estimators"] = true }
        if refinementIterations > 0 {
            object["refinement_iterations"] = refinementIterations
            object["refinement_width"] = refinementWidth
        }
        if fineIterations > 0 {
            object["fine_iterations"] = fineIterations
            object["fine_width"] = fineWidth
        }
        if localProjectorLevel > 0 {
            object["local_projector_level"] = localProjectorLevel
            object["local_projector_widths"] = localProjectorWidths
        }
        return object
    }

    public var json: String {
        let data = try! JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses the reference's `json.dumps(cfg.to_dict())`; nil with a reason when a field is missing or wrong.
    public static func fromJSON(_ text: String) -> Result<ModelConfig, ConfigError> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failure(ConfigError(reason: "config metadata is not a JSON object"))
        }
        func ints(_ key: String) throws -> [Int] {
            guard let values = object[key] as? [Any] else { throw ConfigError(reason: "config field \(key) is missing or not a list") }
            let result = values.compactMap { ($0 as? NSNumber)?.intValue }
            guard result.count == values.count else { throw ConfigError(reason: "config field \(key) holds non-integers") }
            return result
        }
        func int(_ key: String) throws -> Int {
            guard let value = (object[key] as? NSNumber)?.intValue else { throw ConfigError(reason: "config field \(key) is missing or not an integer") }
            return value
        }
        do {
            let known: Set<String> = ["widths", "blocks", "decoder_stop_level", "reduced_channels", "estimator_widths",
                                      "estimator_norm", "context_widths", "context_dilations", "expander_widths",
                                      "upsampler_width", "per_level_estimators", "refinement_iterations",
                                      "refinement_width", "fine_iterations", "fine_width", "local_projector_level",
                                      "local_projector_widths"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw ConfigError(reason: "config field \(unknown) is not known to this build")
            }
            guard let norm = object["estimator_norm"] as? Bool else { throw ConfigError(reason: "config field estimator_norm is missing or not a boolean") }
            func flag(_ key: String) throws -> Bool {  // an optional boolean, false when absent
                let value = object[key] ?? false
                guard let bool = value as? Bool else { throw ConfigError(reason: "config field \(key) is not a boolean") }
                return bool
            }
            let config = ModelConfig(
                widths: try ints("widths"), blocks: try ints("blocks"), decoderStopLevel: try int("decoder_stop_level"),
                reducedChannels: try int("reduced_channels"), estimatorWidths: try ints("estimator_widths"),
                estimatorNorm: norm, contextWidths: try ints("context_widths"),
                contextDilations: try ints("context_dilations"), expanderWidths: try ints("expander_widths"),
                upsamplerWidth: object["upsampler_width"] == nil ? 0 : try int("upsampler_width"),
                perLevelEstimators: try flag("per_level_estimators"),
                refinementIterations: object["refinement_iterations"] == nil ? 0 : try int("refinement_iterations"),
                refinementWidth: object["refinement_width"] == nil ? 0 : try int("refinement_width"),
                fineIterations: object["fine_iterations"] == nil ? 0 : try int("fine_iterations"),
                fineWidth: object["fine_width"] == nil ? 0 : try int("fine_width"),
                localProjectorLevel: object["local_projector_level"] == nil ? 0 : try int("local_projector_level"),
                localProjectorWidths: object["local_projector_widths"] == nil ? [] : try ints("local_projector_widths"))
            if let problem = config.validationError() { throw ConfigError(reason: "config: \(problem)") }
            return .success(config)
        } catch let error as ConfigError {
            return .failure(error)
        } catch {
            return .failure(ConfigError(reason: "\(error)"))
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
