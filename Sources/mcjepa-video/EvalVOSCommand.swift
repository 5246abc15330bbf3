import ArgumentParser
import Foundation
import MCJEPA
import Segmentation
import VideoPipeline

/// `eval vos`: J, F and J&F of video object segmentation masks on a DAVIS-layout folder.
struct EvalVOSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vos",
        abstract: "J (IoU), F (boundary F-measure) and J&F of VOS masks on a DAVIS-layout folder.",
        discussion: """
            DAVIS_ROOT holds JPEGImages/480p/<seq>/*.jpg and Annotations/480p/<seq>/*.png (palette PNGs, index k = \
            object k, 255 = void; grayscale 0/255 masks are one object). Scores follow the official \
            davis2017-evaluation code: per object, J and F over every frame except the first and the last, F with \
            a boundary tolerance of ceil(0.008 x diagonal) pixels; the mean line averages objects.

            --pred DIR reads DIR/<seq>/<frame>.png (palette indices = object ids). --pred first-mask scores the \
            baseline that copies the first annotation to every frame (write ./first-mask for a folder of that name). \
            --pred colour-propagation runs label propagation through non-learned colour patch features (stride 8): \
            a floor for learned features and a check of the propagation machinery.

            Without --pred the model (--model PATH, else the built-in weights) segments each sequence as \
            `propagate` does: --method flow-guided (default) carries the previous masks along the flow (the \
            network's, refined by DIS's search to half resolution) \
            where the forward-backward check passes and corrects them by feature affinity, then refines edges on \
            the frame; --appearance says what its affinity compares: the model's features, colour \
            patches of the frame at the same stride, both with equal weight in one descriptor (default), or both \
            as separate cues; --fusion says how appearance and the carried masks (and separate cues) are joined: confidence \
            (default: per pixel, each weighted by its margin between best and second label, the flow also by a \
            soft forward-backward check) or average (a fixed mean where the forward-backward check passes). \
            --method features is feature \
            affinity alone (DINO's protocol, what papers report; --appearance does not apply). \
            Features are encoder pyramid levels resampled onto a grid aligned with the frame (the network sees a \
            padded, with --max-side also shrunk, frame): by default levels 2 and 3 joined on level 3's grid \
            (stride 8) for flow-guided, level 3 alone for --method features; --level N takes level N alone, \
            --levels 2,3,4 joins several levels on --level's grid (default 3), each weighing the same in the \
            affinity.
            """)

    @Argument(help: "The DAVIS-layout folder.")
    var davisRoot: String

    @Option(help: "Folder of predicted masks, or a baseline: 'first-mask', 'colour-propagation'.")
    var pred: String?

    @Flag(help: "Print the report as JSON (J and F in 0...1) instead of a table.")
    var json = false

    @OptionGroup var featureLevels: FeatureLevelOptions

    @OptionGroup var propagation: PropagationOptions

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        try modelOptions.checkUnused(withPrediction: pred)
        // Each of these says how the model segments; with --pred nothing runs the model, so they would be ignored.
        if pred != nil, let given = [("--method", propagation.method != nil), ("--appearance", propagation.appearance != nil),
                                     ("--fusion", propagation.fusion != nil), ("--level", featureLevels.level != nil),
                                     ("--levels", featureLevels.levels != nil)].first(where: { $0.1 }) {
            throw ValidationError("\(given.0) applies only without --pred")
        }
    }

    func run() async throws {
        let source: DAVISEvaluation.PredictionSource
        switch pred {
        case nil:
            let (method, appearance, fusion) = (propagation.resolvedMethod, propagation.resolvedAppearance, propagation.resolvedFusion)
            var settings = [method.rawValue]
            if method == .flowGuided { settings.append("appearance \(appearance.rawValue)") }
            if method == .flowGuided && fusion != .default { settings.append("fusion \(fusion.rawValue)") }
            let levels = featureLevels.resolved(for: method)
            settings.append(levels.description)
            if let maxSide = modelOptions.maxSide { settings.append("max side \(maxSide)") }
            let name = "model \(modelOptions.model ?? "built-in") (\(settings.joined(separator: ", ")))"
            source = .model(try modelOptions.estimator(refinement: method.refinement), levels: levels, method: method,
                            appearance: appearance, fusion: fusion, name: name)
        case "first-mask": source = .firstMask
        case "colour-propagation":
            let configuration = LabelPropagation.Configuration()
            source = .propagation(name: "colour-propagation (non-learned colour patches, stride 8)",
                                  configuration: configuration) { image in
                ColourPatchFeatures.features(rgb: image.rgb, width: image.width, height: image.height,
                                             stride: configuration.stride)
            }
        case let folder?: source = .folder(URL(fileURLWithPath: folder))
        }
        let report = try DAVISEvaluation.evaluate(root: URL(fileURLWithPath: davisRoot), predictions: source)
        print(json ? DAVISEvaluation.json(report) : DAVISEvaluation.table(report))
    }
}
