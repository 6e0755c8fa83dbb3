/* Update kernel @name@: @comment@
 *
 * @name@(nd, shape, x, xst, y, yst) sets every element of the nd-d region x (byte
 * strides xst, any sign) to @update@, where a is the element of x and b the matching
 * element of the value y (byte strides yst, 0 on the axes y is broadcast along).
 * x and y never overlap (the graph never lets an op overwrite a buffer another of its
 * inputs reads). Axes contiguous for both are merged; nd == 0 updates one element.
 * Baseline ISA only (TL_STRIDED, no AVX2 clone): a read-modify-write loop gains little
 * from wider vectors, and one clone fewer halves the kernel's compile time.
 */
static TL_STRIDED void @name@_inner(int64_t n, char *x, int64_t xs, const char *y, int64_t ys)
{
    if (xs == (int64_t)sizeof(@x_type@) && ys == 0) {
        @x_type@ *restrict px = (@x_type@ *)x;
        const @y_type@ b = *(const @y_type@ *)y;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) { const @x_type@ a = px[i]; (void)a; px[i] = @update@; }
    } else if (xs == (int64_t)sizeof(@x_type@) && ys == (int64_t)sizeof(@y_type@)) {
        @x_type@ *restrict px = (@x_type@ *)x;
        const @y_type@ *restrict py = (const @y_type@ *)y;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            const @x_type@ a = px[i]; const @y_type@ b = py[i]; (void)a; px[i] = @update@;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            @x_type@ *px = (@x_type@ *)(x + i * xs);
            const @x_type@ a = *px; const @y_type@ b = *(const @y_type@ *)(y + i * ys);
            (void)a;
            *px = @update@;
        }
    }
}

static void @name@(int nd, const int64_t *shape, char *x, const int64_t *xst, const char *y,
                   const int64_t *yst)
{
    enum { CAP = 64 };  /* numpy's maximum number of dimensions */
    int64_t sh[CAP], st[2][CAP], idx[CAP];
    if (nd == 0) { @name@_inner(1, x, 0, y, 0); return; }
    for (int d = 0; d < nd; d++) { sh[d] = shape[d]; st[0][d] = xst[d]; st[1][d] = yst[d]; idx[d] = 0; }
    int m = tl_collapse(nd, 2, sh, &st[0][0], CAP);
    if (m == 0) return;
    char *p = x;
    const char *q = y;
    for (;;) {
        @name@_inner(sh[m - 1], p, st[0][m - 1], q, st[1][m - 1]);
        int k = m - 2;
        for (; k >= 0; k--) {
            p += st[0][k]; q += st[1][k];
            if (++idx[k] < sh[k]) break;
            p -= st[0][k] * sh[k]; q -= st[1][k] * sh[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
}
