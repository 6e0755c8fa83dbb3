/* BLAS for dense linear algebra: CBLAS function pointers handed over at load time.
 *
 * The module links no BLAS library. After loading it, Python calls tl_set_blas() with
 * the addresses of cblas_{d,s}{gemm,gemv,dot,ger} from the BLAS numpy itself uses
 * (numpy's bundled OpenBLAS exports them as scipy_cblas_*64_, with 64-bit integers),
 * or from another CBLAS (32-bit integers). Until then every BLAS node fails cleanly.
 * Operands BLAS cannot address (negative, zero or unaligned strides) are copied into
 * the node's scratch space first; nothing here allocates.
 */
typedef struct {
    int ready, ilp64;
    void *dgemm, *sgemm, *dgemv, *sgemv, *ddot, *sdot, *dger, *sger;
} tl_blas_table;
static tl_blas_table tl_blas;

enum { TL_ROW_MAJOR = 101, TL_NO_TRANS = 111, TL_TRANS = 112 };

void tl_set_blas(int ilp64, void *dgemm, void *sgemm, void *dgemv, void *sgemv, void *ddot,
                 void *sdot, void *dger, void *sger)
{
    tl_blas.ilp64 = ilp64;
    tl_blas.dgemm = dgemm; tl_blas.sgemm = sgemm; tl_blas.dgemv = dgemv; tl_blas.sgemv = sgemv;
    tl_blas.ddot = ddot; tl_blas.sdot = sdot; tl_blas.dger = dger; tl_blas.sger = sger;
    tl_blas.ready = dgemm && sgemm && dgemv && sgemv && ddot && sdot && dger && sger;
}

/* One wrapper per routine and precision, calling through the ILP64 or LP64 type. */
#define TL_BLAS_WRAPPERS(T, P)                                                              \
static void tl_##P##gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha,         \
                         const T *a, int64_t lda, const T *b, int64_t ldb, T beta, T *c,      \
                         int64_t ldc)                                                       \
{                                                                                          \
    if (tl_blas.ilp64)                                                                     \
        ((void (*)(int, int, int, int64_t, int64_t, int64_t, T, const T *, int64_t,         \
                   const T *, int64_t, T, T *, int64_t))tl_blas.P##gemm)(                   \
            TL_ROW_MAJOR, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);            \
    else                                                                                   \
        ((void (*)(int, int, int, int, int, int, T, const T *, int, const T *, int, T, T *, \
                   int))tl_blas.P##gemm)(                                                   \
            TL_ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb,   \
            beta, c, (int)ldc);                                                             \
}                                                                                          \
static void tl_##P##gemv(int ta, int64_t m, int64_t n, T alpha, const T *a, int64_t lda,     \
                         const T *x, int64_t incx, T beta, T *y, int64_t incy)              \
{                                                                                          \
    if (tl_blas.ilp64)                                                                     \
        ((void (*)(int, int, int64_t, int64_t, T, const T *, int64_t, const T *, int64_t,   \
                   T, T *, int64_t))tl_blas.P##gemv)(                                        \
            TL_ROW_MAJOR, ta, m, n, alpha, a, lda, x, incx, beta, y, incy);                 \
    else                                                                                   \
        ((void (*)(int, int, int, int, T, const T *, int, const T *, int, T, T *, int))      \
             tl_blas.P##gemv)(TL_ROW_MAJOR, ta, (int)m, (int)n, alpha, a, (int)lda, x,       \
                              (int)incx, beta, y, (int)incy);                               \
}                                                                                          \
static T tl_##P##dot(int64_t n, const T *x, int64_t incx, const T *y, int64_t incy)          \
{                                                                                          \
    if (tl_blas.ilp64)                                                                     \
        return ((T (*)(int64_t, const T *, int64_t, const T *, int64_t))tl_blas.P##dot)(     \
            n, x, incx, y, incy);                                                           \
    return ((T (*)(int, const T *, int, const T *, int))tl_blas.P##dot)(                    \
        (int)n, x, (int)incx, y, (int)incy);                                                \
}                                                                                          \
static void tl_##P##ger(int64_t m, int64_t n, T alpha, const T *x, int64_t incx, const T *y, \
                        int64_t incy, T *a, int64_t lda)                                    \
{                                                                                          \
    if (tl_blas.ilp64)                                                                     \
        ((void (*)(int, int64_t, int64_t, T, const T *, int64_t, const T *, int64_t, T *,    \
                   int64_t))tl_blas.P##ger)(TL_ROW_MAJOR, m, n, alpha, x, incx, y, incy, a, \
                                            lda);                                           \
    else                                                                                   \
        ((void (*)(int, int, int, T, const T *, int, const T *, int, T *, int))              \
             tl_blas.P##ger)(TL_ROW_MAJOR, (int)m, (int)n, alpha, x, (int)incx, y,           \
                             (int)incy, a, (int)lda);                                       \
}

TL_BLAS_WRAPPERS(double, d)
TL_BLAS_WRAPPERS(float, s)

/* How BLAS can read a rows x cols matrix with byte strides s0, s1 (elements of size
 * isz at p): returns 1 and sets *trans (TL_NO_TRANS: row-major, TL_TRANS: column-major)
 * and *ld, or 0 when the matrix must be copied. Strides of length-1 axes do not matter. */
static int tl_blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t isz,
                          const char *p, int *trans, int64_t *ld)
{
    if (((uintptr_t)p % (uintptr_t)isz) || s0 % isz || s1 % isz) return 0;
    s0 /= isz; s1 /= isz;
    int64_t r = rows > 1 ? rows : 1, c = cols > 1 ? cols : 1;
    if ((cols <= 1 || s1 == 1) && (rows <= 1 || s0 >= c)) {
        *trans = TL_NO_TRANS; *ld = rows <= 1 ? c : s0;
        return 1;
    }
    if ((rows <= 1 || s0 == 1) && (cols <= 1 || s1 >= r)) {
        *trans = TL_TRANS; *ld = cols <= 1 ? r : s1;
        return 1;
    }
    return 0;
}

/* A vector BLAS can step through: positive element stride (any stride if n <= 1). */
static int tl_blas_inc(int64_t n, int64_t s, int64_t isz, const char *p, int64_t *inc)
{
    if (((uintptr_t)p % (uintptr_t)isz) || s % isz) return 0;
    if (n <= 1) { *inc = 1; return 1; }
    if (s <= 0) return 0;
    *inc = s / isz;
    return 1;
}

/* Copy a rows x cols matrix between any two byte-stride layouts. */
static void tl_copy_strided(int64_t rows, int64_t cols, const char *src, int64_t ss0, int64_t ss1,
                            char *dst, int64_t ds0, int64_t ds1, int64_t isz)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            memcpy(dst + i * ds0 + j * ds1, src + i * ss0 + j * ss1, (size_t)isz);
}

static void tl_copy2d(int64_t rows, int64_t cols, char *strided, int64_t s0, int64_t s1,
                      char *dense, int64_t isz, int to_strided)
{
    if (to_strided) tl_copy_strided(rows, cols, dense, cols * isz, isz, strided, s0, s1, isz);
    else tl_copy_strided(rows, cols, strided, s0, s1, dense, cols * isz, isz, isz);
}

/* The row-major matrix a gemm/ger result is written to: `out` itself when BLAS can
 * address it, else a dense scratch copy (*spill = 1: copy back with tl_blas_out_done).
 * With copy_z, the accumulator z is copied in first (z == out when computing in place). */
static char *tl_blas_out(int64_t rows, int64_t cols, char *out, int64_t s0, int64_t s1,
                         const char *z, int64_t zs0, int64_t zs1, int copy_z, int64_t isz,
                         char **scratch, char *end, int64_t *ld, int *spill)
{
    int trans;
    char *c = out;
    *spill = 0;
    if (!(tl_blas_layout(rows, cols, s0, s1, isz, out, &trans, ld) && trans == TL_NO_TRANS)) {
        int64_t need = tl_align(rows * cols * isz);
        if (*scratch + need > end) return NULL;
        c = *scratch;
        *scratch += need;
        *ld = cols > 1 ? cols : 1;
        *spill = 1;
    }
    if (copy_z && (c != z || zs0 != *ld * isz || zs1 != isz))
        tl_copy_strided(rows, cols, z, zs0, zs1, c, *ld * isz, isz, isz);
    return c;
}

static int64_t tl_blas_out_scratch(int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t isz)
{
    int trans; int64_t ld;
    if (tl_blas_layout(rows, cols, s0, s1, isz, NULL, &trans, &ld) && trans == TL_NO_TRANS) return 0;
    return tl_align(rows * cols * isz);
}

static void tl_blas_out_done(int64_t rows, int64_t cols, char *out, int64_t s0, int64_t s1,
                             const char *c, int64_t ld, int64_t isz, int spill)
{
    if (spill) tl_copy_strided(rows, cols, c, ld * isz, isz, out, s0, s1, isz);
}

/* Scratch bytes a matrix operand may need (the pointer is not known in phase 0; every
 * buffer the runtime hands over is element-aligned, so only strides decide). */
static int64_t tl_blas_matrix_scratch(int64_t rows, int64_t cols, int64_t s0, int64_t s1, int64_t isz)
{
    int trans; int64_t ld;
    return tl_blas_layout(rows, cols, s0, s1, isz, NULL, &trans, &ld) ? 0 : tl_align(rows * cols * isz);
}

static int64_t tl_blas_vector_scratch(int64_t n, int64_t s, int64_t isz)
{
    int64_t inc;
    return tl_blas_inc(n, s, isz, NULL, &inc) ? 0 : tl_align(n * isz);
}

/* The pointer BLAS reads for a matrix operand, copying it densely into the scratch
 * cursor when BLAS cannot address it; NULL if the scratch is too small (never expected). */
static const char *tl_blas_matrix(int64_t rows, int64_t cols, const char *p, int64_t s0, int64_t s1,
                                  int64_t isz, char **scratch, char *end, int *trans, int64_t *ld)
{
    if (tl_blas_layout(rows, cols, s0, s1, isz, p, trans, ld)) return p;
    int64_t need = tl_align(rows * cols * isz);
    if (*scratch + need > end) return NULL;
    char *dst = *scratch;
    tl_copy2d(rows, cols, (char *)p, s0, s1, dst, isz, 0);
    *scratch += need;
    *trans = TL_NO_TRANS; *ld = cols > 1 ? cols : 1;
    return dst;
}

static const char *tl_blas_vector(int64_t n, const char *p, int64_t s, int64_t isz, char **scratch,
                                  char *end, int64_t *inc)
{
    if (tl_blas_inc(n, s, isz, p, inc)) return p;
    int64_t need = tl_align(n * isz);
    if (*scratch + need > end) return NULL;
    char *dst = *scratch;
    tl_copy2d(n, 1, (char *)p, s, 0, dst, isz, 0);
    *scratch += need;
    *inc = 1;
    return dst;
}

/* "<op>: shapes (2, 3) and (4,) are not aligned: 3 (last dim of x) != 4 (first dim of y)" */
static void tl_dot_mismatch(char *err, const char *op, int ndx, const int64_t *shx, int ndy,
                            const int64_t *shy)
{
    size_t n;
    snprintf(err, TL_ERRLEN, "%s: shapes ", op);
    tl_append_shape(err, ndx, shx);
    n = strlen(err);
    snprintf(err + n, TL_ERRLEN - n, " and ");
    tl_append_shape(err, ndy, shy);
    n = strlen(err);
    snprintf(err + n, TL_ERRLEN - n, " are not aligned: %lld (last dim of x) != %lld (first dim of y)",
             (long long)shx[ndx - 1], (long long)shy[0]);
}
