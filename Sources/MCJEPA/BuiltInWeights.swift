import Foundation

/// The weights shipped inside the MCJEPA module's resources (Weights/mcjepa-tiny.safetensors), if this build
/// has them (see Weights/README.md, the model card); nil otherwise, and callers then ask for `--model PATH`.
public enum BuiltInWeights {
    public static let fileName = "mcjepa-tiny"

    public static var path: String? {
        Bundle.module.url(forResource: fileName, withExtension: "safetensors", subdirectory: "Weights")?.path
            ?? Bundle.module.url(forResource: fileName, withExtension: "safetensors")?.path
    }

    public static let missingMessage = "no trained built-in weights are in this build; pass --model PATH (a safetensors file with MC-JEPA weights)"
}
