import CFFmpeg

/// Encodes pictures to PNG or JPEG bytes in memory with FFmpeg's `png` / `mjpeg` encoders: the one place images
/// are encoded (still images, image sequences, shard members, KITTI flow PNGs).
///
/// It keeps one codec context (and, for JPEG, one RGB -> YUV converter) and reuses it while the picture's size
/// and pixel format stay the same: opening a codec per image would cost more than encoding a small one. PNG takes
/// its input as is (lossless, byte-reproducible for one zlib). JPEG converts to full-range YUV 4:2:0 with
/// `SWS_BITEXACT`, so the bytes do not depend on which SIMD path the CPU takes. Not thread-safe: one per thread.
public final class FFmpegImageEncoder {
    public enum Format: Equatable, Sendable {
        case png
        /// Quality 1...100 (100 best), mapped onto the mjpeg encoder's fixed quantiser scale 31...2.
        case jpeg(quality: Int)
    }

    public let format: Format
    private var context: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var converter: OpaquePointer?
    private var openWidth = 0, openHeight = 0, openPixelFormat = AV_PIX_FMT_NONE

    /// - Throws: `VideoIOError` for a JPEG quality outside 1...100.
    public init(format: Format) throws {
        self.format = format
        if case let .jpeg(quality) = format, !(1...100).contains(quality) {
            throw VideoIOError(path: errorName, operation: "cannot create",
                               message: "JPEG quality must be in 1...100, got \(quality)")
        }
        _ = FFmpegLog.configured
        packet = av_packet_alloc()
        guard packet != nil else {
            throw VideoIOError(path: errorName, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
        }
    }

    deinit {
        close()
        av_packet_free(&packet)
    }

    /// The usual file extension, without the dot.
    public var fileExtension: String {
        switch format {
        case .png: return "png"
        case .jpeg: return "jpg"
        }
    }

    /// The name errors carry: the bytes are not a file yet.
    private var errorName: String { "\(fileExtension) encoder" }

    /// The mjpeg quantiser scale for a 1...100 quality: 100 -> 2 (finest FFmpeg allows), 1 -> 31.
    static func quantiser(quality: Int) -> Int32 {
        Int32(2 + ((100 - quality) * 29 + 49) / 99)
    }

    /// The encoded bytes of an RGB picture.
    public func encode(_ image: RGBImage) throws -> [UInt8] {
        try encode(pixels: image.rgb, width: image.width, height: image.height, pixelFormat: AV_PIX_FMT_RGB24)
    }

    /// The encoded bytes of packed pixels in `pixelFormat` (one plane; PNG takes RGB24, RGB48BE, GRAY8 and PAL8
    /// with `palette` as RGB triplets; JPEG takes RGB24).
    func encode(pixels: [UInt8], width: Int, height: Int, pixelFormat: AVPixelFormat,
                palette: [UInt8]? = nil) throws -> [UInt8] {
        if width != openWidth || height != openHeight || pixelFormat != openPixelFormat || context == nil {
            try open(width: width, height: height, input: pixelFormat)
        }
        guard let context, let frame, let packet else {
            throw VideoIOError(path: errorName, operation: "cannot encode", message: "encoder is not open")
        }
        try check(av_frame_make_writable(frame), path: errorName, "cannot encode")
        let bytesPerPixel = Int(av_get_bits_per_pixel(av_pix_fmt_desc_get(pixelFormat))) / 8
        let rowBytes = width * bytesPerPixel
        precondition(pixels.count == rowBytes * height, "pixels must hold width * height pixels")
        pixels.withUnsafeBufferPointer { source in
            if let converter {
                var sourcePlanes: [UnsafePointer<UInt8>?] = [source.baseAddress, nil, nil, nil]
                var sourceStrides: [Int32] = [Int32(rowBytes), 0, 0, 0]
                let planes: [UnsafeMutablePointer<UInt8>?] = [frame.pointee.data.0, frame.pointee.data.1,
                                                              frame.pointee.data.2, nil]
                let strides: [Int32] = [frame.pointee.linesize.0, frame.pointee.linesize.1,
                                        frame.pointee.linesize.2, 0]
                _ = sws_scale(converter, &sourcePlanes, &sourceStrides, 0, Int32(height), planes, strides)
            } else {
                let stride = Int(frame.pointee.linesize.0)
                for y in 0..<height {
                    (frame.pointee.data.0! + y * stride).update(from: source.baseAddress! + y * rowBytes,
                                                                count: rowBytes)
                }
            }
        }
        if pixelFormat == AV_PIX_FMT_PAL8, let palette, let entries = frame.pointee.data.1 {
            // FFmpeg keeps the palette as 256 native-endian 0xAARRGGBB words.
            let words = UnsafeMutableRawPointer(entries).bindMemory(to: UInt32.self, capacity: 256)
            for i in 0..<256 {
                let (r, g, b) = i * 3 + 2 < palette.count
                    ? (UInt32(palette[i * 3]), UInt32(palette[i * 3 + 1]), UInt32(palette[i * 3 + 2])) : (0, 0, 0)
                words[i] = 0xff00_0000 | (r << 16) | (g << 8) | b
            }
        }
        try check(avcodec_send_frame(context, frame), path: errorName, "cannot encode")
        try check(avcodec_receive_packet(context, packet), path: errorName, "cannot encode")
        defer { av_packet_unref(packet) }
        return Array(UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)))
    }

    private func open(width: Int, height: Int, input: AVPixelFormat) throws {
        close()
        let codecID: AVCodecID
        let pixelFormat: AVPixelFormat
        switch format {
        case .png: (codecID, pixelFormat) = (AV_CODEC_ID_PNG, input)
        case .jpeg: (codecID, pixelFormat) = (AV_CODEC_ID_MJPEG, AV_PIX_FMT_YUVJ420P)
        }
        guard let codec = avcodec_find_encoder(codecID) else {
            throw VideoIOError(path: errorName, operation: "cannot create", code: mcjepa_averror_encoder_not_found(),
                               message: "this FFmpeg build has no \(fileExtension) encoder")
        }
        guard let context = avcodec_alloc_context3(codec), let frame = av_frame_alloc() else {
            throw VideoIOError(path: errorName, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
        }
        self.context = context
        self.frame = frame
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = pixelFormat
        context.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointee.thread_count = 1
        context.pointee.flags |= Int32(AV_CODEC_FLAG_BITEXACT)
        if input == AV_PIX_FMT_RGB48BE {
            // Flow maps are smooth: predicting each sample from its neighbours (Paeth) makes them compress.
            av_opt_set(context.pointee.priv_data, "pred", "paeth", 0)
        }
        if case let .jpeg(quality) = format {
            context.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
            context.pointee.global_quality = Self.quantiser(quality: quality) * Int32(FF_QP2LAMBDA)
            context.pointee.color_range = AVCOL_RANGE_JPEG
            converter = sws_getContext(Int32(width), Int32(height), input, Int32(width), Int32(height),
                                       pixelFormat, Int32(SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT),
                                       nil, nil, nil)
            guard converter != nil else {
                throw VideoIOError(path: errorName, operation: "cannot create",
                                   message: "cannot create the RGB to YUV converter")
            }
        }
        try check(avcodec_open2(context, codec, nil), path: errorName, "cannot open encoder")
        // With a fixed quantiser, mpegvideo encoders read the scale from each frame, not from the context.
        frame.pointee.quality = context.pointee.global_quality
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        try check(av_frame_get_buffer(frame, 0), path: errorName, "cannot create")
        openWidth = width
        openHeight = height
        openPixelFormat = input
    }

    private func close() {
        avcodec_free_context(&context)
        av_frame_free(&frame)
        if let converter { sws_freeContext(converter) }
        converter = nil
        openWidth = 0
        openHeight = 0
        openPixelFormat = AV_PIX_FMT_NONE
    }
}
