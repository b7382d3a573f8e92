"""``python -m flyte_devbox serve ...``: the devbox without the flyte CLI around it."""

from flyte_devbox.cli import devbox

if __name__ == "__main__":
    devbox(prog_name="python -m flyte_devbox")
