import VideoIO
import XCTest
@testable import Dataset

final class ShardPlanTests: XCTestCase {
    let videos = (0..<10).map { VideoInput(path: "/v/\($0).mp4", relativePath: "v/\($0).mp4") }

    func test_shards_are_contiguous_slices_sized_by_pair_budget() {
        let plan = ShardPlan(videos: videos, pairsPerShard: 100, maxPairsPerVideo: 30)
        XCTAssertEqual(plan.videosPerShard, 3)
        XCTAssertEqual(plan.shardCount, 4)
        XCTAssertEqual(plan.videos(inShard: 3).map(\.relativePath), ["v/9.mp4"])
        XCTAssertEqual(ShardPlan(videos: videos, pairsPerShard: 10, maxPairsPerVideo: 64).videosPerShard, 1)
    }

    func test_workers_cover_every_shard_exactly_once() throws {
        let plan = ShardPlan(videos: videos, pairsPerShard: 2, maxPairsPerVideo: 1)
        for count in 1...7 {
            let assigned = try (0..<count).flatMap { plan.shards(for: try WorkerAssignment(index: $0, count: count)) }
            XCTAssertEqual(assigned.sorted(), Array(0..<plan.shardCount), "count \(count)")
        }
    }

    func test_flags_win_over_scheduler_environment() throws {
        let worker = try WorkerAssignment.resolve(index: 1, count: 3, environment: ["SLURM_ARRAY_TASK_ID": "0"])
        XCTAssertEqual(worker, try WorkerAssignment(index: 1, count: 3))
    }

    func test_slurm_array_index_is_offset_by_its_minimum() throws {
        let environment = ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"]
        XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: nil, environment: environment),
                       try WorkerAssignment(index: 1, count: 3))
    }

    func test_a_partial_slurm_resubmission_with_a_shard_count_runs_the_same_workers() throws {
        // sbatch --array=3,7 of a 10-worker run: tasks 3 and 7 are workers 3 and 7, not 0 and 1 of 2.
        for task in [3, 7] {
            let environment = ["SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_COUNT": "2"]
            XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: 10, environment: environment),
                           try WorkerAssignment(index: task, count: 10))
            XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: nil, environment: environment.merging(["MCJEPA_SHARD_COUNT": "10"]) { $1 }),
                           try WorkerAssignment(index: task, count: 10))
        }
    }

    func test_kubernetes_completion_index_needs_a_count() throws {
        XCTAssertThrowsError(try WorkerAssignment.resolve(index: nil, count: nil, environment: ["JOB_COMPLETION_INDEX": "2"]))
        XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: nil,
                                                    environment: ["JOB_COMPLETION_INDEX": "2", "MCJEPA_SHARD_COUNT": "4"]),
                       try WorkerAssignment(index: 2, count: 4))
        XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: 4, environment: ["JOB_COMPLETION_INDEX": "3"]),
                       try WorkerAssignment(index: 3, count: 4))
    }

    func test_bad_indices_are_usage_errors() {
        XCTAssertThrowsError(try WorkerAssignment.resolve(index: 3, count: 3, environment: [:]))
        XCTAssertThrowsError(try WorkerAssignment.resolve(index: nil, count: nil, environment: ["SLURM_ARRAY_TASK_ID": "x"]))
        XCTAssertThrowsError(try WorkerAssignment.resolve(index: nil, count: 2, environment: [:]))
        XCTAssertEqual(try WorkerAssignment.resolve(index: nil, count: nil, environment: [:]), .single)
    }

    func test_shard_names_have_six_digits() {
        XCTAssertEqual(ShardPlan.shardName(7), "shard-000007")
    }
}
