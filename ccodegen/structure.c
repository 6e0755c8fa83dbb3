/* Helpers shared by the structure ops (once per module: include guard). */
#ifndef TL_SC_COMMON
#define TL_SC_COMMON
#include <stdarg.h>
#define TL_SC_MAXND 64  /* numpy's NPY_MAXDIMS */

/* Append printf-style text to the NUL-terminated message in err. */
static void tl_sc_append(char *err, const char *fmt, ...)
{
    size_t n = strlen(err);
    if (n >= TL_ERRLEN - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, TL_ERRLEN - n, fmt, ap);
    va_end(ap);
}

/* True when an array of this shape and byte strides is C-contiguous (numpy's rule:
 * strides of length-1 axes do not matter, nor any stride of an empty array). */
static int tl_sc_is_contiguous(int nd, const int64_t *shape, const int64_t *strides, int64_t itemsize)
{
    int64_t want = itemsize;
    for (int d = 0; d < nd; d++)
        if (shape[d] == 0) return 1;
    for (int d = nd - 1; d >= 0; d--) {
        if (shape[d] == 1) continue;
        if (strides[d] != want) return 0;
        want *= shape[d];
    }
    return 1;
}
#endif
