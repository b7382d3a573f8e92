"""Files and folders that cross task boundaries: :class:`File` and :class:`Dir`.

Both are plain references (``path``, ``name``, ``format``, ``hash``); data moves through
:mod:`flyte.storage`. Inside a run, a local File/Dir passed to another task or returned is
uploaded under the run's raw data path; outside a run, local paths are kept as they are.

Example::

    from flyte.io import File

    f = File.from_existing_remote("s3://bucket/data.csv")
    with f.open_sync("rb") as fh:
        head = fh.read(100)
"""

from flyte._lazy import lazy_getattr
from flyte.io._dir import Dir, EmptyDir
from flyte.io._file import File

__getattr__ = lazy_getattr(__name__, {}, globals())  # official names we lack: a clear NotSupportedError

__all__ = ["Dir", "EmptyDir", "File"]
