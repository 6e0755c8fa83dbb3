/* Indexing helpers (ccodegen/subtensor_c.py), pasted once per module.
 *
 * Python's slice arithmetic, a strided n-d copy and the value-shape check of the
 * set/inc ops. Byte strides of any sign; nothing allocates, nothing aborts.
 */

/* Python's slice(start, stop, step).indices(n) and len(range(...)) for an axis of
 * length n: *first is the first index taken, *len the number taken. A missing bound
 * is has_start/has_stop == 0. step != 0 (the caller checks). No signed overflow for
 * any int64 bounds or step. */
static void tl_sub_slice(int64_t n, int has_start, int64_t start, int has_stop, int64_t stop,
                         int64_t step, int64_t *first, int64_t *len)
{
    int64_t b, e;
    if (step > 0) {
        b = !has_start ? 0 : start < 0 ? (start + n < 0 ? 0 : start + n) : (start > n ? n : start);
        e = !has_stop ? n : stop < 0 ? (stop + n < 0 ? 0 : stop + n) : (stop > n ? n : stop);
        *len = e > b ? (int64_t)(((uint64_t)(e - b) - 1) / (uint64_t)step + 1) : 0;
    } else {
        b = !has_start ? n - 1
            : start < 0 ? (start + n < 0 ? -1 : start + n) : (start >= n ? n - 1 : start);
        e = !has_stop ? -1
            : stop < 0 ? (stop + n < 0 ? -1 : stop + n) : (stop >= n ? n - 1 : stop);
        *len = b > e ? (int64_t)(((uint64_t)(b - e) - 1) / ((uint64_t)0 - (uint64_t)step) + 1) : 0;
    }
    *first = b;
}

/* The stride of a slice with `len` elements taken every `step` along an axis of byte
 * stride st (wrapping multiply: a huge step only ever takes one element). */
static int64_t tl_sub_stride(int64_t st, int64_t step, int64_t len)
{
    return len > 1 ? (int64_t)((uint64_t)st * (uint64_t)step) : st;
}

#define TL_SUB_COPY_LOOP(T)                                                          \
    for (int64_t i = 0; i < n; i++) *(T *)(d + i * ds) = *(const T *)(s + i * ss);

static void tl_sub_copy_inner(int64_t n, const char *s, int64_t ss, char *d, int64_t ds,
                              int64_t isz)
{
    if (ss == isz && ds == isz) { memcpy(d, s, (size_t)(n * isz)); return; }
    switch (isz) {
    case 1: TL_SUB_COPY_LOOP(uint8_t) break;
    case 2: TL_SUB_COPY_LOOP(uint16_t) break;
    case 4: TL_SUB_COPY_LOOP(uint32_t) break;
    case 8: TL_SUB_COPY_LOOP(uint64_t) break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * ds, s + i * ss, (size_t)isz);
    }
}

/* Copy the nd-d array src (byte strides sst) into dst (byte strides dst_st), elements
 * of isz bytes. The two must not overlap. nd == 0 copies one element. */
static void tl_sub_copy(int nd, const int64_t *shape, const char *src, const int64_t *sst,
                        char *dst, const int64_t *dst_st, int64_t isz)
{
    enum { CAP = 64 };  /* numpy's maximum number of dimensions */
    int64_t sh[CAP], st[2][CAP], idx[CAP];
    if (nd == 0) { memcpy(dst, src, (size_t)isz); return; }
    for (int d = 0; d < nd; d++) { sh[d] = shape[d]; st[0][d] = sst[d]; st[1][d] = dst_st[d]; idx[d] = 0; }
    int m = tl_collapse(nd, 2, sh, &st[0][0], CAP);
    if (m == 0) return;
    const char *s = src;
    char *d = dst;
    for (;;) {
        tl_sub_copy_inner(sh[m - 1], s, st[0][m - 1], d, st[1][m - 1], isz);
        int k = m - 2;
        for (; k >= 0; k--) {
            s += st[0][k]; d += st[1][k];
            if (++idx[k] < sh[k]) break;
            s -= st[0][k] * sh[k]; d -= st[1][k] * sh[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
}

/* perform's check_value_shape: the value (ynd dims, shape ysh, broadcastable flags ybc)
 * must fit the region (rnd >= ynd dims, shape rsh) aligned on the right: equal lengths,
 * or 1 where the value's type is broadcastable. Returns TL_OK or TL_VALUE_ERROR with
 * perform's message; `verb` is "set" or "increment". */
static int tl_sub_check_value(int rnd, const int64_t *rsh, int ynd, const int64_t *ysh,
                              const unsigned char *ybc, char *err, const char *op, const char *verb)
{
    int off = rnd - ynd;
    for (int d = 0; d < ynd; d++) {
        int64_t n = ysh[d], want = rsh[off + d];
        if (n == want || (n == 1 && ybc[d])) continue;
        snprintf(err, TL_ERRLEN, "%s: cannot %s a region of shape ", op, verb);
        tl_append_shape(err, rnd, rsh);
        size_t k = strlen(err);
        snprintf(err + k, TL_ERRLEN - k, " with a value of shape ");
        tl_append_shape(err, ynd, ysh);
        if (n == 1) {
            k = strlen(err);
            snprintf(err + k, TL_ERRLEN - k, "; dimension %d of the value has length 1 but its "
                     "type is not broadcastable (use T.addbroadcast)", d);
        }
        return TL_VALUE_ERROR;
    }
    return TL_OK;
}

/* "<op>: index <i> is out of bounds for axis <axis> with size <n> (input shape <shape>)",
 * numpy's words; the index is i when is_signed, else u. Returns TL_INDEX_ERROR. */
static int tl_sub_index_error(char *err, const char *op, int is_signed, int64_t i, uint64_t u,
                              int axis, int64_t n, int nd, const int64_t *shape)
{
    if (is_signed)
        snprintf(err, TL_ERRLEN, "%s: index %lld is out of bounds for axis %d with size %lld (input shape ",
                 op, (long long)i, axis, (long long)n);
    else
        snprintf(err, TL_ERRLEN, "%s: index %llu is out of bounds for axis %d with size %lld (input shape ",
                 op, (unsigned long long)u, axis, (long long)n);
    tl_append_shape(err, nd, shape);
    size_t k = strlen(err);
    if (k < TL_ERRLEN - 1) snprintf(err + k, TL_ERRLEN - k, ")");
    return TL_INDEX_ERROR;
}
