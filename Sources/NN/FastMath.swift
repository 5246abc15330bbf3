// Branch-free erf and exp for Float, so the GELU loops vectorise (glibc's erff/expf are scalar calls that cost
// more than the convolutions around them on the ConvNeXt blocks' 4x-wide tensors).

/// erf(x) as a rational function on [-4, 4] (Eigen's generic_fast_erf_float coefficients); |x| > 4 gives +-1,
/// as it rounds to in Float. Absolute error below 2e-7 (checked against erf in the tests).
@inline(__always)
func fastErf(_ value: Float) -> Float {
    let x = min(max(value, -4), 4)
    let x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q
}

/// exp(x) by range reduction x = n ln2 + r (|r| <= ln2/2) and a degree-6 polynomial for e^r; relative error
/// about 2e-7. Inputs are clamped to [-87, 88], so very negative inputs give e^-87 (~1.6e-38), not 0.
@inline(__always)
func fastExp(_ value: Float) -> Float {
    let x = min(max(value, -87), 88)
    // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (no libm call, no trapping conversion).
    let magic: Float = 12_582_912
    let shifted = x * 1.44269504088896341 + magic
    let n = shifted - magic
    let r = (x - n * 0.693359375) - n * -2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = (p * r) * r + r + 1
    let exponent = Int32(bitPattern: shifted.bitPattern &- magic.bitPattern)
    let scale = Float(bitPattern: UInt32(bitPattern: (exponent &+ 127) &<< 23))
    return p * scale
}
