import Foundation

/// The `.json` member of a sample: enough to find the pair in its source video again.
public struct SampleMetadata: Codable, Equatable, Sendable {
    public var key: String
    public var videoID: String
    /// Relative path of the source video (machine independent).
    public var source: String
    public var frame0: Int
    public var frame1: Int
    public var pts0: Int64
    public var pts1: Int64
    public var time0: Double
    public var time1: Double
    public var width: Int
    public var height: Int
    /// Size the decoder delivered, before the crop/resize to `width` x `height`.
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var motion: Double
    public var scene: Int

    enum CodingKeys: String, CodingKey {
        case key, source, width, height, motion, scene
        case videoID = "video_id", frame0 = "frame0", frame1 = "frame1", pts0 = "pts0", pts1 = "pts1"
        case time0 = "t0", time1 = "t1", sourceWidth = "decoded_width", sourceHeight = "decoded_height"
    }
}

/// What happened to one video of a shard; `error` is set when it could not be (fully) decoded.
public struct VideoStats: Codable, Equatable, Sendable {
    public var id: String
    public var source: String
    public var pairs: Int
    public var framesDecoded: Int
    public var sceneCuts: Int
    public var skippedStatic: Int
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case id, source, pairs, error
        case framesDecoded = "frames_decoded", sceneCuts = "scene_cuts", skippedStatic = "skipped_static"
    }
}

/// `shard-NNNNNN.stats.json`, written after the shard's tar is in place: its presence marks the shard done.
/// It holds no timings or host names, so a shard's stats are as reproducible as its tar.
public struct ShardStats: Codable, Equatable, Sendable {
    public var shard: String
    public var pairs: Int
    public var tarBytes: Int
    public var videosFailed: Int
    public var videos: [VideoStats]

    enum CodingKeys: String, CodingKey {
        case shard, pairs, videos
        case tarBytes = "tar_bytes", videosFailed = "videos_failed"
    }
}

/// `manifest.json`: the whole plan (every shard and its videos) and the options that shaped it. It follows from
/// inputs and options alone, so every worker writes the same bytes and any of them may write it.
public struct RunManifest: Codable, Equatable, Sendable {
    public struct Shard: Codable, Equatable, Sendable {
        public var name: String
        public var tar: String
        public var stats: String
        public var videos: [String]
    }
    public struct Video: Codable, Equatable, Sendable {
        public var id: String
        public var source: String
        public var shard: String
    }
    public var format = "webdataset"
    public var shardCount: Int
    /// Brace pattern for `webdataset.WebDataset(...)`, e.g. `shard-{000000..000003}.tar`.
    public var urls: String
    public var videosPerShard: Int
    public var pairsPerShard: Int
    public var stride: Int
    public var minMotion: Double
    public var maxPairs: Int
    public var cutThreshold: Double
    public var size: String
    public var imageFormat: String
    public var shards: [Shard]
    public var videos: [Video]

    enum CodingKeys: String, CodingKey {
        case format, urls, stride, size, shards, videos
        case shardCount = "shard_count", videosPerShard = "videos_per_shard", pairsPerShard = "pairs_per_shard"
        case minMotion = "min_motion", maxPairs = "max_pairs", cutThreshold = "cut_threshold"
        case imageFormat = "image_format"
    }
}

enum DeterministicJSON {
    /// Sorted keys and unescaped slashes: the same value always gives the same bytes.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
