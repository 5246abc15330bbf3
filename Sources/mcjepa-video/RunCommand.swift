import ArgumentParser
import Foundation
import Pipeline

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a declarative pipeline (a YAML file naming commands, inputs and options).",
        discussion: """
            Every step is checked before the first one runs: unknown fields, unknown commands or options, and \
            bad values are reported as FILE:LINE:COLUMN: FIELD: problem. See Pipelines/README.md for the format.
            """)

    @Argument(help: "The pipeline file, e.g. Pipelines/flow-overlay.yaml.")
    var pipeline: String

    @Argument(help: "Inputs handed to the pipeline's steps ($inputs, or {input} in steps that run per input).")
    var inputs: [String] = []

    @Option(name: .customLong("set"), help: "Set a {placeholder}: NAME=VALUE (repeatable).")
    var assignments: [String] = []

    @Flag(help: "Print the command lines the pipeline expands to, check them, and run nothing.")
    var dryRun = false

    func validate() throws {
        for assignment in assignments where !assignment.contains("=") {
            throw ValidationError("--set expects NAME=VALUE, got '\(assignment)'")
        }
    }

    func run() async throws {
        var overrides: [String: String] = [:]
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            overrides[String(parts[0])] = String(parts[1])
        }
        let pipeline = try PipelineParser.load(path: pipeline)
        let commands = try pipeline.invocations(inputs: inputs, overrides: overrides).map {
            ($0, try parseStep($0, in: pipeline))
        }
        for (invocation, _) in commands where dryRun {
            print(([MCJEPAVideo.configuration.commandName!] + invocation.arguments).map(shellQuoted).joined(separator: " "))
        }
        if dryRun { return }
        for (invocation, command) in commands {
            // A step that reports JSON progress gets its announcement and its error as JSON lines, so its stderr
            // stays JSON (the entry point would judge by run's own arguments).
            let json = asksForJSONProgress(invocation.arguments)
            printStandardError("run: \(invocation.arguments.joined(separator: " "))", event: "note", json: json)
            var command = command
            do {
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            } catch where json {
                guard let failure = failure(of: error) else { throw error }
                printStandardError("mcjepa-video: \(failure.message)", event: "error", json: true)
                throw ExitCode(failure.code)
            }
        }
    }

    /// Parses one step exactly as the CLI would parse it typed by hand, so a pipeline accepts what the
    /// commands accept and nothing else; errors point at the step's option (or the step) in the file.
    private func parseStep(_ invocation: Pipeline.Invocation, in pipeline: Pipeline) throws -> ParsableCommand {
        let step = pipeline.steps[invocation.stepIndex]
        let field = "steps[\(invocation.stepIndex)]"
        guard step.command != "run",
              MCJEPAVideo.configuration.subcommands.contains(where: {
                  $0.configuration.commandName == step.command
              })
        else {
            let known = MCJEPAVideo.configuration.subcommands.compactMap { $0.configuration.commandName }
                .filter { $0 != "run" }
            throw PipelineError(path: pipeline.path, location: step.location, field: "\(field).command",
                                message: "unknown command '\(step.command)' (known: \(known.joined(separator: ", ")))")
        }
        do {
            return try MCJEPAVideo.parseAsRoot(invocation.arguments)
        } catch {
            let message = MCJEPAVideo.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid"
            // Point at the option the parser complained about when its message names one.
            let culprit = step.options.first { message.contains("--\($0.name)") }
            throw PipelineError(path: pipeline.path, location: culprit?.location ?? step.location,
                                field: culprit.map { "\(field).options.\($0.name)" } ?? field,
                                message: "\(step.command): \(message)")
        }
    }

    private func shellQuoted(_ word: String) -> String {
        word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,{}".contains($0) }) && !word.isEmpty
            ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
