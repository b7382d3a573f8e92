"""Typed inputs and outputs: dataclasses and pydantic models cross task boundaries as msgpack structs.

    flyte run examples/typed_io.py main --cfg '{"name": "exp", "lr": 0.1, "epochs": 3}'
"""

from dataclasses import dataclass

import flyte
from pydantic import BaseModel

env = flyte.TaskEnvironment(name="typed")


@dataclass
class Config:
    name: str
    lr: float = 0.01
    epochs: int = 1


class Metrics(BaseModel):
    name: str
    losses: list[float]
    best: float


@env.task
async def train(cfg: Config) -> Metrics:
    losses = [round(1.0 / (1 + cfg.lr * e), 4) for e in range(1, cfg.epochs + 1)]
    return Metrics(name=cfg.name, losses=losses, best=min(losses))


@env.task
async def main(cfg: Config = Config(name="default")) -> Metrics:
    return await train(cfg)


if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main, cfg=Config(name="exp", lr=0.1, epochs=3)).outputs()[0])
