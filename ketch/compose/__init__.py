"""``ketch compose``: the Compose specification over the Engine API, as Compose v2 is.

    loader/    compose files -> model.Project (discovery, .env, interpolation, YAML,
               the JSON schema, merge, extends, include, profiles, normalisation)
    model      the project as typed, frozen values (the canonical form)
    labels     the com.docker.compose.* labels and the config hash
    convert    model.Service -> the Engine API's container create body (pure)
    observe    what runs: containers, networks, volumes by their labels (-> client)
    plan       desired project + observed state -> Plan (pure; printed as text goldens)
    executor   runs a Plan through the client, independent steps in parallel
    commands/  one module per command family; main.py registers them

It reaches the daemon only through ``ketch.client`` (so it works against ketchd and a
real dockerd alike) and reuses the CLI's parsing and rendering from ``ketch.cli``; the
CLI never imports it back (it execs ``ketch.compose.main``, which needs PyYAML and
jsonschema from the venv's site-packages).
"""
