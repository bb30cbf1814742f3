"""Value types, the cdef built from the header, the wire header parser and the §4.2 MAC — no network."""
import json
import re

import pytest

from conftest import REPO, require
import ztcore
from ztcore import Address, Mac, NetworkId, WirePacket, _ffi


def py_mac(address: int, nwid: int) -> int:
    """PROTOCOL.md §4.2, written out independently of the library."""
    first = (nwid & 0xFE) | 0x02
    if first == 0x52:
        first = 0x32
    mac = (first << 40) | address
    for i, shift in enumerate((8, 16, 24, 32, 40)):
        mac ^= ((nwid >> shift) & 0xFF) << (32 - 8 * i)
    return mac


def worked_example():
    """(nwid, address, MAC text) of the worked example, read from tests/unit/vl2_test.cpp."""
    src = (REPO / "tests/unit/vl2_test.cpp").read_text()
    nwid = int(re.search(r"kNwid = 0x([0-9a-f]+)ULL", src).group(1), 16)
    node_a = int(re.search(r"kNodeA = 0x([0-9a-f]+)ULL", src).group(1), 16)
    mac = re.search(r'from_address\(kNodeA, kNwid\)\.to_string\(\), "([0-9a-f:]+)"', src).group(1)
    return nwid, node_a, mac


def test_python_mac_matches_worked_example_and_reference_listnetworks():
    nwid, node_a, mac = worked_example()
    assert (nwid, node_a) == (0xD5A72FF358C0FFEE, 0x8FEC3E8AE4)  # the example PROTOCOL.md §4.2 names
    assert str(Mac(py_mac(node_a, nwid))) == mac
    # And against the reference node's own listnetworks output in the vectors.
    for who in ("nodea", "nodeb"):
        addr = int(json.loads((REPO / ("tests/vectors/%s_info.json" % who)).read_text())["address"], 16)
        net = json.loads((REPO / ("tests/vectors/%s_listnetworks.json" % who)).read_text())[0]
        assert str(Mac(py_mac(addr, int(net["nwid"], 16)))) == net["mac"]


def test_library_mac_matches_python():
    require("zt_network_mac")
    nwid, node_a, mac = worked_example()
    assert str(ztcore.network_mac(node_a, nwid)) == mac
    assert str(ztcore.Node.mac_for("8fec3e8ae4", "d5a72ff358c0ffee")) == mac
    # The 0x52 -> 0x32 first-octet rule and a spread of values.
    for nw in (nwid, 0x1122334455667752, 0x1122334455667753, 1, (1 << 64) - 1):
        for a in (node_a, 0xEB8CB7D1C8, 1, 0xFEFFFFFFFF):
            assert ztcore.network_mac(a, nw) == py_mac(a, nw), (hex(a), hex(nw))


def test_ids_and_macs_accept_ints_and_hex_and_print_canonically():
    a = Address("8fec3e8ae4")
    assert a == Address(0x8FEC3E8AE4) == Address("0x8FEC3E8AE4") and isinstance(a, int)
    assert str(a) == "8fec3e8ae4" and str(Address(0x2A)) == "000000002a" and f"{a}" == "8fec3e8ae4"
    assert eval(repr(a), {"Address": Address}) == a
    n = NetworkId(0xD5A72FF358C0FFEE)
    assert str(n) == "d5a72ff358c0ffee" and str(NetworkId(1)) == "0000000000000001"
    assert n.controller == Address("d5a72ff358")
    m = Mac("02:11:22:33:44:55")
    assert m == Mac(0x021122334455) == Mac("021122334455") == Mac("02-11-22-33-44-55") == Mac(bytes.fromhex("021122334455"))
    assert str(m) == "02:11:22:33:44:55" and not m.is_multicast and Mac.BROADCAST.is_multicast


@pytest.mark.parametrize("cls,value", [
    (Address, "xyz"), (Address, "12345678901"), (Address, -1), (Address, 1 << 40), (Address, ""),
    (NetworkId, "d5a72ff358c0ffee0"), (NetworkId, "g5a72ff358c0ffee"),
    (Mac, "02:11:22:33:44"), (Mac, "02:11:22:33:44:zz"), (Mac, "0211223344556"), (Mac, b"\x01\x02"),
])
def test_bad_ids_raise_value_error(cls, value):
    with pytest.raises(ValueError) as e:
        cls(value)
    assert str(e.value)  # says what was wrong


def test_bad_id_types_raise_type_error():
    with pytest.raises(TypeError):
        Address(1.5)
    with pytest.raises(TypeError):
        NetworkId(True)


def test_cdef_is_built_from_the_header():
    text = _ffi.header_to_cdef(_ffi.HEADER_PATH.read_text())
    assert "ZT_API" not in text and 'extern "C"' not in text
    assert re.search(r"zt_result zt_node_send_frame\(", text)
    # Integer constants survive; so struct sizes agree with the header's arrays.
    assert _ffi.ffi.sizeof("zt_node_status") > 160
    assert len(_ffi.ffi.new("zt_network_info*").addresses) == 16
    # Every function the header declares is known to cffi.
    declared = set(re.findall(r"\b(zt_\w+)\s*\(", text)) - {"zt_event_cb", "zt_frame_cb", "zt_network_cb", "zt_wire_cb"}
    assert {"zt_runtime_new", "zt_controller_request", "zt_planet_make"} <= declared
    assert _ffi.has("zt_runtime_new") and not _ffi.has("zt_no_such_function")
    assert ztcore.version()


def _packet(pid, dst, src, flags, verb=0x01, payload=b"x" * 10):
    return pid.to_bytes(8, "big") + dst.to_bytes(5, "big") + src.to_bytes(5, "big") + bytes([flags]) + b"M" * 8 + bytes([verb]) + payload


def test_wire_header_parser_head():
    raw = _packet(0x0102030405060708, 0x8FEC3E8AE4, 0xEB8CB7D1C8, (3 << 3) | 0x40 | 2, verb=0x86)
    w = WirePacket("sent", "127.0.0.1/9993", 0, raw)
    assert w.kind == "packet" and w.packet_id == 0x0102030405060708
    assert w.destination == 0x8FEC3E8AE4 and w.source == 0xEB8CB7D1C8 and str(w.source) == "eb8cb7d1c8"
    assert w.cipher == 3 and w.cipher_name == "AES_GMAC_SIV" and w.fragmented and w.hops == 2
    assert w.verb is None  # encrypted: the verb byte is not readable
    hello = WirePacket("sent", "127.0.0.1/9993", 0, _packet(1, 2, 3, 0, verb=0x01))
    assert hello.cipher == 0 and hello.verb == "HELLO" and not hello.fragmented and hello.hops == 0
    assert "HELLO" in repr(hello)


def test_wire_header_parser_fragment_and_short():
    frag = (7).to_bytes(8, "big") + (0x8FEC3E8AE4).to_bytes(5, "big") + bytes([0xFF, 0x21, 0x01]) + b"y" * 40
    w = WirePacket("received", "127.0.0.1/1", 0, frag)
    assert w.kind == "fragment" and w.fragmented and w.fragment_total == 2 and w.fragment_number == 1
    assert w.destination == 0x8FEC3E8AE4 and w.source is None and w.hops == 1 and w.cipher is None
    assert WirePacket("received", "", 0, b"z" * 20).kind == "short"
    assert WirePacket("received", "", 0, b"\0" * 8 + bytes.fromhex("8fec3e8ae4")).source == 0x8FEC3E8AE4


def test_missing_library_gives_a_clear_import_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ZTCORE_LIB", str(tmp_path / "nope.so"))
    with pytest.raises(ImportError, match="ZTCORE_LIB"):
        _ffi._find_library()
    monkeypatch.delenv("ZTCORE_LIB")
    monkeypatch.setattr(_ffi, "_REPO", tmp_path)  # a checkout without build/
    monkeypatch.setattr(_ffi, "_loaded_path", lambda name: None)  # nothing on the loader's path
    monkeypatch.setattr(_ffi.sys, "prefix", str(tmp_path))  # nor in the prefix
    with pytest.raises(ImportError, match="cmake .*--target ztcore_shared") as e:
        _ffi._find_library()
    assert "ZTCORE_LIB" in str(e.value)


def test_library_search_order(tmp_path, monkeypatch):
    # $ZTCORE_LIB, the checkout's build/, the system loader (find_library, then the SONAME), sys.prefix/lib.
    monkeypatch.delenv("ZTCORE_LIB", raising=False)
    monkeypatch.setattr(_ffi, "_REPO", tmp_path / "checkout")
    (tmp_path / "prefix" / "lib").mkdir(parents=True)
    (tmp_path / "prefix" / "lib" / "libztcore.so").write_bytes(b"")
    monkeypatch.setattr(_ffi.sys, "prefix", str(tmp_path / "prefix"))
    tried = []
    monkeypatch.setattr(_ffi, "_loaded_path", lambda name: tried.append(name))
    assert _ffi._find_library() == str(tmp_path / "prefix" / "lib" / "libztcore.so")
    assert tried[-1] == "libztcore.so.1"
    monkeypatch.setattr(_ffi, "_loaded_path", lambda name: "/opt/x/lib/libztcore.so.1.2.0")
    assert _ffi._find_library() == "/opt/x/lib/libztcore.so.1.2.0"
    (tmp_path / "checkout" / "build").mkdir(parents=True)
    (tmp_path / "checkout" / "build" / "libztcore.so").write_bytes(b"")
    assert _ffi._find_library() == str(tmp_path / "checkout" / "build" / "libztcore.so")
    monkeypatch.setenv("ZTCORE_LIB", str(tmp_path / "prefix" / "lib" / "libztcore.so"))
    assert _ffi._find_library() == str(tmp_path / "prefix" / "lib" / "libztcore.so")
