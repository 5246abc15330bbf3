import AsyncAlgorithms

/// Runs `events` (e.g. `FlowPairs`, which computes in `next()`) on the calling task and hands each element to
/// `write` on a writer task of its own, through a channel: the next pair is computed while the previous one is
/// encoded and written, and a slow disk slows the computation instead of growing memory (the channel holds one
/// element). `progress` is called on the calling task after each element is handed over.
///
/// The first error of either side stops both: a computation error is rethrown after the writer has stopped, a
/// write error stops the computation at the next element.
public func writeConcurrently<Events: AsyncSequence>(
    _ events: Events, progress: (Events.Element) -> Void = { _ in },
    write: @escaping @Sendable (Events.Element) async throws -> Void
) async throws where Events.Element: Sendable {
    let channel = AsyncThrowingChannel<Events.Element, Error>()
    let failed = WriterFailure()
    let writer = Task {
        do {
            for try await element in channel { try await write(element) }
        } catch {
            // Stop the producer: a pending `send` returns at once, and it checks `failed` after each one.
            await failed.raise()
            channel.fail(error)
            throw error
        }
    }
    do {
        for try await element in events {
            await channel.send(element)
            if await failed.raised { break }
            progress(element)
        }
        channel.finish()
    } catch {
        channel.fail(error)
        _ = await writer.result
        throw error
    }
    try await writer.value
}

/// Set by the writer task when it fails.
private actor WriterFailure {
    private(set) var raised = false
    func raise() { raised = true }
}
