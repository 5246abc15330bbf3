import AtomicOutput
import Dataset
import FlowIO
import Foundation
import MCJEPA
import VideoIO

// Training pair sources for `mcjepa-video train`: whole videos (decoded once into memory) and WebDataset shards written by
// `preprocess`. Both implement MCJEPA's TrainingPairSource; every random choice comes from the trainer's RNG.

/// Frames of videos kept in memory as 8-bit RGB (at most `maxSide` on the long side, the first `maxFrames` of each
/// video: about 0.7 MB a frame at 640x360); a pair is two frames 1...maxStride apart at a random position of a
/// random video (data.py `VideoPairs`, which seeks instead and so sees every frame of long videos).
/// The frames are read only after `init`, so pairs may be sampled on several threads at once.
public final class VideoPairSource: ConcurrentTrainingPairSource {
    public let name = "videos"
    private let videos: [(path: String, frames: [VideoFrame])]
    public let maxStride: Int

    public init(paths: [String], maxStride: Int, maxSide: Int, maxFrames: Int, threads: Int) throws {
        self.maxStride = maxStride
        var videos: [(path: String, frames: [VideoFrame])] = []
        for path in paths {
            let reader = try VideoReader(path: path, options: DecodeOptions(threads: threads, maxSide: maxSide))
            var frames: [VideoFrame] = []
            while frames.count < maxFrames, let frame = try reader.nextFrame() { frames.append(frame) }
            guard frames.count > maxStride else {
                throw TrainingError(description: "\(path): \(frames.count) frames, need more than --max-stride \(maxStride)")
            }
            videos.append((path, frames))
        }
        self.videos = videos
    }

    private func pick(_ rng: inout TrainingRNG) -> (VideoFrame, VideoFrame) {
        let video = videos[rng.below(videos.count)]
        let stride = 1 + rng.below(maxStride)
        let start = rng.below(video.frames.count - stride)
        return (video.frames[start], video.frames[start + stride])
    }

    public func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
        let (a, b) = pick(&rng)
        return TrainingSample(first: FrameImage(width: a.width, height: a.height, rgb8: a.rgb),
                              second: FrameImage(width: b.width, height: b.height, rgb8: b.rgb))
    }

    public func sampleFrame(_ rng: inout TrainingRNG) throws -> FrameImage {
        let (a, _) = pick(&rng)
        return FrameImage(width: a.width, height: a.height, rgb8: a.rgb)
    }

    /// Two frames of a random video, a distance uniform in 1...gap apart (at most the video's decoded frames
    /// allow), at a uniform position, in either order: any two frames that far apart are equally likely.
    public func framesApart(upTo gap: Int, _ rng: inout TrainingRNG) throws -> (FrameImage, FrameImage) {
        let frames = videos[rng.below(videos.count)].frames
        let distance = 1 + rng.below(min(gap, frames.count - 1))
        let start = rng.below(frames.count - distance)
        let (a, b) = (frames[start], frames[start + distance])
        let first = FrameImage(width: a.width, height: a.height, rgb8: a.rgb)
        let second = FrameImage(width: b.width, height: b.height, rgb8: b.rgb)
        return rng.uniform() < 0.5 ? (first, second) : (second, first)
    }
}

/// Pairs from `preprocess` shards: tar members `<key>.f0.png` / `<key>.f1.png` (or .jpg), indexed at start and
/// decoded on demand (through a temporary file, as VideoIO decodes images from paths). A pair whose sample also has
/// `<key>.flow.npy` (`preprocess --flow`: the flow of the stored frames) carries it as its flow, so the trainer
/// supervises it like a synthetic pair (with --supervised-weight): a teacher's flow distilled into the network.
/// The member index is fixed after `init` and each read opens its own handle and temporary file, so pairs may be
/// sampled on several threads at once.
public final class ShardPairSource: ConcurrentTrainingPairSource {
    public let name: String
    private struct Member { let shard: String; let name: String; let offset: UInt64; let size: Int; let ext: String }
    private let pairs: [(first: Member, second: Member, flow: Member?)]
    private let scratch: String

    public init(shards: [String], scratchFolder: String) throws {
        scratch = scratchFolder
        AtomicOutput.removeScratchOfDeadProcesses(in: scratchFolder, legacyPrefix: "member-")
        var pairs: [(first: Member, second: Member, flow: Member?)] = []
        for shard in shards {
            var members: [String: Member] = [:]
            do {
                for member in try TarIndex.members(ofFile: shard) {
                    members[member.name] = Member(shard: shard, name: member.name, offset: member.offset, size: member.size,
                                                  ext: (member.name as NSString).pathExtension)
                }
            } catch let error as DatasetError {
                throw TrainingError(description: error.description)
            }
            for (name, first) in members.sorted(by: { $0.key < $1.key }) {
                guard let range = name.range(of: ".f0.", options: .backwards) else { continue }
                let key = String(name[..<range.lowerBound])
                if let second = members["\(key).f1.\(first.ext)"] { pairs.append((first, second, members["\(key).flow.npy"])) }
            }
        }
        guard !pairs.isEmpty else { throw TrainingError(description: "\(shards.joined(separator: ", ")): no <key>.f0/<key>.f1 image pairs in the shards") }
        self.pairs = pairs
        let withFlow = pairs.filter { $0.flow != nil }.count
        name = withFlow == 0 ? "shards" : "shards (\(withFlow) of \(pairs.count) pairs with flow)"
    }

    private func bytes(_ member: Member) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: member.shard) else { throw TrainingError(description: "\(member.shard): cannot open") }
        defer { try? handle.close() }
        handle.seek(toFileOffset: member.offset)
        let data = handle.readData(ofLength: member.size)
        guard data.count == member.size else { throw TrainingError(description: "\(member.shard): \(member.name) is truncated") }
        return data
    }

    private func decode(_ member: Member) throws -> FrameImage {
        let data = try bytes(member)
        // FFmpeg picks the image decoder by extension, so the scratch file keeps it; it is registered with
        // AtomicOutput, so an interrupt removes it, and leftovers of killed runs are removed at the next start.
        let path = AtomicOutput.scratchPath(in: scratch, extension: member.ext)
        defer { AtomicOutput.discard(path) }
        guard FileManager.default.createFile(atPath: path, contents: data) else { throw TrainingError(description: "\(path): cannot write") }
        let image = try readImage(path: path)
        return FrameImage(width: image.width, height: image.height, rgb8: image.rgb)
    }

    /// The stored flow as the trainer wants it (planar u then v), checked against the frames' size.
    private func flow(_ member: Member, width: Int, height: Int) throws -> [Float] {
        let location = "\(member.shard): \(member.name)"
        let field: FlowField
        do {
            field = try FlowFile.decode([UInt8](try bytes(member)), format: .npy, name: location)
        } catch let error as FlowIOError {
            throw TrainingError(description: error.description)
        }
        guard field.width == width && field.height == height else {
            throw TrainingError(description: "\(location): flow is \(field.width)x\(field.height), its frames \(width)x\(height)")
        }
        guard field.u.allSatisfy(\.isFinite) && field.v.allSatisfy(\.isFinite) else {
            throw TrainingError(description: "\(location): flow has non-finite values")
        }
        // Unknown pixels (NaN in the file, `--mask-inconsistent`) go to the trainer as NaN: no supervision there.
        let unknown = Float.nan
        return (0..<field.pixelCount).map { field.valid[$0] ? field.u[$0] : unknown }
            + (0..<field.pixelCount).map { field.valid[$0] ? field.v[$0] : unknown }
    }

    public func sample(_ rng: inout TrainingRNG) throws -> TrainingSample {
        let (a, b, f) = pairs[rng.below(pairs.count)]
        let first = try decode(a), second = try decode(b)
        guard first.width == second.width && first.height == second.height else {
            throw TrainingError(description: "\(a.shard): \(a.name) and \(b.name) differ in size")
        }
        return TrainingSample(first: first, second: second, flow: try f.map { try flow($0, width: first.width, height: first.height) })
    }

    /// A shard holds pairs, not clips: a temporal positive is a stored pair's two frames (`preprocess --stride`
    /// apart), whatever the gap.
    public func framesApart(upTo gap: Int, _ rng: inout TrainingRNG) throws -> (FrameImage, FrameImage) {
        let (a, b, _) = pairs[rng.below(pairs.count)]
        let first = try decode(a), second = try decode(b)
        return (first, second)
    }
}

/// Files under `paths` (files as given, folders searched recursively) whose extension is in `extensions`.
public func trainingFiles(_ paths: [String], extensions: Set<String>) -> [String] {
    var found: [String] = []
    for path in paths {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { continue }
        if isFolder.boolValue {
            let names = (FileManager.default.subpaths(atPath: path) ?? []).sorted()
            found += names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.map { "\(path)/\($0)" }
        } else if extensions.contains((path as NSString).pathExtension.lowercased()) {
            found.append(path)
        }
    }
    return found
}

/// The pair sources `train` learns from: `preprocess` shards (.tar) and videos found under `inputs` (the shards'
/// images are decoded through files in `scratchFolder`), and photos under `synthetic` handed to `makeSynthetic`.
/// - Throws: `TrainingError` naming a path that does not exist, or the inputs when nothing usable is found.
public func trainingSources(inputs: [String], synthetic: [String], scratchFolder: String, maxStride: Int, maxSide: Int,
                            maxFrames: Int, threads: Int,
                            makeSynthetic: ([FrameImage]) -> TrainingPairSource) throws -> [TrainingPairSource] {
    for input in inputs + synthetic where !FileManager.default.fileExists(atPath: input) {
        throw TrainingError(description: "\(input): no such file or folder")
    }
    var sources: [TrainingPairSource] = []
    let shards = trainingFiles(inputs, extensions: ["tar"])
    if !shards.isEmpty {
        try FileManager.default.createDirectory(atPath: scratchFolder, withIntermediateDirectories: true)
        sources.append(try ShardPairSource(shards: shards, scratchFolder: scratchFolder))
    }
    let videos = trainingFiles(inputs, extensions: ["mp4", "mov", "mkv", "avi", "webm", "m4v", "mpg", "mpeg", "y4m"])
    if !videos.isEmpty {
        sources.append(try VideoPairSource(paths: videos, maxStride: maxStride, maxSide: maxSide, maxFrames: maxFrames,
                                           threads: threads))
    }
    if !synthetic.isEmpty {
        let files = trainingFiles(synthetic, extensions: FrameInput.imageExtensions)
        guard !files.isEmpty else { throw TrainingError(description: "\(synthetic.joined(separator: ", ")): no images for --synthetic") }
        sources.append(makeSynthetic(try files.map { FrameImage(try readImage(path: $0)) }))
    }
    guard !sources.isEmpty else {
        throw TrainingError(description: "\((inputs + synthetic).joined(separator: ", ")): no videos, shards or images found")
    }
    return sources
}

extension LossConfig {
    /// This configuration with `train --loss NAME=VALUE` overrides applied: a number, a Bool (true/1), or one
    /// number per pyramid level, comma-separated.
    /// - Throws: `TrainingError` naming the item that is not a LossConfig field or not a valid value.
    public func overridden(by items: [String]) throws -> LossConfig {
        var json = jsonObject
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let current = json[parts[0]] else {
                throw TrainingError(description: "--loss \(item): expected NAME=VALUE with a LossConfig field")
            }
            if current is [Float] {
                let values = parts[1].split(separator: ",").compactMap { Double($0) }
                guard values.count == ModelConfig.levelCount, !parts[1].hasSuffix(",") else {
                    throw TrainingError(description: "--loss \(item): expected \(ModelConfig.levelCount) comma-separated numbers")
                }
                json[parts[0]] = values
            } else if current is Bool {
                json[parts[0]] = parts[1] == "true" || parts[1] == "1"
            } else {
                guard let v = Double(parts[1]) else { throw TrainingError(description: "--loss \(item): \(parts[1]) is not a number") }
                json[parts[0]] = v
            }
        }
        let text = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        switch LossConfig.fromJSON(text) {
        case .success(let config): return config
        case .failure(let error): throw TrainingError(description: "--loss: \(error.reason)")
        }
    }
}
