"""Tar streams of a container's files: ``docker cp`` and the ``/archive`` API.

``pathstat`` is the ``X-Docker-Container-Path-Stat`` value, ``copyrules`` Docker's
pure path rules (trailing ``/`` and ``/.``, rebasing), ``tarwrite`` and ``untar``
read and write a tree reached through descriptors only (``linux.safepath``), so an
untrusted tree never leads the daemon outside it. No tool from the tree is run.
"""
