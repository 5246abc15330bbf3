import NN

/// RAFT's InputPadder as the reference uses it: H and W are padded up to a multiple of 64 by edge replication,
/// a deficit d split as d / 2 before and d - d / 2 after; `unpad` crops the same offsets back.
public struct InputPadder: Equatable, Sendable {
    public let height: Int, width: Int
    public let top: Int, bottom: Int, left: Int, right: Int

    public init(height: Int, width: Int, multiple: Int = ModelConfig.padMultiple) {
        self.height = height
        self.width = width
        let padH = (multiple - height % multiple) % multiple, padW = (multiple - width % multiple) % multiple
        top = padH / 2
        bottom = padH - padH / 2
        left = padW / 2
        right = padW - padW / 2
    }

    public var paddedHeight: Int { height + top + bottom }
    public var paddedWidth: Int { width + left + right }

    /// [N, C, height, width] -> [N, C, paddedHeight, paddedWidth], borders replicated.
    public func pad(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.h == height && x.w == width, "pad: \(x.shape) is not \(height)x\(width)")
        if top == 0 && bottom == 0 && left == 0 && right == 0 { return x }
        let (PH, PW) = (paddedHeight, paddedWidth)
        let y = Tensor(shape: [x.n, x.c, PH, PW])
        for plane in 0..<(x.n * x.c) {
            let src = x.data + plane * height * width, dst = y.data + plane * PH * PW
            for py in 0..<PH {
                let sy = min(max(py - top, 0), height - 1)
                let row = src + sy * width, out = dst + py * PW
                let first = row[0], last = row[width - 1]
                for px in 0..<left { out[px] = first }
                (out + left).update(from: row, count: width)
                for px in (left + width)..<PW { out[px] = last }
            }
        }
        return y
    }

    /// Crops a padded [N, C, paddedHeight, paddedWidth] map back to [N, C, height, width] (values unchanged).
    public func unpad(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.h == paddedHeight && x.w == paddedWidth, "unpad: \(x.shape)")
        let y = Tensor(shape: [x.n, x.c, height, width])
        for plane in 0..<(x.n * x.c) {
            let src = x.data + plane * paddedHeight * paddedWidth, dst = y.data + plane * height * width
            for row in 0..<height {
                (dst + row * width).update(from: src + (row + top) * paddedWidth + left, count: width)
            }
        }
        return y
    }
}
