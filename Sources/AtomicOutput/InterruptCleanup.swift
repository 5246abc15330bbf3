import Dispatch
import Foundation

/// Removes every temporary output (the hidden `.NAME.tmp-*` files and folders `AtomicOutput` hands out: a flow
/// folder being filled, a video being encoded, a checkpoint being written) when the user interrupts (SIGINT,
/// SIGTERM), so Ctrl-C leaves no hidden partial output behind, then exits 128 + the signal. Installed once, by a
/// program's entry point. The handler runs on a background queue because the main thread is busy in the
/// processing loop.
public enum InterruptCleanup {
    /// Installs the handlers; the caller keeps the returned sources alive as long as they should deliver.
    /// - Parameter program: the name the one-line notice on standard error starts with.
    public static func install(program: String) -> [any DispatchSourceSignal] {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN) // let the dispatch source, not the default action, handle it
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                let removed = AtomicOutput.removeAllTemporaries()
                FileHandle.standardError.write(Data("\n\(program): interrupted\(removed > 0 ? "; removed the partial output" : "")\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}
