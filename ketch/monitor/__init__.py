"""Container monitors: the processes that own a running container, not ketchd.

A monitor is the subreaper and stdio holder of one container. It writes the log,
records the exit status and survives ketchd restarts; ketchd talks to it over a Unix
socket with the frames of ``protocol.py``.
"""
