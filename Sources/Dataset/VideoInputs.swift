import Foundation

/// One video of the plan: where it is on this machine, and the machine-independent name its id derives from.
public struct VideoInput: Equatable, Codable, Sendable {
    /// Path used to open the file on this machine.
    public var path: String
    /// Path relative to the input root (folder inputs keep the folder's own name as the first component), the
    /// same on every machine that sees the same corpus; sorted on this and written into the samples.
    public var relativePath: String
    /// `VideoID.make(relativePath:)`.
    public var id: String

    public init(path: String, relativePath: String) {
        self.path = path
        self.relativePath = relativePath
        self.id = VideoID.make(relativePath: relativePath)
    }
}

/// A file under an input folder that is not in the plan, and why.
public struct SkippedInput: Equatable, Sendable {
    public var path: String
    public var reason: String
}

/// Collects the videos of a run from files, folders (recursive, by extension, following symbolic links) and
/// manifests.
public enum VideoInputs {
    public static let defaultExtensions: Set<String> = [
        "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "flv", "wmv", "ogv", "3gp",
    ]

    /// Resolves `paths` (files or folders) and the lines of `manifests` into a sorted, duplicate-free list.
    ///
    /// - Files named directly are taken whatever their extension; their relative path is the file name.
    /// - Folders are walked recursively (sorted, hidden entries skipped) for files whose lowercased extension is in
    ///   `extensions`; the relative path is `<folder name>/<path inside>`.
    /// - A manifest lists one path per line (blank lines and `#` comments ignored); relative lines are resolved
    ///   against the manifest's folder and keep the line as their relative path.
    /// The list is sorted by relative path (byte order), so it does not depend on the file system's listing order.
    public static func collect(paths: [String], manifests: [String] = [],
                               extensions: Set<String> = defaultExtensions) throws -> [VideoInput] {
        try scan(paths: paths, manifests: manifests, extensions: extensions).videos
    }

    /// `collect`, and the files under the folders that were left out, with the reason: broken links, entries that
    /// are not regular files, and (one entry per extension) files whose extension is not in `extensions`.
    public static func scan(paths: [String], manifests: [String] = [],
                            extensions: Set<String> = defaultExtensions) throws -> (videos: [VideoInput], skipped: [SkippedInput]) {
        let fileManager = FileManager.default
        var found: [VideoInput] = []
        var skipped: [SkippedInput] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw DatasetError.badInput(path: path, reason: "no such file or folder")
            }
            if isDirectory.boolValue {
                var visited = Set<String>()
                found += try walk(folder: path, extensions: extensions, skipped: &skipped, visited: &visited)
            } else {
                found.append(VideoInput(path: path, relativePath: (path as NSString).lastPathComponent))
            }
        }
        for manifest in manifests {
            found += try read(manifest: manifest)
        }
        var otherExtensions: [String: Int] = [:]
        skipped = skipped.filter { entry in
            guard entry.reason.hasPrefix("extension ") else { return true }
            otherExtensions[entry.reason, default: 0] += 1
            return false
        }
        skipped += otherExtensions.sorted { $0.key < $1.key }.map { SkippedInput(path: "\($0.value) file(s)", reason: $0.key) }
        return (try deduplicated(found), skipped)
    }

    /// The videos under `folder`, following symbolic links to files and folders (each real folder once, so a
    /// link loop ends); `relativePath` keeps the names as linked, so the ids do not depend on where links point.
    static func walk(folder: String, extensions: Set<String>, skipped: inout [SkippedInput],
                     visited: inout Set<String>, relativeTo prefix: String? = nil) throws -> [VideoInput] {
        let root = URL(fileURLWithPath: folder).standardizedFileURL
        let rootName = prefix ?? root.lastPathComponent
        guard visited.insert(root.resolvingSymlinksInPath().path).inserted else { return [] }
        guard let enumerator = FileManager.default.enumerator(
            at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey], options: [.skipsHiddenFiles])
        else { throw DatasetError.badInput(path: folder, reason: "cannot list folder") }
        var videos: [VideoInput] = []
        let rootComponents = root.pathComponents
        for case let url as URL in enumerator {
            let inside = url.standardizedFileURL.pathComponents.dropFirst(rootComponents.count)
            let relative = ([rootName] + inside).joined(separator: "/")
            var isDirectory: ObjCBool = false
            let isLink = (try? url.resourceValues(forKeys: [.isSymbolicLinkKey]).isSymbolicLink) == true
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                skipped.append(SkippedInput(path: url.path, reason: "broken symbolic link"))
                continue
            }
            if isDirectory.boolValue {
                // The enumerator descends into real folders itself; linked ones are walked here.
                if isLink {
                    videos += try walk(folder: url.path, extensions: extensions, skipped: &skipped, visited: &visited,
                                       relativeTo: relative)
                }
                continue
            }
            guard extensions.contains(url.pathExtension.lowercased()) else {
                skipped.append(SkippedInput(path: url.path, reason: "extension .\(url.pathExtension.lowercased()) is not in --extensions"))
                continue
            }
            guard (try? url.resolvingSymlinksInPath().resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else {
                skipped.append(SkippedInput(path: url.path, reason: "not a regular file"))
                continue
            }
            videos.append(VideoInput(path: url.path, relativePath: relative))
        }
        return videos
    }

    static func read(manifest: String) throws -> [VideoInput] {
        guard let data = FileManager.default.contents(atPath: manifest),
              let text = String(data: data, encoding: .utf8) else {
            throw DatasetError.badInput(path: manifest, reason: "cannot read manifest as UTF-8 text")
        }
        let base = (manifest as NSString).deletingLastPathComponent
        var videos: [VideoInput] = []
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("/") {
                videos.append(VideoInput(path: line, relativePath: String(line.dropFirst())))
            } else {
                let path = base.isEmpty ? line : (base as NSString).appendingPathComponent(line)
                videos.append(VideoInput(path: path, relativePath: line))
            }
        }
        return videos
    }

    /// Sorts by relative path and drops repeats of the same relative path naming the same file; two different
    /// files under one relative path would get one id, so that is an input error.
    static func deduplicated(_ videos: [VideoInput]) throws -> [VideoInput] {
        let sorted = videos.sorted { Array($0.relativePath.utf8).lexicographicallyPrecedes(Array($1.relativePath.utf8)) }
        var result: [VideoInput] = []
        var pathsByID: [String: String] = [:]
        for video in sorted {
            let canonical = URL(fileURLWithPath: video.path).standardizedFileURL.resolvingSymlinksInPath().path
            if let earlier = pathsByID[video.id] {
                if earlier == canonical { continue }
                throw DatasetError.badInput(
                    path: video.path, reason: "has the same relative path '\(video.relativePath)' as \(earlier)")
            }
            pathsByID[video.id] = canonical
            result.append(video)
        }
        return result
    }
}
