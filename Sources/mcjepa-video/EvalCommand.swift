import ArgumentParser
import FlowIO
import FlowRefinement
import Foundation
import MCJEPA
import VideoIO
import VideoPipeline

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
            averages the pairs (each pair weighs the same). Fl-all counts pixels with EPE > 3 px and > 5% of |gt|. \
            s0-10, s10-40 and s40+ are the EPE over pixels whose ground-truth motion is under 10 px, 10-40 px and \
            over 40 px (Sintel's bands; "-" where a pair has none, and the mean is over the pairs that have some).

            --pred DIR reads the prediction for PAIR from DIR/PAIR.flo, or else DIR/PAIR.png (KITTI), \
            DIR/PAIR.npy, DIR/PAIR.pfm, or else DIR/PAIR/flow.<ext>; it must have the ground truth's size. \
            --pred zero scores the zero-motion baseline (write ./zero for a folder of that name).

            --baseline DIR compares with another method's predictions in DIR (looked up as for --pred; \
            `Reference/dis_baseline.py SETDIR DIR` writes OpenCV DIS's): per pair both EPEs and their ratio, then \
            the geometric mean of the ratios (below 1: better than the baseline), the pairs won, and the mean EPE, \
            Fl-all and 1 px accuracy of both. Judge methods by the ratios and pairs won, not by the mean EPE, which \
            a few large-motion pairs decide.

            Without --pred the model (--model PATH, else the built-in weights) estimates the flow from \
            PAIR/img1.png to PAIR/img2.png as `flow PAIR/img1.png PAIR/img2.png` does, at full resolution (--max-side only shrinks what the network sees; \
            --flip-average averages it with the mirrored pair's flow, as `flow --flip-average` does) and refines it \
            on the images as `flow` does (--refinement search, the seeded DIS search; --refinement variational, \
            the coarse-to-fine variational refinement; --no-refine scores the network's flow as it is); the time \
            per pair (reading both images, the encoder passes, the flow decoder and the refinement) goes to stderr.
            """)

    @Argument(help: "The evaluation set folder (SET/PAIR/{img1.png,img2.png,flow.flo}).")
    var set: String

    @Option(help: "Folder of predicted flow files, or 'zero' for the zero-motion baseline.")
    var pred: String?

    @Option(help: "Folder of another method's predictions to compare with pair by pair (EPE ratios, pairs won).")
    var baseline: String?

    @Flag(help: "Print the report as JSON (fractions in 0...1, EPE in px) instead of a table.")
    var json = false

    @Flag(help: "Average the flow with that of the pair mirrored left to right (twice the time; on the built-in weights, flow-dev EPE against DIS medium in geometric mean over the pairs: the decoder's flow, before the feature alignment, 1.94x -> 1.86x, refined with the search's previous parameters 0.81x -> 0.81x).")
    var flipAverage = false

    @Flag(inversion: .prefixedNo,
          help: "Refine the network's flow on the frames (default), or score the network's flow as it is (--no-refine).")
    var refine: Bool?

    @Option(help: "How the network's flow is refined: search (DIS seeded by it, to full resolution), fast-search (to half resolution), or variational.")
    var refinement: RefinementMethod = .standard

    @OptionGroup var searchOptions: SearchOptions
    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        try modelOptions.checkUnused(withPrediction: pred)
        if pred != nil && flipAverage { throw ValidationError("--flip-average applies only without --pred") }
        if pred != nil && refine != nil { throw ValidationError("--refine/--no-refine apply only without --pred") }
        if refine == false && refinement != .standard { throw ValidationError("--refinement contradicts --no-refine") }
        if pred != nil && searchOptions.searchOptions != nil { throw ValidationError("--search-options applies only without --pred") }
        _ = try searchOptions.configuration(refinement: refine == false ? nil : refinement)
    }

    func run() async throws {
        let setURL = URL(fileURLWithPath: set)
        // The baseline first: a wrong folder fails before the model runs.
        func folder(_ path: String) -> FlowSetEvaluation.PredictionSource { .folder(URL(fileURLWithPath: path)) }
        let baselineReport = try baseline.map { try FlowSetEvaluation.evaluate(set: setURL, predictions: folder($0)) }
        let report: FlowSetEvaluation.Report
        switch pred {
        case "zero": report = try FlowSetEvaluation.evaluate(set: setURL, predictions: .zero)
        case let path?: report = try FlowSetEvaluation.evaluate(set: setURL, predictions: folder(path))
        case nil:
            let refined = refine ?? true
            let name = "model \(modelOptions.model ?? "built-in")" + (modelOptions.maxSide.map { " (max side \($0))" } ?? "")
                + (flipAverage ? " (flip-averaged)" : "") + (refined ? " + \(refinement.rawValue) refinement" : "")
                + (searchOptions.searchOptions.map { " (\($0))" } ?? "")
            let estimator = try modelOptions.estimator(flipAverage: flipAverage, refinement: refined ? refinement : nil,
                                                       search: try searchOptions.configuration(refinement: refined ? refinement : nil))
            let (modelReport, seconds) = try await FlowSetEvaluation.evaluate(set: setURL, estimator: estimator, name: name)
            report = modelReport
            FileHandle.standardError.write(Data(String(format: "%.1f ms per pair (%d pairs, images read and flow estimated)\n",
                                                       1000 * seconds / Double(report.pairs.count), report.pairs.count).utf8))
        }
        if let baselineReport {
            let comparison = try FlowSetComparison(report, baseline: baselineReport)
            print(json ? comparison.json : comparison.table)
        } else {
            print(json ? FlowSetEvaluation.json(report) : FlowSetEvaluation.table(report))
        }
    }
}
