"""The base of every scenario block, and the channel names the blocks refer to.

Units and conventions of every block: see :mod:`sim.scenario.schema`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from sim.channels import CHANNELS, ChannelName

Channel = ChannelName
"""A channel name (the catalogue's, ``sim.channels``)."""

__all__ = ["CHANNELS", "Block", "Channel", "unit_interval"]


class Block(BaseModel):
    """Base for every scenario block: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    renamed_keys: ClassVar[dict[str, str]] = {}
    """Old key -> new key, so a file written before a rename gets a clear error."""


def unit_interval(default: float, description: str) -> Any:
    """A field holding a share or probability in [0, 1]."""
    return Field(default=default, ge=0.0, le=1.0, description=description)
