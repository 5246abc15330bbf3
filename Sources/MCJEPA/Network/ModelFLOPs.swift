/// Floating-point operations (multiply and add counted separately) of one inference pass at a padded size, for
/// reporting GFLOP/s. Counts convolutions, linear layers and the correlation; norms, activations, warps and
/// resizes are memory-bound and left out, so the figure slightly understates the work done. The modules count
/// their own layers (`flops` beside each forward).
public enum ModelFLOPs {
    /// Encoder of one frame, [1, 3, height, width] with height and width multiples of 64.
    public static func encoder(_ cfg: ModelConfig, height: Int, width: Int) -> Double {
        Network(ParameterStore(config: cfg, allocating: false)).encoder.flops(height: height, width: width)
    }

    /// Decoder of one direction (every decoded level, the context network and a convex upsampler if any).
    public static func decoder(_ cfg: ModelConfig, height: Int, width: Int) -> Double {
        Network(ParameterStore(config: cfg, allocating: false)).decoder.flops(height: height, width: width)
    }
}
