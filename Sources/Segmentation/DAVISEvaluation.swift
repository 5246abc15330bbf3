import Foundation
import VideoIO

/// Semi-supervised VOS scoring of a DAVIS-layout folder (`JPEGImages/480p/<seq>/*.jpg`,
/// `Annotations/480p/<seq>/*.png`), following the official davis2017-evaluation code: objects are ids 1...max of
/// the first annotation; per object J and F over every frame except the first (given) and the last; each object
/// weighs the same in the overall means; J&F is the mean of J and F.
public enum DAVISEvaluation {
    /// Where predictions come from: mask PNGs `DIR/<seq>/<frame>.png` (palette indices = object ids), or the
    /// copy-the-first-mask baseline.
    public enum PredictionSource: Sendable {
        case folder(URL)
        case firstMask
        /// Label propagation from the first annotation through per-frame features of `JPEGImages/480p/<seq>/
        /// <frame>.jpg` (or .png) (a model's content features, or `ColourPatchFeatures`); `name` labels the
        /// report.
        case propagation(name: String, configuration: LabelPropagation.Configuration, features: FeatureExtractor)
        /// Any method that starts from the first frame and its annotation and then segments frame after frame
        /// (e.g. `FlowGuidedPropagation` over a model's features and flow); `name` labels the report.
        case segmenter(name: String, start: SegmenterFactory)
    }

    /// Starts a sequence from its first frame and annotation; returns the function that gives each next frame's
    /// mask (object ids per pixel), called once per frame in order.
    public typealias SegmenterFactory = @Sendable (RGBImage, LabelImage) throws -> (RGBImage) throws -> [UInt8]

    /// The feature map of one frame, at the configuration's stride.
    public typealias FeatureExtractor = @Sendable (RGBImage) throws -> FeatureMap

    public struct Sequence: Sendable {
        public var name: String
        /// Frame names without extension, in order (from the annotation folder).
        public var frames: [String]
        public var annotations: URL
        public var images: URL
    }

    public struct ObjectResult: Codable, Equatable, Sendable {
        public var object: Int
        public var j: MeasureStatistics
        public var f: MeasureStatistics
        public var jAndF: Double
    }

    public struct SequenceResult: Codable, Equatable, Sendable {
        public var sequence: String
        public var frames: Int
        public var objects: [ObjectResult]
        /// Means over this sequence's objects.
        public var j: Double
        public var f: Double
        public var jAndF: Double
    }

    public struct Report: Codable, Equatable, Sendable {
        public var root: String
        public var prediction: String
        public var sequences: [SequenceResult]
        /// Means over all objects of all sequences (the official "Global" line).
        public var j: Double
        public var f: Double
        public var jAndF: Double
        public var jRecall: Double
        public var fRecall: Double
    }

    /// The sequences of a DAVIS root, sorted by name; each must have at least one annotation.
    public static func sequences(root: URL) throws -> [Sequence] {
        let annotations = root.appendingPathComponent("Annotations/480p")
        let images = root.appendingPathComponent("JPEGImages/480p")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: annotations.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw SegmentationError(file: root.path, reason: "not a DAVIS folder (no Annotations/480p)")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: annotations.path)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
        var result = [Sequence]()
        for name in names {
            let folder = annotations.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
                continue
            }
            let frames = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
                .filter { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") }
                .map { String($0.dropLast(4)) }.sorted()
            guard !frames.isEmpty else {
                throw SegmentationError(file: folder.path, reason: "sequence has no annotation PNGs")
            }
            result.append(Sequence(name: name, frames: frames, annotations: folder,
                                   images: images.appendingPathComponent(name)))
        }
        guard !result.isEmpty else {
            throw SegmentationError(file: annotations.path, reason: "no sequences found")
        }
        return result
    }

    /// Scores every sequence of `root`.
    public static func evaluate(root: URL, predictions: PredictionSource) throws -> Report {
        let sequences = try sequences(root: root)
        var results = [SequenceResult]()
        for sequence in sequences {
            let truth = try sequence.frames.map {
                try DAVISMasks.read(path: sequence.annotations.appendingPathComponent("\($0).png").path)
            }
            let predicted: [LabelImage]
            switch predictions {
            case .firstMask:
                predicted = Array(repeating: truth[0], count: truth.count)
            case .folder(let folder):
                predicted = try sequence.frames.map { frame in
                    let path = folder.appendingPathComponent(sequence.name).appendingPathComponent("\(frame).png").path
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw SegmentationError(file: path, reason: "missing prediction")
                    }
                    return try DAVISMasks.read(path: path)
                }
            case .propagation(_, let configuration, let features):
                predicted = try propagate(sequence: sequence, firstMask: truth[0], configuration: configuration,
                                          features: features)
            case .segmenter(_, let start):
                predicted = try segment(sequence: sequence, firstMask: truth[0], start: start)
            }
            var predictionFolder = ""
            if case .folder(let folder) = predictions {
                predictionFolder = folder.appendingPathComponent(sequence.name).path
            }
            results.append(try score(sequence: sequence.annotations.path, truth: truth, predictions: predicted,
                                     predictionFolder: predictionFolder, name: sequence.name))
        }
        let objects = results.flatMap(\.objects)
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(values.count, 1)) }
        let j = mean(objects.map(\.j.mean)), f = mean(objects.map(\.f.mean))
        let label: String
        switch predictions {
        case .firstMask: label = "first-mask"
        case .folder(let url): label = url.path
        case .propagation(let name, _, _): label = name
        case .segmenter(let name, _): label = name
        }
        return Report(root: root.path, prediction: label, sequences: results, j: j, f: f, jAndF: (j + f) / 2,
                      jRecall: mean(objects.map(\.j.recall)), fRecall: mean(objects.map(\.f.recall)))
    }

    /// Masks for every frame of a sequence by label propagation; frame 0 is the given mask.
    public static func propagate(sequence: Sequence, firstMask: LabelImage,
                                 configuration: LabelPropagation.Configuration,
                                 features: @escaping FeatureExtractor) throws -> [LabelImage] {
        try segment(sequence: sequence, firstMask: firstMask) { first, mask in
            let propagation = try LabelPropagation(firstFeatures: try features(first), firstMask: mask.labels,
                                                   frameWidth: first.width, frameHeight: first.height,
                                                   configuration: configuration)
            return { try propagation.propagate(features($0)) }
        }
    }

    /// Masks for every frame of a sequence from a segmenter started on the first frame; frame 0 is the given mask.
    public static func segment(sequence: Sequence, firstMask: LabelImage, start: SegmenterFactory) throws -> [LabelImage] {
        func image(_ frame: String) throws -> RGBImage {
            // DAVIS frames are JPEGs; PNG frames (lossless, e.g. made by tests or re-encodings) are accepted too.
            let candidates = ["jpg", "png"].map { sequence.images.appendingPathComponent("\(frame).\($0)").path }
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw SegmentationError(file: candidates[0], reason: "missing frame")
            }
            do {
                return try readImage(path: path)
            } catch let error as VideoIOError {
                throw SegmentationError(file: path, reason: "cannot read the frame (\(error.description))")
            }
        }
        let first = try image(sequence.frames[0])
        guard first.width == firstMask.width && first.height == firstMask.height else {
            throw SegmentationError(file: sequence.images.path, reason: "frames are \(first.width)x\(first.height), annotations \(firstMask.width)x\(firstMask.height)")
        }
        let next = try start(first, firstMask)
        var masks = [firstMask]
        for frame in sequence.frames.dropFirst() {
            let rgb = try image(frame)
            guard rgb.width == first.width && rgb.height == first.height else {
                throw SegmentationError(file: sequence.images.appendingPathComponent(frame).path,
                                        reason: "frame size \(rgb.width)x\(rgb.height) differs from the first frame's")
            }
            masks.append(LabelImage(width: rgb.width, height: rgb.height, labels: try next(rgb)))
        }
        return masks
    }

    /// Scores one sequence from its object-id masks (all frames, the first included; it and the last are skipped).
    /// - Throws: when sizes differ or a prediction holds an id above the number of objects (the official code
    ///   refuses those too).
    /// - Parameters:
    ///   - sequence: where the annotations come from, for error messages.
    ///   - predictionFolder: where the predictions come from, for error messages ("" for a baseline).
    ///   - name: the sequence's name in the result (default: the last path component of `sequence`).
    public static func score(sequence: String, truth: [LabelImage], predictions: [LabelImage],
                             predictionFolder: String = "", name: String? = nil) throws -> SequenceResult {
        precondition(truth.count == predictions.count, "one prediction per frame")
        // The first and last frames are not scored, so a sequence needs a third; objects come from frame 0.
        guard truth.count >= 3 else {
            throw SegmentationError(file: sequence, reason: "sequence has \(truth.count) annotated frames, at least 3 are needed")
        }
        let objectCount = Int(truth[0].labels.max() ?? 0)
        guard objectCount > 0 else {
            throw SegmentationError(file: sequence, reason: "the first annotation holds no object")
        }
        for (index, (t, p)) in zip(truth, predictions).enumerated() {
            let source = predictionFolder.isEmpty ? sequence : "\(predictionFolder) frame \(index)"
            guard t.width == p.width && t.height == p.height else {
                throw SegmentationError(file: source, reason: "prediction is \(p.width)x\(p.height), annotation is \(t.width)x\(t.height)")
            }
            if let top = p.labels.max(), Int(top) > objectCount {
                throw SegmentationError(file: source, reason: "prediction holds object \(top) but the sequence has \(objectCount) objects")
            }
        }
        let scored = Array(1..<(truth.count - 1))
        // Written under `lock` by the parallel frames below; the compiler cannot see the lock, so they opt out.
        nonisolated(unsafe) var jValues = [[Double]](repeating: [Double](repeating: 0, count: scored.count), count: objectCount)
        nonisolated(unsafe) var fValues = jValues
        // Frames are independent: score them in parallel, each writing its own slots.
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: scored.count) { slot in
            let t = truth[scored[slot]], p = predictions[scored[slot]]
            var js = [Double](), fs = [Double]()
            for object in 1...objectCount {
                let a = t.labels.map { Int($0) == object }, b = p.labels.map { Int($0) == object }
                js.append(MaskMetrics.jaccard(a, b))
                fs.append(MaskMetrics.fMeasure(a, b, width: t.width, height: t.height))
            }
            lock.lock()
            for k in 0..<objectCount {
                jValues[k][slot] = js[k]
                fValues[k][slot] = fs[k]
            }
            lock.unlock()
        }
        let objects = (0..<objectCount).map { k -> ObjectResult in
            let j = MeasureStatistics(jValues[k]), f = MeasureStatistics(fValues[k])
            return ObjectResult(object: k + 1, j: j, f: f, jAndF: (j.mean + f.mean) / 2)
        }
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(max(values.count, 1)) }
        let j = mean(objects.map(\.j.mean)), f = mean(objects.map(\.f.mean))
        return SequenceResult(sequence: name ?? URL(fileURLWithPath: sequence).lastPathComponent, frames: truth.count, objects: objects, j: j, f: f,
                              jAndF: (j + f) / 2)
    }

    /// A fixed-width table: one line per sequence, then the overall means.
    public static func table(_ report: Report) -> String {
        // Percent, as DAVIS results (and the README) quote them; the JSON report keeps fractions.
        func cell(_ value: Double) -> String { String(format: "%7.1f", 100 * value) }
        let width = max(8, report.sequences.map(\.sequence.count).max() ?? 0)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = ["\(pad("sequence")) objects frames     J&F       J       F"]
        for s in report.sequences {
            lines.append("\(pad(s.sequence)) \(String(format: "%7d %6d", s.objects.count, s.frames)) "
                         + "\(cell(s.jAndF)) \(cell(s.j)) \(cell(s.f))")
        }
        let objects = report.sequences.reduce(0) { $0 + $1.objects.count }
        lines.append("\(pad("mean")) \(String(format: "%7d       ", objects)) "
                     + "\(cell(report.jAndF)) \(cell(report.j)) \(cell(report.f))")
        lines.append("(J and F in percent, means over objects; first and last frames excluded; predictions: \(report.prediction))")
        return lines.joined(separator: "\n")
    }

    public static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self)
    }
}
