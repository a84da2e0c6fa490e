"""`manage.py qcluster`, django-q2's command with a stop that cannot hang.

django-q2 1.11.1's cluster (the process this command runs) stops on SIGTERM or SIGINT by
calling Cluster.stop() from its signal handler: stop_event.set(), then a join of the
sentinel process, which stops the workers in order. Two ways that hangs in a futex for
good (seen after `kill -TERM` to the process group of `make run`, and now and then on
Ctrl-C):

* The sentinel keeps SIGTERM's default action, so a signal to the whole group (systemd's
  control-group stop, a container runtime, `kill -TERM -pgid`) kills it, almost always
  while it sleeps in stop_event.wait(). multiprocessing's Condition.notify_all() inside
  stop_event.set() then waits for that sleeper to acknowledge its wake-up: it never will.
* A second signal (Ctrl-C's SIGINT, then `scripts/serve`'s SIGTERM) runs the handler
  again inside the first one's stop_event.set(), which holds the event's lock: the second
  set() waits for a lock its own process holds.

Here the handler only starts a daemon thread that sets the event, once. The process goes
on waiting for the sentinel as before (its join at exit): a live sentinel stops the
cluster in order; a dead one is reaped at once and the process exits. A notify left
waiting for a dead sentinel is on a daemon thread and does not hold the exit.
"""

from __future__ import annotations

import threading
from typing import Any

from django_q.cluster import Cluster
from django_q.conf import logger
from django_q.management.commands import qcluster


class StoppableCluster(Cluster):
    _stop_requested = False

    def sig_handler(self, signum: int, frame: Any) -> None:
        if self._stop_requested:
            return  # one stop is under way; a second handler must not enter its locks
        self._stop_requested = True
        if self.stop_event is None:  # before the sentinel was started: nothing to stop
            raise SystemExit(0)
        logger.info("Q Cluster %s stopping (signal %s).", self.name, signum)
        threading.Thread(target=self.stop_event.set, name="qcluster-stop", daemon=True).start()


class Command(qcluster.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        # As django-q2's handle(), with the cluster above; --name is not used by the studio.
        if options.get("cluster_name"):
            return super().handle(*args, **options)
        cluster = StoppableCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
