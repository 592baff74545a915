"""Engine API models, parsed once at the API edge (layer 0: standard library only).

A request body is checked here against moby's Go types (``gojson`` holds Go's decoding
rules, ``container`` the field tables), so that a wrong type is Docker's 400 with Go's
own message and no code behind the API ever sees an unchecked value.
"""
