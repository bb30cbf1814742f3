"""`async with Lab(...)`, `async for f in node.frames()`, and on_frame overridden in a Node subclass."""
import asyncio

from conftest import LAB_FUNCTIONS, require
import ztcore
from ztcore import LAB_ETHERTYPE


class Counting(ztcore.Node):
    """on_frame overridden in a subclass: answers every 'ping' with 'pong <name>'."""

    def on_frame(self, frame):
        if frame.data == b"ping":
            self.send_eth(frame.nwid, None, frame.src, frame.ethertype, "pong " + self.name)


def test_async_lab_frames_and_subclass_hook():
    require(*LAB_FUNCTIONS)

    async def main():
        async with ztcore.Lab(2, node_class=Counting) as lab:
            assert lab.started and all(isinstance(n, Counting) for n in lab.nodes)
            n1, n2 = lab.nodes
            assert n1.online and n2.online
            got = []

            async def listen():
                async for f in n1.frames():
                    got.append(f)
                    if f.data == b"pong n2":
                        return f

            task = asyncio.create_task(listen())
            await asyncio.sleep(0)  # the iterator is subscribed before the ping goes out
            for _ in range(15):  # resend if a datagram was lost
                await asyncio.to_thread(n1.broadcast_eth, lab.nwid, b"ping")
                done, _ = await asyncio.wait({task}, timeout=1.0)
                if done:
                    break
            assert task.done(), "no pong reached n1's frames() iterator"
            f = task.result()
            assert f.src == n2.network_mac(lab.nwid) and f.dst == n1.network_mac(lab.nwid)
            assert f.ethertype == LAB_ETHERTYPE
            assert f in n1.vframes
        assert not lab.started  # closed by __aexit__

    asyncio.run(main())


def test_lab_is_not_started_inside_a_running_loop_until_entered():
    async def main():
        lab = ztcore.Lab(1)
        assert not lab.started and "not started" in repr(lab)
        lab.close()

    asyncio.run(main())
