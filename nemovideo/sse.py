"""Server-Sent Events decoding, public: a sans-I/O decoder usable on any byte stream.

Example::

    from nemovideo.sse import SSEDecoder

    decoder = SSEDecoder()
    for event in decoder.feed(b"data: hello\\n\\n"):
        print(event.data)  # hello
"""

from nemovideo.protocol.sse import ServerSentEvent, SSEDecoder, SSEError

__all__ = ["SSEDecoder", "SSEError", "ServerSentEvent"]
