import Dispatch

/// Runs `body` on contiguous bands of 0..<n spread over the cores, for loops whose items are independent and
/// each write only their own outputs (pixels, rows). At most 16 bands: enough to even out the cores, few enough
/// that each band's set-up (a scratch array, pointer rebasing) stays negligible.
func forEachBand(of n: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let bands = min(n, 16)
    DispatchQueue.concurrentPerform(iterations: bands) { band in body((n * band / bands)..<(n * (band + 1) / bands)) }
}
