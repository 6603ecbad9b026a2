"""The live map's WebSocket: authorise, join the territory's street groups, forward.

Messages to the client:
  {"type": "hello", "last_seq": N}        after connect: the newest sequence number
  {"type": "event", "event": {...}}       one timeline event (see cases.events)
  {"type": "caught_up", "last_seq": N}    after a resume request was answered
  {"type": "reload"}                      too much was missed: fetch the snapshot again
From the client:
  {"type": "resume", "after": N}          send every event after sequence N
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cases import events
from grid.territory import Territory


class MapConsumer(AsyncJsonWebsocketConsumer):
    territory: Territory | None = None
    groups_joined: list[str]

    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        territory = await database_sync_to_async(Territory.for_user)(user)
        if not (territory.everything or territory.roles):
            await self.close(code=4403)
            return
        self.territory = territory
        for street_id in await database_sync_to_async(events.street_ids_for)(territory):
            group = events.street_group(street_id)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        await self.send_json({"type": "hello", "last_seq": await self._last_seq()})

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "resume":
            return
        try:
            after = int(content.get("after", 0))
        except (TypeError, ValueError):
            return
        missed, complete = await database_sync_to_async(events.events_after)(self.territory, after)
        if not complete:
            await self.send_json({"type": "reload"})
            return
        for event in missed:
            await self.send_json({"type": "event", "event": event})
        last = missed[-1]["seq"] if missed else after
        await self.send_json({"type": "caught_up", "last_seq": last})

    async def case_event(self, message):
        # Groups are per street; a community-level user still sees only their part of it.
        if self.territory is not None and events.allows(self.territory, message["event"]["case"]):
            await self.send_json({"type": "event", "event": message["event"]})

    @database_sync_to_async
    def _last_seq(self) -> int:
        from cases.models import EventSequence

        row = EventSequence.objects.filter(pk=1).first()
        return row.last if row else 0
