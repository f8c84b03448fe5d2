"""A generated replica of 金山网 served on 127.0.0.1, for end-to-end tests and the crawl benchmark.

    from tests.e2e.replica import Replica, ReplicaServer

    replica = Replica(seed=7)                    # 240 articles over 32 days, e-paper, old GBK pages
    with ReplicaServer(replica) as server:       # http://127.0.0.1:<free port>/
        truth = replica.expected(server.url("/2026/1003/1960123.shtml"))
        server.fault(path="/news/zjxw/index.shtml", kind="status", status=503, times=2)
        server.requests                          # what the crawler asked for

Or in another process: ``python -m tests.e2e.replica --port 8765 --seed 7 --articles 20000`` with
``RemoteReplica``/``ReplicaProcess`` for the controls. See README.md in this folder.
"""

from tests.e2e.replica.control import RemoteReplica, ReplicaProcess
from tests.e2e.replica.faults import Fault
from tests.e2e.replica.replica import Replica
from tests.e2e.replica.server import ReplicaServer, RequestRecord

__all__ = ["Fault", "RemoteReplica", "Replica", "ReplicaProcess", "ReplicaServer", "RequestRecord"]
