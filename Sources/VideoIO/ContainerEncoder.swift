import CFFmpeg

/// Encodes RGB frames with libx264 or FFV1 and muxes them into `outputPath` (a temporary file that
/// `VideoWriter` renames). Owns the AVFormatContext, AVCodecContext, the reusable AVFrame / AVPacket and
/// the RGB -> encoder pixel format converter.
final class ContainerEncoder {
    private let reportPath: String
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private var frame: UnsafeMutablePointer<AVFrame>?
    /// The RGB picture in FFmpeg-allocated, padded rows: swscale's SIMD readers may read past a row's end.
    private var rgbFrame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private let timeBase: AVRational
    let encodedWidth: Int
    let encodedHeight: Int
    /// Durations of frames sent to the encoder, by pts, until their packets come out (encoders reorder, and
    /// libx264 does not carry durations through).
    private var durations: [Int64: Int64] = [:]
    private var headerWritten = false
    private var fileOpen = false

    /// - Parameters: `containerPath` names the container by its extension; `outputPath` is where bytes go.
    init(containerPath: String, outputPath: String, width: Int, height: Int, options: EncodeOptions) throws {
        _ = FFmpegLog.configured
        reportPath = containerPath
        let path = containerPath
        timeBase = options.effectiveTimeBase.av
        var context: UnsafeMutablePointer<AVFormatContext>?
        let allocated = avformat_alloc_output_context2(&context, nil, nil, containerPath)
        guard allocated >= 0, let context else {
            throw VideoIOError(path: path, operation: "cannot create",
                               code: allocated < 0 ? allocated : mcjepa_averror_muxer_not_found(),
                               message: "no container format for this file extension (use .mp4, .mov or .mkv)")
        }
        format = context
        let encoder: UnsafePointer<AVCodec>?
        let pixelFormat: AVPixelFormat
        var encoderOptions: OpaquePointer?
        defer { av_dict_free(&encoderOptions) }
        switch options.codec {
        case .h264(let crf, let preset):
            encoder = avcodec_find_encoder_by_name("libx264")
            pixelFormat = AV_PIX_FMT_YUV420P
            av_dict_set(&encoderOptions, "crf", String(crf), 0)
            av_dict_set(&encoderOptions, "preset", preset, 0)
            // 4:2:0 needs even sizes; pad rather than crop so no pixel is lost.
            encodedWidth = width + (width & 1)
            encodedHeight = height + (height & 1)
        case .ffv1:
            encoder = avcodec_find_encoder(AV_CODEC_ID_FFV1)
            pixelFormat = AV_PIX_FMT_BGR0
            // Level 3 allows slices, which the encoder's threads work on.
            av_dict_set(&encoderOptions, "level", "3", 0)
            encodedWidth = width
            encodedHeight = height
        case .png:
            preconditionFailure("PNG sequences are written by ImageSequenceEncoder")
        }
        guard let encoder else {
            throw VideoIOError(path: path, operation: "cannot create", code: mcjepa_averror_encoder_not_found(),
                               message: "encoder not available in this FFmpeg build")
        }
        guard let codec = avcodec_alloc_context3(encoder), let stream = avformat_new_stream(context, nil) else {
            throw VideoIOError(path: path, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
        }
        self.codec = codec
        self.stream = stream
        codec.pointee.width = Int32(encodedWidth)
        codec.pointee.height = Int32(encodedHeight)
        codec.pointee.pix_fmt = pixelFormat
        codec.pointee.time_base = timeBase
        codec.pointee.framerate = options.frameRate.av
        codec.pointee.sample_aspect_ratio = options.sampleAspectRatio.av
        codec.pointee.thread_count = Int32(max(1, options.threads))
        if let interval = options.keyframeInterval { codec.pointee.gop_size = Int32(max(1, interval)) }
        if pixelFormat == AV_PIX_FMT_YUV420P {
            // swscale's RGB -> YUV default is BT.601 limited range; say so, so decoders invert the same matrix.
            codec.pointee.colorspace = AVCOL_SPC_SMPTE170M
            codec.pointee.color_primaries = AVCOL_PRI_SMPTE170M
            codec.pointee.color_trc = AVCOL_TRC_SMPTE170M
            codec.pointee.color_range = AVCOL_RANGE_MPEG
        }
        if (context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0 {
            codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        try check(avcodec_open2(codec, encoder, &encoderOptions), path: path, "cannot open encoder")
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), path: path, "cannot create")
        stream.pointee.time_base = timeBase
        stream.pointee.avg_frame_rate = options.frameRate.av
        stream.pointee.sample_aspect_ratio = options.sampleAspectRatio.av
        if options.rotation % 360 != 0 {
            guard let matrix = av_stream_new_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, 36) else {
                throw VideoIOError(path: path, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
            }
            // av_display_rotation_set takes a clockwise angle (unlike av_display_rotation_get, which returns a
            // counter-clockwise one), so our clockwise rotation goes in as is.
            matrix.withMemoryRebound(to: Int32.self, capacity: 9) {
                av_display_rotation_set($0, Double(options.rotation))
            }
        }
        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else {
            throw VideoIOError(path: path, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
        }
        self.frame = frame
        self.packet = packet
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(encodedWidth)
        frame.pointee.height = Int32(encodedHeight)
        try check(av_frame_get_buffer(frame, 0), path: path, "cannot create")
        guard let rgbFrame = av_frame_alloc() else {
            throw VideoIOError(path: path, operation: "cannot create", ffmpegCode: mcjepa_averror_enomem())
        }
        self.rgbFrame = rgbFrame
        rgbFrame.pointee.format = AV_PIX_FMT_RGB24.rawValue
        rgbFrame.pointee.width = Int32(encodedWidth)
        rgbFrame.pointee.height = Int32(encodedHeight)
        try check(av_frame_get_buffer(rgbFrame, 0), path: path, "cannot create")
        scaler = sws_getContext(Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_RGB24,
                                Int32(encodedWidth), Int32(encodedHeight), pixelFormat, SWS_BICUBIC, nil, nil, nil)
        guard scaler != nil else {
            throw VideoIOError(path: path, operation: "cannot create", code: mcjepa_averror_patch_welcome(),
                               message: "no RGB to encoder pixel format conversion")
        }
        try check(avio_open(&context.pointee.pb, outputPath, AVIO_FLAG_WRITE), path: path, "cannot create")
        fileOpen = true
        try check(avformat_write_header(context, nil), path: path, "cannot write header")
        headerWritten = true
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_frame_free(&rgbFrame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        if fileOpen { avio_closep(&format!.pointee.pb) }
        avformat_free_context(format)
    }

    /// Encodes one `width` x `height` frame of packed RGB24 shown at `pts` for `duration` ticks. A picture
    /// smaller than the encoded size (odd sizes for H.264) is padded by repeating its last column and row.
    func encode(rgb: [UInt8], width: Int, height: Int, pts: Int64, duration: Int64) throws {
        guard let frame, let rgbFrame, let codec else { return }
        try copyPadded(rgb, width: width, height: height, into: rgbFrame)
        try check(av_frame_make_writable(frame), path: reportPath, "cannot encode")
        withUnsafePointer(to: &rgbFrame.pointee.data) { srcData in
            withUnsafePointer(to: &rgbFrame.pointee.linesize) { srcLinesize in
                withUnsafePointer(to: &frame.pointee.data) { dstData in
                    withUnsafePointer(to: &frame.pointee.linesize) { dstLinesize in
                        let src = UnsafeRawPointer(srcData).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
                        let dst = UnsafeRawPointer(dstData).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                        let srcStride = UnsafeRawPointer(srcLinesize).assumingMemoryBound(to: Int32.self)
                        let dstStride = UnsafeRawPointer(dstLinesize).assumingMemoryBound(to: Int32.self)
                        _ = sws_scale(scaler, src, srcStride, 0, Int32(encodedHeight), dst, dstStride)
                    }
                }
            }
        }
        frame.pointee.pts = pts
        frame.pointee.pkt_duration = duration
        durations[pts] = duration
        try check(avcodec_send_frame(codec, frame), path: reportPath, "cannot encode")
        try writePackets()
    }

    private func copyPadded(_ rgb: [UInt8], width: Int, height: Int,
                            into rgbFrame: UnsafeMutablePointer<AVFrame>) throws {
        try check(av_frame_make_writable(rgbFrame), path: reportPath, "cannot encode")
        let stride = Int(rgbFrame.pointee.linesize.0)
        let base = rgbFrame.pointee.data.0!
        rgb.withUnsafeBufferPointer { src in
            for y in 0..<encodedHeight {
                let row = base + y * stride
                let sourceRow = src.baseAddress! + min(y, height - 1) * width * 3
                row.update(from: sourceRow, count: width * 3)
                for x in width..<encodedWidth {
                    (row + x * 3).update(from: sourceRow + (width - 1) * 3, count: 3)
                }
            }
        }
    }

    /// Flushes the encoder and writes the trailer; the file is then complete.
    func finish() throws {
        guard let codec, let format else { return }
        try check(avcodec_send_frame(codec, nil), path: reportPath, "cannot encode")
        try writePackets()
        try check(av_write_trailer(format), path: reportPath, "cannot write trailer")
        try check(avio_closep(&format.pointee.pb), path: reportPath, "cannot close")
        fileOpen = false
    }

    private func writePackets() throws {
        guard let codec, let packet, let format else { return }
        while true {
            let received = avcodec_receive_packet(codec, packet)
            if received == mcjepa_averror_eagain() || received == mcjepa_averror_eof() { return }
            try check(received, path: reportPath, "cannot encode")
            if let duration = durations.removeValue(forKey: packet.pointee.pts), packet.pointee.duration == 0 {
                packet.pointee.duration = duration
            }
            av_packet_rescale_ts(packet, timeBase, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            // Takes the packet's reference and leaves it blank for the next receive.
            try check(av_interleaved_write_frame(format, packet), path: reportPath, "cannot write")
        }
    }
}
