import ArgumentParser

/// The command-line tool. It only parses arguments and wires the library modules together;
/// each subcommand lives in its own file.
@main
struct MCJEPAVideo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcjepa-video",
        abstract: "MC-JEPA optical flow and content segmentation on real videos.",
        subcommands: [
            InfoCommand.self,
            PreprocessCommand.self,
        ]
    )
}
