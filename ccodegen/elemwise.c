/* Elementwise kernel @name@: @comment@
 *
 * @name@(shape, ptrs, strides) applies the scalar body to every element of a
 * @nd@-d loop over @nops@ operands (inputs, then outputs; byte strides, any sign;
 * broadcast axes get stride 0). Axes that are contiguous for every operand are merged;
 * when the innermost merged axis is unit-stride for every operand (stride 0 for inputs
 * broadcast along it) the _contig inner loop runs: restrict pointers, `omp simd`, SIMD
 * libm. Otherwise the _strided inner loop runs (baseline ISA only: it is the rare path,
 * and one clone fewer halves its compile time). Returns the OR of TL_BAD_* error bits.
 */
static TL_KERNEL void @name@_contig(int64_t n@contig_params@, int *tl_badp)
{
    int tl_bad = 0;
@hoist@
#pragma omp simd@reduction@
    for (int64_t i = 0; i < n; i++) {
@contig_loads@
@body@
@contig_stores@
    }
    *tl_badp |= tl_bad;
}

static TL_STRIDED void @name@_strided(int64_t n@strided_params@, int *tl_badp)
{
    int tl_bad = 0;
    for (int64_t i = 0; i < n; i++) {
@strided_loads@
@body@
@strided_stores@
    }
    *tl_badp |= tl_bad;
}

static int @name@(const int64_t *shape, char *const *ptrs, const int64_t *const *strides)
{
    enum { ND = @nd@, NOPS = @nops@ };
    static const int64_t itemsize[NOPS] = {@itemsizes@};
    static const unsigned char bcast[NOPS][ND] = {@bcast@};
    static const unsigned char inner_bcast[NOPS] = {@inner_bcast@};
    int64_t sh[ND], st[NOPS][ND], idx[ND];
    char *p[NOPS];
    int tl_bad = 0;
    for (int d = 0; d < ND; d++) { sh[d] = shape[d]; idx[d] = 0; }
    for (int k = 0; k < NOPS; k++) {
        p[k] = ptrs[k];
        for (int d = 0; d < ND; d++) st[k][d] = bcast[k][d] ? 0 : strides[k][d];
    }
    int nd = tl_collapse(ND, NOPS, sh, &st[0][0], ND);
    if (nd == 0) return 0;
    int64_t n = sh[nd - 1];
    int contig = 1;
    for (int k = 0; k < NOPS; k++)
        contig &= st[k][nd - 1] == (inner_bcast[k] ? 0 : itemsize[k]);
    for (;;) {
        if (contig) @name@_contig(n, @contig_args@, &tl_bad);
        else @name@_strided(n, @strided_args@, &tl_bad);
        int d = nd - 2;
        for (; d >= 0; d--) {
            for (int k = 0; k < NOPS; k++) p[k] += st[k][d];
            if (++idx[d] < sh[d]) break;
            for (int k = 0; k < NOPS; k++) p[k] -= st[k][d] * sh[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
    return tl_bad;
}
