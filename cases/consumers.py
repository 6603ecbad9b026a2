"""The live map's WebSocket: authorise, join the territory's street groups, forward.

Messages to the client:
  {"type": "hello", "last_seq": N}        after connect: the newest sequence number
  {"type": "event", "event": {...}}       one timeline event (see cases.events)
  {"type": "caught_up", "last_seq": N}    after a resume request was answered
  {"type": "checked", "upto": N}          every event of the territory up to N has
                                          been sent: a reconnecting map resumes
                                          from here at the latest
  {"type": "reload"}                      too much was missed: fetch the snapshot again
  {"type": "territory"}                   the person's territory changed: start again
From the client:
  {"type": "resume", "after": N}          send every event after sequence N

Each web process has one Hub: it alone joins the street groups, and hands
every event to its sockets of that street as one frame encoded per territory
(Frames), through each socket's outbox.

Live delivery through the channel layer is best effort. Every
GAP_CHECK_SECONDS the socket asks the timeline which of its territory's
events, committed at least one period ago, it has not sent, and sends them
(or `reload` when there are too many): every committed event of the
territory reaches the map, late at worst, or the map reloads.

A socket follows its person's access as it is now, not as it was when it
connected: when posts, assignments, units or the user change it reads its
territory again (told through grid.access.ACCESS_GROUP, and at the latest
RECHECK_SECONDS after the last read), a logout closes it, and so does a
session that has ended or a person left with no post.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from cases import events, mapdata
from cases.services.notifications import unread
from grid import access
from grid.territory import Territory

logger = logging.getLogger(__name__)

# Close codes the map understands: 4403 no access (log in again).
NO_ACCESS = 4403
# A backstop for a lost "access changed" message (the layer is best effort).
RECHECK_SECONDS = 60.0
# How often a socket looks for events the layer did not deliver. An event is
# looked for one period after it committed: by then its broadcast has arrived.
GAP_CHECK_SECONDS = float(settings.MAP_GAP_CHECK_SECONDS)
# Frames a socket may have waiting to be written; beyond, its client is not
# reading and the gap check (or a reload) makes up for what it skipped.
OUTBOX_LIMIT = 500
# The pause between checks while a socket is finding events the layer lost.
CATCH_UP_SECONDS = 1.0


class Frames:
    """This process's encoded event frames, one per (event, view).

    The layer hands the same event to every socket of a street's group; a
    thousand maps of one street would each filter it and encode it to JSON.
    Sockets whose territories filter alike share a view number, and the first
    of them to get an event leaves its frame (or None: not theirs) here.
    """

    # Events stay in the layer's queues for milliseconds; these few cover a burst.
    SIZE = 1024

    def __init__(self) -> None:
        self.views: dict[tuple, int] = {}
        self.frames: OrderedDict[tuple[int, str, int], str | None] = OrderedDict()

    def view(self, territory: Territory) -> int:
        key = (
            territory.everything,
            territory.district_ids,
            territory.street_ids,
            territory.community_ids,
            territory.cell_ids,
        )
        return self.views.setdefault(key, len(self.views))

    def frame(self, view: int, territory: Territory, event: dict) -> str | None:
        key = (event["seq"], event["at"], view)
        try:
            return self.frames[key]
        except KeyError:
            pass
        frame = None
        if events.allows(territory, event["case"]):
            frame = json.dumps({"type": "event", "event": event})
        self.frames[key] = frame
        if len(self.frames) > self.SIZE:
            self.frames.popitem(last=False)
        return frame


FRAMES = Frames()


class LastSeq:
    """mapdata.last_seq for this process's gap checks, read at most once a while.

    Every socket checks every GAP_CHECK_SECONDS: a thousand would read it a
    hundred times a second. An older value is still a safe bound (every event
    up to it is committed); it only moves a late event to the next check.
    """

    def __init__(self) -> None:
        self.value = 0
        self.read_at = float("-inf")

    async def get(self) -> int:
        if time.monotonic() - self.read_at > min(1.0, GAP_CHECK_SECONDS / 4):
            read_at = time.monotonic()
            self.value = await database_sync_to_async(mapdata.last_seq)()
            self.read_at = read_at
        return self.value


LAST_SEQ = LastSeq()


class Ranges:
    """The seqs of a view's events in (after, upto], shared by this process's sockets.

    Sockets check at their own times but read the shared LAST_SEQ, so those of
    one view that check within the same second ask for the same range: one
    query answers them all. A range's answer never changes (events.seqs_between).
    The events sockets missed are read once too (when the layer was away,
    every socket missed the same ones).
    """

    SIZE = 256
    EVENTS = 4096

    def __init__(self) -> None:
        self.ranges: OrderedDict[tuple[int, int, int], list[int]] = OrderedDict()
        self.events: OrderedDict[int, dict] = OrderedDict()

    async def payloads(self, seqs: list[int]) -> list[dict]:
        unread = [seq for seq in seqs if seq not in self.events]
        if unread:
            for event in await database_sync_to_async(events.payloads_of)(unread):
                self.events[event["seq"]] = event
            while len(self.events) > self.EVENTS:
                self.events.popitem(last=False)
        return [self.events[seq] for seq in seqs if seq in self.events]

    async def seqs(self, view: int, territory: Territory, after: int, upto: int) -> list[int]:
        key = (view, after, upto)
        if key not in self.ranges:
            self.ranges[key] = await database_sync_to_async(events.seqs_between)(
                territory, after=after, upto=upto
            )
            if len(self.ranges) > self.SIZE:
                self.ranges.popitem(last=False)
        return self.ranges[key]


RANGES = Ranges()


def forget_shared() -> None:
    """Start this process's shared caches afresh (tests: each starts a new timeline)."""
    global FRAMES, LAST_SEQ, RANGES
    FRAMES, LAST_SEQ, RANGES = Frames(), LastSeq(), Ranges()
    HUBS.clear()


class Hub:
    """This process's map sockets by street group, behind one layer channel.

    The layer hands each event once to this process (one channel in the
    street's group); the hub puts its frame (see Frames) in the outbox of each
    socket of that street. Without it every socket received, decoded and
    dispatched its own copy through channels' per-message tasks, which cost
    several times the sending itself.
    """

    def __init__(self, layer) -> None:
        self.layer = layer
        self.members: dict[str, set[MapConsumer]] = {}
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.lock = asyncio.Lock()
        self.chores: set[asyncio.Task] = set()

    async def join(self, group: str, consumer: MapConsumer) -> None:
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.task = asyncio.create_task(self._receive_forever(self.channel))
            # Every time, as _follow does: the lists layer forgets members after a day.
            await self.layer.group_add(group, self.channel)
            self.members.setdefault(group, set()).add(consumer)

    def leave(self, group: str, consumer: MapConsumer) -> None:
        """Synchronous, so that a consumer cancelled mid-way still leaves."""
        members = self.members.get(group)
        if members is None:
            return
        members.discard(consumer)
        if not members:
            chore = asyncio.get_running_loop().create_task(self._discard(group))
            self.chores.add(chore)
            chore.add_done_callback(self.chores.discard)

    async def _discard(self, group: str) -> None:
        async with self.lock:
            if self.members.get(group) or self.channel is None:
                return  # someone joined again meanwhile
            del self.members[group]
            with contextlib.suppress(Exception):  # Redis away: the group expires
                await self.layer.group_discard(group, self.channel)
            if not self.members and self.task is not None:
                self.task.cancel()  # nobody left in this process: let the channel go
                self.channel = self.task = None

    async def _receive_forever(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the sockets' gap checks cover the meantime
                logger.warning("The map hub could not receive", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") != "case.event":
                continue
            event = message["event"]
            group = events.street_group(event["case"]["street"])
            for consumer in list(self.members.get(group, ())):
                try:
                    consumer.deliver(event)
                except Exception:  # one socket's trouble must not stop the others'
                    logger.warning("A map socket could not take an event", exc_info=True)


# One hub per event loop and layer: a web process has one; each test has its own loop.
HUBS: dict[tuple[int, int], Hub] = {}


def hub_for(layer) -> Hub:
    key = (id(asyncio.get_running_loop()), id(layer))
    if key not in HUBS or HUBS[key].layer is not layer:
        HUBS[key] = Hub(layer)
    return HUBS[key]


class MapConsumer(AsyncJsonWebsocketConsumer):
    territory: Territory | None = None
    view: int = -1
    groups_joined: set[str]
    streets_joined: set[str] = frozenset()
    checked_at: float = 0.0
    gap_task: asyncio.Task | None = None
    writer_task: asyncio.Task | None = None
    outbox: asyncio.Queue
    hub: Hub | None = None
    # Everything the map needs up to `sent_upto` has been sent; `sent` holds the
    # seqs sent above it, `check_upto` the newest seq seen at the last check.
    # `epoch` counts territory changes: a check begun under an older one is void.
    sent_upto: int = 0
    check_upto: int = 0
    # The newest `sent_upto` the map was told of ("checked").
    told_upto: int = 0
    epoch: int = 0
    sent: set[int]

    async def __call__(self, scope, receive, send):
        # disconnect() is not called when a handler raises (Redis or the database
        # away) or the server cancels the consumer: the check must stop anyway.
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.gap_task is not None:
                self.gap_task.cancel()
            if self.writer_task is not None:
                self.writer_task.cancel()
            self._leave_streets()

    async def connect(self):
        self.groups_joined = set()
        self.sent = set()
        self.outbox = asyncio.Queue()
        territory = await self._current_territory()
        # Accepted, then closed with a code: a refused handshake reaches the browser
        # as 1006, and the map would retry for ever instead of saying why.
        await self.accept()
        if territory is None:
            await self.close(code=NO_ACCESS)
            return
        await self._follow(territory)
        last_seq = await self._restart_from_now()
        self.gap_task = asyncio.create_task(self._check_gaps_forever())
        await self.send_json({"type": "hello", "last_seq": last_seq})
        self.writer_task = asyncio.create_task(self._write_forever())

    async def disconnect(self, code):
        if self.gap_task is not None:
            self.gap_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.gap_task
            self.gap_task = None
        self._leave_streets()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = set()

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "resume":
            return
        try:
            after = int(content.get("after", 0))
        except (TypeError, ValueError):
            return
        # History is replayed for the territory the person holds now.
        if not await self._recheck():
            return
        missed, complete = await database_sync_to_async(events.events_after)(self.territory, after)
        if not complete:
            await self.send_json({"type": "reload"})
            return
        for event in missed:
            await self._send_event(event)
        last = missed[-1]["seq"] if missed else after
        await self.send_json({"type": "caught_up", "last_seq": last})

    def deliver(self, event: dict) -> None:
        """An event of one of the socket's streets, from the hub: queue its frame."""
        if self.territory is None:
            return
        frame = FRAMES.frame(self.view, self.territory, event)
        if frame is None:
            return
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            return  # not marked sent: the gap check sends it, or tells the map to reload
        self._mark_sent(event["seq"])
        self.outbox.put_nowait(frame)

    def _drop_outbox(self) -> None:
        while not self.outbox.empty():
            self.outbox.get_nowait()

    async def _write_forever(self) -> None:
        # Its own task: a socket whose client stopped reading waits here alone,
        # not in the hub's loop over the process's sockets.
        while True:
            frame = await self.outbox.get()
            try:
                await self.send(text_data=frame)
            except Exception:  # the socket is gone; the consumer is ending
                return

    async def access_changed(self, message):
        # Any staffing change anywhere arrives here; _recheck tells the map only
        # when this socket's own territory changed.
        await self._recheck()

    async def access_session_ended(self, message):
        if message["session"] == self._session_key():
            self.territory = None
            self._drop_outbox()
            await self.close(code=NO_ACCESS)

    async def notification_new(self, message):
        """The person's own notifications changed: the page's bell socket shows it."""

    # ---- the person's access now ------------------------------------------------

    def _session_key(self) -> str | None:
        session = self.scope.get("session")
        return session.session_key if session is not None else None

    async def _current_territory(self) -> Territory | None:
        """The territory of the session's person now, or None (no session, no post)."""
        self.checked_at = time.monotonic()
        user = self.scope.get("user")
        user_id = user.pk if user is not None else None
        return await database_sync_to_async(_territory_of_session)(self._session_key(), user_id)

    async def _recheck_when_due(self) -> bool:
        if time.monotonic() - self.checked_at > RECHECK_SECONDS:
            return await self._recheck()
        return self.territory is not None

    async def _recheck(self) -> bool:
        """Read the access again. None left: close the socket and answer False.
        Changed: the map is told to start again, and nothing older is owed."""
        before = self.territory
        territory = await self._current_territory()
        if territory is None:
            self.territory = None
            self._drop_outbox()
            await self.close(code=NO_ACCESS)
            return False
        await self._follow(territory)
        if before is not None and territory != before:
            self._drop_outbox()  # queued under the old territory: not for this one
            await self.send_json({"type": "territory"})
            await self._restart_from_now()
        return True

    async def _follow(self, territory: Territory) -> None:
        user_id = self.scope["user"].pk
        streets = await database_sync_to_async(events.street_ids_for)(territory)
        # Street groups through the process's hub; the socket's own channel
        # hears who changed access and its person's notifications.
        wanted_streets = {events.street_group(s) for s in streets}
        wanted = {access.ACCESS_GROUP, access.user_group(user_id)}
        self.hub = self.hub or hub_for(self.channel_layer)
        # Every group again, not only new ones: the lists layer (CHANNEL_LAYER=lists)
        # forgets a member after its group expiry (a day); a wall screen stays open longer.
        for group in wanted_streets:
            await self.hub.join(group, self)
        for group in self.streets_joined - wanted_streets:
            self.hub.leave(group, self)
        for group in wanted:
            await self.channel_layer.group_add(group, self.channel_name)
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = wanted
        self.streets_joined = wanted_streets
        self.territory = territory
        self.view = FRAMES.view(territory)

    def _leave_streets(self) -> None:
        if self.hub is not None:
            for group in self.streets_joined:
                self.hub.leave(group, self)
        self.streets_joined = set()

    # ---- events the layer did not deliver -------------------------------------------

    async def _restart_from_now(self) -> int:
        """Owe the map nothing before the newest event (its snapshot has those)."""
        newest = await database_sync_to_async(mapdata.last_seq)()
        self.epoch += 1
        self.sent_upto = self.check_upto = self.told_upto = newest
        self.sent = set()
        return newest

    def _mark_sent(self, seq: int) -> None:
        if seq > self.sent_upto:
            self.sent.add(seq)

    async def _send_event(self, event: dict) -> None:
        self._mark_sent(event["seq"])
        await self.send_json({"type": "event", "event": event})

    async def _check_gaps_forever(self) -> None:
        behind = False
        while True:
            # Once it found events the layer lost (Redis away), the socket checks
            # again soon: a map must not wait a whole period more for the rest
            # (its process may die meanwhile, and a reconnecting map resumes only
            # a little way back).
            pause = min(CATCH_UP_SECONDS, GAP_CHECK_SECONDS) if behind else GAP_CHECK_SECONDS
            await asyncio.sleep(pause)
            behind = False
            try:
                # Messages may stop coming (an expired group): access is read here too.
                if await self._recheck_when_due():
                    behind = await self.check_gaps()
            except Exception:  # the database is away: the next period tries again
                logger.warning("A map socket could not check for missed events", exc_info=True)

    async def check_gaps(self) -> bool:
        """Send the territory's events up to the previous check's newest seq that
        this socket has not sent: dropped by the layer, or broadcast by nobody.
        True when it sent (or had to reload for) some."""
        epoch, after = self.epoch, self.sent_upto
        upto, self.check_upto = self.check_upto, max(self.check_upto, await LAST_SEQ.get())
        if self.territory is None or upto <= after:
            return False
        in_range = await RANGES.seqs(self.view, self.territory, after, upto)
        owed = [seq for seq in in_range if seq not in self.sent]
        complete = len(owed) <= events.CATCH_UP_LIMIT
        missed = []
        if owed and complete:
            missed = await RANGES.payloads(owed)
        if epoch != self.epoch or self.territory is None:
            return False  # the territory changed meanwhile: the map starts again anyway
        if not complete:
            await self.send_json({"type": "reload"})
        for event in missed:
            if events.allows(self.territory, event["case"]):
                await self._send_event(event)
        self.sent_upto = max(self.sent_upto, upto)
        self.sent = {seq for seq in self.sent if seq > self.sent_upto}
        self._tell_checked()
        return bool(owed)

    def _tell_checked(self) -> None:
        """Tell the map how far it has everything. Through the outbox, behind the
        frames queued before: a map that resumed from a guess (the newest seq it saw,
        less a margin) lost for good what the layer dropped further back."""
        if self.sent_upto > self.told_upto:
            self.told_upto = self.sent_upto
            self.outbox.put_nowait(json.dumps({"type": "checked", "upto": self.sent_upto}))


def _territory_of_session(session_key: str | None, user_id: int | None) -> Territory | None:
    user = access.session_user(session_key)
    if user is None or user.pk != user_id:
        return None
    territory = Territory.for_user(user)
    return territory if territory.everything or territory.roles else None


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/me/`: the bell on every page. It says only how many are unread.

    Messages to the client: {"type": "unread", "count": N}, at connect and
    whenever the person's notifications change. A logout closes it (4403).
    """

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=NO_ACCESS)
            return
        self.user_id = user.pk
        await self.channel_layer.group_add(access.user_group(user.pk), self.channel_name)
        await self._send_count()

    async def disconnect(self, code):
        if getattr(self, "user_id", None) is not None:
            await self.channel_layer.group_discard(
                access.user_group(self.user_id), self.channel_name
            )

    async def notification_new(self, message):
        await self._send_count()

    async def access_session_ended(self, message):
        session = self.scope.get("session")
        if session is not None and message["session"] == session.session_key:
            await self.close(code=NO_ACCESS)

    async def _send_count(self):
        count = await database_sync_to_async(unread)(self.user_id)
        await self.send_json({"type": "unread", "count": count})
