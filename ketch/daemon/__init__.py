"""ketchd: the composition root that builds and wires the engine's parts."""
