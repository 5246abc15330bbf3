import ArgumentParser
import AtomicOutput
import Dataset
import FlowIO
import Foundation
import MCJEPA
import NN
import Pipeline
import Segmentation
import VideoIO
import VideoPipeline

/// Exit codes users and schedulers can act on (see README): 0 ok, 1 failure, 2 usage, 3 bad input.
enum Exit {
    static let failure = ExitCode(1)
    static let usage = ExitCode(2)
    static let badInput = ExitCode(3)
}

/// Prints one line to standard error, prefixed with the tool's name, the way every error is reported; with
/// `--progress json` as a JSON line, `{"event":"error","message":"mcjepa-video: ..."}`, so stderr stays JSON.
func printError(_ message: String) {
    printStandardError("mcjepa-video: \(message)", event: "error", json: asksForJSONProgress(CommandLine.arguments))
}

/// One line on standard error, or with `json` the JSON line `{"event":EVENT,"message":LINE}`.
func printStandardError(_ line: String, event: String, json: Bool) {
    FileHandle.standardError.write(Data(((json ? ProgressReporter.jsonLine(event: event, message: line) : line) + "\n").utf8))
}

/// Whether `arguments` hold `--progress json` (or `--progress=json`): standard error must then hold only JSON lines.
func asksForJSONProgress(_ arguments: [String]) -> Bool {
    arguments.contains("--progress=json") || zip(arguments, arguments.dropFirst()).contains { $0 == "--progress" && $1 == "json" }
}

/// An error of no module, in one line: Foundation's own description for its errors (never a raw
/// `Error Domain=... UserInfo={...}` dump), else the error's text with line breaks joined.
func describe(_ error: Error) -> String {
    let raw = "\(error)"
    let text = error is CocoaError || raw.hasPrefix("Error Domain=") ? error.localizedDescription : raw
    return text.split(whereSeparator: \.isNewline).joined(separator: " ")
}

/// Where every error a module throws becomes one line and an exit code: each module's error says which kind of
/// failure it is (an input that cannot be used, an output that cannot be written, ...), and this is the one
/// place that maps kinds to codes. Commands only catch errors they handle differently (`info` goes on to the
/// next file). nil for an error that is not a module's (ExitCode, argument-parser errors).
func failure(of error: Error) -> (message: String, code: Int32)? {
    let output = Exit.failure.rawValue, input = Exit.badInput.rawValue
    let (message, code): (String, Int32)
    switch error {
    case let error as VideoIOError: (message, code) = (error.description, error.isAboutOutput ? output : input)
    case let error as FlowIOError: (message, code) = (error.description, error.isAboutOutput ? output : input)
    case let error as WeightsError: (message, code) = (error.description, error.kind == .invalid ? input : output)
    case let error as SafetensorsError: (message, code) = (error.description, error.kind == .invalid ? input : output)
    case let error as TrainingError: (message, code) = (error.description, error.isAboutOutput ? output : input)
    case let error as DatasetError:
        let kind: ExitCode = switch error {
        case .badInput, .video: Exit.badInput
        case .output: Exit.retry // the same command may succeed later: a scheduler retries it
        case .usage: Exit.usage
        case .encoder, .outputExists: Exit.failure
        }
        (message, code) = (error.description, kind.rawValue)
    case let error as SegmentationError:
        (message, code) = (error.description, error.kind == .input ? input : output)
    case let error as VideoPipelineError: (message, code) = (error.description, error.kind == .input ? input : output)
    case let error as PipelineError: (message, code) = (error.description, input)
    case let error as ConfigError: (message, code) = (error.description, input)
    case let error as AtomicOutputError: (message, code) = (error.description, output)
    case let error as MissingWeightsError: (message, code) = (error.description, output)
    default: return nil
    }
    return (message, code)
}
