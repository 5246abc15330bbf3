import Dispatch
import Foundation
import NN

/// One frame pair from a data source, full size, RGB in [0, 1]; `flow` (frame 1 -> 2, planar u then v, pixels)
/// only for pairs with a target: synthetic pairs, whose motion is known exactly, and shard pairs stored with a flow.
public struct TrainingSample {
    public var first: FrameImage
    public var second: FrameImage
    public var flow: [Float]?

    public init(first: FrameImage, second: FrameImage, flow: [Float]? = nil) {
        precondition(first.width == second.width && first.height == second.height, "pair frames differ in size")
        self.first = first; self.second = second; self.flow = flow
    }
}

/// Where training pairs come from (videos, preprocessed shards, synthetic pairs). Sources draw every random
/// choice from the RNG they are given, so a run is reproducible from its seed and resumable from a checkpoint.
public protocol TrainingPairSource: AnyObject {
    var name: String { get }
    func sample(_ rng: inout TrainingRNG) throws -> TrainingSample
    /// One frame, for the content views: the first frame of `sample`, which a source may make without the second.
    func sampleFrame(_ rng: inout TrainingRNG) throws -> FrameImage
    /// Two frames of one clip `1...gap` frames apart, in either order, for temporal content positives
    /// (`MixedSampler.temporalGap`). Sources without clips (still photos) give one frame twice.
    func framesApart(upTo gap: Int, _ rng: inout TrainingRNG) throws -> (FrameImage, FrameImage)
}

extension TrainingPairSource {
    public func sampleFrame(_ rng: inout TrainingRNG) throws -> FrameImage { try sample(&rng).first }

    public func framesApart(upTo gap: Int, _ rng: inout TrainingRNG) throws -> (FrameImage, FrameImage) {
        let frame = try sampleFrame(&rng)
        return (frame, frame)
    }
}

/// A content batch: two augmented global views [B,3,S,S] of each item and, with multi-crop, `localCount` smaller
/// local views of each item, view-major in `local` [localCount*B,3,s,s] (rows m*B..<(m+1)*B are local view m).
public struct ContentViews {
    public let first: Tensor, second: Tensor
    public let local: Tensor?
    /// Per item: where its two global views lie in their frames, and whether both come from the same frame (not a
    /// temporal positive), so that the boxes relate their pixels.
    public var firstBoxes: [ViewBox] = [], secondBoxes: [ViewBox] = []
    public var sameFrame: [Bool] = []
    public var localCount: Int { local.map { $0.n / first.n } ?? 0 }
}

/// Where a content view lies in its frame: the crop's box in the frame's pixels (continuous coordinates, pixel i
/// spanning [i, i + 1)) and whether the view was mirrored left to right after it was resized. The dense content
/// loss (`denseVICRegTerms`) maps feature cells through it to find the cells two views of one frame share.
public struct ViewBox: Equatable, Sendable {
    public var x: Float, y: Float, width: Float, height: Float
    public var flipped: Bool

    public init(x: Float, y: Float, width: Float, height: Float, flipped: Bool) {
        self.x = x; self.y = y; self.width = width; self.height = height; self.flipped = flipped
    }

    /// The frame position of the centre of cell (row, column) of a `rows` x `columns` grid over the view (a feature
    /// map of the view): the view's coordinates scale linearly onto the box (a bilinear resize without aligned
    /// corners), mirrored first when the view was.
    public func centre(row: Int, column: Int, rows: Int, columns: Int) -> (x: Float, y: Float) {
        var u = (Float(column) + 0.5) / Float(columns)
        if flipped { u = 1 - u }
        return (x + u * width, y + (Float(row) + 0.5) / Float(rows) * height)
    }

    /// The cell of a `rows` x `columns` grid over the view that holds frame position (px, py), nil outside the box.
    public func cell(containing px: Float, _ py: Float, rows: Int, columns: Int) -> (row: Int, column: Int)? {
        var u = (px - x) / width
        let v = (py - y) / height
        guard u >= 0 && u < 1 && v >= 0 && v < 1 else { return nil }
        if flipped { u = 1 - u }
        return (min(Int(v * Float(rows)), rows - 1), min(max(Int(u * Float(columns)), 0), columns - 1))
    }
}

/// A source whose `sample` may run on several threads at once: it reads only state fixed at creation (the
/// synthetic source's photos, the decoded frames of the video source, the shard source's member index).
public protocol ConcurrentTrainingPairSource: TrainingPairSource {}

/// A batch ready for the model: frames [B,3,H,W] and, when any sample had one, exact flow [B,2,H,W] (zero for
/// the samples without, which `hasFlow` marks false).
public struct FlowBatch {
    public let first: Tensor, second: Tensor
    public let flow: Tensor?
    /// One flag per sample: whether `flow` holds its exact flow. All true when every sample has one.
    public let hasFlow: [Bool]

    /// The flags to pass to the end-point error: nil (every sample) when all samples have exact flow.
    public var flowSamples: [Bool]? { hasFlow.allSatisfy { $0 } ? nil : hasFlow }
}

enum Augment {
    /// [1,C,H,W] tensor of a planar image.
    static func tensor(_ planar: [Float], channels: Int, height: Int, width: Int) -> Tensor {
        Tensor(shape: [1, channels, height, width], values: planar)
    }

    /// The same random crop of both frames (upscaling first if the frames are too small) and a random
    /// horizontal flip of both (exact flow, when present, has its u negated), as data.py `random_crop_pair`.
    static func cropPair(_ sample: TrainingSample, height: Int, width: Int, rng: inout TrainingRNG)
        -> (Tensor, Tensor, Tensor?) {
        let (h0, w0) = (sample.first.height, sample.first.width)
        var a = tensor(sample.first.planar, channels: 3, height: h0, width: w0)
        var b = tensor(sample.second.planar, channels: 3, height: h0, width: w0)
        var f = sample.flow.map { tensor($0, channels: 2, height: h0, width: w0) }
        if h0 < height || w0 < width {
            let s = max(Float(height) / Float(h0), Float(width) / Float(w0))
            let nh = Int((Float(h0) * s).rounded(.up)), nw = Int((Float(w0) * s).rounded(.up))
            a = resizeBilinearForward(a, height: nh, width: nw)
            b = resizeBilinearForward(b, height: nh, width: nw)
            if let flow = f {
                let r = resizeBilinearForward(flow, height: nh, width: nw)
                let plane = nh * nw
                for i in 0..<plane { r.data[i] *= Float(nw) / Float(w0); r.data[plane + i] *= Float(nh) / Float(h0) }
                f = r
            }
        }
        let y = rng.below(a.h - height + 1), x = rng.below(a.w - width + 1)
        let flip = rng.uniform() < 0.5
        func crop(_ t: Tensor, negateFirstChannel: Bool) -> Tensor {
            let out = Tensor(shape: [1, t.c, height, width])
            for c in 0..<t.c {
                let sign: Float = (flip && negateFirstChannel && c == 0) ? -1 : 1
                for row in 0..<height {
                    let src = t.data + (c * t.h + y + row) * t.w + x, dst = out.data + (c * height + row) * width
                    for col in 0..<width { dst[col] = sign * src[flip ? width - 1 - col : col] }
                }
            }
            return out
        }
        return (crop(a, negateFirstChannel: false), crop(b, negateFirstChannel: false), f.map { crop($0, negateFirstChannel: true) })
    }

    /// VICReg-style view as data.py `content_view`: random resized crop (area 0.2-1 of the frame by default,
    /// aspect 3/4-4/3) to size x size, flip, colour jitter (brightness, contrast, saturation, p = 0.8), grayscale
    /// (p = 0.2). Multi-crop's local views cover a smaller `area` (DINO's 0.05-0.4).
    static func contentView(_ image: FrameImage, size: Int, area areaRange: ClosedRange<Float> = 0.2...1.0,
                            rng: inout TrainingRNG) -> Tensor {
        contentViewWithBox(image, size: size, area: areaRange, rng: &rng).view
    }

    /// `contentView` and where the view lies in its frame (the same draws).
    static func contentViewWithBox(_ image: FrameImage, size: Int, area areaRange: ClosedRange<Float> = 0.2...1.0,
                                   rng: inout TrainingRNG) -> (view: Tensor, box: ViewBox) {
        let (h, w) = (image.height, image.width)
        var cw = min(h, w), ch = min(h, w)
        for _ in 0..<10 {
            let area = Float(h * w) * rng.uniform(areaRange.lowerBound, areaRange.upperBound)
            let aspect = Float(exp(Double(rng.uniform(Float(log(3.0 / 4.0)), Float(log(4.0 / 3.0))))))
            let tw = Int((area * aspect).squareRoot().rounded()), th = Int((area / aspect).squareRoot().rounded())
            if tw > 0 && tw <= w && th > 0 && th <= h { cw = tw; ch = th; break }
        }
        let y = rng.below(h - ch + 1), x = rng.below(w - cw + 1)
        let region = Tensor(shape: [1, 3, ch, cw])
        for c in 0..<3 {
            for row in 0..<ch {
                for col in 0..<cw { region.data[(c * ch + row) * cw + col] = image.planar[(c * h + y + row) * w + x + col] }
            }
        }
        let view = resizeBilinearForward(region, height: size, width: size)
        let plane = size * size
        let p = view.data
        let flipped = rng.uniform() < 0.5
        if flipped {
            for c in 0..<3 {
                for row in 0..<size {
                    var line = UnsafeMutableBufferPointer(start: p + (c * size + row) * size, count: size)
                    line.reverse()
                }
            }
        }
        func gray(_ i: Int) -> Float { 0.299 * p[i] + 0.587 * p[plane + i] + 0.114 * p[2 * plane + i] }
        if rng.uniform() < 0.8 {
            let brightness = rng.uniform(0.6, 1.4)
            for i in 0..<view.count { p[i] *= brightness }
            let mean = NN.mean(view), contrast = rng.uniform(0.6, 1.4)
            for i in 0..<view.count { p[i] = (p[i] - mean) * contrast + mean }
            let saturation = rng.uniform(0.6, 1.4)
            for i in 0..<plane {
                let g = gray(i)
                for c in 0..<3 { p[c * plane + i] = (p[c * plane + i] - g) * saturation + g }
            }
        }
        if rng.uniform() < 0.2 {
            for i in 0..<plane { let g = gray(i); for c in 0..<3 { p[c * plane + i] = g } }
        }
        for i in 0..<view.count { p[i] = min(max(p[i], 0), 1) }
        return (view, ViewBox(x: Float(x), y: Float(y), width: Float(cw), height: Float(ch), flipped: flipped))
    }

    /// Stacks [1,C,H,W] tensors into [B,C,H,W].
    static func stack(_ items: [Tensor]) -> Tensor {
        let first = items[0]
        let out = Tensor(shape: [items.count, first.c, first.h, first.w])
        for (i, t) in items.enumerated() { (out.data + i * t.count).update(from: t.data, count: t.count) }
        return out
    }
}

/// Picks a source uniformly per sample and builds the flow and content batches (data.py `MixedSampler`).
public final class MixedSampler {
    public let sources: [TrainingPairSource]
    public let crop: (height: Int, width: Int)
    public let contentSize: Int
    /// Share of content items whose two views come from the two frames of one pair (a video pair's frames 1-2
    /// apart, a synthetic pair's moved layers) instead of one frame: temporal positives, so that VICReg's
    /// invariance also covers motion, deformation and lighting over time, which a crop-and-jitter of one frame
    /// never shows. At 0 (the default) the generator's stream is the same as before the option existed.
    public let temporalPositives: Float
    /// With a gap G, a temporal positive's two frames are 1...G frames apart in one clip instead of a flow pair's
    /// (`TrainingPairSource.framesApart`: a video's frames, uniform in distance and either order; a still photo
    /// twice). nil (the default): the flow pair's two frames, the stream of runs made before the option existed.
    public let temporalGap: Int?
    /// Multi-crop: local views per item, each a smaller random crop (`localSize` px, DINO's area 0.05-0.4) of the
    /// item's frame, or alternately of its two frames for a temporal positive, augmented as the global views. At 0
    /// (the default) nothing is drawn for them and the stream is unchanged.
    public let localViews: Int
    public let localSize: Int

    public init(sources: [TrainingPairSource], crop: (height: Int, width: Int), contentSize: Int,
                temporalPositives: Float = 0, temporalGap: Int? = nil, localViews: Int = 0, localSize: Int = 64) {
        precondition(!sources.isEmpty, "no training sources")
        precondition((0...1).contains(temporalPositives), "temporal positives must be a share in 0...1")
        precondition(temporalGap.map { $0 >= 1 } ?? true, "temporal gap must be at least 1 frame")
        precondition(localViews >= 0 && localSize > 0, "local views: \(localViews) of \(localSize) px")
        self.sources = sources; self.crop = crop; self.contentSize = contentSize
        self.temporalPositives = temporalPositives; self.temporalGap = temporalGap
        self.localViews = localViews; self.localSize = localSize
    }

    /// Local views' share of their frame's area (DINO's local crops): smaller than the global views' 0.2-1, so that
    /// a local view must be matched to the whole item, not to a near copy of itself.
    public static let localViewArea: ClosedRange<Float> = 0.05...0.4

    private func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
        try sources[rng.below(sources.count)].sample(&rng)
    }

    private var everySourceIsConcurrent: Bool { sources.allSatisfy { $0 is ConcurrentTrainingPairSource } }

    /// `count` items, each made by `make` from its own generator, seeded from `rng` in order, on `NN.threadCount`
    /// threads when every source may sample concurrently, else one after the other. The items depend on the seed
    /// only, not on the thread count, and `rng` advances by `count` draws either way.
    private func itemsFromOwnGenerators<Item>(_ count: Int, rng: inout TrainingRNG,
                                              _ make: (inout TrainingRNG) throws -> Item) throws -> [Item] {
        let seeds = (0..<count).map { _ in rng.next() }
        guard count > 1 && everySourceIsConcurrent else {
            return try seeds.map { seed in var local = TrainingRNG(seed: seed); return try make(&local) }
        }
        var made = [Result<Item, Error>?](repeating: nil, count: count)
        let workers = max(1, min(threadCount, count))
        withoutActuallyEscaping(make) { make in
            made.withUnsafeMutableBufferPointer { made in
                // Workers fill distinct slots; `make` is called concurrently only when every source is a
                // ConcurrentTrainingPairSource (checked above).
                nonisolated(unsafe) let (made, make) = (made, make)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for index in stride(from: worker, to: count, by: workers) {
                        var local = TrainingRNG(seed: seeds[index])
                        made[index] = Result { try make(&local) }
                    }
                }
            }
        }
        return try made.map { try $0!.get() }
    }

    /// `batch` cropped and flipped pairs. When every source is a `ConcurrentTrainingPairSource` (synthetic pairs,
    /// videos and shards are) and the batch has more than one pair, each pair draws from its own generator, seeded
    /// from `rng` in order, and the pairs are made on `NN.threadCount` threads (made on one core while the other
    /// waited, the synthetic pairs of a batch of 16 took about a sixth of a step; in parallel, steps/s rose 8-10%).
    /// The batch depends on the seed only, not on the thread count. A batch of one, and any batch with a source
    /// that is not concurrent, draws everything from `rng` in turn.
    public func flowBatch(_ batch: Int, rng: inout TrainingRNG) throws -> FlowBatch {
        func cropped(_ rng: inout TrainingRNG) throws -> (Tensor, Tensor, Tensor?) {
            Augment.cropPair(try sample(&rng), height: crop.height, width: crop.width, rng: &rng)
        }
        let pairs: [(Tensor, Tensor, Tensor?)]
        if batch > 1 && everySourceIsConcurrent {
            pairs = try itemsFromOwnGenerators(batch, rng: &rng, cropped)
        } else {
            pairs = try (0..<batch).map { _ in try cropped(&rng) }
        }
        // A mixed batch (video and synthetic pairs) keeps the synthetic pairs' exact flow, so that supervision
        // reaches them in every step instead of only in the rare all-synthetic batch.
        let hasFlow = pairs.map { $0.2 != nil }
        let shape = [1, 2, crop.height, crop.width]
        let flow = hasFlow.contains(true) ? Augment.stack(pairs.map { $0.2 ?? Tensor(shape: shape) }) : nil
        return FlowBatch(first: Augment.stack(pairs.map(\.0)), second: Augment.stack(pairs.map(\.1)),
                         flow: flow, hasFlow: hasFlow)
    }

    /// Two augmented views [B,3,S,S] of each of `batch` frames (and `localViews` local views of each, view-major).
    /// Each frame and its views come from their own
    /// generator (as `flowBatch`'s pairs), on `NN.threadCount` threads when every source may sample concurrently;
    /// a source renders only the frame it is asked for (`sampleFrame`: rendering, blurring and jittering a
    /// synthetic pair's unused second frame doubled the work). With both changes and video pairs made in parallel
    /// too, stage 8's recipe (videos and synthetic pairs, batch 8, content batch 8) went from 0.70 to 0.84 steps/s.
    public func contentBatch(_ batch: Int, rng: inout TrainingRNG) throws -> ContentViews {
        let items = try itemsFromOwnGenerators(batch, rng: &rng) { rng -> (views: [Tensor], boxes: [ViewBox], sameFrame: Bool) in
            let source = sources[rng.below(sources.count)]
            let frames: (FrameImage, FrameImage)
            var sameFrame = false
            // No draw at all without temporal positives, so that runs and checkpoints made before stay exact.
            if temporalPositives > 0 && rng.uniform() < temporalPositives {
                if let temporalGap {
                    frames = try source.framesApart(upTo: temporalGap, &rng)
                } else {
                    let pair = try source.sample(&rng)
                    frames = (pair.first, pair.second)
                }
            } else {
                let frame = try source.sampleFrame(&rng)
                frames = (frame, frame)
                sameFrame = true
            }
            let a = Augment.contentViewWithBox(frames.0, size: contentSize, rng: &rng)
            let b = Augment.contentViewWithBox(frames.1, size: contentSize, rng: &rng)
            // Drawn after the global views, so that they are the same with and without local views.
            let locals = (0..<localViews).map { m in
                Augment.contentView(m % 2 == 0 ? frames.0 : frames.1, size: localSize, area: Self.localViewArea, rng: &rng)
            }
            return ([a.view, b.view] + locals, [a.box, b.box], sameFrame)
        }
        let local = localViews == 0 ? nil
            : Augment.stack((0..<localViews).flatMap { m in items.map { $0.views[2 + m] } })
        return ContentViews(first: Augment.stack(items.map { $0.views[0] }), second: Augment.stack(items.map { $0.views[1] }),
                            local: local, firstBoxes: items.map { $0.boxes[0] }, secondBoxes: items.map { $0.boxes[1] },
                            sameFrame: items.map(\.sameFrame))
    }
}
