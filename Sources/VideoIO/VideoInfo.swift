import CFFmpeg

/// What a video file holds, read from the container and the video stream's headers (`probe(path:)`).
public struct VideoInfo: Sendable, Codable {
    /// One stream of the file (video, audio, subtitle, data, attachment).
    public struct Stream: Sendable, Codable {
        public var index: Int
        /// "video", "audio", "subtitle", "data", "attachment" or "unknown".
        public var type: String
        public var codec: String
        public var width: Int?
        public var height: Int?
        public var sampleRate: Int?
        public var channels: Int?
        public var duration: Double?
        /// Cover art stored as a one-picture video stream.
        public var isAttachedPicture: Bool
    }

    public var path: String
    /// The demuxer's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    public var containerFormat: String
    /// Index of the video stream VideoReader decodes.
    public var videoStreamIndex: Int
    public var codecName: String
    public var codecProfile: String?
    /// Coded picture size, as stored.
    public var width: Int
    public var height: Int
    /// Size of the frames VideoReader delivers by default: rotation applied, non-square pixels made square.
    public var displayWidth: Int
    public var displayHeight: Int
    /// Clockwise degrees (0, 90, 180, 270) the stored picture is turned to stand upright (display matrix).
    public var rotation: Int
    /// Width of a pixel relative to its height; 1:1 when the file does not say.
    public var sampleAspectRatio: Rational
    public var pixelFormat: String
    /// Frames per second over the whole stream (frames / duration).
    public var averageFrameRate: Rational
    /// The base rate all timestamps fit (FFmpeg's r_frame_rate); differs from the average for variable rate.
    public var realFrameRate: Rational
    /// Frames are not evenly spaced. From the header rates unless `countFrames` refined it from decoded timestamps.
    public var isVariableFrameRate: Bool
    /// Seconds; the video stream's duration, or the container's when the stream does not say.
    public var duration: Double
    public var timeBase: Rational
    /// Seconds at which the video stream starts (its first timestamp).
    public var startTime: Double
    /// Frame count the container claims (nil when it does not say); may differ from the decoded count.
    public var metadataFrameCount: Int?
    public var bitRate: Int?
    public var streams: [Stream]
}

extension VideoInfo {
    /// Reads the headers of an opened input.
    init(input: DecodingInput) {
        let format = input.formatContext!.pointee
        let stream = input.stream.pointee
        let parameters = stream.codecpar.pointee
        path = input.path
        containerFormat = format.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        videoStreamIndex = Int(input.streamIndex)
        codecName = String(cString: avcodec_get_name(parameters.codec_id))
        codecProfile = avcodec_profile_name(parameters.codec_id, parameters.profile).map { String(cString: $0) }
        width = Int(parameters.width)
        height = Int(parameters.height)
        rotation = streamRotation(input.stream)
        let sar = av_guess_sample_aspect_ratio(input.formatContext, input.stream, nil)
        sampleAspectRatio = sar.num > 0 && sar.den > 0 ? Rational(sar).reduced : Rational(1, 1)
        let display = FrameGeometry.displaySize(width: width, height: height, sar: sampleAspectRatio,
                                                rotation: rotation)
        (displayWidth, displayHeight) = display
        pixelFormat = av_get_pix_fmt_name(AVPixelFormat(rawValue: parameters.format)).map { String(cString: $0) }
            ?? "unknown"
        averageFrameRate = Rational(stream.avg_frame_rate).reduced
        realFrameRate = Rational(stream.r_frame_rate).reduced
        isVariableFrameRate = ratesDiffer(averageFrameRate, realFrameRate)
        timeBase = Rational(stream.time_base)
        startTime = Double(input.streamStartPts) * timeBase.doubleValue
        if stream.duration != mcjepa_nopts_value(), stream.duration > 0 {
            duration = Double(stream.duration) * timeBase.doubleValue
        } else if format.duration != mcjepa_nopts_value(), format.duration > 0 {
            duration = Double(format.duration) / Double(AV_TIME_BASE)
        } else {
            duration = 0
        }
        metadataFrameCount = stream.nb_frames > 0 ? Int(stream.nb_frames) : nil
        bitRate = format.bit_rate > 0 ? Int(format.bit_rate) : nil
        streams = (0..<Int(format.nb_streams)).map { Stream(format.streams[$0]!) }
    }
}

extension VideoInfo.Stream {
    init(_ stream: UnsafeMutablePointer<AVStream>) {
        let s = stream.pointee
        let p = s.codecpar.pointee
        index = Int(s.index)
        switch p.codec_type {
        case AVMEDIA_TYPE_VIDEO: type = "video"
        case AVMEDIA_TYPE_AUDIO: type = "audio"
        case AVMEDIA_TYPE_SUBTITLE: type = "subtitle"
        case AVMEDIA_TYPE_DATA: type = "data"
        case AVMEDIA_TYPE_ATTACHMENT: type = "attachment"
        default: type = "unknown"
        }
        codec = String(cString: avcodec_get_name(p.codec_id))
        width = p.codec_type == AVMEDIA_TYPE_VIDEO ? Int(p.width) : nil
        height = p.codec_type == AVMEDIA_TYPE_VIDEO ? Int(p.height) : nil
        sampleRate = p.codec_type == AVMEDIA_TYPE_AUDIO ? Int(p.sample_rate) : nil
        channels = p.codec_type == AVMEDIA_TYPE_AUDIO ? Int(p.ch_layout.nb_channels) : nil
        duration = s.duration != mcjepa_nopts_value() && s.duration > 0
            ? Double(s.duration) * Rational(s.time_base).doubleValue : nil
        isAttachedPicture = (s.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0
    }
}

/// Header frame rates that differ by more than 1% mean the frames are not evenly spaced.
func ratesDiffer(_ average: Rational, _ real: Rational) -> Bool {
    guard average.isValid, real.isValid else { return false }
    return abs(average.doubleValue - real.doubleValue) > 0.01 * real.doubleValue
}

/// Clockwise degrees the stream's display matrix turns the picture, snapped to 0/90/180/270.
/// Same convention as the ffmpeg CLI's autorotate: `-av_display_rotation_get`, which is counter-clockwise.
func streamRotation(_ stream: UnsafeMutablePointer<AVStream>) -> Int {
    var size: Int = 0
    guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else {
        return 0
    }
    let degrees = data.withMemoryRebound(to: Int32.self, capacity: 9) { -av_display_rotation_get($0) }
    guard degrees.isFinite else { return 0 }
    let snapped = Int((degrees / 90).rounded()) * 90
    return ((snapped % 360) + 360) % 360
}

/// Reads `path`'s headers and decodes its first frame, so a file that opens but holds no decodable video fails
/// here rather than later.
/// - Throws: `VideoIOError`: "cannot open", "no video stream", "cannot decode", "no video frames".
public func probe(path: String) throws -> VideoInfo {
    let input = try DecodingInput(path: path, threads: 1)
    var info = VideoInfo(input: input)
    guard try input.decodeNextFrame() else {
        throw VideoIOError(path: path, operation: "no video frames",
                           message: "the video stream holds no decodable frame")
    }
    let frame = input.frame.pointee
    // Some containers leave the size or pixel format to the decoder.
    if info.width == 0 || info.height == 0 || info.pixelFormat == "unknown" {
        info.width = Int(frame.width)
        info.height = Int(frame.height)
        info.pixelFormat = av_get_pix_fmt_name(AVPixelFormat(rawValue: frame.format)).map { String(cString: $0) }
            ?? "unknown"
        (info.displayWidth, info.displayHeight) = FrameGeometry.displaySize(
            width: info.width, height: info.height, sar: info.sampleAspectRatio, rotation: info.rotation)
    }
    return info
}

/// The result of decoding a whole video stream without converting frames.
public struct FrameCount: Sendable, Codable {
    /// Frames the decoder produced.
    public var frames: Int
    /// Seconds between the first and the last frame's timestamps.
    public var firstToLastSeconds: Double
    /// Decoded timestamps are unevenly spaced (beyond rounding to the time base).
    public var isVariableFrameRate: Bool
}

/// Decodes every frame of `path`'s video stream (no RGB conversion) to count them and check their spacing.
public func countFrames(path: String, threads: Int = 2) throws -> FrameCount {
    let input = try DecodingInput(path: path, threads: threads)
    var frames = 0
    var first: Int64?
    var previous: Int64?
    var minGap = Int64.max
    var maxGap = Int64.min
    while try input.decodeNextFrame() {
        frames += 1
        guard let pts = input.framePts else { continue }
        if first == nil { first = pts }
        if let previous, pts > previous {
            minGap = min(minGap, pts - previous)
            maxGap = max(maxGap, pts - previous)
        }
        previous = pts
    }
    let span = (first != nil && previous != nil) ? previous! - first! : 0
    let meanGap = frames > 1 ? Double(span) / Double(frames - 1) : 0
    // One tick of jitter is the time base rounding a constant rate (e.g. 29.97 fps in milliseconds).
    let variable = frames > 2 && maxGap >= minGap && Double(maxGap - minGap) > max(1, 0.01 * meanGap)
    return FrameCount(frames: frames, firstToLastSeconds: Double(span) * Rational(input.stream.pointee.time_base).doubleValue,
                      isVariableFrameRate: variable)
}
