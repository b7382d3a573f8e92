"""``flyte build FILE``: build and push the image of every environment defined in a file.

Images whose content hash is already in the registry are reported and not rebuilt. While an
image builds, a live panel shows its last lines of output; when it is done the panel collapses
to one status line, and when it fails the whole log is printed (once). With ``--no-push`` an
image the engine already holds is not rebuilt. The pushed URIs go to stdout,
one per line, everything else to stderr::

    flyte build workflows.py --builder docker --registry 127.0.0.1:5000
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from flyte._image import Image

TAIL_LINES = 12


def find_images(module: ModuleType) -> list[tuple[str, Image]]:
    """Every module-level object whose ``image`` is a :class:`flyte.Image` (a ``TaskEnvironment``,
    or anything shaped like one), as (label, image); each image once."""
    from flyte._image import Image

    found: list[tuple[str, Image]] = []
    seen: set[int] = set()
    for attr, value in list(vars(module).items()):
        if attr.startswith("__") or isinstance(value, (type, ModuleType, Image)):
            continue
        try:
            img = getattr(value, "image", None)
        except Exception:  # a property that raises is not an environment
            continue
        if isinstance(img, Image) and id(img) not in seen:
            seen.add(id(img))
            label = getattr(value, "name", None)
            found.append((label if isinstance(label, str) and label else attr, img))
    return found


class BuildDisplay:
    """Rich display: a live panel of the last lines while building, one line per image after."""

    def __init__(self, console: Console, *, live: bool, verbose: bool = False) -> None:
        self.console = console
        self.live_enabled = live
        self.verbose = verbose
        self.lines: list[str] = []
        self.label = ""
        self.started = 0.0
        self._live: Any = None
        self.log_shown = False

    def _panel(self) -> Any:
        from rich.panel import Panel
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        body = Text("\n".join(self.lines[-TAIL_LINES:]) or "starting...", no_wrap=True, overflow="ellipsis")
        return Panel(body, title=f"building {self.label} ({elapsed:.0f}s)", title_align="left", border_style="blue")

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def status(self, uri: str, status: str) -> None:
        if status == "checking":
            self.label = uri
        elif status == "building":
            self.label, self.lines, self.started = uri, [], time.monotonic()
            if self.live_enabled:
                from rich.live import Live

                self._live = Live(get_renderable=self._panel, console=self.console, refresh_per_second=8,
                                  transient=True)
                self._live.start()
            else:
                self.console.print(f"building {uri} ...")
        elif status in ("pushed", "built"):
            self._stop_live()
            what = "built and pushed" if status == "pushed" else "built (not pushed)"
            self.console.print(f"[green]✓[/green] {what} {uri} [dim]({time.monotonic() - self.started:.1f}s)[/dim]")
        elif status == "exists":
            self.console.print(f"[green]✓[/green] {uri} [dim]is already in the registry, not rebuilt[/dim]")
        elif status == "local":
            self.console.print(f"[green]✓[/green] {uri} [dim]is already built here (not pushing), not rebuilt[/dim]")
        elif status == "base":
            self.console.print(f"[dim]-[/dim] {uri} [dim](base image, used as is)[/dim]")
        elif status == "failed":
            self._stop_live()
            from rich.panel import Panel
            from rich.text import Text

            streamed = self.verbose and not self.live_enabled  # every line is on screen already
            if self.lines and not streamed:
                self.console.print(Panel(Text("\n".join(self.lines)), title=f"build log of {uri}",
                                         title_align="left", border_style="red"))
            self.log_shown = bool(self.lines)
            self.console.print(f"[red]✗[/red] building {uri} failed")

    def output(self, uri: str, line: str) -> None:
        self.lines.append(line)
        if self.verbose and self._live is None:
            self.console.print(line, markup=False, highlight=False)

    def close(self) -> None:
        self._stop_live()


@click.command("build")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--builder", default=None, help="Image builder: docker, podman... (default: image.builder, "
              "FLYTE_IMAGE_BUILDER, else the first one usable here).")
@click.option("--registry", default=None, help="Registry to push to, for images that name none "
              "(default: image.registry, FLYTE_IMAGE_REGISTRY).")
@click.option("--push/--no-push", default=True, show_default=True, help="Push the built images.")
@click.option("--network", default=None, help="Network for RUN steps during builds (e.g. host, none).")
@click.pass_context
def build(ctx: click.Context, file: str, builder: str | None, registry: str | None, push: bool,
          network: str | None) -> None:
    """Build the images of every environment in FILE; print their URIs."""
    from rich.console import Console

    from flyte.cli.loader import load_file
    from flyte.images.build import build_images
    from flyte.images.errors import ImageBuildError

    verbose = bool((ctx.obj or {}).get("verbose", 0))
    module = load_file(file, int(verbose))
    images = find_images(module)
    if not images:
        raise click.ClickException(f"No environment with a flyte.Image found in {file}")
    console = Console(stderr=True, highlight=False)
    display = BuildDisplay(console, live=console.is_terminal, verbose=verbose)
    options: dict[str, object] = {"network": network} if network else {}
    try:
        results = build_images([img for _, img in images], builder=builder, push=push, registry=registry,
                               on_output=display.output, on_status=display.status, builder_options=options)
    except ImageBuildError as e:
        if not display.log_shown:
            raise
        # the log was just printed: the error says what failed, without printing the log again
        raise ImageBuildError(e.summary, uri=e.uri, step=e.step, log=e.log) from None
    finally:
        display.close()
    for r in results:
        click.echo(r.uri)
