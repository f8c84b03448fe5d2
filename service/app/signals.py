"""The signals that stop a command or the daemon.

SIGHUP is a stop like SIGTERM, not a reload: a terminal that closes, an ssh session that drops or a
``nohup``-less start sends it, and the operator's intent is "this process should end", so it ends
the same clean way (claims released, the run recorded as interrupted, a summary printed). Settings
are read once at start-up and frozen; a reload would have to re-validate and re-wire every part,
so a changed configuration takes a restart (``systemctl restart``), which the unit files already do.
"""

from __future__ import annotations

import signal

#: every signal handled as "stop cleanly": SIGTERM (systemd, docker stop), SIGINT (Ctrl-C), SIGHUP
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
