"""The channel catalogue is the one list of channels every layer reads."""

from __future__ import annotations

import typing

from sim import channels, metrics
from sim.scenario import schema


def test_the_schema_type_lists_the_catalogue_in_order():
    assert typing.get_args(channels.ChannelName) == channels.CHANNELS
    assert schema.Channel is channels.ChannelName


def test_every_channel_has_a_revenue_flow_and_the_indices_follow_the_catalogue():
    names = {m.name for m in metrics.WEEKLY}
    assert {f"revenue_{c}" for c in channels.CHANNELS} <= names
    indices = (channels.FIELD, channels.INSIDE, channels.DISTRIBUTOR, channels.ECOMMERCE)
    assert [channels.CHANNELS[i] for i in indices] == [
        "field",
        "inside",
        "distributor",
        "ecommerce",
    ]
    assert len(channels.CATALOGUE) == channels.COMPETITOR
