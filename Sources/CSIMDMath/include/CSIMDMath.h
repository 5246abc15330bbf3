#ifndef CSIMDMATH_H
#define CSIMDMATH_H

#include <stddef.h>

// Vector kernels for the flow refinement, where Swift's SIMD types fall short:
// - Swift's SIMD8.squareRoot() is a loop over lanes, and each lane's Float.squareRoot() compiles to sqrtss plus a
//   call into libm's sqrtf for negative inputs (to set errno), which keeps the loops that use it from vectorising.
//   __builtin_elementwise_sqrt has no errno semantics: sqrtps (x86) or fsqrt (arm64) on whole vectors.
// - A red-black SOR row updates every other pixel: it needs lane shuffles, which generic Swift SIMD code does not
//   compile to, and which in debug builds (the tests run the debug CLI) is several times slower than scalar code.
// Clang imports an 8-float ext_vector_type as Swift's SIMD8<Float>.

typedef float csimd_float8 __attribute__((ext_vector_type(8)));

/// Lane-wise square root (NaN for negative lanes).
static inline csimd_float8 csimd_sqrt8(csimd_float8 x) { return __builtin_elementwise_sqrt(x); }

/// One colour of one row of a red-black SOR sweep for the 2x2-per-pixel system of the variational refinement:
/// for p = first, first + 2, ... < end,
///     su = cl du[p-1] + cr du[p+1] + cu du[p-w] + cd du[p+w]   (cl = right[p-1], cr = right[p], cu = down[p-w], cd = down[p])
///     du[p] += omega ((su + b1[p] - dv[p] a12[p]) inv11[p] - du[p])
///     dv[p] += omega ((sv + b2[p] - du[p] a12[p]) inv22[p] - dv[p])   (with the new du[p])
/// in that order of operations, so that the result equals the scalar loop's bit for bit. Reads up to 16 floats
/// past `end` and writes none past it.
void csimd_sor_row(float *du, float *dv, const float *right, const float *down, const float *inv11,
                   const float *a12, const float *inv22, const float *b1, const float *b2,
                   ptrdiff_t w, ptrdiff_t first, ptrdiff_t end, float omega);

/// The robust smoothness weights of row y of a width-w flow (u, v): for each pixel p,
///     weight = alpha / sqrt(ux^2 + vx^2 + uy^2 + vy^2 + epsilon2)
/// from the forward differences to the right and lower neighbours (0 past the last column, or past the last row when
/// `has_below` is 0, as if the border were replicated); right[p] = weight (0 in the last column), down[p] = weight
/// (0 when there is no row below). The same order of operations as the scalar loop, bit for bit.
void csimd_smoothness_row(const float *u, const float *v, float *right, float *down, ptrdiff_t w, ptrdiff_t y,
                          int has_below, float alpha, float epsilon2);

#endif
