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
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Exit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
