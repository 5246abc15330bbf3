import ArgumentParser
import Foundation

/// The command-line tool. It only parses arguments and wires the library modules together;
/// each subcommand lives in its own file.
@main
struct MCJEPAVideo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcjepa-video",
        abstract: "MC-JEPA optical flow and content segmentation on real videos.",
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
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                // One line, as every error: the cause, then where the options are described.
                let message = message(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty }.joined(separator: "; ")
                let names = configuration.subcommands.map { $0._commandName }
                let command = CommandLine.arguments.dropFirst().first.flatMap { names.contains($0) ? " \($0)" : nil } ?? ""
                printError("\(message) (see 'mcjepa-video help\(command)')")
                Foundation.exit(Exit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
