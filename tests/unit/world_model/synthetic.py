"""A small action-driven world in latent space (no encoder, no sim) for learning tests.

An agent moved by its actions and a ball moving on its own (bouncing) on the unit square; the latent
is a 4x4 grid of tokens, each a fixed random feature of the agent's and the ball's closeness to the
cell plus a per-episode background. Proprio = the agent's position; the ball is seen only in latents.
"""

from __future__ import annotations

import numpy as np

from agent.world_model.data import Episode

SIDE, DIM, ACTION = 4, 8, 3


def episodes(count: int, length: int, seed: int) -> list[Episode]:
    rng = np.random.default_rng(seed)
    feats = np.random.default_rng(1234).normal(size=(2, DIM))  # agent, ball features (same world for every seed)
    cells = (np.stack(np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij"), -1).reshape(-1, 2) + 0.5) / SIDE
    out = []
    for i in range(count):
        agent, ball = rng.uniform(0.2, 0.8, 2), rng.uniform(0.2, 0.8, 2)
        vel = rng.uniform(-0.06, 0.06, 2)
        background = rng.normal(0, 0.5, (SIDE * SIDE, DIM))
        act = np.zeros(ACTION)
        z, proprio, action = [], [], []
        for _ in range(length):
            bump = [
                np.exp(-((cells - x) ** 2).sum(1) / 0.15)[:, None] * f for x, f in ((agent, feats[0]), (ball, feats[1]))
            ]
            z.append(background + bump[0] + bump[1])  # [tokens, D]
            proprio.append([*agent, 0.0])
            act = 0.7 * act + 0.3 * rng.uniform(-1, 1, ACTION)  # smooth random actions; the third does nothing
            action.append(act.copy())
            agent = np.clip(agent + 0.15 * act[:2], 0, 1)
            ball = ball + vel
            vel = np.where((ball < 0) | (ball > 1), -vel, vel)
            ball = np.clip(ball, 0, 1)
        out.append(
            Episode(np.array(z, np.float32), np.array(proprio, np.float32), np.array(action, np.float32), f"syn{i}")
        )
    return out
