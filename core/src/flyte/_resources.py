"""Compute resources a task asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CPUBaseType = int | float | str


@dataclass(frozen=True)
class Device:
    """An accelerator request: ``flyte.GPU("A100", 2)`` or ``flyte.Resources(gpu=flyte.GPU("T4", 1))``."""

    quantity: int
    device_class: Literal["GPU", "TPU", "NEURON", "AMD_GPU", "HABANA_GAUDI"] = "GPU"
    device: str | None = None
    partition: str | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"{self.device_class} quantity must be at least 1, got {self.quantity}")


def GPU(device: str, quantity: int, partition: str | None = None) -> Device:  # capitalised: the official name
    """A GPU request, e.g. ``flyte.GPU("T4", 1)`` or ``flyte.GPU("A100", 1, partition="1g.5gb")``."""
    return Device(quantity=quantity, device_class="GPU", device=device, partition=partition)


def TPU(device: str, partition: str | None = None) -> Device:  # capitalised: the official name
    """A TPU request, e.g. ``flyte.TPU("V5P", "2x2x1")``."""
    return Device(quantity=1, device_class="TPU", device=device, partition=partition)


@dataclass(frozen=True)
class Resources:
    """CPU, memory, GPU and disk a task needs.

    ``cpu`` and ``memory`` take a single request or a ``(request, limit)`` pair::

        flyte.Resources(cpu=2, memory="4Gi")
        flyte.Resources(cpu=(1, 2), memory=("1Gi", "2Gi"), gpu="T4:1")
    """

    cpu: CPUBaseType | tuple[CPUBaseType, CPUBaseType] | None = None
    memory: str | tuple[str, str] | None = None
    gpu: str | int | Device | None = None
    disk: str | None = None
    shm: str | Literal["auto"] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.cpu, tuple) and len(self.cpu) != 2:
            raise ValueError(f"Resources.cpu as a tuple must be (request, limit), got {self.cpu!r}")
        if isinstance(self.memory, tuple) and len(self.memory) != 2:
            raise ValueError(f"Resources.memory as a tuple must be (request, limit), got {self.memory!r}")
        cpus = self.cpu if isinstance(self.cpu, tuple) else (self.cpu,)
        for c in cpus:
            if c is None:
                continue
            if isinstance(c, bool) or (isinstance(c, int | float) and c <= 0):
                raise ValueError(f"Resources.cpu must be positive, got {c!r}")
        if isinstance(self.gpu, int) and self.gpu < 0:
            raise ValueError(f"Resources.gpu must be >= 0, got {self.gpu!r}")
