"""The loaded library, its errors and the model handle shared by the public modules."""
import ctypes

from . import _native

_lib = _native.load()
_VF_OPEN_OPTIONS_VERSION = 2
VF_ERR_USAGE = -1


class VramfitError(OSError):
    """A vramfit library error reading a checkpoint: ``code`` (negative vf_status), ``file``,
    ``tensor``, ``message``. An OSError, as Training Hub's model loading raises for a missing or
    unreadable model, so ``except OSError`` catches both."""

    def __init__(self, err):
        self.code = err.code
        self.file = err.file.decode(errors="replace")
        self.tensor = err.tensor.decode(errors="replace")
        self.message = err.message.decode(errors="replace")
        where = (self.file + ": " if self.file else "") + (f"tensor '{self.tensor}': " if self.tensor else "")
        super().__init__(where + self.message)

    def __str__(self):
        return self.args[0]


def _s(b):
    return None if b is None else b.decode()


def _b(s):
    return None if s is None else str(s).encode()


def _open_options(revision, hf_cache):
    return _native.VfOpenOptions(_VF_OPEN_OPTIONS_VERSION, _b(revision), _b(hf_cache), 0)


class _Model:
    """Context manager owning a vf_model handle."""

    def __init__(self, path, revision=None, hf_cache=None):
        self.handle = ctypes.c_void_p()
        err = _native.VfError()
        opts = _open_options(revision, hf_cache)
        if _lib.vf_model_open(_b(path), ctypes.byref(opts), ctypes.byref(self.handle), ctypes.byref(err)) != 0:
            raise VramfitError(err)

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        _lib.vf_model_free(self.handle)
