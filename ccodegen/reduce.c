/* Reduction kernel @name@: @comment@
 *
 * Accumulates every element of the @nd@-d input x (byte strides xs) into acc, an
 * array of @acc_type@ whose byte strides `as` are 0 on reduced axes, so one pass in
 * memory order serves any set of axes. acc must hold the identity on entry. When the
 * innermost merged axis is reduced, a scalar accumulator runs over it; otherwise the
 * inner loop accumulates elementwise. Sums reassociate (like numpy's pairwise sum,
 * unlike a left fold); max/min propagate NaN.
 */
static TL_KERNEL void @name@_inner(int64_t n, const char *x, int64_t xs, char *acc, int64_t as)
{
    if (as == 0) {
        @acc_type@ s = *(@acc_type@ *)acc;
        if (xs == (int64_t)sizeof(@in_type@)) {
            const @in_type@ *restrict p = (const @in_type@ *)x;
@simd_pragma@
            for (int64_t i = 0; i < n; i++) { @acc_type@ v = (@acc_type@)p[i]; s = @combine@; }
        } else {
            for (int64_t i = 0; i < n; i++) {
                @acc_type@ v = (@acc_type@)*(const @in_type@ *)(x + i * xs);
                s = @combine@;
            }
        }
        *(@acc_type@ *)acc = s;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        @acc_type@ *a = (@acc_type@ *)(acc + i * as);
        @acc_type@ s = *a, v = (@acc_type@)*(const @in_type@ *)(x + i * xs);
        *a = @combine@;
    }
}

static void @name@(const int64_t *shape, const char *x, const int64_t *xstrides, char *acc,
                   const int64_t *astrides)
{
    enum { ND = @nd@ };
    int64_t sh[ND], st[2][ND], idx[ND];
    const char *p = x;
    char *q = acc;
    for (int d = 0; d < ND; d++) {
        sh[d] = shape[d]; st[0][d] = xstrides[d]; st[1][d] = astrides[d]; idx[d] = 0;
    }
    int nd = tl_collapse(ND, 2, sh, &st[0][0], ND);
    if (nd == 0) return;
    for (;;) {
        @name@_inner(sh[nd - 1], p, st[0][nd - 1], q, st[1][nd - 1]);
        int d = nd - 2;
        for (; d >= 0; d--) {
            p += st[0][d]; q += st[1][d];
            if (++idx[d] < sh[d]) break;
            p -= st[0][d] * sh[d]; q -= st[1][d] * sh[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}
