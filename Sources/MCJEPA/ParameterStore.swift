import NN

/// One expected parameter: its state_dict name and shape.
public struct ParameterSpec: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

/// Every parameter of a configuration, named by the PyTorch state_dict keys, in state_dict order.
/// The layers hold references to these tensors, so loading weights into the store updates the network.
/// Gradients (for training) live beside the values, created on first request.
public final class ParameterStore {
    public let config: ModelConfig
    public let specs: [ParameterSpec]
    public private(set) var tensors: [String: Tensor]
    private var gradients: [String: Tensor] = [:]

    /// Zero-initialised parameters (LayerNorm gains 1), shaped from the configuration.
    public init(config: ModelConfig) {
        self.config = config
        specs = ParameterStore.expectedSpecs(config)
        var tensors: [String: Tensor] = [:]
        for spec in specs {
            // Norm gains start at 1 so that an unloaded network is at least an identity-like norm, as PyTorch's.
            let isNormWeight = spec.name.hasSuffix("weight") && spec.shape.count == 1
            tensors[spec.name] = Tensor(shape: spec.shape, repeating: isNormWeight ? 1 : 0)
        }
        self.tensors = tensors
    }

    public var parameterCount: Int { specs.reduce(0) { $0 + $1.count } }

    public subscript(name: String) -> Tensor {
        guard let tensor = tensors[name] else { preconditionFailure("no parameter named \(name)") }
        return tensor
    }

    /// The gradient tensor of a parameter (zeros on first request); for the trainer.
    public func gradient(_ name: String) -> Tensor {
        if let g = gradients[name] { return g }
        let g = Tensor(shape: self[name].shape)
        gradients[name] = g
        return g
    }

    public func zeroGradients() { for g in gradients.values { g.zero() } }

    /// Copies values in place (the layers keep their references). Shapes must already be checked.
    func assign(_ values: [String: Tensor]) {
        for spec in specs { tensors[spec.name]!.assign(values[spec.name]!) }
    }

    /// The names and shapes `MCJEPA(cfg).state_dict()` has, in its order.
    public static func expectedSpecs(_ cfg: ModelConfig) -> [ParameterSpec] {
        var specs: [ParameterSpec] = []
        func add(_ name: String, _ shape: [Int]) { specs.append(ParameterSpec(name: name, shape: shape)) }
        func conv(_ prefix: String, _ out: Int, _ inPerGroup: Int, _ k: Int) {
            add("\(prefix).weight", [out, inPerGroup, k, k])
            add("\(prefix).bias", [out])
        }
        func norm(_ prefix: String, _ c: Int) {
            add("\(prefix).weight", [c])
            add("\(prefix).bias", [c])
        }
        let w = cfg.widths
        for level in 0..<ModelConfig.levelCount {
            let prefix = "encoder.levels.\(level)"
            let input = level == 0 ? 3 : w[level - 1]
            let kernel = level == 0 ? 4 : (level == 1 ? 3 : 2)
            conv("\(prefix).conv", w[level], input, kernel)
            norm("\(prefix).norm", w[level])
            let blockCount = level < 2 ? 0 : cfg.blocks[level - 2]
            for b in 0..<blockCount {
                let block = "\(prefix).blocks.\(b)", c = w[level]
                conv("\(block).dwconv", c, 1, 7)
                norm("\(block).norm", c)
                conv("\(block).pwconv1", 4 * c, c, 1)
                conv("\(block).pwconv2", c, 4 * c, 1)
            }
        }
        for level in cfg.decodedLevels { conv("decoder.reduce.l\(level)", cfg.reducedChannels, w[level - 1], 1) }
        for prefix in cfg.estimatorPrefixes {
            var channels = cfg.estimatorInputChannels
            for (i, width) in cfg.estimatorWidths.enumerated() {
                conv("\(prefix).convs.\(i)", width, channels, 3)
                channels = width
            }
            if cfg.estimatorNorm {
                for (i, width) in cfg.estimatorWidths.enumerated() { norm("\(prefix).norms.\(i)", width) }
            }
            conv("\(prefix).out", 2, channels, 3)
        }
        var channels = cfg.contextInputChannels
        for (i, width) in cfg.contextWidths.enumerated() {
            conv("decoder.context.convs.\(i)", width, channels, 3)
            channels = width
        }
        conv("decoder.context.out", 2, channels, 3)
        var features = w.last!
        for (i, width) in cfg.expanderWidths.enumerated() {
            add("expander.linears.\(i).weight", [width, features])
            add("expander.linears.\(i).bias", [width])
            features = width
        }
        for (i, width) in cfg.expanderWidths.dropLast().enumerated() { norm("expander.norms.\(i)", width) }
        // Last, so that adding the upsampler leaves every other tensor's seeded initial values as they were.
        if cfg.upsamplerWidth > 0 {
            let factor = 1 << cfg.decoderStopLevel
            conv("decoder.upsampler.conv", cfg.upsamplerWidth, cfg.estimatorWidths.last! + w[cfg.decoderStopLevel - 1] + 2, 3)
            conv("decoder.upsampler.mask", 9 * factor * factor, cfg.upsamplerWidth, 1)
        }
        return specs
    }
}
