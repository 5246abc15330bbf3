import NN

/// One expected parameter: its state_dict name and shape.
public struct ParameterSpec: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}

/// How `MCJEPAModel.initializeRandomly` fills a parameter (the reference's `_init_weights` scheme, MODEL.md
/// section 7), declared by the layer that owns it.
enum ParameterInitialization: Sendable {
    case zeros
    case ones
    /// Truncated normal: N(0, std^2) redrawn while |value| > 2 (absolute), as `trunc_normal_`.
    case truncatedNormal(std: Float)
    /// Kaiming normal for leaky ReLU (a = 0.1), fan in = the product of the shape after its first axis, truncated
    /// as above.
    case kaimingLeakyReLU
    /// Fixed values (the convex upsampler's bilinear-stencil logits).
    case values([Float])
}

/// Every parameter of a network, named by the PyTorch state_dict keys. The modules *declare* their parameters
/// here as they are built (`declare`), so a module's constructor is the one place that names and shapes its
/// tensors: `expectedSpecs` builds the network without allocating and reads the declarations back.
/// The layers hold references to these tensors, so loading weights into the store updates the network.
/// Gradients (for training) live beside the values, created on first request.
public final class ParameterStore {
    public let config: ModelConfig
    private var leadingSpecs: [ParameterSpec] = []
    private var trailingSpecs: [ParameterSpec] = []
    public private(set) var tensors: [String: Tensor] = [:]
    private(set) var initializations: [String: ParameterInitialization] = [:]
    private var gradients: [String: Tensor] = [:]
    /// false: declarations are only recorded (every declared tensor is one empty placeholder).
    private let allocating: Bool
    private static let placeholder = Tensor(shape: [0])

    /// An empty store; the modules built on it declare (and, when `allocating`, allocate) its parameters.
    init(config: ModelConfig, allocating: Bool = true) {
        self.config = config
        self.allocating = allocating
    }

    /// The parameters in declaration order, the `trailing` ones last (state_dict order, but for the convex upsampler).
    public var specs: [ParameterSpec] { leadingSpecs + trailingSpecs }

    /// Declares a parameter and returns its tensor: zeros (LayerNorm gains 1, as PyTorch's, so that an unloaded
    /// network is at least an identity-like norm) until weights are loaded or `initializeRandomly` fills it.
    /// `trailing`: listed after every other parameter whatever the order of declaration, so that a module added
    /// later leaves the other tensors' seeded values and the optimizer state's order as they were.
    func declare(_ name: String, _ shape: [Int], initialization: ParameterInitialization,
                 trailing: Bool = false) -> Tensor {
        precondition(initializations[name] == nil, "parameter \(name) declared twice")
        let spec = ParameterSpec(name: name, shape: shape)
        if trailing { trailingSpecs.append(spec) } else { leadingSpecs.append(spec) }
        initializations[name] = initialization
        guard allocating else { return Self.placeholder }
        let isNormWeight = name.hasSuffix("weight") && shape.count == 1
        let tensor = Tensor(shape: shape, repeating: isNormWeight ? 1 : 0)
        tensors[name] = tensor
        return tensor
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

    /// The names and shapes `MCJEPA(cfg).state_dict()` has: the modules' declarations, without allocating.
    public static func expectedSpecs(_ cfg: ModelConfig) -> [ParameterSpec] {
        let store = ParameterStore(config: cfg, allocating: false)
        _ = Network(store)
        return store.specs
    }
}
