/// Middlebury `.flo`: the float 202021.25 ("PIEH"), int32 width, int32 height, then interleaved (u, v) float32
/// rows, all little-endian. Unknown flow is any component with |value| > 1e9 (we write 1e10, as the reference
/// code does).
enum MiddleburyFlo {
    static let magic: Float = 202021.25
    static let unknownThreshold: Float = 1e9
    static let unknownValue: Float = 1e10

    static func decode(_ bytes: [UInt8], file: String) throws -> FlowField {
        var reader = ByteReader(bytes, file: file)
        let magicValue = Float(bitPattern: try reader.uint32LE("the magic number"))
        guard magicValue == magic else {
            throw FlowIOError(file: file, reason: "not a Middlebury .flo file (bad magic number \(magicValue), expected 202021.25)")
        }
        let width = Int(Int32(bitPattern: try reader.uint32LE("the width")))
        let height = Int(Int32(bitPattern: try reader.uint32LE("the height")))
        guard width > 0, height > 0 else {
            throw FlowIOError(file: file, reason: "invalid size \(width)x\(height)")
        }
        // Check the payload exists before allocating anything of the header's size.
        guard let payload = checkedProduct(width, height, 8), payload <= reader.remaining else {
            throw FlowIOError(file: file, reason: "truncated: a \(width)x\(height) flow needs \(width)x\(height)x8 bytes of data, the file has \(reader.remaining)")
        }
        let n = width * height
        var u = [Float](repeating: 0, count: n), v = u
        var valid = [Bool](repeating: true, count: n)
        bytes.withUnsafeBufferPointer { buffer in
            var at = reader.offset
            for i in 0..<n {
                let fu = float32LE(buffer, at), fv = float32LE(buffer, at + 4)
                at += 8
                // NaN fails every comparison, so write the test as "known if both are small".
                if abs(fu) <= unknownThreshold && abs(fv) <= unknownThreshold {
                    u[i] = fu
                    v[i] = fv
                } else {
                    valid[i] = false
                }
            }
        }
        return FlowField(width: width, height: height, u: u, v: v, valid: valid)
    }

    static func encode(_ flow: FlowField) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(12 + flow.pixelCount * 8)
        out.appendLE(magic)
        out.appendLE(UInt32(flow.width))
        out.appendLE(UInt32(flow.height))
        var interleaved = [Float](repeating: unknownValue, count: flow.pixelCount * 2)
        for i in 0..<flow.pixelCount where flow.valid[i] {
            interleaved[2 * i] = flow.u[i]
            interleaved[2 * i + 1] = flow.v[i]
        }
        out.appendLE(interleaved)
        return out
    }
}
