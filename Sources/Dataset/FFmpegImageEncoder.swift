import CFFmpeg
import VideoIO

/// Encodes frames to PNG or JPEG bytes in memory with FFmpeg's `png` / `mjpeg` encoders.
///
/// Shards need the encoded bytes, not files, so this keeps one codec context (and, for JPEG, one RGB -> YUV
/// converter) and reuses it while the frame size stays the same: opening a codec per image would cost more than
/// encoding a small one. PNG takes RGB24 as is (lossless, byte-reproducible for one zlib). JPEG converts to
/// full-range YUV 4:2:0 with `SWS_BITEXACT`, so the bytes do not depend on which SIMD path the CPU takes.
public final class FFmpegImageEncoder: ImageEncoder {
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
    private var openWidth = 0, openHeight = 0

    public init(format: Format) throws {
        if case let .jpeg(quality) = format, !(1...100).contains(quality) {
            throw DatasetError.usage("JPEG quality must be in 1...100, got \(quality)")
        }
        self.format = format
        packet = av_packet_alloc()
        guard packet != nil else { throw DatasetError.encoder("cannot allocate an FFmpeg packet") }
    }

    deinit {
        close()
        av_packet_free(&packet)
    }

    public var fileExtension: String {
        switch format {
        case .png: return "png"
        case .jpeg: return "jpg"
        }
    }

    /// The mjpeg quantiser scale for a 1...100 quality: 100 -> 2 (finest FFmpeg allows), 1 -> 31.
    static func quantiser(quality: Int) -> Int32 {
        Int32(2 + ((100 - quality) * 29 + 49) / 99)
    }

    public func makeAnother() throws -> ImageEncoder {
        try FFmpegImageEncoder(format: format)
    }

    public func encode(_ image: RGBImage) throws -> [UInt8] {
        if image.width != openWidth || image.height != openHeight || context == nil {
            try open(width: image.width, height: image.height)
        }
        guard let context, let frame, let packet else { throw DatasetError.encoder("encoder is not open") }
        try check(av_frame_make_writable(frame), "cannot make the frame writable")
        let rowBytes = image.width * 3
        image.rgb.withUnsafeBufferPointer { source in
            if let converter {
                var sourcePlanes: [UnsafePointer<UInt8>?] = [source.baseAddress, nil, nil, nil]
                var sourceStrides: [Int32] = [Int32(rowBytes), 0, 0, 0]
                let planes: [UnsafeMutablePointer<UInt8>?] = [frame.pointee.data.0, frame.pointee.data.1,
                                                              frame.pointee.data.2, nil]
                let strides: [Int32] = [frame.pointee.linesize.0, frame.pointee.linesize.1,
                                        frame.pointee.linesize.2, 0]
                _ = sws_scale(converter, &sourcePlanes, &sourceStrides, 0, Int32(image.height), planes, strides)
            } else {
                let stride = Int(frame.pointee.linesize.0)
                for y in 0..<image.height {
                    (frame.pointee.data.0! + y * stride).update(from: source.baseAddress! + y * rowBytes,
                                                                count: rowBytes)
                }
            }
        }
        try check(avcodec_send_frame(context, frame), "cannot send a frame to the \(fileExtension) encoder")
        try check(avcodec_receive_packet(context, packet), "the \(fileExtension) encoder gave no picture")
        defer { av_packet_unref(packet) }
        return Array(UnsafeBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)))
    }

    private func open(width: Int, height: Int) throws {
        close()
        let codecID: AVCodecID
        let pixelFormat: AVPixelFormat
        switch format {
        case .png: (codecID, pixelFormat) = (AV_CODEC_ID_PNG, AV_PIX_FMT_RGB24)
        case .jpeg: (codecID, pixelFormat) = (AV_CODEC_ID_MJPEG, AV_PIX_FMT_YUVJ420P)
        }
        guard let codec = avcodec_find_encoder(codecID) else {
            throw DatasetError.encoder("this FFmpeg build has no \(fileExtension) encoder")
        }
        guard let context = avcodec_alloc_context3(codec), let frame = av_frame_alloc() else {
            throw DatasetError.encoder("cannot allocate the \(fileExtension) encoder")
        }
        self.context = context
        self.frame = frame
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = pixelFormat
        context.pointee.time_base = AVRational(num: 1, den: 25)
        context.pointee.thread_count = 1
        context.pointee.flags |= Int32(AV_CODEC_FLAG_BITEXACT)
        if case let .jpeg(quality) = format {
            context.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
            context.pointee.global_quality = Self.quantiser(quality: quality) * Int32(FF_QP2LAMBDA)
            context.pointee.color_range = AVCOL_RANGE_JPEG
            converter = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                       pixelFormat, Int32(SWS_BICUBIC | SWS_ACCURATE_RND | SWS_BITEXACT),
                                       nil, nil, nil)
            guard converter != nil else { throw DatasetError.encoder("cannot create the RGB to YUV converter") }
        }
        try check(avcodec_open2(context, codec, nil), "cannot open the \(fileExtension) encoder")
        // With a fixed quantiser, mpegvideo encoders read the scale from each frame, not from the context.
        frame.pointee.quality = context.pointee.global_quality
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        try check(av_frame_get_buffer(frame, 0), "cannot allocate a \(width)x\(height) frame")
        openWidth = width
        openHeight = height
    }

    private func close() {
        avcodec_free_context(&context)
        av_frame_free(&frame)
        if let converter { sws_freeContext(converter) }
        converter = nil
        openWidth = 0
        openHeight = 0
    }

    private func check(_ code: Int32, _ what: String) throws {
        guard code < 0 else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        av_strerror(code, &buffer, buffer.count)
        throw DatasetError.encoder("\(what): \(String(cString: buffer))")
    }
}
