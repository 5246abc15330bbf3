import ArgumentParser
import AtomicOutput
import Foundation
import MCJEPA

/// `mcjepa-video average W1 W2 ... -o OUT`: the parameter-by-parameter mean of weights files of one model (a
/// "model soup"), so that a recipe can average continuations of one stage (`Pipelines/train-tiny.yaml`).
struct AverageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "average",
        abstract: "Average weights files of one model parameter by parameter (a model soup).",
        discussion: """
            Every file must hold the same model configuration; each is checked as --model checks it. The mean is \
            computed in double precision and written atomically with the first file's configuration and \
            'averaged_from' (the inputs) in its metadata. Average only weights fine-tuned from one starting \
            point: the mean of unrelated models is not a model. An unusable file is one line naming it (exit 3), \
            and nothing is written.
            """)

    @Argument(help: "Weights files (.safetensors), at least two.") var weights: [String]
    @Option(name: [.customShort("o"), .customLong("output"), .customLong("out")], help: "The averaged weights file to write.")
    var out: String
    @Flag(name: [.customShort("y"), .long], help: "Replace OUT if it exists.") var overwrite = false

    func validate() throws {
        guard weights.count >= 2 else { throw ValidationError("give at least two weights files to average") }
    }

    func run() throws {
        try AtomicOutput.checkFree(out, overwrite: overwrite)
        do {
            let (model, metadata) = try WeightsAverage.average(paths: weights)
            let folder = (out as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try WeightsFile.save(model, to: out, metadata: metadata, replace: overwrite)
            print("wrote \(out): the mean of \(weights.count) weights files, \(model.parameters.parameterCount) parameters, config \(model.config)")
        } catch let error as CocoaError {
            throw AtomicOutputError(path: out, reason: "cannot create its folder (\(error.localizedDescription))", kind: .io)
        }
    }
}
