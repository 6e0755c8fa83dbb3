/* ---- section: softmax ---- */
/* Softmax kernel @name@: @comment@
 *
 * @name@(shape, axis, x, xstrides, o, ostrides, scratch) writes softmax (log = @log@:
 * log-softmax) of the @nd@-d array x along `axis` into o (byte strides, any sign), with
 * perform's formulas: m = max (NaN propagates), e = exp(x - m), o = e / sum(e); or
 * o = (x - m) - log(sum(exp(x - m))). Axes are collapsed for the three operands x, o and
 * the "lane" arrays (one max and one sum per slice: strides 0 along `axis`, contiguous
 * elsewhere). When the softmax axis ends up innermost, each slice is one _row call and
 * keeps its max and sum in registers; otherwise three passes in memory order accumulate
 * into the lane arrays, which live in the node's scratch (2 * tl_align(lanes * size)).
 */
static TL_KERNEL void @name@_row(int64_t n, const char *x, int64_t xs, char *o, int64_t os)
{
    typedef @ct@ T;
    T m = (T)-INFINITY, s = 0;
    if (xs == (int64_t)sizeof(T) && os == (int64_t)sizeof(T)) {
        const T *restrict a = (const T *)x;
        T *restrict b = (T *)o;
        for (int64_t i = 0; i < n; i++) m = (a[i] > m || a[i] != a[i]) ? a[i] : m;
#pragma omp simd reduction(+:s)
        for (int64_t i = 0; i < n; i++) {
            T e = exp@f@(a[i] - m);
            if (!@log@) b[i] = e;
            s += e;
        }
        if (@log@) {
            const T l = log@f@(s);
#pragma omp simd
            for (int64_t i = 0; i < n; i++) b[i] = (a[i] - m) - l;
        } else {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) b[i] = b[i] / s;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const T v = *(const T *)(x + i * xs);
        m = (v > m || v != v) ? v : m;
    }
    for (int64_t i = 0; i < n; i++) {
        T e = exp@f@(*(const T *)(x + i * xs) - m);
        if (!@log@) *(T *)(o + i * os) = e;
        s += e;
    }
    const T l = @log@ ? log@f@(s) : (T)0;
    for (int64_t i = 0; i < n; i++) {
        T *b = (T *)(o + i * os);
        if (@log@) *b = (*(const T *)(x + i * xs) - m) - l;
        else *b = *b / s;
    }
}

/* One pass over n elements whose lanes differ (ls: the lane arrays' stride). Pass 0:
 * running max; pass 1: e = exp(x - m) into o (softmax) and the running sum; pass 2: the
 * result (for log-softmax the sums already hold their logarithm). */
static TL_KERNEL void @name@_lanes(int pass, int64_t n, const char *x, int64_t xs, char *o, int64_t os,
                                  char *mp, char *sp, int64_t ls)
{
    typedef @ct@ T;
    const int64_t z = (int64_t)sizeof(T);
    if (xs == z && os == z && ls == z) {
        const T *restrict a = (const T *)x;
        T *restrict b = (T *)o, *restrict m = (T *)mp, *restrict s = (T *)sp;
        if (pass == 0) {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) m[i] = (a[i] > m[i] || a[i] != a[i]) ? a[i] : m[i];
        } else if (pass == 1) {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) {
                T e = exp@f@(a[i] - m[i]);
                if (!@log@) b[i] = e;
                s[i] += e;
            }
        } else if (@log@) {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) b[i] = (a[i] - m[i]) - s[i];
        } else {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) b[i] = b[i] / s[i];
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const T v = *(const T *)(x + i * xs);
        T *b = (T *)(o + i * os), *m = (T *)(mp + i * ls), *s = (T *)(sp + i * ls);
        if (pass == 0) *m = (v > *m || v != v) ? v : *m;
        else if (pass == 1) {
            T e = exp@f@(v - *m);
            if (!@log@) *b = e;
            *s += e;
        } else if (@log@) *b = (v - *m) - *s;
        else *b = *b / *s;
    }
}

/* Walk the outer nd - 1 axes; pass < 0: one _row per slice, else one _lanes pass. */
static void @name@_walk(int pass, int nd, const int64_t *sh, int64_t (*st)[@nd@], const char *x,
                        char *o, char *m, char *s)
{
    int64_t idx[@nd@] = {0};
    const int in = nd - 1;
    for (;;) {
        if (pass < 0) @name@_row(sh[in], x, st[0][in], o, st[1][in]);
        else @name@_lanes(pass, sh[in], x, st[0][in], o, st[1][in], m, s, st[2][in]);
        int d = nd - 2;
        for (; d >= 0; d--) {
            x += st[0][d]; o += st[1][d]; m += st[2][d]; s += st[2][d];
            if (++idx[d] < sh[d]) break;
            x -= st[0][d] * sh[d]; o -= st[1][d] * sh[d]; m -= st[2][d] * sh[d]; s -= st[2][d] * sh[d];
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

static void @name@(const int64_t *shape, int axis, const char *x, const int64_t *xstrides, char *o,
                   const int64_t *ostrides, char *scratch)
{
    enum { ND = @nd@ };
    typedef @ct@ T;
    int64_t sh[ND], st[3][ND], lanes = 1;
    for (int d = ND - 1; d >= 0; d--) {
        sh[d] = shape[d]; st[0][d] = xstrides[d]; st[1][d] = ostrides[d];
        st[2][d] = d == axis ? 0 : lanes * (int64_t)sizeof(T);
        if (d != axis) lanes *= shape[d];
    }
    int nd = tl_collapse(ND, 3, sh, &st[0][0], ND);
    if (nd == 0) return;
    if (st[2][nd - 1] == 0) {  /* slices are contiguous-ish rows: registers, no lanes */
        @name@_walk(-1, nd, sh, st, x, o, NULL, NULL);
        return;
    }
    T *m = (T *)scratch, *s = (T *)(scratch + tl_align(lanes * (int64_t)sizeof(T)));
    for (int64_t i = 0; i < lanes; i++) { m[i] = (T)-INFINITY; s[i] = 0; }
    @name@_walk(0, nd, sh, st, x, o, (char *)m, (char *)s);
    @name@_walk(1, nd, sh, st, x, o, (char *)m, (char *)s);
    if (@log@)
        for (int64_t i = 0; i < lanes; i++) s[i] = log@f@(s[i]);
    @name@_walk(2, nd, sh, st, x, o, (char *)m, (char *)s);
}
/* ---- section: labels ---- */
/* Label check @name@: the position of the first label of the n labels y (byte stride
 * ys, @label_type@) outside [0, cols), or -1. */
static int64_t @name@(int64_t n, const char *y, int64_t ys, int64_t cols)
{
    for (int64_t i = 0; i < n; i++) {
        const @label_type@ v = *(const @label_type@ *)(y + i * ys);
        if (@label_bad@) return i;
    }
    return -1;
}
/* ---- section: xent ---- */
/* Softmax + crossentropy kernel @name@: @comment@
 *
 * For each row i of the rows x cols matrix x: m = max (NaN propagates), l =
 * log(sum(exp(x - m))), sm = exp((x - m) - l) and nll[i] = -((x[y[i]] - m) - l): exactly
 * perform's log-sum-exp, so nll stays finite where sm underflows. Labels were checked.
 */
static TL_KERNEL void @name@_row(int64_t n, const char *x, int64_t xs, char *o, int64_t os,
                                int64_t y, char *nll)
{
    typedef @ct@ T;
    T m = (T)-INFINITY, s = 0, l;
    if (xs == (int64_t)sizeof(T) && os == (int64_t)sizeof(T)) {
        const T *restrict a = (const T *)x;
        T *restrict b = (T *)o;
        for (int64_t i = 0; i < n; i++) m = (a[i] > m || a[i] != a[i]) ? a[i] : m;
#pragma omp simd reduction(+:s)
        for (int64_t i = 0; i < n; i++) s += exp@f@(a[i] - m);
        l = log@f@(s);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = exp@f@((a[i] - m) - l);
    } else {
        for (int64_t i = 0; i < n; i++) {
            const T v = *(const T *)(x + i * xs);
            m = (v > m || v != v) ? v : m;
        }
        for (int64_t i = 0; i < n; i++) s += exp@f@(*(const T *)(x + i * xs) - m);
        l = log@f@(s);
        for (int64_t i = 0; i < n; i++) *(T *)(o + i * os) = exp@f@((*(const T *)(x + i * xs) - m) - l);
    }
    *(T *)nll = -((*(const T *)(x + y * xs) - m) - l);
}

static void @name@(int64_t rows, int64_t cols, const char *x, int64_t xs0, int64_t xs1,
                   const char *y, int64_t ys, char *nll, int64_t ns, char *o, int64_t os0, int64_t os1)
{
    for (int64_t i = 0; i < rows; i++) {
        const int64_t yi = (int64_t)*(const @label_type@ *)(y + i * ys);
        @name@_row(cols, x + i * xs0, xs1, o + i * os0, os1, yi, nll + i * ns);
    }
}
/* ---- section: xent_dx ---- */
/* Softmax + crossentropy gradient kernel @name@: @comment@
 *
 * out[i, j] = ((T)sm[i, j] - (j == y[i])) * (T)dnll[i], in the output type T, the
 * operations of perform (cast, subtract the one-hot, scale). Labels were checked; ds
 * is 0 when dnll broadcasts.
 */
static TL_KERNEL void @name@_row(int64_t n, const char *sm, int64_t ss, char *o, int64_t os,
                                @ct@ d, int64_t y)
{
    typedef @ct@ T;
    typedef @sm_type@ S;
    if (ss == (int64_t)sizeof(S) && os == (int64_t)sizeof(T)) {
        const S *restrict a = (const S *)sm;
        T *restrict b = (T *)o;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) b[i] = (T)a[i] * d;
    } else {
        for (int64_t i = 0; i < n; i++) *(T *)(o + i * os) = (T)*(const S *)(sm + i * ss) * d;
    }
    *(T *)(o + y * os) = ((T)*(const S *)(sm + y * ss) - (T)1) * d;
}

static void @name@(int64_t rows, int64_t cols, const char *dnll, int64_t ds, const char *sm,
                   int64_t ss0, int64_t ss1, const char *y, int64_t ys, char *o, int64_t os0, int64_t os1)
{
    for (int64_t i = 0; i < rows; i++) {
        const @ct@ d = (@ct@)*(const @dnll_type@ *)(dnll + i * ds);
        const int64_t yi = (int64_t)*(const @label_type@ *)(y + i * ys);
        @name@_row(cols, sm + i * ss0, ss1, o + i * os0, os1, d, yi);
    }
}
