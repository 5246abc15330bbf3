import ArgumentParser
import AtomicOutput
import Foundation
import MCJEPA
import VideoIO
import VideoPipeline

// Options every command that reads video shares, declared once and pulled in with @OptionGroup; `mcjepa-video
// help` explains them (ConventionsHelp).

extension ProgressReporter.Mode: ExpressibleByArgument {}
extension FlowVideoStyle: ExpressibleByArgument {}

/// The input of a video command and the part of it to read.
struct VideoInputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("A video, an ffmpeg image pattern (frames/%06d.png), or a folder of frames (sorted by name).",
                                 valueName: "input"))
    var inputs: [String]
    @OptionGroup var range: RangeOptions

    /// The input as a frame source (exit 3 with a one-line message when a folder holds no frames).
    func frameInput(allowPair: Bool = false) throws -> FrameInput {
        guard inputs.count == 1 || (allowPair && inputs.count == 2) else {
            throw ValidationError(allowPair ? "give one input, or two images" : "give one input")
        }
        return try FrameInput(inputs: inputs)
    }

    func decodeOptions(threads: Int) -> DecodeOptions {
        DecodeOptions(threads: threads, start: range.start, duration: range.duration)
    }

    /// INPUT_BASENAME.SUFFIX next to the input: where the command's output folder goes without -o.
    func defaultOutputFolder(suffix: String) -> String {
        StagedOutputFolder.defaultPath(besides: inputs[0], suffix: suffix)
    }
}

/// `--start` and `--duration`: the part of each input to read.
struct RangeOptions: ParsableArguments {
    @Option(help: "Seconds into the input to start at (still images count 30 to the second).") var start: Double = 0
    @Option(help: "Seconds of input to read (default: to the end).") var duration: Double?

    func validate() throws {
        try OptionRange.checkStart(start)
        try OptionRange.checkDuration(duration)
    }
}

/// `--progress` and `--verbose`: what goes to standard error besides errors.
struct ReportingOptions: ParsableArguments {
    @Option(help: "Progress on stderr: auto (a bar on a terminal, else nothing), json (JSON lines), none.")
    var progress: ProgressReporter.Mode = .auto
    @Flag(help: "Say which weights run (always said on a terminal).") var verbose = false

    func reporter() -> ProgressReporter { ProgressReporter(mode: progress) }
}

/// `-y/--overwrite`.
struct OverwriteOption: ParsableArguments {
    @Flag(name: [.customShort("y"), .long], help: "Replace existing outputs.") var overwrite = false
}

/// `WIDTHxHEIGHT`, e.g. 320x256: every size option parses through this; `check` holds it to `OptionRange.side`.
struct FrameSize: ExpressibleByArgument, Equatable {
    let width: Int, height: Int

    init(width: Int, height: Int) { (self.width, self.height) = (width, height) }

    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]) else { return nil }
        (self.width, self.height) = (width, height)
    }

    /// A usage error stating the range when a side is outside `OptionRange.side`.
    func check(_ option: String) throws {
        try OptionRange.check(width, OptionRange.side, "\(option) width")
        try OptionRange.check(height, OptionRange.side, "\(option) height")
    }
}

/// The weights `--model` names, else the built-in ones. Says which weights run on a terminal or when `verbose`
/// (through `reporter` when given, so JSON progress stays JSON). Exit 1 when this build has no built-in weights,
/// 3 when the file is unusable.
func loadWeights(modelPath: String?, verbose: Bool = false, reporter: ProgressReporter? = nil) throws -> LoadedWeights {
    guard let path = modelPath ?? BuiltInWeights.path else { throw MissingWeightsError() }
    let loaded = try WeightsFile.load(path: path)
    let banner = "\(modelPath == nil ? "built-in " : "")\(loaded.banner)"
    if verbose {
        if let reporter { reporter.note(banner) } else { FileHandle.standardError.write(Data("\(banner)\n".utf8)) }
    } else if isatty(STDERR_FILENO) != 0 && reporter?.mode != ProgressReporter.Mode.json {
        FileHandle.standardError.write(Data("\(banner)\n".utf8))
    }
    return loaded
}
