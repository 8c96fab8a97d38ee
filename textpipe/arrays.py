"""Arrow arrays to and from Python and numpy without importing pandas, and Arrow compute
functions without importing ``pyarrow.compute``.

``pa.array``, ``pa.scalar`` (and so a Python number passed to a compute function) and
``to_numpy(zero_copy_only=False)`` import pandas to check for pandas types: 0.2 s of start-up
that the data stages, run as separate processes, never need. These build from buffers instead.
Likewise, importing ``pyarrow.compute`` builds Python wrappers for its ~300 functions (about
25 ms of each stage process), and the array methods ``take``, ``filter``, ``cast`` and
``ListArray.flatten`` import it; ``compute`` calls the same functions by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def string_array(values: list[str]) -> pa.Array:
    """An Arrow string array from Python strings, built from buffers.

    ``pa.array`` on Python objects imports pandas (0.2 s) to check for pandas types; the data
    stages never need it.
    """
    import numpy as np
    import pyarrow as pa

    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    if offsets[-1] >= 2**31:
        return pa.concat_arrays(
            [string_array(values[: len(values) // 2]), string_array(values[len(values) // 2 :])]
        )
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))],
    )


def numpy_array(array: np.ndarray) -> pa.Array:
    """An Arrow array over a 1-d numpy array of numbers, without ``pa.array`` (see string_array)."""
    import numpy as np
    import pyarrow as pa

    array = np.ascontiguousarray(array)
    kind = pa.from_numpy_dtype(array.dtype)
    return pa.Array.from_buffers(kind, len(array), [None, pa.py_buffer(array)])


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric or boolean Arrow array without nulls as numpy (no pandas import)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        parts = [to_numpy(chunk) for chunk in array.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if pa.types.is_boolean(array.type):
        bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        unpacked = np.unpackbits(bits, bitorder="little")
        return unpacked[array.offset : array.offset + len(array)].astype(bool)
    if array.null_count or not (
        pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
    ):
        return array.to_numpy(zero_copy_only=False)
    dtype = np.dtype(_FLOAT_NAMES.get(str(array.type), str(array.type)))
    return np.frombuffer(array.buffers()[1], dtype=dtype)[array.offset : array.offset + len(array)]


_FLOAT_NAMES = {"halffloat": "float16", "float": "float32", "double": "float64"}


def bool_array(mask: np.ndarray) -> pa.Array:
    """An Arrow boolean array from a numpy boolean mask."""
    import numpy as np
    import pyarrow as pa

    bits = np.packbits(np.asarray(mask, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def scalar(value: int, dtype: np.dtype | type) -> pa.Scalar:
    """An Arrow scalar of a numpy type, for compute functions (see string_array)."""
    import numpy as np

    return numpy_array(np.array([value], dtype=dtype))[0]


def compute(name: str, *arguments: Any, options: Any = None) -> Any:
    """The Arrow compute function ``name`` on ``arguments``, as ``pyarrow.compute.<name>`` would
    call it, without importing ``pyarrow.compute`` (see the module's docstring)."""
    return _compute_module().call_function(name, list(arguments), options)


def compute_options(name: str, *arguments: Any, **keywords: Any) -> Any:
    """An options object of the compute functions (``"SplitPatternOptions"``, ...)."""
    return getattr(_compute_module(), name)(*arguments, **keywords)


def cast(array: Any, target: pa.DataType) -> Any:
    """``array.cast(target)`` (a safe cast) without importing ``pyarrow.compute``."""
    return compute("cast", array, options=_compute_module().CastOptions.safe(target))


def _compute_module() -> Any:
    """Where pyarrow defines its compute functions and options; ``pyarrow.compute`` re-exports
    the same objects (the fallback, should a pyarrow release move them)."""
    try:
        import pyarrow._compute as module
    except ImportError:  # pragma: no cover - depends on the pyarrow release
        import pyarrow.compute as module
    return module
