import Foundation

/// Whether this checkout ships built-in MC-JEPA weights (`eval vos` then runs them without --pred).
let builtInWeightsShipped = FileManager.default.fileExists(atPath: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().appendingPathComponent("../../Sources/MCJEPA/Weights/mcjepa-tiny.safetensors")
    .standardizedFileURL.path)
