/* Strided copy @src_type@ -> @dst_type@ (numpy's astype), shared by the structure ops
 * (Reshape copies, Join, Alloc): one copy per dtype pair per module (include guard).
 *
 * tl_sc_copy_@pair@ copies the nd-d array x (byte strides xst) into y (byte strides yst),
 * both of shape `shape`; a stride of 0 in x broadcasts. x and y never overlap. Axes are
 * collapsed first (tl_collapse), so contiguous data takes one flat loop (a memcpy when
 * the types agree).
 */
#ifndef TL_SC_COPY_@pair@
#define TL_SC_COPY_@pair@
static TL_KERNEL void tl_sc_copy_@pair@_inner(int64_t n, const char *x, int64_t xs, char *y, int64_t ys)
{
    if (xs == (int64_t)sizeof(@src_type@) && ys == (int64_t)sizeof(@dst_type@)) {
        if (@same@) {
            memcpy(y, x, (size_t)n * sizeof(@dst_type@));
            return;
        }
        const @src_type@ *restrict p = (const @src_type@ *)x;
        @dst_type@ *restrict q = (@dst_type@ *)y;
        for (int64_t i = 0; i < n; i++) { const @src_type@ v = p[i]; q[i] = @convert@; }
    } else if (xs == 0) {
        const @src_type@ v = *(const @src_type@ *)x;
        const @dst_type@ w = @convert@;
        for (int64_t i = 0; i < n; i++) *(@dst_type@ *)(y + i * ys) = w;
    } else {
        for (int64_t i = 0; i < n; i++) {
            const @src_type@ v = *(const @src_type@ *)(x + i * xs);
            *(@dst_type@ *)(y + i * ys) = @convert@;
        }
    }
}

static void tl_sc_copy_@pair@(int nd, const int64_t *shape, const char *x, const int64_t *xst,
                              char *y, const int64_t *yst)
{
    int64_t sh[TL_SC_MAXND], st[2][TL_SC_MAXND], idx[TL_SC_MAXND];
    const char *p = x;
    char *q = y;
    for (int d = 0; d < nd; d++) {
        sh[d] = shape[d]; st[0][d] = xst[d]; st[1][d] = yst[d]; idx[d] = 0;
    }
    int n = tl_collapse(nd, 2, sh, &st[0][0], TL_SC_MAXND);
    if (n == 0) return;
    for (;;) {
        tl_sc_copy_@pair@_inner(sh[n - 1], p, st[0][n - 1], q, st[1][n - 1]);
        int d = n - 2;
        for (; d >= 0; d--) {
            p += st[0][d]; q += st[1][d];
            if (++idx[d] < sh[d]) break;
            p -= st[0][d] * sh[d]; q -= st[1][d] * sh[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}
#endif
