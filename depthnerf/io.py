# Generated from 01_Data_Loading.ipynb, 03_Baseline_NeRF.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


from __future__ import annotations

import json
import os
import pickle
import secrets
from pathlib import Path

import numpy as np
import torch
from numpy.lib import format as npy_format

from depthnerf.scene import DataError


# %% 01_Data_Loading.ipynb · cell c123
_RECONSTRUCT, _SCALAR = np.empty(0).__reduce__()[0], np.float64(0).__reduce__()[0]
# The only globals a pickled numpy object array needs: numpy 1.x names them numpy.core.multiarray.*,
# numpy 2.x numpy._core.multiarray.*. Everything else (dicts, lists, tuples, str, numbers) needs none.
_NPY_PICKLE_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
    **{(module, name): function for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, function in (("_reconstruct", _RECONSTRUCT), ("scalar", _SCALAR))},
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that admits only numpy arrays, dtypes and scalars (and the built-in containers and
    numbers, which need no global): any other global is refused before it is looked up."""

    def __init__(self, file, path):
        super().__init__(file, encoding="ASCII", fix_imports=True)  # np.load's settings
        self.path = path

    def find_class(self, module: str, name: str):
        try:
            return _NPY_PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(f"{self.path}: refusing to unpickle {module}.{name}: only numpy arrays, dicts, lists "
                            "and numbers are read from a .npy file (other globals could run code on load)") from None

    def persistent_load(self, pid):
        raise DataError(f"{self.path}: refusing to unpickle a persistent id {pid!r}")


def load_npy_restricted(path: Path | str) -> np.ndarray:
    """Read a ``.npy`` file without running anything in it: the header with ``numpy.lib.format``
    (``read_magic`` + ``read_array_header_1_0/2_0``); an object array's pickle with an unpickler that
    admits only numpy arrays/dtypes/scalars, dicts, lists, tuples, str and numbers (the replacement of
    numpy's own pickle-enabled loading, which would run the file's code); any other array with ``allow_pickle=False``.

    >>> import io; buffer = io.BytesIO(); np.save(buffer, np.array([{"depth": np.ones(2)}], dtype=object))
    >>> _ = buffer.seek(0); load_npy_restricted(buffer)[0]["depth"].tolist()
    [1.0, 1.0]
    """
    def read(f):
        version = npy_format.read_magic(f)
        if version == (1, 0):
            _, _, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            _, _, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise DataError(f"{path}: .npy format version {version} is not supported (1.0 and 2.0 are)")
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        array = _NumpyOnlyUnpickler(f, path).load()
        if not isinstance(array, np.ndarray):
            raise DataError(f"{path}: the pickle holds a {type(array).__name__}, not an array")
        return array

    try:
        if hasattr(path, "read"):
            return read(path)
        with open(path, "rb") as f:
            return read(f)
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"{path}: cannot read ({type(err).__name__}: {err})") from err


# %% 03_Baseline_NeRF.ipynb · cell c24
TMP_PREFIX = ".tmp-"


def atomic_write(path: Path | str, write) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path`` (same suffix, so writers that
    pick the format from the extension work), then rename it over ``path``.

    The temporary file is created with mode ``0o666`` less the umask (as ``open`` does), so the
    result is as readable to others as any file the user writes; a write that dies leaves only a
    ``.tmp-*`` file, which :func:`remove_stale_temporaries` deletes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.stem}-{secrets.token_hex(4)}{path.suffix}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_stale_temporaries(folder: Path | str) -> list[Path]:
    """Delete the ``.tmp-*`` files an interrupted :func:`atomic_write` left in ``folder``; return them."""
    stale = sorted(Path(folder).glob(f"{TMP_PREFIX}*")) if Path(folder).is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_json(path: Path | str, obj) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2)))


def atomic_torch_save(path: Path | str, obj) -> Path:
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_npy(path: Path | str, array) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array))
    return atomic_write(path, write)


def read_saved(path: Path, what: str) -> dict:
    """Load a model or checkpoint with ``weights_only=True``: tensors and plain data only, so a file
    from someone else cannot run code when it is opened."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        refused = [line for line in str(err).splitlines() if "GLOBAL" in line]
        if isinstance(err, pickle.UnpicklingError) and refused:
            raise RuntimeError(f"refusing to load {what} {path}: it holds objects other than tensors and "
                               f"plain data, and unpickling them could run code ({refused[0].strip()})") from err
        lines = [line.strip() for line in str(err).splitlines()  # torch's advice to load unsafely left out
                 if line.strip() and not any(w in line for w in ("weights_only", "torch.load", "documentation", "issue"))]
        reason = lines[-1] if lines else type(err).__name__
        raise RuntimeError(f"cannot read {what} {path}: not a readable torch file ({reason}); "
                           f"delete it to start over") from err
    if not isinstance(saved, dict) or "config" not in saved or "field" not in saved:
        raise RuntimeError(f"{path} is not a depthnerf {what} (no 'config' and 'field' entries)")
    return saved
