import Foundation

/// Loss weights and constants, the same fields and defaults as Reference/mcjepa/losses.py `LossConfig`
/// (the defaults of ../shared/design/DESIGN.md). Per-level arrays are indexed by level - 1 (levels 1..6).
public struct LossConfig: Equatable, Sendable {
    public var photoWeight: Float = 1.0
    public var photoL1: Float = 0.15
    public var photoSSIM: Float = 0.85
    public var featureWeights: [Float] = [1, 1, 1, 1, 1, 1]
    public var smoothWeight: Float = 75.0
    public var smoothEdge: Float = 10.0
    public var cycleWeight: Float = 0.2
    public var varWeights: [Float] = [0.01, 0.01, 0.01, 0.01, 0.001, 0.0001]
    public var covWeights: [Float] = [0.04, 0.04, 0.001, 0.0, 0.0, 0.0]
    public var vicregInv: Float = 25.0
    public var vicregVar: Float = 25.0
    public var vicregCov: Float = 1.0
    public var occAlpha1: Float = 0.01
    public var occAlpha2: Float = 0.5
    /// Whether the photometric and feature terms are occlusion masked (the cycle term always is).
    public var useOcclusion = true
    /// 0: off. > 0: the supervised end-point error is truncated at this many pixels, min(EPE, cap) per pixel, so a
    /// pixel whose error is beyond the cap gives no gradient. A head that corrects a flow locally (the fine head
    /// reaches about 16 px) cannot fix a 30 px error; without the cap such pixels' error directions, unrelated to
    /// what the head sees, drown the signal of the pixels it can fix.
    public var epeCap: Float = 0

    public init() {}

    /// Whether any self-supervised flow term (photometric, feature, smoothness, cycle, per-level
    /// variance-covariance) has a non-zero weight.
    public var hasSelfSupervisedFlowTerms: Bool {
        photoWeight != 0 || smoothWeight != 0 || cycleWeight != 0
            || (featureWeights + varWeights + covWeights).contains { $0 != 0 }
    }

    /// Whether any VICReg (content) term has a non-zero weight.
    public var hasContentTerms: Bool { vicregInv != 0 || vicregVar != 0 || vicregCov != 0 }

    /// The reference's `to_dict()` keys.
    public var jsonObject: [String: Any] {
        ["photo_weight": photoWeight, "photo_l1": photoL1, "photo_ssim": photoSSIM, "feature_weights": featureWeights,
         "smooth_weight": smoothWeight, "smooth_edge": smoothEdge, "cycle_weight": cycleWeight,
         "var_weights": varWeights, "cov_weights": covWeights, "vicreg_inv": vicregInv, "vicreg_var": vicregVar,
         "vicreg_cov": vicregCov, "occ_alpha1": occAlpha1, "occ_alpha2": occAlpha2, "use_occlusion": useOcclusion,
         "epe_cap": epeCap]
    }

    public var json: String {
        let data = try! JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses the reference's JSON (as stored in the parity fixture's `loss_config` metadata); missing keys keep
    /// their defaults, unknown keys and wrong types are errors.
    public static func fromJSON(_ text: String) -> Result<LossConfig, ConfigError> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failure(ConfigError(reason: "loss config is not a JSON object"))
        }
        var cfg = LossConfig()
        func number(_ key: String, _ value: Any) throws -> Float {
            guard let n = value as? NSNumber else { throw ConfigError(reason: "loss config: \(key) must be a number") }
            return n.floatValue
        }
        func numbers(_ key: String, _ value: Any) throws -> [Float] {
            guard let list = value as? [Any], list.count == ModelConfig.levelCount else {
                throw ConfigError(reason: "loss config: \(key) must be a list of \(ModelConfig.levelCount) numbers")
            }
            return try list.map { try number(key, $0) }
        }
        do {
            for (key, value) in object {
                switch key {
                case "photo_weight": cfg.photoWeight = try number(key, value)
                case "photo_l1": cfg.photoL1 = try number(key, value)
                case "photo_ssim": cfg.photoSSIM = try number(key, value)
                case "feature_weights": cfg.featureWeights = try numbers(key, value)
                case "smooth_weight": cfg.smoothWeight = try number(key, value)
                case "smooth_edge": cfg.smoothEdge = try number(key, value)
                case "cycle_weight": cfg.cycleWeight = try number(key, value)
                case "var_weights": cfg.varWeights = try numbers(key, value)
                case "cov_weights": cfg.covWeights = try numbers(key, value)
                case "vicreg_inv": cfg.vicregInv = try number(key, value)
                case "vicreg_var": cfg.vicregVar = try number(key, value)
                case "vicreg_cov": cfg.vicregCov = try number(key, value)
                case "occ_alpha1": cfg.occAlpha1 = try number(key, value)
                case "occ_alpha2": cfg.occAlpha2 = try number(key, value)
                case "epe_cap":
                    cfg.epeCap = try number(key, value)
                    guard cfg.epeCap >= 0, cfg.epeCap.isFinite else {
                        throw ConfigError(reason: "loss config: epe_cap must be a finite number >= 0 (0 = off)")
                    }
                case "use_occlusion":
                    guard let b = value as? Bool else { throw ConfigError(reason: "loss config: use_occlusion must be true or false") }
                    cfg.useOcclusion = b
                default: throw ConfigError(reason: "loss config: unknown key \(key)")
                }
            }
        } catch let error as ConfigError {
            return .failure(error)
        } catch {
            return .failure(ConfigError(reason: "loss config: \(error)"))
        }
        return .success(cfg)
    }
}
