/// Which videos go into which shard, computed from the sorted inputs and the options alone.
///
/// Why this scheme: how many pairs a video yields is only known after decoding it (scene cuts, static pairs,
/// broken files), so a plan that filled shards to exactly `pairsPerShard` would need every earlier video decoded
/// first and shard k's contents would depend on who decoded what. Instead, shard k holds the contiguous slice
/// `videos[k*v ..< (k+1)*v]` with `v = max(1, pairsPerShard / maxPairsPerVideo)`: `maxPairsPerVideo` bounds
/// what a video can contribute, so a shard never exceeds `pairsPerShard` pairs (unless one video alone does), and
/// the contents of every shard follow from the input list. Any process can then write any shard and produce
/// the same bytes; worker `i` of `n` takes shards `k` with `k % n == i`. The cost is under-filled shards when
/// videos yield fewer pairs than their budget.
public struct ShardPlan: Equatable, Sendable {
    public let videos: [VideoInput]
    public let videosPerShard: Int

    public init(videos: [VideoInput], pairsPerShard: Int, maxPairsPerVideo: Int) {
        self.videos = videos
        self.videosPerShard = max(1, pairsPerShard / max(1, maxPairsPerVideo))
    }

    public var shardCount: Int { (videos.count + videosPerShard - 1) / videosPerShard }

    public func videos(inShard shard: Int) -> ArraySlice<VideoInput> {
        let start = shard * videosPerShard
        return videos[start ..< min(videos.count, start + videosPerShard)]
    }

    /// The shards worker `worker` writes; the union over all workers is every shard exactly once.
    public func shards(for worker: WorkerAssignment) -> [Int] {
        Array(stride(from: worker.index, to: shardCount, by: worker.count))
    }

    public static func shardName(_ shard: Int) -> String {
        let digits = String(shard)
        return "shard-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

/// This process's slot among the processes sharing a run: from the flags, else from the scheduler's environment.
public struct WorkerAssignment: Equatable, Sendable {
    public let index: Int
    public let count: Int

    public static let single = WorkerAssignment(uncheckedIndex: 0, count: 1)

    init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw DatasetError.usage("shard count must be at least 1, got \(count)") }
        guard (0..<count).contains(index) else {
            throw DatasetError.usage("shard index \(index) is outside 0..<\(count)")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    /// Resolution order: `--shard-index/--shard-count`; Slurm job arrays (`SLURM_ARRAY_TASK_ID` of
    /// `--shard-count` or `MCJEPA_SHARD_COUNT` workers when one is given, else `SLURM_ARRAY_TASK_ID` minus
    /// `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`); Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, with the
    /// count from `--shard-count` or `MCJEPA_SHARD_COUNT`, since Kubernetes does not export `completions`);
    /// otherwise a single worker.
    public static func resolve(index: Int?, count: Int?, environment: [String: String]) throws -> WorkerAssignment {
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw DatasetError.usage("\(name)='\(text)' is not an integer") }
            return value
        }
        if let index {
            guard let count = try count ?? number("MCJEPA_SHARD_COUNT") else {
                throw DatasetError.usage("--shard-index needs --shard-count (or MCJEPA_SHARD_COUNT)")
            }
            return try WorkerAssignment(index: index, count: count)
        }
        if let task = try number("SLURM_ARRAY_TASK_ID") {
            // With the worker count given, the array index is the worker's index itself, so resubmitting part of
            // the array (--array=3,7) runs the same workers 3 and 7; without it, the array is taken to be all
            // the workers, numbered from its minimum.
            if let given = try count ?? number("MCJEPA_SHARD_COUNT") {
                return try WorkerAssignment(index: task, count: given)
            }
            guard let slurmCount = try number("SLURM_ARRAY_TASK_COUNT") else {
                throw DatasetError.usage("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")
            }
            return try WorkerAssignment(index: task - (try number("SLURM_ARRAY_TASK_MIN") ?? 0), count: slurmCount)
        }
        if let completion = try number("JOB_COMPLETION_INDEX") {
            guard let jobCount = try count ?? number("MCJEPA_SHARD_COUNT") else {
                throw DatasetError.usage("JOB_COMPLETION_INDEX is set: pass --shard-count or set MCJEPA_SHARD_COUNT")
            }
            return try WorkerAssignment(index: completion, count: jobCount)
        }
        if let count, count != 1 {
            throw DatasetError.usage("--shard-count \(count) needs --shard-index (or a scheduler index variable)")
        }
        return .single
    }
}
