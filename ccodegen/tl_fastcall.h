/* theanolite C runtime: the CPython boundary of a module's segments ("fast call").
 *
 * The same text for every module, compiled under Python.h in a unit of its own (or with
 * the module as one unit) and linked into each module (build.py); kernels never see it.
 * A segment's entry (segment.py's ABI) takes raw pointers; calling it through cffi costs
 * one ffi.from_buffer per array plus Python bookkeeping. This file lets Python call a
 * segment with the numpy arrays themselves: a builtin function (METH_FASTCALL) checks
 * each argument, fills meta from the arrays' own shape and strides, runs phase 0,
 * allocates the outputs with numpy.empty, runs phase 1 and returns the outputs. It calls
 * the entry through the segment's ``tl_seg<k>_argv`` trampoline, whose address program.py
 * passes to ``make``.
 *
 * Contract: it never raises for a bad argument or a failing segment. Anything it does
 * not handle exactly like the Python path (a non-ndarray, another dtype object, another
 * ndim, a misaligned or read-only array where C writes, a broadcastable dimension not
 * of length 1, an error code from the segment, an allocation failure) returns
 * NotImplemented, and the caller takes the Python path, which converts, validates and
 * raises exactly as before. So this layer adds speed and no semantics. The workspace is
 * allocated here (aligned_alloc) and freed on every path; outputs are numpy's.
 *
 * Compiled under cffi's limited C API (Py_LIMITED_API without a version): only stable-ABI
 * functions are used. METH_FASTCALL is part of the stable ABI since Python 3.10 but the
 * 3.2-level limited headers hide its name, hence the fallback definition below.
 *
 * numpy headers are not included (they cost ~40 ms per compile): the array fields read
 * here are the head of numpy's PyArrayObject_fields, whose layout is frozen by numpy's
 * C ABI (every compiled extension reads them through inline macros) and part of the
 * cache key (numpy ABI version); program.py also checks it once per process (probe).
 *
 * Changing this file changes every compiled module: bump CODEGEN_VERSION (keying.py) and
 * the pinned sha256 in tests/test_function_fastpath.py. Changing `make`'s arguments also
 * changes program.py's call of it.
 */
#ifndef TL_FASTCALL_H
#define TL_FASTCALL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef METH_FASTCALL
#define METH_FASTCALL 0x0080
#endif

#define TL_NPY_C_CONTIGUOUS 0x0001
#define TL_NPY_ALIGNED 0x0100
#define TL_NPY_WRITEABLE 0x0400
#define TL_FAST_MAX_ARRAYS 128   /* inputs + outputs; larger segments use the Python path */
#define TL_FAST_MAX_META 1024
#define TL_FAST_GIL_BYTES 65536  /* release the GIL around phase 1 from this many bytes */
#define TL_FAST_ERRLEN 512       /* TL_ERRLEN of tl_runtime.h */

typedef int (*tl_argv_entry)(int phase, char **in, char **out, int64_t *meta, char *ws, char *err);

/* One segment: its entry through the argv trampoline, and its sizes. */
typedef struct {
    tl_argv_entry entry;
    int n_in, n_out, meta_size;
} tl_fast_segment;

typedef struct {
    PyObject_HEAD
    char *data;
    int nd;
    intptr_t *dimensions;
    intptr_t *strides;
    PyObject *base;
    PyObject *descr;
    int flags;
} tl_ndarray;

/* A configured fast call (made by `make`, owned by a capsule). */
typedef struct {
    tl_fast_segment seg[1];
    PyObject *ndarray_type, *empty;
    PyObject **in_descr, **out_descr;
    int *in_ndim, *in_mask, *out_ndim, *out_alias;
    int64_t *in_itemsize, *out_itemsize;
    uint64_t *in_bcast;            /* per input: bit d set = dim d must have length 1 */
    PyObject **out_args;           /* per output: cached (shape, dtype) for numpy.empty */
    int unwrap;                    /* return the single output itself, not a list */
    int keep_ws, ws_busy;
    int64_t ws_cap;
    char *ws;
} tl_fast;

static PyObject *tl_fast_decline(void)
{
    Py_INCREF(Py_NotImplemented);
    return Py_NotImplemented;
}

static void tl_fast_free(PyObject *capsule)
{
    tl_fast *F = (tl_fast *)PyCapsule_GetPointer(capsule, "theanolite.fastcall");
    if (F == NULL) {
        PyErr_Clear();
        return;
    }
    for (int j = 0; F->in_descr != NULL && j < F->seg->n_in; j++)
        Py_XDECREF(F->in_descr[j]);
    for (int k = 0; k < F->seg->n_out; k++) {
        if (F->out_descr != NULL)
            Py_XDECREF(F->out_descr[k]);
        if (F->out_args != NULL)
            Py_XDECREF(F->out_args[k]);
    }
    Py_XDECREF(F->ndarray_type);
    Py_XDECREF(F->empty);
    free(F->in_descr);
    free(F->out_descr);
    free(F->out_args);
    free(F->in_ndim);
    free(F->in_mask);
    free(F->out_ndim);
    free(F->out_alias);
    free(F->in_itemsize);
    free(F->out_itemsize);
    free(F->in_bcast);
    free(F->ws);
    free(F);
}

/* numpy.empty(shape, dtype) for output k, reusing the argument tuple of the last call
 * when the shape is the same. */
static PyObject *tl_fast_empty(tl_fast *F, int k, const int64_t *shape)
{
    int nd = F->out_ndim[k];
    PyObject *args = F->out_args[k];
    if (args != NULL) {
        PyObject *old = PyTuple_GetItem(args, 0);
        int same = 1;
        for (int d = 0; d < nd && same; d++)
            same = PyLong_AsLongLong(PyTuple_GetItem(old, d)) == shape[d];
        if (!same) {
            F->out_args[k] = NULL;
            Py_DECREF(args);
            args = NULL;
        }
    }
    if (args == NULL) {
        PyObject *tup = PyTuple_New(nd);
        if (tup == NULL)
            return NULL;
        for (int d = 0; d < nd; d++) {
            PyObject *n = PyLong_FromLongLong(shape[d]);
            if (n == NULL) {
                Py_DECREF(tup);
                return NULL;
            }
            PyTuple_SetItem(tup, d, n);
        }
        args = PyTuple_Pack(2, tup, F->out_descr[k]);
        Py_DECREF(tup);
        if (args == NULL)
            return NULL;
        F->out_args[k] = args;
    }
    Py_INCREF(args);  /* a re-entrant call (e.g. from a finalizer) may replace it */
    PyObject *arr = PyObject_Call(F->empty, args, NULL);
    Py_DECREF(args);
    if (arr != NULL && (PyObject *)Py_TYPE(arr) != F->ndarray_type) {
        Py_DECREF(arr);
        return NULL;
    }
    return arr;
}

static int64_t tl_fast_nbytes(int nd, const intptr_t *dims, int64_t itemsize)
{
    int64_t n = itemsize;
    for (int d = 0; d < nd; d++)
        n *= dims[d];
    return n;
}

static void tl_fast_drop(PyObject **objs, int n)
{
    for (int i = 0; i < n; i++)
        Py_DECREF(objs[i]);
}

/* Check the arguments and write their data pointers into `ins` and their shapes and
 * strides into meta; 0 when every argument is exactly what the segment takes. */
static int tl_fast_gather(tl_fast *F, PyObject *const *args, char **ins, int64_t *meta,
                          int64_t *bytes)
{
    int64_t *geo = meta + 2;
    for (int j = 0; j < F->seg->n_in; j++) {
        PyObject *o = args[j];
        if ((PyObject *)Py_TYPE(o) != F->ndarray_type)
            return 1;
        tl_ndarray *a = (tl_ndarray *)o;
        int nd = F->in_ndim[j];
        if (a->descr != F->in_descr[j] || a->nd != nd || (a->flags & F->in_mask[j]) != F->in_mask[j])
            return 1;
        for (int d = 0; d < nd; d++) {
            if (((F->in_bcast[j] >> d) & 1) && a->dimensions[d] != 1)
                return 1;
            geo[d] = a->dimensions[d];
            geo[nd + d] = a->strides[d];
        }
        geo += 2 * nd;
        ins[j] = a->data;
        *bytes += tl_fast_nbytes(nd, a->dimensions, F->in_itemsize[j]);
    }
    return 0;
}

/* A 64-byte aligned workspace of `size` bytes: the kept one when keep_ws (and no other
 * thread is using it), else a fresh one that the caller frees (`*own`). NULL: no memory. */
static char *tl_fast_workspace(tl_fast *F, int64_t size, int *own, int *kept)
{
    int64_t need = (size + 63) & ~(int64_t)63;
    *own = *kept = 0;
    if (F->keep_ws && !F->ws_busy) {
        if (F->ws_cap < need) {
            free(F->ws);
            F->ws = (char *)aligned_alloc(64, (size_t)need);
            F->ws_cap = F->ws ? need : 0;
        }
        if (F->ws != NULL) {
            F->ws_busy = *kept = 1;
            return F->ws;
        }
    }
    *own = 1;
    return (char *)aligned_alloc(64, (size_t)need);
}

static PyObject *tl_fast_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    tl_fast *F = (tl_fast *)PyCapsule_GetPointer(self, "theanolite.fastcall");
    if (F == NULL)
        return NULL;
    tl_fast_segment *S = F->seg;
    int n_in = S->n_in, n_out = S->n_out;
    int64_t meta[TL_FAST_MAX_META], bytes = 0;
    char *ptrs[TL_FAST_MAX_ARRAYS], **ins = ptrs, **outs = ptrs + n_in;
    char err[TL_FAST_ERRLEN];
    if (nargs != n_in || tl_fast_gather(F, args, ins, meta, &bytes))
        return tl_fast_decline();
    for (int k = 0; k < n_out; k++)
        outs[k] = NULL;
    meta[0] = -1;
    meta[1] = 0;
    if (S->entry(0, ins, outs, meta, NULL, err) != 0)
        return tl_fast_decline();  /* the Python path raises it, the node named */
    PyObject *result[TL_FAST_MAX_ARRAYS];
    const int64_t *shape = meta + S->meta_size;
    for (int k = n_out - 1; k >= 0; k--)
        shape -= F->out_ndim[k];  /* output shapes close meta */
    for (int k = 0; k < n_out; k++) {
        int src = F->out_alias[k];
        if (src >= 0) {
            result[k] = args[src];
            Py_INCREF(result[k]);
        } else {
            result[k] = tl_fast_empty(F, k, shape);
            if (result[k] == NULL) {
                PyErr_Clear();
                tl_fast_drop(result, k);
                return tl_fast_decline();
            }
            outs[k] = ((tl_ndarray *)result[k])->data;
            bytes += tl_fast_nbytes(F->out_ndim[k], ((tl_ndarray *)result[k])->dimensions,
                                    F->out_itemsize[k]);
        }
        shape += F->out_ndim[k];
    }
    int own_ws = 0, kept_ws = 0;
    char *ws = NULL;
    if (meta[1] > 0) {
        ws = tl_fast_workspace(F, meta[1], &own_ws, &kept_ws);
        if (ws == NULL) {
            tl_fast_drop(result, n_out);
            return tl_fast_decline();
        }
        bytes += meta[1];
    }
    int rc;
    if (bytes >= TL_FAST_GIL_BYTES) {
        PyThreadState *ts = PyEval_SaveThread();
        rc = S->entry(1, ins, outs, meta, ws, err);
        PyEval_RestoreThread(ts);
    } else {
        rc = S->entry(1, ins, outs, meta, ws, err);
    }
    if (own_ws)
        free(ws);
    if (kept_ws)
        F->ws_busy = 0;
    if (rc != 0) {
        tl_fast_drop(result, n_out);
        return tl_fast_decline();
    }
    if (F->unwrap && n_out == 1)
        return result[0];
    PyObject *list = PyList_New(n_out);
    if (list == NULL) {
        tl_fast_drop(result, n_out);
        return NULL;
    }
    for (int k = 0; k < n_out; k++)
        PyList_SetItem(list, k, result[k]);
    return list;
}

static PyMethodDef tl_fast_call_def = {
    "segment_fast_call", (PyCFunction)(void (*)(void))tl_fast_call, METH_FASTCALL,
    "Run the segment on ndarrays; NotImplemented when the Python path must handle the call."};

/* Read a tuple of n ints from `seq` into `out` (a fresh malloc'd array). */
static int tl_fast_ints(PyObject *seq, int n, int64_t **out)
{
    if (!PyTuple_Check(seq) || PyTuple_Size(seq) != n) {
        PyErr_SetString(PyExc_ValueError, "fast call: a configuration tuple has the wrong length");
        return -1;
    }
    *out = (int64_t *)calloc(n ? n : 1, sizeof(int64_t));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        (*out)[i] = PyLong_AsLongLong(PyTuple_GetItem(seq, i));
        if (PyErr_Occurred())
            return -1;
    }
    return 0;
}

static int tl_fast_objs(PyObject *seq, int n, PyObject ***out)
{
    if (!PyTuple_Check(seq) || PyTuple_Size(seq) != n) {
        PyErr_SetString(PyExc_ValueError, "fast call: a configuration tuple has the wrong length");
        return -1;
    }
    *out = (PyObject **)calloc(n ? n : 1, sizeof(PyObject *));
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        (*out)[i] = PyTuple_GetItem(seq, i);
        Py_INCREF((*out)[i]);
    }
    return 0;
}

/* make(entry_address, n_in, n_out, meta_size, ndarray_type, empty, in_dtypes, in_ndims,
 *      in_itemsizes, in_masks, in_bcast, out_dtypes, out_ndims, out_itemsizes, out_alias,
 *      unwrap, keep_ws) -> fast call. entry_address is a tl_seg<k>_argv trampoline. */
static PyObject *tl_fast_make(PyObject *self, PyObject *args)
{
    unsigned long long address;
    int n_in, n_out, meta_size_given;
    PyObject *nd_type, *empty, *in_dt, *in_nd, *in_is, *in_mask, *in_bc, *out_dt, *out_nd,
        *out_is, *out_al;
    int unwrap, keep_ws;
    (void)self;
    if (!PyArg_ParseTuple(args, "KiiiOOOOOOOOOOOii", &address, &n_in, &n_out, &meta_size_given,
                          &nd_type, &empty, &in_dt, &in_nd, &in_is, &in_mask, &in_bc, &out_dt,
                          &out_nd, &out_is, &out_al, &unwrap, &keep_ws))
        return NULL;
    if (address == 0 || n_in < 0 || n_out < 0 || n_in + n_out > TL_FAST_MAX_ARRAYS
        || meta_size_given > TL_FAST_MAX_META) {
        PyErr_SetString(PyExc_ValueError, "fast call: segment too large or no entry");
        return NULL;
    }
    /* Built in a capsule first, so one destructor frees every path. */
    tl_fast *F = (tl_fast *)calloc(1, sizeof(tl_fast));
    if (F == NULL)
        return PyErr_NoMemory();
    tl_fast_segment *S = F->seg;
    S->entry = (tl_argv_entry)(uintptr_t)address;
    S->n_in = n_in;
    S->n_out = n_out;
    S->meta_size = meta_size_given;
    F->in_descr = (PyObject **)calloc(n_in ? n_in : 1, sizeof(PyObject *));
    F->out_descr = (PyObject **)calloc(n_out ? n_out : 1, sizeof(PyObject *));
    F->out_args = (PyObject **)calloc(n_out ? n_out : 1, sizeof(PyObject *));
    PyObject *capsule = PyCapsule_New(F, "theanolite.fastcall", tl_fast_free);
    if (capsule == NULL) {
        free(F->in_descr);
        free(F->out_descr);
        free(F->out_args);
        free(F);
        return NULL;
    }
    /* tl_fast_free frees the arrays below; a half-filled F is freed safely because
     * calloc zeroed it. The int arrays are kept as int64_t and narrowed here. */
    int64_t *tmp[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    PyObject **in_descr = NULL, **out_descr = NULL;
    int ok = F->in_descr && F->out_descr && F->out_args
        && tl_fast_objs(in_dt, n_in, &in_descr) == 0
        && tl_fast_objs(out_dt, n_out, &out_descr) == 0
        && tl_fast_ints(in_nd, n_in, &tmp[0]) == 0
        && tl_fast_ints(in_mask, n_in, &tmp[1]) == 0
        && tl_fast_ints(in_bc, n_in, (int64_t **)&F->in_bcast) == 0
        && tl_fast_ints(out_nd, n_out, &tmp[2]) == 0
        && tl_fast_ints(out_al, n_out, &tmp[3]) == 0
        && tl_fast_ints(in_is, n_in, &F->in_itemsize) == 0
        && tl_fast_ints(out_is, n_out, &F->out_itemsize) == 0;
    if (in_descr) {
        memcpy(F->in_descr, in_descr, (n_in ? n_in : 1) * sizeof(PyObject *));
        free(in_descr);
    }
    if (out_descr) {
        memcpy(F->out_descr, out_descr, (n_out ? n_out : 1) * sizeof(PyObject *));
        free(out_descr);
    }
    if (ok) {
        F->in_ndim = (int *)calloc(n_in ? n_in : 1, sizeof(int));
        F->in_mask = (int *)calloc(n_in ? n_in : 1, sizeof(int));
        F->out_ndim = (int *)calloc(n_out ? n_out : 1, sizeof(int));
        F->out_alias = (int *)calloc(n_out ? n_out : 1, sizeof(int));
        ok = F->in_ndim && F->in_mask && F->out_ndim && F->out_alias;
        if (!ok)
            PyErr_NoMemory();
    }
    int64_t meta_size = 2;
    for (int j = 0; ok && j < n_in; j++) {
        F->in_ndim[j] = (int)tmp[0][j];
        F->in_mask[j] = (int)tmp[1][j];
        meta_size += 2 * tmp[0][j];
        ok = tmp[0][j] >= 0 && tmp[0][j] < 64;
    }
    for (int k = 0; ok && k < n_out; k++) {
        F->out_ndim[k] = (int)tmp[2][k];
        F->out_alias[k] = (int)tmp[3][k];
        meta_size += tmp[2][k];
        ok = tmp[2][k] >= 0 && tmp[3][k] < n_in;
    }
    for (int i = 0; i < 6; i++)
        free(tmp[i]);
    if (ok && meta_size != S->meta_size) {
        PyErr_SetString(PyExc_ValueError, "fast call: ndims do not match the segment's meta layout");
        ok = 0;
    }
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "fast call: bad configuration");
        Py_DECREF(capsule);
        return NULL;
    }
    Py_INCREF(nd_type);
    Py_INCREF(empty);
    F->ndarray_type = nd_type;
    F->empty = empty;
    F->unwrap = unwrap;
    F->keep_ws = keep_ws;
    PyObject *fn = PyCFunction_NewEx(&tl_fast_call_def, capsule, NULL);
    Py_DECREF(capsule);
    return fn;
}

/* probe(array, deep) -> (data address, nd, id(descr), flags) or (shape, strides): what
 * this file reads from an ndarray, for program.py to compare with numpy's own view. */
static PyObject *tl_fast_probe(PyObject *self, PyObject *args)
{
    PyObject *o;
    int deep;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi", &o, &deep))
        return NULL;
    tl_ndarray *a = (tl_ndarray *)o;
    if (!deep)
        return Py_BuildValue("(KiKi)", (unsigned long long)(uintptr_t)a->data, a->nd,
                             (unsigned long long)(uintptr_t)a->descr, a->flags);
    PyObject *shape = PyTuple_New(a->nd), *strides = PyTuple_New(a->nd);
    if (shape == NULL || strides == NULL) {
        Py_XDECREF(shape);
        Py_XDECREF(strides);
        return NULL;
    }
    for (int d = 0; d < a->nd; d++) {
        PyTuple_SetItem(shape, d, PyLong_FromLongLong(a->dimensions[d]));
        PyTuple_SetItem(strides, d, PyLong_FromLongLong(a->strides[d]));
    }
    return Py_BuildValue("(NN)", shape, strides);
}

static PyMethodDef tl_fast_make_def = {
    "segment_fast_make", tl_fast_make, METH_VARARGS, "Configure a fast call of this segment."};
static PyMethodDef tl_fast_probe_def = {
    "segment_fast_probe", tl_fast_probe, METH_VARARGS, "Read an ndarray's fields as C sees them."};

/* The module's (make, probe) pair: a borrowed reference, created on first use and kept
 * for the life of the process (modules are never unloaded). Called through cffi, which
 * releases the GIL, hence PyGILState_Ensure. NULL on failure (the Python path is used). */
static PyObject *tl_fast_kit_obj = NULL;

void *tl_fast_kit(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    if (tl_fast_kit_obj == NULL) {
        PyObject *make = PyCFunction_NewEx(&tl_fast_make_def, NULL, NULL);
        PyObject *probe = PyCFunction_NewEx(&tl_fast_probe_def, NULL, NULL);
        if (make != NULL && probe != NULL)
            tl_fast_kit_obj = PyTuple_Pack(2, make, probe);
        Py_XDECREF(make);
        Py_XDECREF(probe);
        if (tl_fast_kit_obj == NULL)
            PyErr_Clear();
    }
    void *kit = tl_fast_kit_obj;
    PyGILState_Release(gil);
    return kit;
}

#endif /* TL_FASTCALL_H */
