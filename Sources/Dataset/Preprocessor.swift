import AtomicOutput
import VideoIO
import Foundation

public struct PreprocessOptions: Sendable {
    public var output: String
    public var sampling = SamplingOptions()
    public var resize: ResizeMode = .keep
    public var pairsPerShard = 1000
    /// Skip shards whose stats file (the done marker) and tar exist.
    public var resume = false
    /// Rewrite shards that exist; without this or `resume`, existing shards are an error.
    public var overwrite = false
    /// Threads resizing and encoding frames; the output does not depend on it.
    public var encodingThreads = 1
    /// When set, each sample also gets a `<key>.flow.npy` member: the bytes this returns for the pair's two frames
    /// as stored (after resizing), e.g. a model's flow as an H x W x 2 float32 `.npy`.
    public var pairFlow: (@Sendable (_ first: RGBImage, _ second: RGBImage) throws -> [UInt8])?

    public init(output: String) {
        self.output = output
    }

    var sizeDescription: String {
        switch resize {
        case .keep: return "source"
        case let .exact(width, height): return "\(width)x\(height)"
        case let .maxSide(side): return "max-side \(side)"
        }
    }
}

/// Progress of one worker, reported after every frame (callers throttle).
public struct PreprocessProgress: Sendable {
    public var videosDone = 0
    public var videosTotal = 0
    public var shardsDone = 0
    public var shardsTotal = 0
    public var pairs = 0
    public var framesDecoded = 0
    public var elapsedSeconds = 0.0

    public init() {}
}

public struct PreprocessSummary: Sendable {
    public var shardsWritten: [ShardStats] = []
    public var shardsResumed: [Int] = []
    public var videosProcessed: Int { shardsWritten.reduce(0) { $0 + $1.videos.count } }
    public var videosFailed: Int { shardsWritten.reduce(0) { $0 + $1.videosFailed } }
    public var pairs: Int { shardsWritten.reduce(0) { $0 + $1.pairs } }
}

/// Runs this worker's part of the plan: writes the manifest, then each assigned shard (resuming if asked).
public struct Preprocessor {
    public let plan: ShardPlan
    public let options: PreprocessOptions
    public let encoder: ImageEncoder
    public let openSource: (VideoInput) throws -> FrameSource

    public init(plan: ShardPlan, options: PreprocessOptions, encoder: ImageEncoder,
                openSource: @escaping (VideoInput) throws -> FrameSource) {
        self.plan = plan
        self.options = options
        self.encoder = encoder
        self.openSource = openSource
    }

    public var manifest: RunManifest {
        let shardNames = (0..<plan.shardCount).map(ShardPlan.shardName)
        let last = shardNames.last.map { String($0.dropFirst("shard-".count)) } ?? "000000"
        return RunManifest(
            shardCount: plan.shardCount,
            urls: plan.shardCount == 1 ? "shard-000000.tar" : "shard-{000000..\(last)}.tar",
            videosPerShard: plan.videosPerShard, pairsPerShard: options.pairsPerShard,
            stride: options.sampling.stride, minMotion: options.sampling.minMotion,
            maxPairs: options.sampling.maxPairs, cutThreshold: options.sampling.cutThreshold,
            size: options.sizeDescription, imageFormat: encoder.fileExtension,
            shards: shardNames.enumerated().map { shard, name in
                RunManifest.Shard(name: name, tar: name + ".tar", stats: name + ".stats.json",
                                  videos: plan.videos(inShard: shard).map(\.id))
            },
            videos: (0..<plan.shardCount).flatMap { shard in
                plan.videos(inShard: shard).map {
                    RunManifest.Video(id: $0.id, source: $0.relativePath, shard: shardNames[shard])
                }
            })
    }

    /// `--resume` continues the run whose plan the folder's manifest records; a plan made from other options or
    /// inputs would mix two datasets in one folder (shards of two frame sizes), so the first difference is refused
    /// by name.
    static func checkResumable(_ path: String, previous data: Data, current: RunManifest) throws {
        guard let previous = try? JSONDecoder().decode(RunManifest.self, from: data) else {
            throw DatasetError.usage("\(path): not a manifest this tool wrote; cannot resume from it")
        }
        let differences: [(String, String, String)] = [
            ("--size/--max-side", previous.size, current.size),
            ("--stride", "\(previous.stride)", "\(current.stride)"),
            ("--min-motion", "\(previous.minMotion)", "\(current.minMotion)"),
            ("--max-pairs", "\(previous.maxPairs)", "\(current.maxPairs)"),
            ("--cut-threshold", "\(previous.cutThreshold)", "\(current.cutThreshold)"),
            ("--pairs-per-shard", "\(previous.pairsPerShard)", "\(current.pairsPerShard)"),
            ("the image format (--jpeg-quality)", previous.imageFormat, current.imageFormat),
            ("the number of shards", "\(previous.shardCount)", "\(current.shardCount)"),
        ]
        if let (option, was, now) = differences.first(where: { $0.1 != $0.2 }) {
            throw DatasetError.usage("\(path): --resume with \(option) \(now), but the run was planned with \(was); give the same options or another output folder")
        }
        if previous.videos != current.videos {
            throw DatasetError.usage("\(path): --resume with other inputs than the run was planned with; give the same inputs or another output folder")
        }
    }

    public func run(worker: WorkerAssignment,
                    progress: @escaping (PreprocessProgress) -> Void = { _ in }) throws -> PreprocessSummary {
        let folder = options.output
        let fileManager = FileManager.default
        // A file where a folder of the path should be can never work: that is bad input, not a reason to retry.
        var ancestor = URL(fileURLWithPath: folder).standardizedFileURL
        while ancestor.path != "/" {
            var isFolder: ObjCBool = false
            if fileManager.fileExists(atPath: ancestor.path, isDirectory: &isFolder) {
                guard isFolder.boolValue else {
                    throw DatasetError.badInput(path: folder, reason: "cannot create the output folder: \(ancestor.path) is a file")
                }
                break
            }
            ancestor.deleteLastPathComponent()
        }
        do {
            try fileManager.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? "permission denied or disk full"
            throw DatasetError.output(path: folder, reason: "cannot create the output folder (\(plainReason(reason)))")
        }
        guard fileManager.isWritableFile(atPath: folder) else {
            throw DatasetError.output(path: folder, reason: "folder is not writable")
        }
        let manifestPath = (folder as NSString).appendingPathComponent("manifest.json")
        if options.resume, let data = fileManager.contents(atPath: manifestPath) {
            try Self.checkResumable(manifestPath, previous: data, current: manifest)
        }
        let manifestBytes = try DeterministicJSON.encode(manifest) + [UInt8(ascii: "\n")]
        try writingOutput { try AtomicOutput.write(manifestBytes, to: (folder as NSString).appendingPathComponent("manifest.json")) }

        let shards = plan.shards(for: worker)
        var summary = PreprocessSummary()
        var state = PreprocessProgress()
        state.shardsTotal = shards.count
        state.videosTotal = shards.reduce(0) { $0 + plan.videos(inShard: $1).count }
        let start = Date()
        let frameEncoder = try ParallelFrameEncoder(encoder: encoder, threads: options.encodingThreads,
                                                    resize: options.resize)
        // What killed runs left behind (`.<name>.tar.tmp-<pid>-<n>`), listed once rather than once per shard.
        let temporaries = ((try? fileManager.contentsOfDirectory(atPath: folder)) ?? []).filter { AtomicOutput.isTemporary($0) }
        for shard in shards {
            let name = ShardPlan.shardName(shard)
            let tarPath = (folder as NSString).appendingPathComponent(name + ".tar")
            let statsPath = (folder as NSString).appendingPathComponent(name + ".stats.json")
            let tarExists = fileManager.fileExists(atPath: tarPath)
            let statsExists = fileManager.fileExists(atPath: statsPath)
            if options.resume && tarExists && statsExists {
                summary.shardsResumed.append(shard)
                state.videosTotal -= plan.videos(inShard: shard).count
                state.shardsTotal -= 1
                continue
            }
            if (tarExists || statsExists) && !options.resume && !options.overwrite {
                throw DatasetError.outputExists(path: tarPath, reason: "already exists; pass --resume to skip finished shards or -y/--overwrite")
            }
            // The done marker goes first, so a kill while rewriting never leaves an old marker on a new tar.
            if statsExists { try? fileManager.removeItem(atPath: statsPath) }
            // This worker owns the shard now, so temporaries of earlier attempts at it are garbage.
            for leftover in temporaries
            where AtomicOutput.isTemporary(leftover, of: name + ".tar") || AtomicOutput.isTemporary(leftover, of: name + ".stats.json") {
                try? fileManager.removeItem(atPath: (folder as NSString).appendingPathComponent(leftover))
            }
            let writer = ShardWriter(
                shard: shard, videos: plan.videos(inShard: shard), sampling: options.sampling,
                encoder: frameEncoder, encodingThreads: options.encodingThreads, pairFlow: options.pairFlow,
                openSource: openSource,
                onProgress: { frames, pairs in
                    state.framesDecoded += frames
                    state.pairs += pairs
                    state.elapsedSeconds = Date().timeIntervalSince(start)
                    progress(state)
                },
                onVideoDone: {
                    state.videosDone += 1
                    state.elapsedSeconds = Date().timeIntervalSince(start)
                    progress(state)
                })
            summary.shardsWritten.append(try writer.write(into: folder))
            state.shardsDone += 1
            progress(state)
        }
        return summary
    }
}

/// "Error Domain=NSPOSIXErrorDomain Code=13 \"Permission denied\"" -> "Permission denied": the cause without
/// Foundation's wrapping.
func plainReason(_ text: String) -> String {
    guard let open = text.firstIndex(of: "\""), let close = text[text.index(after: open)...].firstIndex(of: "\"") else { return text }
    return String(text[text.index(after: open)..<close])
}
