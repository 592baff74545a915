"""What the hijacked attach and exec streams share."""


async def pump_output(sink, raw, tty: bool) -> str:
    """Copy an output queue to the client until it closes: the payload alone on a TTY
    (raw stream), else the 8-byte framed chunk as it came (multiplexed stream)."""
    while (item := await sink.get()) is not None:
        raw_frame, _stream, payload = item
        await raw.write(payload if tty else raw_frame)
    return "end"
