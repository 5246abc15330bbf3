import CFFmpeg

/// Turns decoded AVFrames into upright packed RGB24 arrays with swscale.
///
/// swscale writes straight into the new Swift array's storage; only rotated videos take a second pass (a
/// rotation copy from a reused scratch buffer).
final class RGBConverter {
    private var context: OpaquePointer?
    private var contextKey: Key?
    private var scratch: [UInt8] = []

    private struct Key: Equatable {
        var srcWidth: Int32, srcHeight: Int32, srcFormat: Int32
        var dstWidth: Int32, dstHeight: Int32
        var colorspace: UInt32, fullRange: Bool
    }

    /// Slack after the pixels, in case a converter writes a little past the last row.
    private static let slack = 64

    deinit { sws_freeContext(context) }

    /// The frame as packed RGB24 of `geometry`'s output size.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, geometry: FrameGeometry, path: String) throws -> [UInt8] {
        let w = geometry.scaledWidth
        let h = geometry.scaledHeight
        try prepare(for: frame, width: w, height: h, path: path)
        let count = w * h * 3
        // swscale's x86 YUV -> RGB converters work in blocks of 8 pixels and skip a row's last pixels when the
        // row stride has no room for a whole block, so only widths that are a multiple of 8 are converted
        // straight into the tightly packed result.
        if geometry.rotation == 0, w % 8 == 0 {
            return [UInt8](unsafeUninitializedCapacity: count + Self.slack) { buffer, initialized in
                scale(frame, into: buffer.baseAddress!, stride: w * 3, height: h)
                initialized = count
            }
        }
        let stride = ((w + 31) & ~31) * 3
        if scratch.count < stride * h + Self.slack { scratch = [UInt8](repeating: 0, count: stride * h + Self.slack) }
        scratch.withUnsafeMutableBufferPointer { scale(frame, into: $0.baseAddress!, stride: stride, height: h) }
        return scratch.withUnsafeBufferPointer { padded in
            if geometry.rotation == 0 {
                return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                    for y in 0..<h {
                        UnsafeMutableRawPointer(out.baseAddress! + y * w * 3)
                            .copyMemory(from: padded.baseAddress! + y * stride, byteCount: w * 3)
                    }
                    initialized = count
                }
            }
            return rotate(padded, width: w, height: h, stride: stride, clockwise: geometry.rotation)
        }
    }

    private func prepare(for frame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, path: String) throws {
        let f = frame.pointee
        let format = AVPixelFormat(rawValue: f.format)
        let yuvjFormats: Set<AVPixelFormat> = [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P,
                                               AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P]
        let key = Key(srcWidth: f.width, srcHeight: f.height, srcFormat: f.format,
                      dstWidth: Int32(width), dstHeight: Int32(height),
                      colorspace: f.colorspace.rawValue,
                      fullRange: f.color_range == AVCOL_RANGE_JPEG || yuvjFormats.contains(format))
        if key == contextKey, context != nil { return }
        context = sws_getCachedContext(context, f.width, f.height, format, Int32(width), Int32(height),
                                       AV_PIX_FMT_RGB24, SWS_BICUBIC, nil, nil, nil)
        guard context != nil else {
            contextKey = nil
            let name = av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown"
            throw VideoIOError(path: path, operation: "cannot convert to RGB", code: mcjepa_averror_patch_welcome(),
                               message: "unsupported pixel format \(name) or size \(f.width)x\(f.height)")
        }
        // The matrix and range the file declares (BT.601 when it declares none, like most decoders assume).
        let matrix: Int32
        switch f.colorspace {
        case AVCOL_SPC_BT709: matrix = SWS_CS_ITU709
        case AVCOL_SPC_FCC: matrix = SWS_CS_FCC
        case AVCOL_SPC_SMPTE240M: matrix = SWS_CS_SMPTE240M
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: matrix = SWS_CS_BT2020
        default: matrix = SWS_CS_DEFAULT
        }
        // Fails harmlessly (returns -1) for RGB sources, which have no matrix.
        _ = sws_setColorspaceDetails(context, sws_getCoefficients(matrix), key.fullRange ? 1 : 0,
                                     sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
        contextKey = key
    }

    private func scale(_ frame: UnsafeMutablePointer<AVFrame>, into destination: UnsafeMutablePointer<UInt8>,
                       stride: Int, height: Int) {
        var dstData: [UnsafeMutablePointer<UInt8>?] = [destination, nil, nil, nil]
        var dstStride: [Int32] = [Int32(stride), 0, 0, 0]
        withUnsafePointer(to: &frame.pointee.data) { data in
            withUnsafePointer(to: &frame.pointee.linesize) { linesize in
                data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                    linesize.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
                        _ = sws_scale(context, src, srcStride, 0, frame.pointee.height, &dstData, &dstStride)
                    }
                }
            }
        }
    }
}

/// Turns a packed RGB24 picture (rows `stride` bytes apart) by `clockwise` degrees (90, 180 or 270).
func rotate(_ src: UnsafeBufferPointer<UInt8>, width: Int, height: Int, stride: Int, clockwise: Int) -> [UInt8] {
    let count = width * height * 3
    let outWidth = clockwise == 180 ? width : height
    return [UInt8](unsafeUninitializedCapacity: count) { dst, initialized in
        let outHeight = count / 3 / outWidth
        for dy in 0..<outHeight {
            for dx in 0..<outWidth {
                // Source pixel shown at (dx, dy) after turning the picture.
                let (sx, sy): (Int, Int)
                switch clockwise {
                case 90: (sx, sy) = (dy, height - 1 - dx)
                case 180: (sx, sy) = (width - 1 - dx, height - 1 - dy)
                default: (sx, sy) = (width - 1 - dy, dx)
                }
                let s = sy * stride + sx * 3
                let d = (dy * outWidth + dx) * 3
                dst[d] = src[s]
                dst[d + 1] = src[s + 1]
                dst[d + 2] = src[s + 2]
            }
        }
        initialized = count
    }
}
