"""asyncio streams over the nodes' stacks: node.start_server / node.open_connection give the
standard library's StreamReader/StreamWriter (ztcore.aio)."""
import asyncio
import hashlib
import os
import socket

import pytest

import ztcore


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def test_echo_server_with_concurrent_clients_from_two_nodes(stack_lab):
    n1, n2, n3 = stack_lab.nodes

    async def client(node, family, size):
        reader, writer = await node.open_connection(n1.ip(family), port)
        assert isinstance(reader, asyncio.StreamReader) and isinstance(writer, asyncio.StreamWriter)
        assert writer.get_extra_info("peername")[:2] == (n1.ip(family), port)
        assert writer.get_extra_info("sockname")[0] == node.ip(family)
        payload = os.urandom(size)
        # The echo is read while we write (else both sides' buffers fill up and each waits for
        # the other, as with kernel sockets); drain() pauses on the high-water mark.
        echoed = asyncio.create_task(reader.read())  # until the server closes
        for i in range(0, size, 50_000):
            writer.write(payload[i:i + 50_000])
            await writer.drain()
        writer.write_eof()
        got = await echoed
        writer.close()
        await writer.wait_closed()
        return hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest(), len(got), size

    async def main():
        nonlocal port
        server = await n1.start_server(echo, port=0)
        assert server.is_serving() and server.sockets
        port = server.sockets[0].getsockname()[1]
        assert [(s.family, s.getsockname()[:2]) for s in server.sockets] == [
            (socket.AF_INET, (n1.ip(), port)), (socket.AF_INET6, (n1.ip(socket.AF_INET6), port))]
        # host=None: one listener per address of n1 (IPv4 first, then IPv6), one port
        jobs = [client(node, socket.AF_INET6 if i % 3 == 2 else socket.AF_INET, 1000 + i * 150_000)
                for i, node in enumerate([n2, n2, n2, n3, n3, n3])]
        results = await asyncio.wait_for(asyncio.gather(*jobs), 120)
        for ok, got, size in results:
            assert ok, "echo of %d bytes came back as %d bytes" % (size, got)
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        assert not server.is_serving() and server.sockets == ()
        # Closed: a new connection is refused.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(n2.open_connection(n1.ip(), port), 30)

    port = 0
    asyncio.run(main())


def test_line_protocol_async_with_server_and_refused(stack_lab):
    n1, n2 = stack_lab.n1, stack_lab.n2
    seen = []

    async def hello(reader, writer):
        name = (await reader.readline()).decode().strip()
        seen.append((name, writer.get_extra_info("peername")[0]))
        writer.write(("hello %s\n" % name).encode())
        await writer.drain()
        writer.close()

    async def main():
        async with await n1.start_server(hello, host=n1.ip(), port=0) as server:
            assert len(server.sockets) == 1  # one host given: one listener
            port = server.sockets[0].getsockname()[1]
            reader, writer = await n2.open_connection(n1, port)  # a Node as the host
            writer.write(b"n2\n")
            line = await asyncio.wait_for(reader.readline(), 30)
            assert line == b"hello n2\n"
            assert await reader.read() == b""  # the server closed
            writer.close()
            await writer.wait_closed()
        assert seen == [("n2", n2.ip())]
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(n2.open_connection(n1.ip(), port), 30)

    asyncio.run(main())


def test_a_plain_protocol_over_create_connection(stack_lab):
    """Any asyncio.Protocol works: the transport is an asyncio.Transport."""
    n1, n3 = stack_lab.n1, stack_lab.n3

    class Collect(asyncio.Protocol):
        def __init__(self):
            self.data = bytearray()
            self.done = asyncio.get_running_loop().create_future()

        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.data += data

        def eof_received(self):
            return False  # close our side too

        def connection_lost(self, exc):
            self.done.set_result(exc)

    async def main():
        server = await n1.start_server(echo, port=0)
        port = server.sockets[0].getsockname()[1]
        transport, proto = await n3.create_connection(Collect, n1.ip(), port)
        assert isinstance(transport, asyncio.Transport) and isinstance(transport, ztcore.aio.ZtTransport)
        transport.write(b"abc" * 1000)
        transport.write_eof()
        assert await asyncio.wait_for(proto.done, 30) is None
        assert bytes(proto.data) == b"abc" * 1000 and transport.is_closing()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
