import CFFmpeg

/// Turns decoded AVFrames into upright packed RGB24 arrays with swscale.
///
/// With one thread, swscale writes straight into the new Swift array's storage; only rotated videos (and widths
/// that are not a multiple of 8) take a second pass from a reused scratch buffer.
///
/// With more threads, swscale converts slices of rows in parallel (as the ffmpeg CLI's scale filter does) into
/// the scratch buffer, whose rows have room to spare, and the rows are then copied out. Its SIMD converters store
/// a few bytes past the end of a row: harmless when one thread writes rows top to bottom (the next row
/// overwrites them), a race between slices when rows are packed tightly.
final class RGBConverter {
    private var context: OpaquePointer?
    private var contextKey: Key?
    private var scratch: [UInt8] = []
    /// Describes the destination memory to `sws_scale_frame`; reused for every frame.
    private var destination: UnsafeMutablePointer<AVFrame>? = av_frame_alloc()
    private let threads: Int

    init(threads: Int = 1) {
        self.threads = max(1, threads)
    }


    private struct Key: Equatable {
        var srcWidth: Int32, srcHeight: Int32, srcFormat: Int32
        var dstWidth: Int32, dstHeight: Int32
        var colorspace: UInt32, fullRange: Bool
    }

    /// Slack after the pixels, in case a converter writes a little past the last row.
    private static let slack = 64

    deinit {
        sws_freeContext(context)
        av_frame_free(&destination)
    }

    /// The frame as packed RGB24 of `geometry`'s output size.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, geometry: FrameGeometry, path: String) throws -> [UInt8] {
        let w = geometry.scaledWidth
        let h = geometry.scaledHeight
        try prepare(for: frame, width: w, height: h, path: path)
        let count = w * h * 3
        // swscale's x86 YUV -> RGB converters work in blocks of 8 pixels and skip a row's last pixels when the
        // row stride has no room for a whole block, so only widths that are a multiple of 8 are converted
        // straight into the tightly packed result.
        if threads == 1, geometry.rotation == 0, w % 8 == 0 {
            return [UInt8](unsafeUninitializedCapacity: count + Self.slack) { buffer, initialized in
                scale(frame, into: buffer.baseAddress!, stride: w * 3, height: h)
                initialized = count
            }
        }
        // At least 64 spare bytes per row, rows 64-byte aligned.
        let stride = (w * 3 + 64 + 63) & ~63
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
        sws_freeContext(context)
        context = sws_alloc_context()
        if let context {
            let settings: [(String, Int64)] = [
                ("srcw", Int64(f.width)), ("srch", Int64(f.height)), ("src_format", Int64(f.format)),
                ("dstw", Int64(width)), ("dsth", Int64(height)), ("dst_format", Int64(AV_PIX_FMT_RGB24.rawValue)),
                ("sws_flags", Int64(SWS_BICUBIC)), ("threads", Int64(threads)),
            ]
            for (name, value) in settings { av_opt_set_int(UnsafeMutableRawPointer(context), name, value, 0) }
            if sws_init_context(context, nil, nil) < 0 {
                sws_freeContext(context)
                self.context = nil
            }
        }
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

    /// Converts the whole frame into `stride`-byte rows at `target` (which holds `stride * height` bytes).
    private func scale(_ frame: UnsafeMutablePointer<AVFrame>, into target: UnsafeMutablePointer<UInt8>,
                       stride: Int, height: Int) {
        guard let destination, let context else { return }
        destination.pointee.format = AV_PIX_FMT_RGB24.rawValue
        destination.pointee.height = Int32(height)
        destination.pointee.width = Int32(contextKey!.dstWidth)
        destination.pointee.data.0 = target
        destination.pointee.linesize.0 = Int32(stride)
        // sws_scale_frame wants reference-counted memory; this reference borrows ours and frees nothing.
        destination.pointee.buf.0 = av_buffer_create(target, stride * height, { _, _ in }, nil, 0)
        _ = sws_scale_frame(context, destination, frame)
        av_frame_unref(destination)
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
