import AtomicOutput

/// Runs an output write, reporting its failure as `DatasetError.output` (exit 75: a scheduler may retry).
func writingOutput(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as AtomicOutputError {
        throw DatasetError.output(path: error.path, reason: error.reason)
    }
}
