/* Arg-reduction kernel @name@: @comment@
 *
 * One pass over the @nd@-d input x (byte strides xs) in C index order. For each element,
 * best (byte strides bs) and out (int64, byte strides os) point at its output cell (their
 * strides are 0 on reduced axes) and k (element strides ks, 0 on kept axes) is its flat
 * index over the reduced axes. In C index order every cell meets its elements with
 * increasing k, so a strict comparison keeps the first occurrence, and a NaN replaces a
 * non-NaN best once: numpy's arg{max,min} (the first NaN wins). On entry best holds the
 * identity (the other end of the dtype's range) and out 0.
 */
static TL_KERNEL void @name@_inner(int64_t n, const char *x, int64_t xs, char *best, int64_t bs,
                                   char *out, int64_t os, int64_t k, int64_t ks)
{
    if (bs == 0) {  /* the innermost axis is reduced: one cell, kept in registers */
        @type@ b = *(@type@ *)best;
        int64_t at = *(int64_t *)out;
        for (int64_t i = 0; i < n; i++) {
            const @type@ v = *(const @type@ *)(x + i * xs);
            if (@better@) { b = v; at = k + i * ks; }
        }
        *(@type@ *)best = b;
        *(int64_t *)out = at;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const @type@ v = *(const @type@ *)(x + i * xs);
        @type@ *bp = (@type@ *)(best + i * bs);
        const @type@ b = *bp;
        if (@better@) { *bp = v; *(int64_t *)(out + i * os) = k + i * ks; }
    }
}

static void @name@(const int64_t *shape, const char *x, const int64_t *xstrides, char *best,
                   const int64_t *bstrides, char *out, const int64_t *ostrides, const int64_t *kstrides)
{
    enum { ND = @nd@ };
    int64_t sh[ND], st[4][ND], idx[ND];
    const char *p = x;
    char *b = best, *o = out;
    int64_t k = 0;
    for (int d = 0; d < ND; d++) {
        sh[d] = shape[d]; idx[d] = 0;
        st[0][d] = xstrides[d]; st[1][d] = bstrides[d]; st[2][d] = ostrides[d]; st[3][d] = kstrides[d];
    }
    int nd = tl_collapse(ND, 4, sh, &st[0][0], ND);
    if (nd == 0) return;
    for (;;) {
        @name@_inner(sh[nd - 1], p, st[0][nd - 1], b, st[1][nd - 1], o, st[2][nd - 1], k, st[3][nd - 1]);
        int d = nd - 2;
        for (; d >= 0; d--) {
            p += st[0][d]; b += st[1][d]; o += st[2][d]; k += st[3][d];
            if (++idx[d] < sh[d]) break;
            p -= st[0][d] * sh[d]; b -= st[1][d] * sh[d]; o -= st[2][d] * sh[d]; k -= st[3][d] * sh[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}
