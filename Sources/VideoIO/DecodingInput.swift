import CFFmpeg
import Foundation

/// An opened input file: owns the AVFormatContext (demuxer), the chosen video stream's decoder, and one reusable
/// AVPacket / AVFrame. Every libav* call of the read path goes through here; callers see `VideoIOError`s.
final class DecodingInput {
    let path: String
    private(set) var formatContext: UnsafeMutablePointer<AVFormatContext>?
    private(set) var codecContext: UnsafeMutablePointer<AVCodecContext>?
    let streamIndex: Int32
    let stream: UnsafeMutablePointer<AVStream>
    /// The last decoded frame; valid until the next `decodeNextFrame()`.
    let frame: UnsafeMutablePointer<AVFrame>
    private let packet: UnsafeMutablePointer<AVPacket>
    /// The decoder has been sent its end-of-stream flush packet.
    private var draining = false
    /// Packets the decoder rejected as corrupt; decoding goes on past them, as the ffmpeg CLI does.
    private(set) var corruptPacketCount = 0

    /// Opens `path`, picks the best video stream (never cover art) and opens its decoder with `threads` threads.
    /// - Throws: `VideoIOError` "cannot open" (missing, unreadable, a directory, not a media file),
    ///   "no video stream" (audio-only, data-only), "cannot decode" (no decoder for the codec).
    init(path: String, threads: Int) throws {
        _ = FFmpegLog.configured
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            // FFmpeg's file protocol would open a directory and fail later with a vaguer message.
            throw VideoIOError(path: path, operation: "cannot open", code: mcjepa_averror_eisdir(),
                               message: "is a directory")
        }
        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else {
            throw VideoIOError(path: path, operation: "cannot open", ffmpegCode: mcjepa_averror_enomem())
        }
        self.frame = frame
        self.packet = packet
        // deinit does not run for a failed init, so each failure below frees what was made so far.
        var format: UnsafeMutablePointer<AVFormatContext>? = nil
        // An image pattern (frames/%06d.png, read by FFmpeg's image2 demuxer) is timed as a folder of frames is,
        // `FrameInput.imageFrameRate` per second, not at image2's default of 25, so --start counts alike for both.
        var demuxerOptions: OpaquePointer?
        defer { av_dict_free(&demuxerOptions) }
        if path.contains("%") { av_dict_set(&demuxerOptions, "framerate", "\(FrameInput.imageFrameRate)", 0) }
        let openCode = avformat_open_input(&format, path, nil, &demuxerOptions)
        guard openCode >= 0, let format else {
            Self.free(frame: frame, packet: packet)
            throw Self.openError(path: path, code: openCode)
        }
        do {
            if let demuxer = format.pointee.iformat, String(cString: demuxer.pointee.name) == "tty" {
                // FFmpeg renders any .txt file as ANSI-art video; nobody means that.
                throw VideoIOError(path: path, operation: "cannot open", code: mcjepa_averror_invaliddata(),
                                   message: "a text file, not a video")
            }
            let found = avformat_find_stream_info(format, nil)
            if found < 0 { throw Self.openError(path: path, code: found) }
            let index = try Self.bestVideoStream(in: format, path: path)
            let stream = format.pointee.streams[Int(index)]!
            guard let decoder = avcodec_find_decoder(stream.pointee.codecpar.pointee.codec_id) else {
                let name = String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id))
                throw VideoIOError(path: path, operation: "cannot decode", code: mcjepa_averror_decoder_not_found(),
                                   message: "no decoder for codec \(name)")
            }
            guard let codec = avcodec_alloc_context3(decoder) else {
                throw VideoIOError(path: path, operation: "cannot decode", ffmpegCode: mcjepa_averror_enomem())
            }
            codecContext = codec
            try check(avcodec_parameters_to_context(codec, stream.pointee.codecpar), path: path, "cannot decode")
            codec.pointee.pkt_timebase = stream.pointee.time_base
            codec.pointee.thread_count = Int32(max(1, threads))
            try check(avcodec_open2(codec, decoder, nil), path: path, "cannot open decoder")
            self.streamIndex = index
            self.stream = stream
            self.formatContext = format
        } catch {
            var context = codecContext
            avcodec_free_context(&context)
            var formatToClose: UnsafeMutablePointer<AVFormatContext>? = format
            avformat_close_input(&formatToClose)
            Self.free(frame: frame, packet: packet)
            throw error
        }
    }

    /// FFmpeg's "End of file" alone does not tell the user much when a file cannot even be opened.
    private static func openError(path: String, code: Int32) -> VideoIOError {
        if code == mcjepa_averror_eof() {
            return VideoIOError(path: path, operation: "cannot open", code: code,
                                message: "the file ends before its streams are described (empty or truncated)")
        }
        return VideoIOError(path: path, operation: "cannot open", ffmpegCode: code)
    }

    deinit {
        avcodec_free_context(&codecContext)
        avformat_close_input(&formatContext)
        Self.free(frame: frame, packet: packet)
    }

    private static func free(frame: UnsafeMutablePointer<AVFrame>, packet: UnsafeMutablePointer<AVPacket>) {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }

    /// `av_find_best_stream`, skipping attached pictures (cover art makes an audio file look like a video).
    private static func bestVideoStream(in format: UnsafeMutablePointer<AVFormatContext>, path: String) throws -> Int32 {
        let isPicture = { (i: Int32) in
            (format.pointee.streams[Int(i)]!.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0
        }
        let best = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if best >= 0, !isPicture(best) { return best }
        for i in 0..<Int32(format.pointee.nb_streams) {
            let parameters = format.pointee.streams[Int(i)]!.pointee.codecpar.pointee
            if parameters.codec_type == AVMEDIA_TYPE_VIDEO, !isPicture(i) { return i }
        }
        throw VideoIOError(path: path, operation: "no video stream", code: mcjepa_averror_stream_not_found(),
                           message: "the file has no video stream")
    }

    var timeBase: Rational { Rational(stream.pointee.time_base) }

    /// The stream's first timestamp, the origin of `VideoFrame.seconds` (0 when the container does not say).
    var streamStartPts: Int64 {
        let start = stream.pointee.start_time
        return start == mcjepa_nopts_value() ? 0 : start
    }

    /// Decodes the next frame into `frame`. Returns false at the end of the stream.
    /// - Throws: "cannot read" when the demuxer fails (e.g. a truncated file), "cannot decode" for decoder failures
    ///   other than a corrupt packet.
    func decodeNextFrame() throws -> Bool {
        guard let codec = codecContext, let format = formatContext else { return false }
        while true {
            let received = avcodec_receive_frame(codec, frame)
            if received >= 0 { return true }
            if received == mcjepa_averror_eof() { return false }
            if received == mcjepa_averror_invaliddata() {
                // With frame threads a corrupt packet is reported here rather than by send; skip it likewise.
                corruptPacketCount += 1
                continue
            }
            if received != mcjepa_averror_eagain() {
                throw VideoIOError(path: path, operation: "cannot decode", ffmpegCode: received)
            }
            if draining { return false }
            let read = av_read_frame(format, packet)
            if read == mcjepa_averror_eof() {
                draining = true
                // A null packet asks the decoder to flush the frames it still holds (B-frames, frame threads).
                try check(avcodec_send_packet(codec, nil), path: path, "cannot decode")
                continue
            }
            try check(read, path: path, "cannot read")
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codec, packet)
            if sent == mcjepa_averror_invaliddata() {
                corruptPacketCount += 1
                continue
            }
            try check(sent, path: path, "cannot decode")
        }
    }

    /// Seeks to the keyframe at or before `pts` (stream time base) and resets the decoder, so decoding resumes
    /// there; the caller drops frames before its target. Returns false when the format cannot seek, in which
    /// case nothing changed and the caller decodes from the current position.
    func seek(toPts pts: Int64) -> Bool {
        guard let codec = codecContext, let format = formatContext else { return false }
        let code = av_seek_frame(format, streamIndex, pts, AVSEEK_FLAG_BACKWARD)
        guard code >= 0 else { return false }
        avcodec_flush_buffers(codec)
        draining = false
        return true
    }

    /// The decoded frame is one decoding can start from (an intra frame the codec marks as a keyframe).
    var frameIsKeyframe: Bool { frame.pointee.key_frame != 0 }

    /// The decoder concealed errors in the decoded frame, found references missing, or flagged it corrupt: its
    /// pixels are a guess. After a seek this is how a landing on a false keyframe shows.
    var frameHasDecodeErrors: Bool {
        frame.pointee.decode_error_flags != 0 || (frame.pointee.flags & AV_FRAME_FLAG_CORRUPT) != 0
    }

    /// The decoded frame's timestamp: FFmpeg's best estimate, which survives missing or reordered pts.
    var framePts: Int64? {
        let ts = frame.pointee.best_effort_timestamp
        if ts != mcjepa_nopts_value() { return ts }
        let pts = frame.pointee.pts
        return pts == mcjepa_nopts_value() ? nil : pts
    }
}
