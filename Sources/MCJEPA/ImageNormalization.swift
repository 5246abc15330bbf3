import NN

/// The network's input normalisation (the first thing `encode` does): (rgb - ImageNet mean) / ImageNet std per
/// channel, in Float32 like the reference's tensors.
public enum ImageNormalization {
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]

    static func normalized(_ rgb01: Tensor) -> Tensor {
        let y = Tensor(shape: rgb01.shape)
        let plane = rgb01.h * rgb01.w
        for n in 0..<rgb01.n {
            for c in 0..<3 {
                let offset = (n * 3 + c) * plane
                let src = rgb01.data + offset, dst = y.data + offset
                let m = mean[c], s = std[c]
                for i in 0..<plane { dst[i] = (src[i] - m) / s }
            }
        }
        return y
    }
}
