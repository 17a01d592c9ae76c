"""Write a VBA project (xl/vbaProject.bin) from module source text, on any OS, with no Office.

Implements what Excel reads from the project, after Microsoft's open specifications:
- [MS-OVBA] the VBA storage: the `PROJECT`, `PROJECTwm` and `VBA/dir` streams, the module
  streams, the `_VBA_PROJECT` stream, the compression (2.4.1) and the data encryption
  of the protection/password/visibility properties (2.4.3);
- [MS-CFB] version 3 of the compound file that holds them.

The project carries source only, no compiled p-code: `_VBA_PROJECT` has the version 0xFFFF
that [MS-OVBA] 2.3.4.1 prescribes on write, so Office compiles the modules from source on
first load. xlwings ships its own add-ins the same way (their `_VBA_PROJECT` is the same
7 bytes and their xlwings module has no performance cache), which is the evidence that
Excel accepts such projects. Everything is deterministic: the same sources give the same bytes.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field

CODEPAGE = 1252
ENC = f"cp{CODEPAGE}"

# Module kinds: (dir record type, PROJECT stream key)
STANDARD, CLASS, DOCUMENT = "standard", "class", "document"

# Libid of the Office type library (IRibbonControl), as Excel writes it.
OFFICE_LIBID = (r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#"
                r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL#Microsoft Office 16.0 Object Library")

DOC_BASE = {"ThisWorkbook": "0{00020819-0000-0000-C000-000000000046}",   # Excel Workbook
            "Sheet": "0{00020820-0000-0000-C000-000000000046}"}          # Excel Worksheet
CLASS_BASE = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"


@dataclass
class Module:
    name: str
    kind: str            # STANDARD, CLASS or DOCUMENT
    source: str          # the code as stored: "Attribute VB_Name = ..." lines first, CRLF line ends
    doc: str = ""


@dataclass
class Project:
    name: str
    modules: list[Module]
    references: list[tuple[str, str]] = field(default_factory=lambda: [("Office", OFFICE_LIBID)])
    project_id: str = ""   # "{GUID}"; derived from the name when empty (reproducible)
    seed: int = 0x5D       # first byte of the encrypted properties; any value is valid

    def id(self) -> str:
        return self.project_id or "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "batn:" + self.name)).upper() + "}"


# ---------------------------------------------------------------- module text

def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def standard_module(name: str, code: str) -> Module:
    """A .bas file's text: its own `Attribute VB_Name` line is replaced by the right one."""
    lines = [ln for ln in _crlf(code).split("\r\n") if not ln.startswith("Attribute VB_Name")]
    return Module(name, STANDARD, f'Attribute VB_Name = "{name}"\r\n' + "\r\n".join(lines))


def class_module(name: str, code: str) -> Module:
    """A .cls file as exported by the VBA editor: the VERSION/BEGIN...END header is not part of the stream."""
    lines = _crlf(code).split("\r\n")
    if lines and lines[0].startswith("VERSION "):
        end = lines.index("END")
        lines = lines[end + 1:]
    attrs = [ln for ln in lines if ln.startswith("Attribute VB_") and not ln.startswith("Attribute VB_Name")
             and not ln.startswith("Attribute VB_Base")]
    body = lines[len([ln for ln in lines if ln.startswith("Attribute VB_")]):]
    head = [f'Attribute VB_Name = "{name}"', f'Attribute VB_Base = "{CLASS_BASE}"']
    wanted = ("VB_GlobalNameSpace", "VB_Creatable", "VB_PredeclaredId", "VB_Exposed")
    head += [a for a in attrs if a.split()[1] in wanted]
    head += ["Attribute VB_TemplateDerived = False", "Attribute VB_Customizable = False"]
    head += [a for a in attrs if a.split()[1] not in wanted]
    return Module(name, CLASS, "\r\n".join(head + body))


def document_module(name: str, base: str, code: str = "") -> Module:
    head = [f'Attribute VB_Name = "{name}"', f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False", "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True", "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False", "Attribute VB_Customizable = True"]
    return Module(name, DOCUMENT, "\r\n".join(head) + "\r\n" + _crlf(code))


# ---------------------------------------------------------------- [MS-OVBA] 2.4.1 compression

def _copy_token_help(difference: int) -> tuple[int, int]:
    """(bit count of the offset, maximum length) at `difference` bytes into the chunk."""
    bit_count = max((difference - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(data: bytes) -> bytes:
    out = bytearray()
    heads: dict[bytes, list[int]] = {}
    pos, n = 0, len(data)

    def remember(i: int) -> None:
        if i + 3 <= n:
            heads.setdefault(data[i:i + 3], []).append(i)

    while pos < n:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= n:
                break
            best_len, best_at = 0, 0
            if pos > 0:
                bit_count, max_len = _copy_token_help(pos)
                for cand in reversed(heads.get(data[pos:pos + 3], [])[-512:]):
                    length = 0
                    while pos + length < n and data[cand + length] == data[pos + length] and length < max_len:
                        length += 1
                    if length > best_len:
                        best_len, best_at = length, cand
                        if length == max_len:
                            break
            if best_len >= 3:
                token = ((pos - best_at - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                for i in range(pos, pos + best_len):
                    remember(i)
                pos += best_len
            else:
                out.append(data[pos])
                remember(pos)
                pos += 1
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer: signature byte, then one chunk per 4096 bytes of input."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 4096):
        chunk = data[start:start + 4096]
        body = _compress_chunk(chunk)
        if len(body) > 4096 and len(chunk) == 4096:      # incompressible: a raw chunk
            out += struct.pack("<H", 0x3FFF) + chunk
        else:
            out += struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body
    return bytes(out)


# ---------------------------------------------------------------- [MS-OVBA] 2.4.3 data encryption

def encrypt(data: bytes, project_id: str, seed: int, ignored: bytes | None = None) -> str:
    """Hex text of the encrypted `data` (CMG, DPB and GC of the PROJECT stream). The (seed & 6) / 2
    "ignored" bytes may be anything; zeros unless given."""
    version = 2
    key = sum(project_id.encode(ENC)) & 0xFF
    out = bytearray([seed, seed ^ version, seed ^ key])
    unenc1, enc1, enc2 = key, seed ^ key, seed ^ version
    if ignored is None:
        ignored = bytes((seed & 6) // 2)
    assert len(ignored) == (seed & 6) // 2
    for byte in ignored + struct.pack("<I", len(data)) + data:
        b = byte ^ ((enc2 + unenc1) & 0xFF)
        out.append(b)
        enc2, enc1, unenc1 = enc1, b, byte
    return out.hex().upper()


# ---------------------------------------------------------------- streams

def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _u16(text: str) -> bytes:
    return text.encode("utf-16-le")


def dir_stream(project: Project) -> bytes:
    """The `VBA/dir` stream, uncompressed ([MS-OVBA] 2.3.4.2)."""
    mb = lambda s: s.encode(ENC)  # noqa: E731
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 1))                        # PROJECTSYSKIND: 32-bit Windows
    out += _rec(0x0002, struct.pack("<I", 0x0409))                   # PROJECTLCID
    out += _rec(0x0014, struct.pack("<I", 0x0409))                   # PROJECTLCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", CODEPAGE))                 # PROJECTCODEPAGE
    out += _rec(0x0004, mb(project.name))                            # PROJECTNAME
    out += _rec(0x0005, b"") + _rec(0x0040, b"")                     # PROJECTDOCSTRING (+ unicode)
    out += _rec(0x0006, b"") + _rec(0x003D, b"")                     # PROJECTHELPFILEPATH (1, 2)
    out += _rec(0x0007, struct.pack("<I", 0))                        # PROJECTHELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))                        # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)                     # PROJECTVERSION 1.0
    out += _rec(0x000C, b"") + _rec(0x003C, b"")                     # PROJECTCONSTANTS (+ unicode)
    for name, libid in project.references:
        out += _rec(0x0016, mb(name)) + _rec(0x003E, _u16(name))     # REFERENCENAME
        lib = mb(libid)
        out += _rec(0x000D, struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0))  # REFERENCEREGISTERED
    out += _rec(0x000F, struct.pack("<H", len(project.modules)))     # PROJECTMODULES
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))                   # PROJECTCOOKIE
    for m in project.modules:
        out += _rec(0x0019, mb(m.name)) + _rec(0x0047, _u16(m.name))            # MODULENAME (+ unicode)
        out += _rec(0x001A, mb(m.name)) + _rec(0x0032, _u16(m.name))            # MODULESTREAMNAME
        out += _rec(0x001C, mb(m.doc)) + _rec(0x0048, _u16(m.doc))              # MODULEDOCSTRING
        out += _rec(0x0031, struct.pack("<I", 0))                               # MODULEOFFSET: no p-code
        out += _rec(0x001E, struct.pack("<I", 0))                               # MODULEHELPCONTEXT
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))                          # MODULECOOKIE
        out += _rec(0x0021 if m.kind == STANDARD else 0x0022, b"")              # MODULETYPE
        out += _rec(0x002B, b"")                                                # module terminator
    out += _rec(0x0010, b"")                                                    # dir terminator
    return bytes(out)


def project_stream(project: Project) -> bytes:
    """The `PROJECT` stream ([MS-OVBA] 2.3.1): module list, name, protection state, workspace."""
    pid = project.id()
    key = {STANDARD: "Module", CLASS: "Class"}
    lines = [f'ID="{pid}"']
    for m in project.modules:
        lines.append(f"Document={m.name}/&H00000000" if m.kind == DOCUMENT else f"{key[m.kind]}={m.name}")
    lines += [f'Name="{project.name}"', 'HelpContextID="0"', 'VersionCompatible32="393222000"',
              f'CMG="{encrypt(bytes(4), pid, project.seed)}"',          # not protected
              f'DPB="{encrypt(bytes(1), pid, project.seed)}"',          # no password
              f'GC="{encrypt(bytes([0xFF]), pid, project.seed)}"',      # visible
              "", "[Host Extender Info]", "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
              "", "[Workspace]"]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in project.modules]
    return ("\r\n".join(lines) + "\r\n").encode(ENC)


def projectwm_stream(project: Project) -> bytes:
    out = bytearray()
    for m in project.modules:
        out += m.name.encode(ENC) + b"\x00" + _u16(m.name) + b"\x00\x00"
    return bytes(out + b"\x00\x00")


VBA_PROJECT_STREAM = b"\xcc\x61\xff\xff\x00\x01\x00"   # Reserved1 0x61CC, Version 0xFFFF: no p-code


def streams(project: Project) -> dict[str, bytes]:
    """Path -> bytes of every stream of the project storage."""
    for m in project.modules:
        m.source.encode(ENC)     # raises on a character the code page cannot hold
    out = {"PROJECT": project_stream(project), "PROJECTwm": projectwm_stream(project),
           "VBA/_VBA_PROJECT": VBA_PROJECT_STREAM, "VBA/dir": compress(dir_stream(project))}
    for m in project.modules:
        out[f"VBA/{m.name}"] = compress(m.source.encode(ENC))
    return out


# ---------------------------------------------------------------- [MS-CFB] version 3 compound file

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
RED, BLACK = 0, 1


@dataclass
class _Entry:
    name: str
    kind: int                      # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list["_Entry"] = field(default_factory=list)
    sid: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def _cfb_key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def _tree(children: list[_Entry]) -> int:
    """Siblings as a balanced binary search tree in CFB order, coloured as a valid red-black tree
    (black down to the last complete level, red below it); returns the root's sid."""
    ordered = sorted(children, key=lambda e: _cfb_key(e.name))
    depth_of: dict[int, int] = {}

    def build(items: list[_Entry], depth: int) -> int:
        if not items:
            return NOSTREAM
        mid = len(items) // 2
        node = items[mid]
        depth_of[node.sid] = depth
        node.left = build(items[:mid], depth + 1)
        node.right = build(items[mid + 1:], depth + 1)
        return node.sid

    root = build(ordered, 0)
    full = (len(ordered) + 1).bit_length() - 1          # levels that are complete
    for e in ordered:
        e.color = RED if depth_of[e.sid] >= full else BLACK
    return root


def compound_file(files: dict[str, bytes]) -> bytes:
    """A compound file holding `files` ("PROJECT", "VBA/dir", ...): one level of storages."""
    root = _Entry("Root Entry", 5)
    storages: dict[str, _Entry] = {}
    for path, data in files.items():
        parent = root
        *dirs, leaf = path.split("/")
        for d in dirs:
            if d not in storages:
                storages[d] = _Entry(d, 1, start=0)
                parent.children.append(storages[d])
            parent = storages[d]
        parent.children.append(_Entry(leaf, 2, data))
    entries: list[_Entry] = []

    def number(e: _Entry) -> None:
        e.sid = len(entries)
        entries.append(e)
        for c in e.children:
            number(c)

    number(root)
    for e in entries:
        if e.children:
            e.child = _tree(e.children)
    # Mini stream: every stream under the cutoff, in 64-byte mini sectors.
    mini = bytearray()
    minifat: list[int] = []
    for e in entries:
        if e.kind == 2 and len(e.data) < CUTOFF:
            e.size = len(e.data)
            if not e.data:
                continue
            e.start = len(mini) // MINI
            count = -(-len(e.data) // MINI)
            minifat += [e.start + i + 1 for i in range(count - 1)] + [ENDOFCHAIN]
            mini += e.data + b"\x00" * (count * MINI - len(e.data))
    big = [e for e in entries if e.kind == 2 and len(e.data) >= CUTOFF]

    def sectors(n: int) -> int:
        return -(-n // SECTOR)

    n_dir = sectors(len(entries) * 128)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini))
    n_big = sum(sectors(len(e.data)) for e in big)
    n_fat = 1
    while n_fat * 128 < n_fat + n_dir + n_minifat + n_mini + n_big:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("project too large for a compound file without DIFAT sectors")
    fat: list[int] = [FATSECT] * n_fat
    body = bytearray()

    def chain(data: bytes) -> int:
        first = len(fat)
        count = sectors(len(data))
        fat.extend(first + i + 1 for i in range(count - 1))
        fat.append(ENDOFCHAIN)
        body.extend(data + b"\x00" * (count * SECTOR - len(data)))
        return first

    dir_start = len(fat)
    fat.extend(dir_start + i + 1 for i in range(n_dir - 1))
    fat.append(ENDOFCHAIN)
    dir_bytes_at = len(body)
    body.extend(b"\x00" * (n_dir * SECTOR))
    minifat_start = chain(b"".join(struct.pack("<I", x) for x in minifat)) if minifat else ENDOFCHAIN
    if mini:
        root.start, root.size = chain(bytes(mini)), len(mini)
    for e in big:
        e.start, e.size = chain(e.data), len(e.data)
    fat += [FREESECT] * (n_fat * 128 - len(fat))
    fat_bytes = b"".join(struct.pack("<I", x) for x in fat)

    def entry_bytes(e: _Entry) -> bytes:
        name = _u16(e.name) + b"\x00\x00"
        return (name + b"\x00" * (64 - len(name)) + struct.pack("<HBBIII", len(name), e.kind, e.color,
                                                                  e.left, e.right, e.child)
                + b"\x00" * 16 + struct.pack("<I", 0) + b"\x00" * 16 + struct.pack("<IQ", e.start, e.size))

    empty = b"\x00" * 64 + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM) + b"\x00" * 36 \
        + struct.pack("<IQ", 0, 0)
    dirs = b"".join(entry_bytes(e) for e in entries)
    dirs += empty * (n_dir * 4 - len(entries))
    body[dir_bytes_at:dir_bytes_at + len(dirs)] = dirs
    difat = [i for i in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIII", 0, n_fat, dir_start, 0, CUTOFF, minifat_start,
                            n_minifat if minifat else 0, ENDOFCHAIN)
              + struct.pack("<I", 0)
              + b"".join(struct.pack("<I", x) for x in difat))
    assert len(header) == SECTOR, len(header)
    return header + fat_bytes + bytes(body)


def vba_project_bin(project: Project) -> bytes:
    return compound_file(streams(project))
