import Foundation

/// Portable float map `.pfm` as used for flow (e.g. FlyingThings3D): "PF\n<width> <height>\n<scale>\n", then
/// rows from the bottom of the image to the top, 3 float32 channels per pixel (u, v, 0). A negative scale means
/// little-endian data. Some tools write only 2 channels under the same "PF" header; we tell them apart by the
/// payload size. Unknown flow is written as NaN and read back from any non-finite or > 1e9 value.
enum PFMFlow {
    static func decode(_ bytes: [UInt8], file: String) throws -> FlowField {
        var offset = 0
        // Header tokens are separated by whitespace; exactly one whitespace byte follows the scale.
        func token(_ what: String) throws -> String {
            while offset < bytes.count, isSpace(bytes[offset]) { offset += 1 }
            let start = offset
            while offset < bytes.count, !isSpace(bytes[offset]), offset - start < 64 { offset += 1 }
            guard offset < bytes.count, offset > start else {
                throw FlowIOError(file: file, reason: "truncated: header ends before the \(what)")
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            offset += 1
            return text
        }
        let magic = try token("magic")
        guard magic == "PF" else {
            throw FlowIOError(file: file, reason: magic == "Pf"
                ? "a single-channel PFM cannot hold flow (expected \"PF\")"
                : "not a PFM file (bad magic, expected \"PF\")")
        }
        guard let width = Int(try token("width")), let height = Int(try token("height")), width > 0, height > 0 else {
            throw FlowIOError(file: file, reason: "invalid PFM size")
        }
        guard let scale = Double(try token("scale")), scale != 0, scale.isFinite else {
            throw FlowIOError(file: file, reason: "invalid PFM scale")
        }
        let littleEndian = scale < 0
        let remaining = bytes.count - offset
        let channels: Int
        if let three = checkedProduct(width, height, 3, 4), remaining >= three {
            channels = 3
        } else if let two = checkedProduct(width, height, 2, 4), remaining == two {
            channels = 2
        } else {
            throw FlowIOError(file: file, reason: "truncated: a \(width)x\(height) PF map needs \(width)x\(height)x3x4 bytes of data, the file has \(remaining)")
        }
        let n = width * height
        var u = [Float](repeating: 0, count: n), v = u
        var valid = [Bool](repeating: true, count: n)
        bytes.withUnsafeBufferPointer { buffer in
            for row in 0..<height {
                let y = height - 1 - row  // first stored row is the bottom of the image
                for x in 0..<width {
                    let at = offset + (row * width + x) * channels * 4
                    let fu = littleEndian ? float32LE(buffer, at) : float32BE(buffer, at)
                    let fv = littleEndian ? float32LE(buffer, at + 4) : float32BE(buffer, at + 4)
                    let i = y * width + x
                    if abs(fu) <= MiddleburyFlo.unknownThreshold && abs(fv) <= MiddleburyFlo.unknownThreshold {
                        u[i] = fu
                        v[i] = fv
                    } else {
                        valid[i] = false
                    }
                }
            }
        }
        return FlowField(width: width, height: height, u: u, v: v, valid: valid)
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 }

    static func encode(_ flow: FlowField) -> [UInt8] {
        var out = Array("PF\n\(flow.width) \(flow.height)\n-1.0\n".utf8)
        out.reserveCapacity(out.count + flow.pixelCount * 12)
        var stored = [Float](repeating: 0, count: flow.pixelCount * 3)
        for row in 0..<flow.height {
            let y = flow.height - 1 - row
            for x in 0..<flow.width {
                let i = y * flow.width + x, at = 3 * (row * flow.width + x)
                stored[at] = flow.valid[i] ? flow.u[i] : .nan
                stored[at + 1] = flow.valid[i] ? flow.v[i] : .nan
            }
        }
        out.appendLE(stored)
        return out
    }
}
