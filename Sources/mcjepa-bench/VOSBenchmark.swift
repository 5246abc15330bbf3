import ArgumentParser
import Foundation

struct VOSBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vos",
        abstract: "eval vos frames/s and J&F of the model's propagation against colour-patch propagation.",
        discussion: """
            Runs the built `mcjepa-video eval vos DAVIS_ROOT --json` (swift build -c release first) once per \
            method: --pred colour-propagation, the non-learned peer, then the model with --method flow-guided \
            and each --appearance of --appearances (features, colour patches, both), a flow-guided run of the \
            default appearance per --flow-guided-options (other options, e.g. --fusion average), and --method \
            features (DINO's protocol), in the same run; each --levels L,L,... (repeatable) adds flow-guided with \
            the default appearance and --method features, both with those levels joined. For each: frames (all frames of all sequences, the given first \
            ones included), wall seconds, frames/s, the CPU seconds of the process, J&F and each sequence's J&F. \
            On a shared machine the wall time depends on the neighbours; frames per CPU-second times the thread \
            count bounds what the machine would give alone (parts of the work run on one thread).
            """)
    @Argument(help: "A DAVIS-layout folder, e.g. ../shared/data/davis-dev.") var davisRoot: String
    @Option(help: "Threads for the model (--threads of eval vos).") var threads = 2
    @Option(help: "The --appearance values of flow-guided propagation to run, comma-separated; APPEARANCE:FUSION also sets --fusion (e.g. features:confidence).")
    var appearances = "features,colour,both"
    @Option(help: "A --levels value of eval vos (e.g. 2,3,4), run with flow-guided and with --method features; repeatable.")
    var levels: [String] = []
    // Its values start with dashes: taken as they come, not as this command's options.
    @Option(parsing: .unconditionalSingleValue,
            help: ArgumentHelp("eval vos options for one more flow-guided run with the default appearance, space-separated (e.g. '--fusion average'); repeatable.",
                               valueName: "OPTIONS"))
    var flowGuidedOptions: [String] = []

    func run() throws {
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("mcjepa-video").path
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw ValidationError("\(tool) not built (swift build -c release first)")
        }
        let flowGuided = appearances.split(separator: ",").map { entry in
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let fusion = parts.count > 1 ? ["--fusion", parts[1]] : []
            return ("model, flow-guided, --appearance \(parts[0])" + (parts.count > 1 ? " --fusion \(parts[1])" : ""),
                    ["--method", "flow-guided", "--appearance", parts[0], "--threads", "\(threads)"] + fusion)
        }
        let runs: [(String, [String])] = [("colour-propagation (peer)", ["--pred", "colour-propagation"])] + flowGuided
            + flowGuidedOptions.map { options in
                ("model, flow-guided, \(options)",
                 ["--method", "flow-guided", "--threads", "\(threads)"] + options.split(separator: " ").map(String.init))
            }
            + [("model, features (DINO protocol)", ["--method", "features", "--threads", "\(threads)"])]
            + levels.flatMap { set in
                [("model, flow-guided, --levels \(set)", ["--method", "flow-guided", "--levels", set, "--threads", "\(threads)"]),
                 ("model, features (DINO protocol), --levels \(set)", ["--method", "features", "--levels", set, "--threads", "\(threads)"])]
            }
        var peerRate: Double?
        print("eval vos on \(davisRoot) (\(threads) threads)")
        for (name, arguments) in runs {
            let before = cpuSeconds(RUSAGE_CHILDREN.rawValue)
            let start = DispatchTime.now().uptimeNanoseconds
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["eval", "vos", davisRoot, "--json"] + arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let cpu = cpuSeconds(RUSAGE_CHILDREN.rawValue) - before
            guard process.terminationStatus == 0,
                  let report = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let jAndF = report["jAndF"] as? Double,
                  let sequences = report["sequences"] as? [[String: Any]] else {
                print("  \(name): eval vos failed (exit \(process.terminationStatus))")
                continue
            }
            let frames = sequences.reduce(0) { $0 + (($1["frames"] as? Int) ?? 0) }
            let rate = Double(frames) / seconds, perCPUSecond = Double(frames) / cpu
            let ratio = peerRate.map { String(format: ", %.2fx the peer's frames/s", rate / $0) } ?? ""
            print(String(format: "  %@: J&F %.3f, %d frames in %.1f s = %.2f frames/s (%.1f CPU s = %.2f frames per CPU-second)%@",
                         name, jAndF, frames, seconds, rate, cpu, perCPUSecond, ratio))
            let perSequence = sequences.map { sequence in
                String(format: "%@ %.1f", (sequence["sequence"] as? String) ?? "?", 100 * ((sequence["jAndF"] as? Double) ?? .nan))
            }
            print("    per sequence: " + perSequence.joined(separator: ", "))
            if peerRate == nil { peerRate = rate }
        }
    }
}
