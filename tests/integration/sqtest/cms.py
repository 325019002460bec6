"""Tampering with a sealed message where it counts: one bit of the
AES-GCM ciphertext or of its authentication tag, not of an ASN.1 header
(which any parser refuses anyway), so a test proves that the tag is
checked and that nothing of a failed open is served.

    flip(path, "content")   # or "tag"

The file keeps its size (the maildir name's S= stays true) and, when it
is S/MIME as older versions stored it, its headers and base64 line width.
"""
import base64
import re
import subprocess

ITEM = re.compile(r"^\s*(\d+):d=\s*(\d+)\s+hl=\s*(\d+)\s+l=\s*(\d+|inf)\s+"
                  r"(prim|cons):\s+(.*)$")


def _items(der):
    out = subprocess.run(["openssl", "asn1parse", "-inform", "DER"],
                         input=der, capture_output=True, check=True).stdout
    items = []
    for line in out.decode().splitlines():
        m = ITEM.match(line)
        if m:
            items.append((int(m.group(1)), int(m.group(3)),
                          -1 if m.group(4) == "inf" else int(m.group(4)),
                          m.group(5), m.group(6).strip()))
    return items


def _offset(der, where):
    """The offset of an octet in the middle of the ciphertext, or of the
    tag (the last 16-octet OCTET STRING: AuthEnvelopedData's mac)."""
    items = _items(der)
    if where == "tag":
        off, hl, length, _, _ = [i for i in items if i[3] == "prim" and
                                 i[4].startswith("OCTET STRING") and
                                 i[2] == 16][-1]
        return off + hl + length // 2
    # encryptedContent: the first [0] after the content cipher's name
    gcm = next(n for n, i in enumerate(items) if "aes-256-gcm" in i[4]
               or "id-aes256-GCM" in i[4])
    k = next(n for n, i in enumerate(items)
             if n > gcm and i[4].startswith("cont [ 0 ]"))
    off, hl, length, kind, _ = items[k]
    if kind == "cons":  # streamed: chunks of OCTET STRING inside
        off, hl, length, _, _ = items[k + 1]
    return off + hl + length // 2


def flip(path, where):
    """Flips one bit of path's ciphertext ("content") or tag ("tag")."""
    data = open(path, "rb").read()
    if data[:1] == b"\x30":    # binary, as stored
        der = bytearray(data)
        der[_offset(data, where)] ^= 0x01
        with open(path, "wb") as f:
            f.write(bytes(der))
        return
    sep = b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n"
    nl = sep[:len(sep) // 2]
    head, _, body = data.partition(sep)
    lines = body.split(nl)
    width = len(lines[0])
    der = bytearray(base64.b64decode(b"".join(body.split())))
    der[_offset(bytes(der), where)] ^= 0x01
    b64 = base64.b64encode(bytes(der))
    out = nl.join(b64[i:i + width] for i in range(0, len(b64), width))
    tail = body[len(body.rstrip()):]
    with open(path, "wb") as f:
        f.write(head + sep + out + tail)
    if len(head + sep + out + tail) != len(data):
        raise RuntimeError("tampering changed the file's size")
