import ArgumentParser
import AtomicOutput
import Foundation

/// The command-line tool. It only parses arguments and wires the library modules together;
/// each subcommand lives in its own file.
@main
struct MCJEPAVideo: AsyncParsableCommand {
    static let version = "0.5.0"

    static let configuration = CommandConfiguration(
        commandName: "mcjepa-video",
        abstract: "MC-JEPA optical flow and content segmentation on real videos.",
        discussion: """
            Conventions of the commands that read video (flow, render, propagate,
            segment, preprocess):
            - INPUT: a video file, an ffmpeg image pattern (frames/%06d.png), or a
              folder of frames (sorted by name); still images count 30 to the
              second, in a pattern or a folder. `flow` also takes two images
              (one flow file).
            - --start S --duration D: the part of the input to read, in seconds;
              frame indices (and names like 000000.flo) count from the first frame
              read.
            - -o/--output: where outputs go. An existing output is refused (exit 1)
              unless -y/--overwrite; outputs are written under a temporary name and
              renamed when complete.
            - --progress auto|json|none: a bar with frames/s and ETA on a terminal
              (auto; quiet otherwise), or JSON lines on stderr, one schema for all:
              {"event":"progress","frames_done":N,"frames_total":T,"fps":F,
               "eta_s":E,"elapsed_s":S,...}; notes and errors then come as
              {"event":"note"|"error","message":"..."}.
            - --verbose: say which weights run (always said on a terminal).
            - --model PATH, --max-side N, --threads N: the network's weights,
              inference size and threads.
            Summaries go to stdout. Exit codes: 0 ok, 1 failure (output exists,
            cannot write), 2 usage, 3 bad input (a file that cannot be read or
            used, named on one line on stderr).
            """,
        version: MCJEPAVideo.version,
        subcommands: [
            FlowCommand.self,
            RenderCommand.self,
            PropagateCommand.self,
            SegmentCommand.self,
            EvalCommand.self,
            PreprocessCommand.self,
            TrainCommand.self,
            AverageCommand.self,
            RunCommand.self,
            InfoCommand.self,
        ]
    )

    /// Runs the command, mapping argument-parser usage errors (which it would report as 64, EX_USAGE) to the
    /// project's usage exit code 2, so every command follows the same 0/1/2/3 convention.
    static func main() async {
        // swift-argument-parser 1.8 scans the remaining arguments for each one it takes, so parsing is quadratic:
        // 10,000 arguments take 20 s in a debug build (8,000 take 6 s in release). Past this many, refuse before
        // parsing (preprocess and train read long lists of videos from --manifest files).
        let maxArguments = 4096
        if CommandLine.arguments.count - 1 > maxArguments {
            printError("\(CommandLine.arguments.count - 1) arguments, more than the \(maxArguments) accepted; pass folders, or a --manifest file to preprocess")
            Foundation.exit(Exit.usage.rawValue)
        }
        let interruptSources = InterruptCleanup.install(program: "mcjepa-video")
        defer { withExtendedLifetime(interruptSources) {} } // delivering to the end of the run
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            checkStandardOutput()
        } catch {
            if let failure = failure(of: error) {
                printError(failure.message)
                Foundation.exit(failure.code)
            }
            if exitCode(for: error) == .validationFailure {
                // One line, as every error: the cause, then where the options are described.
                let message = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }.joined(separator: "; ")
                let names = configuration.subcommands.map { $0._commandName }
                let command = CommandLine.arguments.dropFirst().first.flatMap { names.contains($0) ? " \($0)" : nil } ?? ""
                printError("\(message) (see 'mcjepa-video help\(command)')")
                Foundation.exit(Exit.usage.rawValue)
            }
            // Any other error that is not the argument parser's own (help, version, an ExitCode): one line, exit 1.
            if !(error is ExitCode), exitCode(for: error) == .failure {
                printError(describe(error))
                Foundation.exit(Exit.failure.rawValue)
            }
            exit(withError: error)
        }
    }

    /// print() never reports a failed write, so a report sent to a full disk (`info > /dev/full`) would exit 0:
    /// flush standard output and fail (exit 1) when any write to it failed.
    private static func checkStandardOutput() {
        // fflush(nil) flushes every C stream and fails when a write fails (Swift 6 forbids naming C's `stdout`, a
        // mutable global); standard error is unbuffered, so this is standard output's pending report.
        if fflush(nil) != 0 {
            printError("standard output: cannot write (\(String(cString: strerror(errno))))")
            Foundation.exit(Exit.failure.rawValue)
        }
    }
}
