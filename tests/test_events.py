"""Events: one per timeline entry, in commit order, and never a failed save when Redis is down."""

from channels.layers import channel_layers
from django.test import override_settings

from cases import events
from cases.models import Case
from grid.territory import Territory
from tests.base import POINT_B1, report

DEAD_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        # Port 9 (discard) is closed here: every send fails to connect.
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:9/0", "socket_timeout": 1}]},
    }
}


def test_a_case_is_saved_when_the_channel_layer_is_down(cast, django_capture_on_commit_callbacks):
    with override_settings(CHANNEL_LAYERS=DEAD_REDIS):
        channel_layers.backends.clear()
        try:
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                case = report(cast.worker)
        finally:
            channel_layers.backends.clear()
    assert callbacks  # the map's event and the new task's bell were tried, and failed quietly
    assert Case.objects.filter(pk=case.pk).exists()
    after, complete = events.events_after(Territory.for_user(cast.leader), 0)
    assert complete
    assert [e["case"]["number"] for e in after] == [case.number]


def test_catch_up_is_limited_to_the_territory(cast):
    a = report(cast.worker)
    b = report(cast.outsider, point=POINT_B1)
    leader_events, _ = events.events_after(Territory.for_user(cast.leader), 0)
    outsider_events, _ = events.events_after(Territory.for_user(cast.outsider), 0)
    assert {e["case"]["number"] for e in leader_events} == {a.number}
    assert {e["case"]["number"] for e in outsider_events} == {b.number}


def test_sequence_numbers_follow_each_other_without_gaps(cast):
    for _ in range(3):
        report(cast.worker)
    seqs, _ = events.events_after(Territory.for_user(cast.admin), 0)
    numbers = [e["seq"] for e in seqs]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
