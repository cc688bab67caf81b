#!/usr/bin/env python3
"""Recomputes PROTOCOL.md's "Worked example" from the document alone.

A second implementation of the end-to-end formats, written from the text of
PROTOCOL.md with the `cryptography` package (Debian: python3-cryptography),
sharing no code with the Rust client: the inputs are read from the worked
example's sentences, every ```e2e NAME``` and ```digits NAME``` block is
recomputed and compared byte for byte. Run by client/tests/protocol_md_independent.rs.

Usage: protocol_md_example.py PATH/TO/PROTOCOL.md
Exit 0 when every block matches; otherwise 1, one line per difference.

When the worked example changes, adapt the three parts below: INPUTS (the
sentences the inputs are read from), the format functions (one per content
type, as the document draws it) and EXPECTED (which block is which bytes).
"""

import hashlib
import re
import struct
import sys

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class Mismatch(Exception):
    pass


# ---- the document's notation (section "Conventions") -----------------------


def notation(text):
    """Hex as PROTOCOL.md writes it: white space ignored, `#` to the end of
    the line is a comment, `XX*N` is N bytes XX, `a b .. z` counts up."""
    tokens = []
    for line in text.splitlines():
        tokens += line.split("#", 1)[0].split()
    out = bytearray()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "..":
            start, end = out[-1], int(tokens[i + 1], 16)
            out += bytes(range(start + 1, end + 1))
            i += 2
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{2})\*(\d+)", tok)
        if m:
            out += bytes([int(m.group(1), 16)]) * int(m.group(2))
        elif re.fullmatch(r"(?:[0-9a-fA-F]{2})+", tok):
            out += bytes.fromhex(tok)
        else:
            raise Mismatch(f"not hex notation: {tok!r}")
        i += 1
    return bytes(out)


def blocks(doc, tag):
    """Every ```TAG NAME``` fenced block, by name."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^```" + tag + r" (\S+)\n(.*?)^```", doc, re.S | re.M)
    }


def section(doc, title):
    m = re.search(r"^### " + re.escape(title) + r"\n(.*?)(?=^##)", doc, re.S | re.M)
    if not m:
        raise Mismatch(f"no section {title!r}")
    return m.group(1)


# ---- INPUTS: read from the worked example's sentences ----------------------

INPUTS = {
    # name: (pattern over the section's prose, how to read the capture)
    "alice_id": (r"Alice \(client id `([^`]+)`\)", notation),
    "bob_id": (r"with Bob \(`([^`]+)`\)", notation),
    "alice_secret": (r"are the bytes `([^`]+)` for Alice", notation),
    "bob_secret": (r"`([^`]+)` for Bob", notation),
    "ephemeral": (r"ephemeral secret is `([^`]+)`", notation),
    "sid": (r"session id `([^`]+)`", notation),
    "offer_nonce": (r"offer's nonce `([^`]+)`", notation),
    "answer_nonce": (r"the answer's `([^`]+)`", notation),
    "text": (r"the text `([^`]+)` \(type 3\)", str.encode),
    "text_counter": (r"\(type 3\) with counter (\d+)", int),
    "text_clock": (r"\(type 3\) with counter \d+, her clock at (\d+) ms", int),
    "text_nonce": (r"\(type 3\) with counter \d+, her clock at \d+ ms \([^)]*\) and nonce `([^`]+)`", notation),
    "file_name": (r"-byte file `([^`]+)`", str.encode),
    "file_content": (r"containing `([^`]+)`", str.encode),
    "file_key": (r"Its key is `([^`]+)`", notation),
    "nonce_prefix": (r"nonce prefix `([^`]+)`", notation),
    "meta_counter": (r"the meta is sealed with counter (\d+)", int),
    "meta_clock": (r"the meta is sealed with counter \d+, her clock at (\d+) ms", int),
    "meta_nonce": (r"the meta is sealed with counter \d+, her clock at \d+ ms \([^)]*\) and nonce `([^`]+)`", notation),
    "meta_plaintext": (r"over the plaintext `([^`]+)`", notation),
    "refused_id": (r"delivered again as message (\d+)", int),
    "refusal_counter": (r"with Bob's counter (\d+)", int),
    "refusal_clock": (r"with Bob's counter \d+, his clock at (\d+) ms", int),
    "refusal_nonce": (r"his clock at \d+ ms and nonce `([^`]+)`", notation),
    "refusal_reason": (r"reason (\d+)\)", int),
    "receipt_counter": (r"receipt in the same session with Bob's counter (\d+)", int),
    "receipt_clock": (r"receipt in the same session with Bob's counter \d+, his clock at (\d+) ms", int),
    "receipt_nonce": (r"receipt in the same session with [^`]*nonce `([^`]+)`", notation),
    "receipt_ids": (r"\(sent at, delivered, two ids, (\d+, \d+)\)", lambda s: [int(x) for x in s.split(", ")]),
    "lost_id": (r"restored from a backup; Alice's message (\d+)", int),
    "lost_sid": (r"restored from a backup; Alice's message \d+, a text sealed in session `([^`]+)`", notation),
    "lost_counter": (r"with her counter (\d+), reaches him", int),
    "lost_refusal_counter": (r"in the session of the examples above with his counter (\d+)", int),
    "lost_clock": (r"in the session of the examples above with his counter \d+, his clock at (\d+) ms", int),
    "lost_nonce": (r"in the session of the examples above with his counter \d+, his clock at \d+ ms and nonce `([^`]+)`", notation),
    "lost_reason": (r"restored from a backup; .*?reason (\d+)\)", int),
    "welcome_room": (r"invitation to room `([^`]+)`", notation),
    "welcome_id": (r"invitation to room `[^`]+`, message (\d+)", int),
    "welcome_epoch": (r"invitation to room `[^`]+`, message \d+, which joins epoch (\d+)", int),
    "welcome_refusal_counter": (r"which joins epoch \d+: .*?with his counter (\d+)", int),
    "welcome_clock": (r"which joins epoch \d+: .*?with his counter \d+, his clock at (\d+) ms", int),
    "welcome_nonce": (r"which joins epoch \d+: .*?his clock at \d+ ms and nonce `([^`]+)`", notation),
    "welcome_type": (r"room id, epoch \d+, type (\d+), reason", int),
    "welcome_reason": (r"room id, epoch \d+, type \d+, reason (\d+)\)", int),
}


def read_inputs(example):
    # Blocks out, line breaks and runs of spaces as single spaces.
    prose = " ".join(re.sub(r"```.*?```", "", example, flags=re.S).split())
    got = {}
    for name, (pattern, convert) in INPUTS.items():
        m = re.search(pattern, prose)
        if not m:
            raise Mismatch(f"input {name}: no sentence matches {pattern!r}")
        got[name] = convert(m.group(1))
    return got


# ---- primitives, from the packages ----------------------------------------


def x25519_public(secret):
    key = X25519PrivateKey.from_private_bytes(secret).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519(secret, public):
    shared = X25519PrivateKey.from_private_bytes(secret).exchange(
        X25519PublicKey.from_public_bytes(public)
    )
    if shared == bytes(32):
        raise Mismatch("an all-zero Diffie-Hellman")
    return shared


def ed25519_public(seed):
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(seed, message):
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def hkdf_extract(salt, ikm):
    mac = hmac.HMAC(salt, hashes.SHA256())
    mac.update(ikm)
    return mac.finalize()


def hkdf_expand(prk, info, length):
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def hchacha20(key, nonce16):
    """HChaCha20 (draft-irtf-cfrg-xchacha, 2.2) from the ChaCha20 block the
    package computes: the block is the permuted state plus the input state,
    so words 0-3 and 12-15 minus the input are HChaCha20's output."""
    block = Cipher(algorithms.ChaCha20(key, nonce16), mode=None).encryptor().update(
        bytes(64)
    )
    words = struct.unpack("<16I", block)
    start = struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<4I", nonce16)
    picked = [words[i] for i in (0, 1, 2, 3, 12, 13, 14, 15)]
    return struct.pack("<8I", *((w - s) & 0xFFFFFFFF for w, s in zip(picked, start)))


def xchacha20_poly1305(key, nonce24, plaintext, ad):
    """Ciphertext followed by the 16-byte tag."""
    subkey = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(subkey).encrypt(bytes(4) + nonce24[16:], plaintext, ad)


def self_test():
    """The draft's own XChaCha20-Poly1305 vector (A.3.1), so that a mistake
    in the construction above cannot pass for a mismatch in the document."""
    text = (
        b"Ladies and Gentlemen of the class of '99: If I could offer you only "
        b"one tip for the future, sunscreen would be it."
    )
    sealed = xchacha20_poly1305(
        bytes(range(0x80, 0xA0)),
        bytes(range(0x40, 0x58)),
        text,
        bytes.fromhex("50515253c0c1c2c3c4c5c6c7"),
    )
    want = (
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49"
    )
    if sealed.hex() != want:
        raise Mismatch("XChaCha20-Poly1305 does not match its draft's vector A.3.1")


# ---- the formats, as PROTOCOL.md draws them --------------------------------

LABEL = lambda s: ("sealpost/v3/" + s).encode()  # noqa: E731


def bundle(secret):
    """Key bundle: IK | DHI | SPK | signature over the label and bytes 0..96."""
    seed, dh, spk = secret[:32], secret[32:64], secret[64:96]
    keys = ed25519_public(seed) + x25519_public(dh) + x25519_public(spk)
    return keys + ed25519_sign(seed, LABEL("key-bundle") + keys)


def key_schedule(i, alice, bob):
    a_dh, b_bundle, a_bundle = alice[32:64], bundle(bob), bundle(alice)
    ik_a, ik_b, dhi_b, spk_b = a_bundle[:32], b_bundle[:32], b_bundle[32:64], b_bundle[64:96]
    dh1 = x25519(a_dh, spk_b)
    dh2 = x25519(i["ephemeral"], dhi_b)
    dh3 = x25519(i["ephemeral"], spk_b)
    ikm = b"\xff" * 32 + dh1 + dh2 + dh3
    info = LABEL("x3dh") + ik_a + ik_b + i["alice_id"] + i["bob_id"]
    sk = hkdf_expand(hkdf_extract(i["sid"], ikm), info, 32)
    return {
        "dh": [dh1, dh2, dh3],
        "sk": sk,
        "k_ab": hkdf_expand(sk, LABEL("initiator-to-responder"), 32),
        "k_ba": hkdf_expand(sk, LABEL("responder-to-initiator"), 32),
        "k_confirm": hkdf_expand(sk, LABEL("confirm"), 32),
        "spk_b": spk_b,
    }


def offer(i, keys):
    ek = x25519_public(i["ephemeral"])
    ad = LABEL("offer") + i["sid"] + i["alice_id"] + i["bob_id"]
    tag = xchacha20_poly1305(keys["k_confirm"], i["offer_nonce"], b"", ad)
    return b"\x01" + i["sid"] + ek + keys["spk_b"] + i["offer_nonce"] + tag


def answer(i, keys):
    ad = LABEL("answer") + i["sid"] + i["bob_id"] + i["alice_id"]
    tag = xchacha20_poly1305(keys["k_confirm"], i["answer_nonce"], b"", ad)
    return b"\x01" + i["sid"] + i["answer_nonce"] + tag


def envelope(key, sender, recipient, kind, sid, counter, nonce, clock, body, refusal=False, receipt=False):
    """Sealed envelope (types 3 and 4; format 02 for a refusal notice, 03
    for a receipt): the plaintext is the sender's clock (ms, u64 LE) then
    the body."""
    if receipt:
        label, fmt = LABEL("receipt"), b"\x03"
    elif refusal:
        label, fmt = LABEL("refusal"), b"\x02"
    else:
        label, fmt = LABEL("message"), b"\x01"
    counter = struct.pack("<Q", counter)
    ad = label + sender + recipient + bytes([kind]) + sid + counter
    plaintext = struct.pack("<Q", clock) + body
    return fmt + sid + counter + nonce + xchacha20_poly1305(key, nonce, plaintext, ad)


def refusal_body(i):
    """What Bob refuses: the text's message id, sid, counter, type 3, reason."""
    return (
        struct.pack("<Q", i["refused_id"])
        + i["sid"]
        + struct.pack("<Q", i["text_counter"])
        + bytes([3, i["refusal_reason"]])
    )


def meta_plaintext(i):
    name = i["file_name"]
    return (
        struct.pack("<Q", i["meta_clock"])
        + struct.pack("<H", len(name))
        + name
        + struct.pack("<Q", len(i["file_content"]))
        + i["file_key"]
        + i["nonce_prefix"]
    )


def file_body(key, prefix, content):
    """STREAM: 65536-byte chunks, nonce = prefix | i u32 BE | last flag."""
    chunks = [content[k : k + 65536] for k in range(0, len(content), 65536)] or [b""]
    if len(chunks[-1]) == 65536:
        chunks.append(b"")
    out = b""
    for n, chunk in enumerate(chunks):
        last = b"\x01" if n == len(chunks) - 1 else b"\x00"
        out += xchacha20_poly1305(key, prefix + struct.pack(">I", n) + last, chunk, b"")
    return out


def fingerprint(bundle_bytes):
    digest = hashlib.sha256(LABEL("fingerprint") + bundle_bytes[:64]).digest()
    return " ".join(
        "%05d" % (int.from_bytes(digest[5 * k : 5 * k + 5], "big") % 100000)
        for k in range(6)
    )


# ---- EXPECTED: every block of the example ----------------------------------


def expected(i):
    alice, bob = i["alice_secret"], i["bob_secret"]
    keys = key_schedule(i, alice, bob)
    if meta_plaintext(i) != i["meta_plaintext"]:
        raise Mismatch("the meta plaintext the text shows is not the documented layout")
    fa, fb = fingerprint(bundle(alice)), fingerprint(bundle(bob))
    first, second = (fa, fb) if i["alice_id"] < i["bob_id"] else (fb, fa)
    e2e = {
        "alice-bundle": bundle(alice),
        "bob-bundle": bundle(bob),
        "x3dh-keys": b"".join(keys["dh"])
        + keys["sk"]
        + keys["k_ab"]
        + keys["k_ba"]
        + keys["k_confirm"],
        "offer": offer(i, keys),
        "answer": answer(i, keys),
        "text": envelope(
            keys["k_ab"], i["alice_id"], i["bob_id"], 3, i["sid"],
            i["text_counter"], i["text_nonce"], i["text_clock"], i["text"],
        ),
        "file-meta": envelope(
            keys["k_ab"], i["alice_id"], i["bob_id"], 4, i["sid"],
            i["meta_counter"], i["meta_nonce"], i["meta_clock"], meta_plaintext(i)[8:],
        ),
        "refusal": envelope(
            keys["k_ba"], i["bob_id"], i["alice_id"], 3, i["sid"],
            i["refusal_counter"], i["refusal_nonce"], i["refusal_clock"], refusal_body(i),
            refusal=True,
        ),
        "receipt": envelope(
            keys["k_ba"], i["bob_id"], i["alice_id"], 3, i["sid"],
            i["receipt_counter"], i["receipt_nonce"], i["receipt_clock"],
            # delivered (1), the count, the ids
            bytes([1]) + struct.pack("<H", len(i["receipt_ids"]))
            + b"".join(struct.pack("<Q", x) for x in i["receipt_ids"]),
            receipt=True,
        ),
        "refusal-no-session": envelope(
            keys["k_ba"], i["bob_id"], i["alice_id"], 3, i["sid"],
            i["lost_refusal_counter"], i["lost_nonce"], i["lost_clock"],
            struct.pack("<Q", i["lost_id"]) + i["lost_sid"]
            + struct.pack("<Q", i["lost_counter"]) + bytes([3, i["lost_reason"]]),
            refusal=True,
        ),
        # A refused room invitation: the room id and epoch in the sid and
        # counter fields, type 5.
        "refusal-welcome": envelope(
            keys["k_ba"], i["bob_id"], i["alice_id"], 3, i["sid"],
            i["welcome_refusal_counter"], i["welcome_nonce"], i["welcome_clock"],
            struct.pack("<Q", i["welcome_id"]) + i["welcome_room"]
            + struct.pack("<Q", i["welcome_epoch"])
            + bytes([i["welcome_type"], i["welcome_reason"]]),
            refusal=True,
        ),
        "file-body": file_body(i["file_key"], i["nonce_prefix"], i["file_content"]),
    }
    digits = {
        "alice-fingerprint": fa,
        "bob-fingerprint": fb,
        "safety-number": first + " " + second,
    }
    return e2e, digits


def main(path):
    doc = open(path, encoding="utf-8").read()
    self_test()
    inputs = read_inputs(section(doc, "Worked example"))
    want_e2e, want_digits = expected(inputs)
    problems = []
    for tag, want, read in (
        ("e2e", want_e2e, notation),
        ("digits", want_digits, lambda t: " ".join(t.split())),
    ):
        found = blocks(doc, tag)
        if sorted(found) != sorted(want):
            problems.append(f"{tag} blocks: document has {sorted(found)}, script computes {sorted(want)}")
        for name in sorted(set(found) & set(want)):
            got = read(found[name])
            if got != want[name]:
                show = (lambda b: b.hex()) if isinstance(got, bytes) else str
                problems.append(f"{name}: document {show(got)} != recomputed {show(want[name])}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {len(want_e2e)} e2e and {len(want_digits)} digits blocks recomputed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1]))
    except Mismatch as e:
        print(e)
        sys.exit(1)
