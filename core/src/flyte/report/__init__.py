"""``flyte.report``: an HTML report per action, as in the official SDK.

Example::

    @env.task(report=True)
    async def train() -> None:
        await flyte.report.log.aio("<h1>Training</h1>")
        flyte.report.get_tab("Metrics").log("<p>loss 0.12</p>")

The report of a ``report=True`` task is written when its body ends; :func:`flush` writes it
earlier. Locally it is ``<run directory>/reports/<action>.html`` and ``flyte get run NAME`` lists it.
"""

from flyte.report._report import Report, Tab, current_report, flush, get_tab, log, replace
from flyte.report._widgets import Timeline, abbreviate, duration_ms

__all__ = ["Report", "Tab", "Timeline", "abbreviate", "current_report", "duration_ms", "flush", "get_tab", "log",
           "replace"]
