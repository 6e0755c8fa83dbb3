/* theanolite C runtime: helpers shared by every generated module.
 *
 * This text is pasted at the top of each generated source (so the stored C is
 * self-contained and its sha256 covers everything). Plain C11, no Python API.
 *
 * Semantics: every helper reproduces numpy's result for the same dtype, including
 * NaN, +-Inf and -0.0, integer wrap-around, and the values numpy defines for integer
 * division by zero (quotient 0, remainder 0) and MIN // -1 (MIN). Nothing here traps.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <math.h>

#define TL_ERRLEN 512
/* Return codes of a segment function; the Python side maps them to exceptions. */
#define TL_OK 0
#define TL_VALUE_ERROR 1
#define TL_INDEX_ERROR 2
#define TL_MEMORY_ERROR 3
#define TL_RUNTIME_ERROR 4
/* Bits a kernel ORs into its error word (vectorizable: no early exit). */
#define TL_BAD_NEGPOW 1

typedef uint8_t tl_bool;

/* ---------------------------------------------------------------- SIMD libm
 * glibc's libmvec has vector variants of libm functions but declares them only under
 * __FAST_MATH__. Declaring them here (`omp declare simd`, used with -fopenmp-simd) lets
 * the vectorizer call them without -ffast-math semantics leaking into the rest of the
 * code. Only on x86-64 glibc >= 2.35 (the extended set); the build links -lmvec. */
#if defined(TL_USE_LIBMVEC) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__FAST_MATH__) \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define TL_SIMD_DECL(ret, name, args) _Pragma("omp declare simd notinbranch") extern ret name args;
#define TL_SIMD_PAIR1(name) TL_SIMD_DECL(double, name, (double)) TL_SIMD_DECL(float, name##f, (float))
#define TL_SIMD_PAIR2(name) TL_SIMD_DECL(double, name, (double, double)) \
    TL_SIMD_DECL(float, name##f, (float, float))
TL_SIMD_PAIR1(exp) TL_SIMD_PAIR1(exp2) TL_SIMD_PAIR1(expm1) TL_SIMD_PAIR1(log)
TL_SIMD_PAIR1(log2) TL_SIMD_PAIR1(log10) TL_SIMD_PAIR1(log1p) TL_SIMD_PAIR1(sin)
TL_SIMD_PAIR1(cos) TL_SIMD_PAIR1(tan) TL_SIMD_PAIR1(asin) TL_SIMD_PAIR1(acos)
TL_SIMD_PAIR1(atan) TL_SIMD_PAIR1(sinh) TL_SIMD_PAIR1(cosh) TL_SIMD_PAIR1(tanh)
TL_SIMD_PAIR1(asinh) TL_SIMD_PAIR1(acosh) TL_SIMD_PAIR1(atanh) TL_SIMD_PAIR1(erf)
TL_SIMD_PAIR1(erfc) TL_SIMD_PAIR2(pow) TL_SIMD_PAIR2(atan2)
#endif

/* Runtime ISA dispatch: an AVX2 clone and a baseline clone of every kernel, chosen once
 * by an ifunc resolver, so the default build runs on any x86-64. Disabled when the user
 * picks an ISA with -march (TL_NO_DISPATCH). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TL_NO_DISPATCH)
#define TL_KERNEL __attribute__((target_clones("avx2", "default"), noinline))
#else
#define TL_KERNEL __attribute__((noinline))
#endif
#define TL_STRIDED __attribute__((noinline))

/* ---------------------------------------------------------------- integers
 * Arithmetic goes through an unsigned type at least as wide as int, so overflow wraps
 * (as in numpy) instead of being undefined behaviour. */
#define TL_INT_COMMON(T, W, S)                                                           \
static inline T tl_add_##S(T a, T b) { return (T)((W)a + (W)b); }                        \
static inline T tl_sub_##S(T a, T b) { return (T)((W)a - (W)b); }                        \
static inline T tl_mul_##S(T a, T b) { return (T)((W)a * (W)b); }                        \
static inline T tl_neg_##S(T a) { return (T)((W)0 - (W)a); }                             \
static inline T tl_max_##S(T a, T b) { return a > b ? a : b; }                           \
static inline T tl_min_##S(T a, T b) { return a < b ? a : b; }                           \
static inline T tl_clip_##S(T x, T lo, T hi) { return tl_min_##S(tl_max_##S(x, lo), hi); } \
static inline T tl_pow_##S(T a, T b) {                                                   \
    /* b < 0 is reported by the caller (ValueError in numpy); here it yields 0. */        \
    W base = (W)a, out = 1;                                                              \
    if (b < 0) return 0;                                                                 \
    while (b) { if (b & 1) out *= base; base *= base; b = (T)(b >> 1); }                 \
    return (T)out;                                                                       \
}

#define TL_SIGNED(T, W, S)                                                          \
TL_INT_COMMON(T, W, S)                                                                   \
static inline T tl_abs_##S(T a) { return a < 0 ? tl_neg_##S(a) : a; }                    \
static inline T tl_sgn_##S(T a) { return (T)((a > 0) - (a < 0)); }                       \
static inline T tl_floordiv_##S(T a, T b) {                                              \
    /* numpy: x // 0 == 0 and MIN // -1 == MIN (wraps), never a trap. */                 \
    if (b == 0) return 0;                                                                \
    if (b == -1) return tl_neg_##S(a);                                                   \
    T q = (T)(a / b);                                                                    \
    if ((T)(a % b) != 0 && ((a < 0) != (b < 0))) q = (T)(q - 1);                         \
    return q;                                                                            \
}                                                                                        \
static inline T tl_mod_##S(T a, T b) {                                                   \
    /* numpy: x % 0 == 0; the result takes the sign of b (Python semantics). */          \
    if (b == 0 || b == -1) return 0;                                                     \
    T r = (T)(a % b);                                                                    \
    if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b);                                  \
    return r;                                                                            \
}

#define TL_UNSIGNED(T, W, S)                                                             \
TL_INT_COMMON(T, W, S)                                                                   \
static inline T tl_abs_##S(T a) { return a; }                                            \
static inline T tl_sgn_##S(T a) { return (T)(a > 0); }                                   \
static inline T tl_floordiv_##S(T a, T b) { return b == 0 ? (T)0 : (T)(a / b); }         \
static inline T tl_mod_##S(T a, T b) { return b == 0 ? (T)0 : (T)(a % b); }

TL_SIGNED(int8_t, uint32_t, i8)
TL_SIGNED(int16_t, uint32_t, i16)
TL_SIGNED(int32_t, uint32_t, i32)
TL_SIGNED(int64_t, uint64_t, i64)
TL_UNSIGNED(uint8_t, uint32_t, u8)
TL_UNSIGNED(uint16_t, uint32_t, u16)
TL_UNSIGNED(uint32_t, uint32_t, u32)
TL_UNSIGNED(uint64_t, uint64_t, u64)

/* ---------------------------------------------------------------- floats
 * Branch-free where a libm call is involved, so loops stay vectorizable. */
#define TL_FLOAT(T, S, F, LN2)                                                           \
static inline T tl_max_##S(T a, T b) { return (a > b || a != a) ? a : b; }               \
static inline T tl_min_##S(T a, T b) { return (a < b || a != a) ? a : b; }               \
static inline T tl_clip_##S(T x, T lo, T hi) { return tl_min_##S(tl_max_##S(x, lo), hi); } \
static inline T tl_sgn_##S(T a) {                                                        \
    /* numpy: sign(-0.0) == +0.0, sign(nan) == nan */                                   \
    return a > 0 ? (T)1 : (a < 0 ? (T)-1 : (a == 0 ? (T)0 : a));                         \
}                                                                                        \
static inline T tl_isinf_##S(T a) { return (T)(fabs##F(a) == (T)INFINITY); }             \
static inline T tl_divmod_##S(T a, T b, T *modulus) {                                    \
    /* numpy's npy_divmod: Python's floor division and remainder, b != 0. */             \
    T mod = fmod##F(a, b), div, floordiv;                                                \
    div = (a - mod) / b;                                                                 \
    if (mod) {                                                                           \
        if ((b < 0) != (mod < 0)) { mod += b; div -= (T)1; }                              \
    } else {                                                                             \
        mod = copysign##F((T)0, b);                                                      \
    }                                                                                    \
    if (div) {                                                                           \
        floordiv = floor##F(div);                                                        \
        if (div - floordiv > (T)0.5) floordiv += (T)1;                                   \
    } else {                                                                             \
        floordiv = copysign##F((T)0, a / b);                                             \
    }                                                                                    \
    *modulus = mod;                                                                      \
    return floordiv;                                                                     \
}                                                                                        \
static inline T tl_floordiv_##S(T a, T b) {                                              \
    T mod;                                                                               \
    if (!b) return a / b;                                                                \
    return tl_divmod_##S(a, b, &mod);                                                    \
}                                                                                        \
static inline T tl_mod_##S(T a, T b) {                                                   \
    T mod;                                                                               \
    if (!b) return fmod##F(a, b);                                                        \
    tl_divmod_##S(a, b, &mod);                                                           \
    return mod;                                                                          \
}                                                                                        \
static inline T tl_softplus_##S(T a) {                                                   \
    /* numpy's logaddexp(0, a), computed without branches around the libm calls. */     \
    T e = log1p##F(exp##F(-fabs##F(a)));                                                 \
    T r = (a > 0 ? a : (T)0) + e;                                                        \
    r = a == 0 ? (T)LN2 : r;                                                             \
    return a != a ? (T)0 - a : r;                                                        \
}                                                                                        \
static inline T tl_round_away_##S(T a) {                                                 \
    /* Exactly perform's sign(a) * floor(|a| + 0.5) (not C round(): they differ at     \
     * 0.49999999999999994). */                                                          \
    return tl_sgn_##S(a) * floor##F(fabs##F(a) + (T)0.5);                                \
}

TL_FLOAT(float, f32, f, 0.6931471805599453094f)
TL_FLOAT(double, f64, , 0.6931471805599453094)

/* ---------------------------------------------------------------- shapes */

/* Append shape as Python prints a tuple ("(3,)", "(2, 3)", "()") to err. */
static void tl_append_shape(char *err, int nd, const int64_t *shape)
{
    size_t n = strlen(err);
    n += snprintf(err + n, n < TL_ERRLEN ? TL_ERRLEN - n : 0, "(");
    for (int d = 0; d < nd && n < TL_ERRLEN; d++)
        n += snprintf(err + n, TL_ERRLEN - n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < TL_ERRLEN)
        snprintf(err + n, TL_ERRLEN - n, nd == 1 ? ",)" : ")");
}

static void tl_append_input_shapes(char *err, int nd, int nin, const int64_t *const *shapes)
{
    for (int k = 0; k < nin; k++) {
        size_t n = strlen(err);
        if (n >= TL_ERRLEN - 1) return;
        snprintf(err + n, TL_ERRLEN - n, k ? ", %d " : "; input shapes: %d ", k);
        tl_append_shape(err, nd, shapes[k]);
    }
}

/* Elementwise output shape (Theano rules): on each axis the inputs not broadcastable
 * there must agree; broadcastable ones must have length 1. Returns TL_OK or
 * TL_VALUE_ERROR with perform's message naming `op`. `bcast` is [nin][nd] row-major. */
static int tl_broadcast(int nd, int nin, const int64_t *const *shapes,
                        const unsigned char *bcast, int64_t *out, char *err, const char *op)
{
    for (int d = 0; d < nd; d++) {
        int64_t size = -1;
        for (int k = 0; k < nin; k++) {
            if (bcast[k * nd + d]) continue;
            if (size < 0) size = shapes[k][d];
            else if (shapes[k][d] != size) {
                snprintf(err, TL_ERRLEN, "%s: input dimension mismatch on axis %d (%lld vs %lld)",
                         op, d, (long long)size, (long long)shapes[k][d]);
                tl_append_input_shapes(err, nd, nin, shapes);
                return TL_VALUE_ERROR;
            }
        }
        if (size >= 0) {
            for (int k = 0; k < nin; k++) {
                if (bcast[k * nd + d] && shapes[k][d] != 1) {
                    snprintf(err, TL_ERRLEN, "%s: input %d has length %lld on axis %d, which its type"
                             " says is broadcastable", op, k, (long long)shapes[k][d], d);
                    return TL_VALUE_ERROR;
                }
            }
        }
        out[d] = size < 0 ? 1 : size;
    }
    return TL_OK;
}

/* C-contiguous byte strides of a fresh buffer; returns its size in bytes. */
static int64_t tl_contiguous(int nd, const int64_t *shape, int64_t itemsize, int64_t *strides)
{
    int64_t acc = itemsize;
    for (int d = nd - 1; d >= 0; d--) {
        strides[d] = acc;
        acc *= shape[d] > 0 ? shape[d] : 1;
    }
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0) return 0;
    return acc;
}

/* Collapse a loop nest over `nd` axes for `nops` operands (strides[k*cap + d]): drop
 * axes of length 1, merge neighbours that are contiguous for every operand. Returns the
 * new number of axes (>= 1), or 0 when some axis has length 0 (nothing to do). */
static int tl_collapse(int nd, int nops, int64_t *shape, int64_t *strides, int cap)
{
    int out = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 0) return 0;
        if (shape[d] == 1) continue;
        if (out > 0) {
            int merge = 1;
            for (int k = 0; k < nops && merge; k++)
                merge = strides[k * cap + out - 1] == strides[k * cap + d] * shape[d];
            if (merge) {
                shape[out - 1] *= shape[d];
                for (int k = 0; k < nops; k++) strides[k * cap + out - 1] = strides[k * cap + d];
                continue;
            }
        }
        shape[out] = shape[d];
        for (int k = 0; k < nops; k++) strides[k * cap + out] = strides[k * cap + d];
        out++;
    }
    if (out == 0) {  /* every axis had length 1: one element */
        shape[0] = 1;
        for (int k = 0; k < nops; k++) strides[k * cap] = 0;
        out = 1;
    }
    return out;
}

static int64_t tl_align(int64_t n) { return (n + 63) & ~(int64_t)63; }
