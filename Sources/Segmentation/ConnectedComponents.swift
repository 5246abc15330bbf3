/// Connected components of a label image: the regions of 8-connected pixels that carry the same value.
///
/// The buffers are kept between calls (one labelling per frame of a video at the same size allocates nothing),
/// and each component is found by a breadth-first flood from its first pixel in raster order, through a queue
/// that every pixel enters once: one pass over the image, eight neighbour tests per pixel.
public struct ConnectedComponents {
    /// Per pixel, its component's index (0..<count), components numbered in the raster order of their first pixel.
    public private(set) var component: [Int32] = []
    /// How many components the last `label` found.
    public private(set) var count = 0
    /// Per component (0..<count): its value, its pixel count and its first pixel in raster order.
    public private(set) var value: [UInt8] = []
    public private(set) var size: [Int] = []
    public private(set) var firstPixel: [Int] = []
    private var queue: [Int32] = []

    public init() {}

    /// Labels `image` (width x height, row-major); returns the number of components.
    @discardableResult
    public mutating func label(_ image: [UInt8], width: Int, height: Int) -> Int {
        let pixels = width * height
        precondition(image.count == pixels && pixels <= Int(Int32.max), "label: image is not width x height")
        if component.count != pixels {
            component = [Int32](repeating: -1, count: pixels)
            queue = [Int32](repeating: 0, count: pixels)
        } else {
            for i in 0..<pixels { component[i] = -1 }
        }
        value.removeAll(keepingCapacity: true)
        size.removeAll(keepingCapacity: true)
        firstPixel.removeAll(keepingCapacity: true)
        var found = 0
        image.withUnsafeBufferPointer { image in
            component.withUnsafeMutableBufferPointer { component in
                queue.withUnsafeMutableBufferPointer { queue in
                    for start in 0..<pixels where component[start] < 0 {
                        let id = Int32(found), v = image[start]
                        component[start] = id
                        queue[0] = Int32(start)
                        var head = 0, tail = 1
                        while head < tail {
                            let i = Int(queue[head])
                            head += 1
                            let x = i % width, y = i / width
                            for dy in -1...1 {
                                let ny = y + dy
                                guard ny >= 0, ny < height else { continue }
                                for dx in -1...1 {
                                    let nx = x + dx
                                    guard nx >= 0, nx < width else { continue }
                                    let j = ny * width + nx
                                    if component[j] < 0 && image[j] == v {
                                        component[j] = id
                                        queue[tail] = Int32(j)
                                        tail += 1
                                    }
                                }
                            }
                        }
                        value.append(v)
                        size.append(tail)
                        firstPixel.append(start)
                        found += 1
                    }
                }
            }
        }
        count = found
        return found
    }
}
