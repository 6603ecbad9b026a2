"""Two real timer processes (`manage.py run_timers --once`) escalate each overdue step once."""

import os
import subprocess
import sys
from datetime import timedelta

from cases.models import Case, Notification
from tests.base import build_cast, build_territory, report
from tests.live import ROOT, server_database_url


def test_two_timer_processes_escalate_each_step_exactly_once(reference_data):
    cast = build_cast(build_territory())
    cases = [report(cast.worker) for _ in range(8)]
    # Move the clock: every step's deadline is now in the past.
    for case in cases:
        Case.objects.filter(pk=case.pk).update(
            step_warn_at=case.reported_at - timedelta(hours=2),
            step_due=case.reported_at - timedelta(hours=1),
            deadline_check_at=case.reported_at - timedelta(hours=2),
        )
    env = os.environ | {"DATABASE_URL": server_database_url(), "TIMERS": "off"}
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_timers", "--once"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    fired = sorted(int(out.strip().split()[-1]) for out, _ in outputs)
    assert sum(fired) == 8, outputs
    for case in cases:
        assert case.timeline.filter(action="overdue").count() == 1
    # Each street supervisor hears of each case once (several in one run: a digest).
    overdue = Notification.objects.filter(kind="overdue")
    assert sum(len(n.digest_of) or 1 for n in overdue) == 8 * 2
