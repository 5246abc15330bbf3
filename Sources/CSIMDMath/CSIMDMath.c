#include "CSIMDMath.h"

#include <math.h>
#include <string.h>

// No fused multiply-adds: the vector lanes must round exactly as the scalar code (and the Swift reference) does.
#pragma clang fp contract(off)

typedef float float16v __attribute__((ext_vector_type(16)));

// Macros, not functions: without AVX (AVX-512 for 16 floats) vectors this wide have no fixed calling convention.

/// p[0], p[2], ..., p[14] (p: const float *).
#define EVEN_AT(p) ({ \
    float16v v_; \
    memcpy(&v_, (p), sizeof v_); \
    (csimd_float8)__builtin_shufflevector(v_, v_, 0, 2, 4, 6, 8, 10, 12, 14); \
})

/// Writes the csimd_float8 `values` to p[0], p[2], ..., p[14]; p[1], p[3], ..., p[15] are written back as they are.
#define STORE_EVEN(p, values) do { \
    float16v v_; \
    memcpy(&v_, (p), sizeof v_); \
    csimd_float8 x_ = (values); \
    float16v spread_ = __builtin_shufflevector(x_, x_, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7); \
    v_ = __builtin_shufflevector(v_, spread_, 16, 1, 18, 3, 20, 5, 22, 7, 24, 9, 26, 11, 28, 13, 30, 15); \
    memcpy((p), &v_, sizeof v_); \
} while (0)

static inline void relax_one(float *du, float *dv, const float *right, const float *down, const float *inv11,
                             const float *a12, const float *inv22, const float *b1, const float *b2, ptrdiff_t w,
                             ptrdiff_t p, float omega) {
    float cr = right[p], cl = right[p - 1], cd = down[p], cu = down[p - w];
    float su = cl * du[p - 1] + cr * du[p + 1] + cu * du[p - w] + cd * du[p + w];
    float sv = cl * dv[p - 1] + cr * dv[p + 1] + cu * dv[p - w] + cd * dv[p + w];
    float u = du[p] + omega * ((su + b1[p] - dv[p] * a12[p]) * inv11[p] - du[p]);
    du[p] = u;
    dv[p] += omega * ((sv + b2[p] - u * a12[p]) * inv22[p] - dv[p]);
}

void csimd_sor_row(float *du, float *dv, const float *right, const float *down, const float *inv11,
                   const float *a12, const float *inv22, const float *b1, const float *b2,
                   ptrdiff_t w, ptrdiff_t first, ptrdiff_t end, float omega) {
    ptrdiff_t p = first;
    // Eight pixels of the colour at p, p + 2, ..., p + 14: the 16-float block p...p + 15 must lie in the row, as
    // its odd lanes (the other colour, perhaps another thread's row past `end`) are written back unchanged.
    for (; p + 16 <= end; p += 16) {
        csimd_float8 cr = EVEN_AT(right + p), cl = EVEN_AT(right + p - 1), cd = EVEN_AT(down + p), cu = EVEN_AT(down + p - w);
        csimd_float8 su = cl * EVEN_AT(du + p - 1) + cr * EVEN_AT(du + p + 1) + cu * EVEN_AT(du + p - w) + cd * EVEN_AT(du + p + w);
        csimd_float8 sv = cl * EVEN_AT(dv + p - 1) + cr * EVEN_AT(dv + p + 1) + cu * EVEN_AT(dv + p - w) + cd * EVEN_AT(dv + p + w);
        csimd_float8 u0 = EVEN_AT(du + p), v0 = EVEN_AT(dv + p), a = EVEN_AT(a12 + p);
        csimd_float8 u = u0 + omega * ((su + EVEN_AT(b1 + p) - v0 * a) * EVEN_AT(inv11 + p) - u0);
        csimd_float8 v = v0 + omega * ((sv + EVEN_AT(b2 + p) - u * a) * EVEN_AT(inv22 + p) - v0);
        STORE_EVEN(du + p, u);
        STORE_EVEN(dv + p, v);
    }
    for (; p < end; p += 2) relax_one(du, dv, right, down, inv11, a12, inv22, b1, b2, w, p, omega);
}

void csimd_smoothness_row(const float *u, const float *v, float *right, float *down, ptrdiff_t w, ptrdiff_t y,
                          int has_below, float alpha, float epsilon2) {
    ptrdiff_t x = 0, row = y * w;
    if (has_below) {
        // Blocks of eight pixels that all have a right neighbour (x + 7 < w - 1).
        for (; x + 8 < w; x += 8) {
            const float *up = u + row + x, *vp = v + row + x;
            csimd_float8 u0, u1, u2, v0, v1, v2;
            memcpy(&u0, up, sizeof u0); memcpy(&u1, up + 1, sizeof u1); memcpy(&u2, up + w, sizeof u2);
            memcpy(&v0, vp, sizeof v0); memcpy(&v1, vp + 1, sizeof v1); memcpy(&v2, vp + w, sizeof v2);
            csimd_float8 ux = u1 - u0, vx = v1 - v0, uy = u2 - u0, vy = v2 - v0;
            csimd_float8 weight = alpha / __builtin_elementwise_sqrt(ux * ux + vx * vx + uy * uy + vy * vy + epsilon2);
            memcpy(right + row + x, &weight, sizeof weight);
            memcpy(down + row + x, &weight, sizeof weight);
        }
    }
    for (; x < w; x++) {
        ptrdiff_t p = row + x, r = x < w - 1 ? p + 1 : p, b = has_below ? p + w : p;
        float ux = u[r] - u[p], vx = v[r] - v[p], uy = u[b] - u[p], vy = v[b] - v[p];
        float weight = alpha / sqrtf(ux * ux + vx * vx + uy * uy + vy * vy + epsilon2);
        right[p] = x < w - 1 ? weight : 0;
        down[p] = has_below ? weight : 0;
    }
}
