"""What the CLI prints: ``--format`` and the tables of ``ps``/``images``/``stats``.

    formatter   --format: ``table``, ``json`` or a Go template, per item
    gotemplate/ Go's text/template, as docker/cli runs it
    tabwriter   Go's text/tabwriter, for the aligned columns
    rows        the objects a template sees (docker/cli's formatter "contexts")

Only the commands that print use it, and they import it lazily: ``ketch run`` and
``ketch start`` never pay for the template engine.
"""
