/* theanolite C runtime: the few CPython stable-ABI names the fast call uses, declared by
 * hand instead of including Python.h.
 *
 * Why: parsing Python.h costs gcc ~0.1 s per unit, which was most of the fast call's
 * compile time and the largest part of a cold function() (issue 5's 0.25 s budget). Every
 * name below is in CPython's stable ABI (PEP 384/652; listed in Misc/stable_abi.toml): its
 * signature and, for PyObject's head and PyMethodDef, its layout are frozen for all
 * CPython 3.x releases of non-debug, GIL builds. Bindings such as PyO3's pyo3-ffi declare
 * the same names by hand. build.py compiles this only where sys.abiflags is empty (no
 * debug or free-threaded build, whose object head differs); elsewhere the fast call is not
 * built and every call takes the cffi path.
 *
 * Reference counts go through Py_IncRef/Py_DecRef, the stable functions, rather than the
 * header's inline macros (whose immortal-object logic changed in 3.12).
 *
 * When Python.h has already been included (the stored C file compiled as one unit by
 * cffi), the real declarations are used and this file adds nothing.
 */
#ifndef TL_PYABI_H
#define TL_PYABI_H

#ifndef Py_PYTHON_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef ssize_t Py_ssize_t;
typedef struct _object {
    Py_ssize_t ob_refcnt;
    struct _typeobject *ob_type;
} PyObject;
typedef struct _ts PyThreadState;
typedef enum { PyGILState_LOCKED, PyGILState_UNLOCKED } PyGILState_STATE;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef void (*PyCapsule_Destructor)(PyObject *);
struct PyMethodDef {
    const char *ml_name;
    PyCFunction ml_meth;
    int ml_flags;
    const char *ml_doc;
};
typedef struct PyMethodDef PyMethodDef;

#define PyObject_HEAD PyObject ob_base;
#define METH_VARARGS 0x0001
#define METH_FASTCALL 0x0080
#define Py_TPFLAGS_TUPLE_SUBCLASS (1UL << 26)

extern PyObject _Py_NotImplementedStruct;
extern PyObject *PyExc_ValueError;
#define Py_NotImplemented (&_Py_NotImplementedStruct)

void Py_IncRef(PyObject *);
void Py_DecRef(PyObject *);
#define Py_INCREF(o) Py_IncRef((PyObject *)(o))
#define Py_DECREF(o) Py_DecRef((PyObject *)(o))
#define Py_XDECREF(o) Py_DecRef((PyObject *)(o)) /* Py_DecRef accepts NULL */
#define Py_TYPE(o) (((PyObject *)(o))->ob_type)

unsigned long PyType_GetFlags(struct _typeobject *);
#define PyTuple_Check(o) ((PyType_GetFlags(Py_TYPE(o)) & Py_TPFLAGS_TUPLE_SUBCLASS) != 0)

PyObject *PyTuple_New(Py_ssize_t);
Py_ssize_t PyTuple_Size(PyObject *);
PyObject *PyTuple_GetItem(PyObject *, Py_ssize_t);
int PyTuple_SetItem(PyObject *, Py_ssize_t, PyObject *);
PyObject *PyTuple_Pack(Py_ssize_t, ...);
PyObject *PyList_New(Py_ssize_t);
int PyList_SetItem(PyObject *, Py_ssize_t, PyObject *);
PyObject *PyLong_FromLongLong(long long);
long long PyLong_AsLongLong(PyObject *);
PyObject *PyObject_Call(PyObject *, PyObject *, PyObject *);
PyObject *PyCFunction_NewEx(PyMethodDef *, PyObject *, PyObject *);
PyObject *PyCapsule_New(void *, const char *, PyCapsule_Destructor);
void *PyCapsule_GetPointer(PyObject *, const char *);
int PyArg_ParseTuple(PyObject *, const char *, ...);
PyObject *Py_BuildValue(const char *, ...);
void PyErr_SetString(PyObject *, const char *);
PyObject *PyErr_NoMemory(void);
PyObject *PyErr_Occurred(void);
void PyErr_Clear(void);
PyGILState_STATE PyGILState_Ensure(void);
void PyGILState_Release(PyGILState_STATE);
PyThreadState *PyEval_SaveThread(void);
void PyEval_RestoreThread(PyThreadState *);
#endif /* Py_PYTHON_H */

#endif /* TL_PYABI_H */
