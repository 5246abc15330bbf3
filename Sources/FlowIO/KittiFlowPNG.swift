import VideoIO

/// KITTI flow PNG: 16-bit RGB with R = u * 64 + 2^15, G = v * 64 + 2^15, B = 1 where the flow is known.
/// Values beyond the +-512 px the encoding can hold are clamped when writing. The PNG itself is FFmpeg's
/// (VideoIO's `decodePNG16` / `encodePNG16`); this file only checks the container's outline first, so that a
/// damaged file gets a precise reason and an absurd header allocates nothing.
enum KittiFlowPNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    /// More pixels than any flow map we expect (a 16k x 16k image); bigger headers are treated as corrupt.
    static let maxPixels = 1 << 28

    static func decode(_ bytes: [UInt8], file: String) throws -> FlowField {
        try checkOutline(bytes, file: file)
        let png: Image16
        do {
            png = try decodePNG16(bytes, name: file)
        } catch let error as VideoIOError {
            throw FlowIOError(file: file, reason: "corrupt PNG (\(error.operation): \(error.message))")
        }
        guard png.channels >= 3 else {
            throw FlowIOError(file: file,
                              reason: "a KITTI flow PNG needs 3 channels (R=u, G=v, B=valid), found \(png.channels)")
        }
        let n = png.width * png.height
        var u = [Float](repeating: 0, count: n), v = u
        var valid = [Bool](repeating: false, count: n)
        for i in 0..<n {
            let base = i * png.channels
            guard png.samples[base + 2] > 0 else { continue }
            u[i] = (Float(png.samples[base]) - 32768) / 64
            v[i] = (Float(png.samples[base + 1]) - 32768) / 64
            valid[i] = true
        }
        return FlowField(width: png.width, height: png.height, u: u, v: v, valid: valid)
    }

    static func encode(_ flow: FlowField) throws -> [UInt8] {
        func quantise(_ value: Float) -> UInt16 {
            UInt16(min(max((value * 64 + 32768).rounded(), 0), 65535))
        }
        var samples = [UInt16](repeating: 0, count: flow.pixelCount * 3)
        for i in 0..<flow.pixelCount where flow.valid[i] {
            samples[3 * i] = quantise(flow.u[i])
            samples[3 * i + 1] = quantise(flow.v[i])
            samples[3 * i + 2] = 1
        }
        do {
            return try encodePNG16(Image16(width: flow.width, height: flow.height, channels: 3, samples: samples))
        } catch let error as VideoIOError {
            throw FlowIOError(file: "", reason: "cannot encode a KITTI flow PNG: \(error.message)")
        }
    }

    /// The signature, a sane IHDR size, and every chunk inside the file (FFmpeg would call a cut file only
    /// "invalid data").
    private static func checkOutline(_ bytes: [UInt8], file: String) throws {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw FlowIOError(file: file, reason: "not a PNG file (bad signature)")
        }
        var reader = ByteReader(bytes, file: file)
        try reader.skip(8, "the signature")
        while reader.remaining > 0 {
            let length = Int(try reader.uint32BE("a chunk length"))
            let type = String(decoding: try reader.slice(4, "a chunk type"), as: UTF8.self)
            if type == "IHDR" {
                var header = ByteReader(Array(try reader.slice(min(length, 8), "the PNG header")), file: file)
                let width = Int(try header.uint32BE("the PNG header"))
                let height = Int(try header.uint32BE("the PNG header"))
                guard width > 0, height > 0, let pixels = checkedProduct(width, height), pixels <= maxPixels else {
                    throw FlowIOError(file: file, reason: "absurd PNG size \(width)x\(height)")
                }
                try reader.skip(length - min(length, 8), "the PNG header")
            } else {
                try reader.skip(length, "the \(type) chunk")
            }
            try reader.skip(4, "a chunk checksum")
            if type == "IEND" { break }
        }
    }
}
