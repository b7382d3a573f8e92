"""Sandbox-side source for what pydantic-monty lacks and ordinary task code uses.

pydantic-monty 1.4 has no ``io`` module, and its ``dataclasses`` has no ``replace``/``asdict``/``astuple``
(``DATACLASS_SHIM``: each is one host call). A body that uses ``io.StringIO`` or ``io.BytesIO``
(``csv.DictReader(io.StringIO(text))``, ``json.dump(obj, buf)``) gets these in-memory
files instead: plain classes, defined in the sandbox, so reading and writing them costs no
host round trip. They behave as CPython's for the methods defined here; anything else of
``io`` is refused before the run (see ``IO_ATTRS``).
"""

from __future__ import annotations

IO_MODULE = "__flyte_io__"  # the name the program binds the ``io`` stand-in to
IO_ATTRS = frozenset({"StringIO", "BytesIO"})

# One template, two classes: pydantic-monty has no class inheritance. Appends (the common case:
# csv.writer, json.dump) go to a list joined on demand, so writing N pieces is linear.
_FILE = '''    class {cls}:
        def __init__(self, {arg}={empty}, *args, **kwargs):
            if {arg} is None:
                {arg} = {empty}
            if not isinstance({arg}, {kind}):
                raise TypeError("{cls}() argument must be {kind} or None, not " + type({arg}).__name__)
            self._buf = {arg}
            self._tail = []
            self._len = len({arg})
            self._pos = 0
            self.closed = False

        def _open(self):
            if self.closed:
                raise ValueError("{closed}")
            if self._tail:
                self._buf = self._buf + {empty}.join(self._tail)
                self._tail = []

        def getvalue(self):
            self._open()
            return self._buf

        def read(self, size=-1):
            self._open()
            start = self._pos
            if start >= self._len:
                return {empty}
            end = self._len if size is None or size < 0 else min(self._len, start + size)
            self._pos = end
            return self._buf[start:end]

        def readline(self, size=-1):
            self._open()
            start = self._pos
            if start >= self._len:
                return {empty}
            end = self._buf.find({newline}, start)
            end = self._len if end < 0 else end + 1
            if size is not None and size >= 0:
                end = min(end, start + size)
            self._pos = end
            return self._buf[start:end]

        def readlines(self, hint=-1):
            out = []
            total = 0
            while True:
                line = self.readline()
                if not line:
                    return out
                out.append(line)
                total += len(line)
                if hint is not None and hint > 0 and total >= hint:
                    return out

        def write(self, s):
            if self.closed:
                raise ValueError("{closed}")
            if not isinstance(s, {kind}):
                raise TypeError("{cls}.write() argument must be {kind}, not " + type(s).__name__)
            n = len(s)
            if self._pos == self._len:
                self._tail.append(s)
            else:
                self._open()
                if self._pos > self._len:
                    self._buf = self._buf + {zero} * (self._pos - self._len)
                self._buf = self._buf[:self._pos] + s + self._buf[self._pos + n:]
            self._pos += n
            self._len = max(self._len, self._pos)
            return n

        def writelines(self, lines):
            for line in lines:
                self.write(line)

        def seek(self, pos, whence=0):
            self._open()
            if whence == 0:
                if pos < 0:
                    raise ValueError("negative seek position " + str(pos))
                self._pos = pos
            elif whence == 1:
                self._pos = max(0, self._pos + pos)
            elif whence == 2:
                self._pos = max(0, self._len + pos)
            else:
                raise ValueError("invalid whence (" + str(whence) + ", should be 0, 1 or 2)")
            return self._pos

        def tell(self):
            self._open()
            return self._pos

        def truncate(self, size=None):
            self._open()
            if size is None:
                size = self._pos
            if size < 0:
                raise ValueError("negative size value " + str(size))
            self._buf = self._buf[:size]
            self._len = len(self._buf)
            return size

        def close(self):
            self.closed = True

        def flush(self):
            self._open()

        def readable(self):
            self._open()
            return True

        def writable(self):
            self._open()
            return True

        def seekable(self):
            self._open()
            return True

        def __iter__(self):
            self._open()
            return self

        def __next__(self):
            line = self.readline()
            if not line:
                raise StopIteration
            return line

        def __enter__(self):
            self._open()
            return self

        def __exit__(self, exc_type, exc, tb):
            self.close()
            return False

'''

IO_SHIM = (
    "def __flyte_io_classes__():\n"
    + _FILE.format(cls="StringIO", arg="initial_value", empty='""', kind="str", newline='"\\n"', zero='"\\0"',
                   closed="I/O operation on closed file")
    + _FILE.format(cls="BytesIO", arg="initial_bytes", empty='b""', kind="bytes", newline='b"\\n"',
                   zero='b"\\0"', closed="I/O operation on closed file.")
    + "    return StringIO, BytesIO\n"
    "class __FlyteIO__:\n"
    "    def __init__(self):\n"
    "        self.StringIO, self.BytesIO = __flyte_io_classes__()\n"
    f"{IO_MODULE} = __FlyteIO__()\n"
)


# round(x, n) of a float: pydantic-monty rounds the decimal text (round(2.675, 2) == 2.68), CPython the exact
# binary value (2.67). The host answers that case; everything else stays in the sandbox.
ROUND_SHIM = (
    "def __flyte_sandbox_round__(number, ndigits=None):\n"
    "    if ndigits is None or type(number) is not float:\n"
    "        return round(number) if ndigits is None else round(number, ndigits)\n"
    "    return __flyte_round__(number, ndigits)\n"
)
ROUND_FUNCTION = "__flyte_sandbox_round__"


# dataclasses.replace / asdict / astuple: pydantic-monty's dataclasses module does not have them. The body's
# records are the host's (see values.py), so the host answers: these sandbox-side functions make one host call.
DATACLASS_SHIM = (
    "def __flyte_dc_replace__(obj, **changes):\n"
    "    return __flyte_dataclasses__('replace', obj, changes)\n"
    "def __flyte_dc_asdict__(obj):\n"
    "    return __flyte_dataclasses__('asdict', obj, {})\n"
    "def __flyte_dc_astuple__(obj):\n"
    "    return __flyte_dataclasses__('astuple', obj, {})\n"
)
