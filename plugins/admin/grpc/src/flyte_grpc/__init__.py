"""flyte-grpc: the ``grpc`` admin transport (grpcio aio) for flyte-core.

Nothing here imports grpcio at import time; :mod:`flyte_grpc.hooks` registers the transport and
``flyte.admin.connect()`` loads it on first use.
"""

__version__ = "0.1.0"

import os as _os

# grpc's C core prints INFO lines (GOAWAY on a restarting server...) to stderr unless told otherwise.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
