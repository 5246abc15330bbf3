import ArgumentParser
import Foundation
import MCJEPA
import Segmentation
import VideoIO
import VideoPipeline

/// `mcjepa-video propagate INPUT --mask first.png`: semi-supervised video object segmentation, the first
/// frame's mask carried through the video by label propagation over the model's content features.
struct PropagateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propagate",
        abstract: "Carry a first-frame object mask through a video by label propagation over MC-JEPA features.",
        discussion: """
            --mask is the first frame's mask at the video's size: a palette PNG (index k = object k, 0 background, \
            255 void = background) or a grayscale 0/255 PNG (one object). Every later frame is segmented from the \
            first frame and the 7 previous predictions. --method flow-guided (default): the previous frame's \
            masks are carried along the backward flow (the network's, refined by DIS's search to half resolution: \
            `flow --refinement fast-search`), joined pixel by pixel, each by its confidence (--fusion average: a \
            fixed mean where the forward-backward check passes), \
            with label propagation through features (top-5 cosine neighbours within 12 cells, temperature 0.1, as \
            DINO's VOS evaluation), and the edges refined on the frame by a guided filter; --appearance says what \
            that affinity compares: the model's features, colour patches (the mean colour of each cell's \
            quadrants), or both with equal weight (default: a neighbour must match on both). --method features: \
            feature propagation alone, DINO's protocol. Features are levels of the encoder's pyramid (level L \
            has stride 2^L): by default levels 2 and 3 joined on level 3's grid (stride 8) for flow-guided, level \
            3 alone for --method features; --level N takes level N alone, --levels 2,3,4 joins several levels on \
            --level's grid (default 3; each level's vector scaled to unit length per cell, each weighing the same \
            in the cosine). Masks are written as DAVIS palette PNGs DIR/%06d.png, one per \
            frame (frame 0 is the given mask), with the object ids of --mask; DIR defaults to INPUT_BASENAME.masks \
            next to the input and is written under a temporary name, renamed when complete. --video draws the \
            masks over the frames at the input's timestamps. INPUT may be a folder of frames (.jpg/.png in name \
            order, e.g. DAVIS JPEGImages/480p/<seq> with --mask Annotations/480p/<seq>/00000.png): masks are then \
            named as the frames (DIR/00000.png ..., the layout `eval vos --pred` reads) and the video runs at 30 fps. Existing outputs are refused unless -y. Exit codes: \
            0 ok, 1 failure (e.g. no weights, output exists), 2 usage, 3 bad input (video, mask or weights file).
            """)

    @OptionGroup var input: VideoInputOptions
    @Option(help: "The first frame's object mask (PNG, the video's size).") var mask: String
    @Option(name: .shortAndLong, help: "Output folder for the masks (default: INPUT_BASENAME.masks next to the input).")
    var output: String?
    @Option(help: "Also write the masks drawn over the video to this path (e.g. out.mp4).") var video: String?
    @OptionGroup var featureLevels: FeatureLevelOptions
    @OptionGroup var propagationOptions: PropagationOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var reporting: ReportingOptions
    @OptionGroup var overwriteOption: OverwriteOption

    func run() async throws {
        let firstMask = try DAVISMasks.read(path: mask)
        let reporter = reporting.reporter()
        let (method, appearance, fusion) = (propagationOptions.resolvedMethod, propagationOptions.resolvedAppearance,
                                            propagationOptions.resolvedFusion)
        let levels = featureLevels.resolved(for: method)
        let estimator = try modelOptions.estimator(refinement: method.refinement, verbose: reporting.verbose, reporter: reporter)
        var job = MaskVideoJob(source: try input.frameInput(), decode: input.decodeOptions(threads: modelOptions.threads),
                               outputFolder: output ?? input.defaultOutputFolder(suffix: "masks"), video: video,
                               overwrite: overwriteOption.overwrite)
        job.legend = Array(Set(firstMask.labels).subtracting([0])).sorted()
        var propagation: ModelObjectPropagation?
        print(try await runReportingErrors(input: job.source.displayPath) {
            try await job.run(estimator: estimator, reporter: reporter) { frame, features in
                if let propagation { return try propagation.next(features, rgb: frame.rgb) }
                guard frame.width == firstMask.width, frame.height == firstMask.height else {
                    throw VideoPipelineError(path: mask, reason: "the mask is \(firstMask.width)x\(firstMask.height), the video \(frame.width)x\(frame.height)")
                }
                propagation = try ModelObjectPropagation(estimator: estimator, levels: levels, method: method,
                                                         appearance: appearance, fusion: fusion, firstFeatures: features,
                                                         firstRGB: frame.rgb, firstMask: firstMask.labels,
                                                         width: frame.width, height: frame.height)
                return firstMask.labels
            }
        })
    }
}
