import ArgumentParser
import FlowIO
import Foundation

/// `eval`: benchmark commands, one subcommand per task (add `eval vos` and others to `subcommands`).
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Score the model (or saved predictions) on evaluation sets.",
        subcommands: [EvalFlowCommand.self, EvalVOSCommand.self])
}

struct EvalFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "EPE, 1/3/5 px accuracy and Fl-all of optical flow on a SET/PAIR/{img1.png,img2.png,flow.flo} set.",
        discussion: """
            Each sub-folder PAIR of SETDIR is one pair; its ground truth is PAIR/flow.flo (or flow.png in KITTI \
            16-bit format, flow.npy, flow.pfm). Measures are over pixels with known ground truth; the mean line \
            averages the pairs (each pair weighs the same). Fl-all counts pixels with EPE > 3 px and > 5% of |gt|.

            --pred DIR reads the prediction for PAIR from DIR/PAIR.flo, or else DIR/PAIR.png (KITTI), \
            DIR/PAIR.npy, DIR/PAIR.pfm, or else DIR/PAIR/flow.<ext>; it must have the ground truth's size. \
            --pred zero scores the zero-motion baseline (write ./zero for a folder of that name).
            """)

    @Argument(help: "The evaluation set folder (SET/PAIR/{img1.png,img2.png,flow.flo}).")
    var set: String

    @Option(help: "Folder of predicted flow files, or 'zero' for the zero-motion baseline.")
    var pred: String?

    @Flag(help: "Print the report as JSON (fractions in 0...1, EPE in px) instead of a table.")
    var json = false

    func run() async throws {
        guard let pred else {
            printError("model-based evaluation not available yet; pass --pred DIR or --pred zero")
            throw Exit.usage
        }
        let source: FlowSetEvaluation.PredictionSource =
            pred == "zero" ? .zero : .folder(URL(fileURLWithPath: pred))
        do {
            let report = try FlowSetEvaluation.evaluate(set: URL(fileURLWithPath: set), predictions: source)
            print(json ? FlowSetEvaluation.json(report) : FlowSetEvaluation.table(report))
        } catch let error as FlowIOError {
            printError(error.description)
            throw Exit.badInput
        }
    }
}
