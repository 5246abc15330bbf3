import FlowIO
import Foundation

/// `flowio`: reading/writing flow files and colour-coding flow at Sintel size (1024x436), each against the
/// peer of reading the same bytes raw from disk (the I/O floor), so the ratio is the cost of decoding.
/// Options: --repeats N (default 20); --png FILE also times reading a KITTI flow PNG written by another
/// encoder (OpenCV, the KITTI devkit), against reading its bytes raw.
func benchFlowIO(repeats: Int, png: String?) throws {
    let width = 1024, height = 436
    var u = [Float](), v = [Float]()
    for y in 0..<height {
        for x in 0..<width {
            u.append(20 * sin(Float(x) / 50) + Float(y) / 40)
            v.append(10 * cos(Float(y) / 30) - Float(x) / 90)
        }
    }
    let flow = FlowField(width: width, height: height, u: u, v: v)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flowio-bench-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { try body() }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(repeats)
    }
    print("flowio: \(width)x\(height) flow, mean of \(repeats) runs")
    for format in FlowFileFormat.allCases {
        let url = folder.appendingPathComponent("flow.\(format.rawValue)")
        let write = try seconds { try FlowFile.write(flow, to: url) }
        let raw = try seconds { _ = try Data(contentsOf: url) }
        let read = try seconds { _ = try FlowFile.read(url) }
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        print(String(format: "  %@  %6.2f MB  write %7.2f ms  read %7.2f ms  raw read (peer) %6.2f ms  read/raw %5.1fx",
                     format.rawValue, Double(size) / 1e6, 1000 * write, 1000 * read, 1000 * raw, read / raw))
    }
    if let png {
        let url = URL(fileURLWithPath: png)
        let raw = try seconds { _ = try Data(contentsOf: url) }
        var decoded = FlowField.zero(width: 0, height: 0)
        let read = try seconds { decoded = try FlowFile.read(url, format: .png) }
        print(String(format: "  %@ (%dx%d, compressed)  read %7.2f ms  raw read (peer) %6.2f ms  read/raw %5.1fx",
                     url.lastPathComponent, decoded.width, decoded.height, 1000 * read, 1000 * raw, read / raw))
    }
    var picture = FlowRGBImage(width: 0, height: 0)
    let render = seconds { picture = FlowColor.render(flow, maxFlow: 25) }
    var largest: Float = 0
    let magnitudePass = seconds { largest = max(largest, flow.maxMagnitude) }
    print(String(format: "  colour wheel render %.2f ms per frame (%.0f frames/s); one magnitude pass (peer, what any normaliser costs) %.2f ms; ratio %.1fx",
                 1000 * render, 1 / render, 1000 * magnitudePass, render / magnitudePass))
    precondition(picture.rgb.count == width * height * 3 && largest > 0)
}
