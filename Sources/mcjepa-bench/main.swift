import Foundation

// Benchmarks print a figure and the ratio against a peer measured in the same run.
// Usage: swift run -c release mcjepa-bench <name> [options]
let benchmarks: [String: ([String]) throws -> Void] = [
    "decode": decodeBenchmark,
    "flow": flowSpeedBenchmark,
    "flowio": benchFlowIO,
    "model": modelBenchmark,
    "nn": nnBenchmark,
    "pipeline": pipelineBenchmark,
    "preprocess": preprocessBenchmark,
    "refine": refineBenchmark,
    "train": trainBenchmark,
]

let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, let bench = benchmarks[name] else {
    print("usage: mcjepa-bench <\(benchmarks.keys.sorted().joined(separator: "|"))> [options]")
    exit(2)
}
do {
    try bench(Array(args.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("mcjepa-bench \(name): \(error)\n".utf8))
    exit(1)
}
