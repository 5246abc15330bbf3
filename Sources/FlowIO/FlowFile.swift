import Foundation

/// Flow file formats, chosen by file extension.
public enum FlowFileFormat: String, CaseIterable, Sendable {
    /// Middlebury `.flo` (float32 u, v; unknown = 1e10).
    case flo
    /// KITTI 16-bit PNG (R = u*64 + 2^15, G = v*64 + 2^15, B = valid); 1/64 px precision, +-512 px range.
    case png
    /// NumPy H x W x 2 float32 (unknown = NaN).
    case npy
    /// Portable float map, 3 channels (u, v, 0), bottom-to-top rows (unknown = NaN).
    case pfm

    /// The format for a path's extension, or nil when the extension is not a flow format.
    public init?(url: URL) {
        self.init(rawValue: url.pathExtension.lowercased())
    }
}

/// Reading and writing flow files; the format comes from the extension.
public enum FlowFile {
    /// Reads a flow file. Errors name the file and the cause (bad magic, truncated, absurd size ...).
    public static func read(_ url: URL) throws -> FlowField {
        guard let format = FlowFileFormat(url: url) else {
            throw FlowIOError(url: url, reason: "unknown flow file extension '.\(url.pathExtension)' (use .flo, .png, .npy or .pfm)")
        }
        return try read(url, format: format)
    }

    public static func read(_ url: URL, format: FlowFileFormat) throws -> FlowField {
        let bytes = try readFileBytes(url)
        return try decode(bytes, format: format, name: url.path)
    }

    /// Decodes bytes already in memory; `name` is used in error messages.
    public static func decode(_ bytes: [UInt8], format: FlowFileFormat, name: String) throws -> FlowField {
        switch format {
        case .flo: return try MiddleburyFlo.decode(bytes, file: name)
        case .png: return try KittiFlowPNG.decode(bytes, file: name)
        case .npy: return try NumpyFlow.decode(bytes, file: name)
        case .pfm: return try PFMFlow.decode(bytes, file: name)
        }
    }

    /// The file's bytes. Only PNG encoding can fail (FFmpeg's encoder, out of memory).
    public static func encode(_ flow: FlowField, format: FlowFileFormat) throws -> [UInt8] {
        switch format {
        case .flo: return MiddleburyFlo.encode(flow)
        case .png: return try KittiFlowPNG.encode(flow)
        case .npy: return NumpyFlow.encode(flow)
        case .pfm: return PFMFlow.encode(flow)
        }
    }

    /// Writes a flow file through a temporary name and a rename, so readers never see half a file.
    public static func write(_ flow: FlowField, to url: URL) throws {
        guard let format = FlowFileFormat(url: url) else {
            throw FlowIOError(url: url, reason: "unknown flow file extension '.\(url.pathExtension)' (use .flo, .png, .npy or .pfm)")
        }
        try write(flow, to: url, format: format)
    }

    public static func write(_ flow: FlowField, to url: URL, format: FlowFileFormat) throws {
        do {
            try writeFileBytes(encode(flow, format: format), to: url)
        } catch let error as FlowIOError where error.file.isEmpty {
            throw FlowIOError(url: url, reason: error.reason)
        }
    }
}
