import Dispatch
import Foundation

/// Removes a temporary output when the user interrupts (SIGINT, SIGTERM), so Ctrl-C leaves neither a half-written
/// output (outputs are only renamed into place when complete) nor the hidden temporary folder behind.
/// The handler runs on a background queue because the main thread is busy in the processing loop.
final class InterruptCleanup {
    private var sources: [DispatchSourceSignal] = []

    init(removing path: String) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN) // let the dispatch source, not the default action, handle it
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                try? FileManager.default.removeItem(atPath: path)
                FileHandle.standardError.write(Data("\nmcjepa-video: interrupted; removed the partial output\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Back to the default signal actions (after the output is complete).
    func cancel() {
        for source in sources { source.cancel() }
        sources.removeAll()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
