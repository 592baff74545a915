"""Containers: the service (create/list/rm), the state machine every change goes through,
the lifecycle (start/stop/kill/pause/exit/reconcile), attach, wait, and run bundles."""
