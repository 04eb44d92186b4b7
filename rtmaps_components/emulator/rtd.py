"""Parse RTMaps diagram files (.rtd) safely into plain data: components, properties, connections.

Safety: a diagram is a file from someone else. Only a regular file of at most 16 MiB is read (the size
is checked before reading, and the read itself is bounded). Any DTD is refused, whatever the file's
encoding: the text is decoded first (byte order mark, else the declared encoding) and re-encoded as
UTF-8, then searched for a DTD, then parsed by an expat pass that fails on the first doctype or entity
declaration, before any entity could expand (billion laughs) or pull an external file; only then is
the tree built.
"""

from __future__ import annotations

import os
import re
import stat
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DiagramError

NAMESPACE = "http://schemas.intempora.com/RTMaps/2011/RTMapsFiles"
MAX_BYTES = 16 * 1024 * 1024
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
PROPERTY_TYPES = {0: "bool", 1: "int", 2: "float", 3: "string", 4: "enum"}
TYPE_BOOL, TYPE_INT, TYPE_FLOAT, TYPE_STRING, TYPE_ENUM = 0, 1, 2, 3, 4  # the `Type` attribute of <Property>


@dataclass
class PropertySpec:
    name: str  # the part after "Instance." (may hold dots for port properties)
    type_code: int
    text: str
    subtype: int = 0
    relative: str | None = None  # a <Relative> child, e.g. %RTMAPS_DIAGRAMDIR%/x.py


@dataclass
class PortSpec:
    name: str
    properties: dict[str, PropertySpec] = field(default_factory=dict)  # short name -> spec


@dataclass
class ComponentSpec:
    instance: str
    model: str
    version: str
    properties: dict[str, PropertySpec] = field(default_factory=dict)
    inputs: dict[str, PortSpec] = field(default_factory=dict)
    outputs: dict[str, PortSpec] = field(default_factory=dict)


@dataclass
class ConnectionSpec:
    out_instance: str
    out_port: str
    in_instance: str
    in_port: str

    def __str__(self) -> str:
        return f"{self.out_instance}.{self.out_port} -> {self.in_instance}.{self.in_port}"


@dataclass
class Diagram:
    path: Path
    components: dict[str, ComponentSpec]
    connections: list[ConnectionSpec]
    macros: dict[str, str] = field(default_factory=dict)  # <MacroComponent> instance -> model (not emulated)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def resolve(self, prop: PropertySpec) -> str:
        """A file property's path: its <Relative> form against the diagram's folder, else its text."""
        if prop.relative:
            # Studio on Windows writes backslashes; the vehicle and the desk are POSIX
            rel = prop.relative.replace("\\", "/").replace("%RTMAPS_DIAGRAMDIR%", str(self.directory))
            if "%" not in rel:
                return str(Path(rel).resolve())
        text = prop.text.strip()
        if text and not Path(text).is_absolute():
            return str((self.directory / text).resolve())
        return text


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _split(long_name: str, where: str) -> tuple[str, str]:
    if "." not in long_name:
        raise DiagramError(f"{where}: expected 'Instance.name', got {long_name!r}")
    a, b = long_name.split(".", 1)
    if not a or not b:
        raise DiagramError(f"{where}: expected 'Instance.name', got {long_name!r}")
    return a, b


def _property(el: ET.Element, instance: str, where: str) -> PropertySpec:
    long_name = el.get("LongName") or ""
    inst, name = _split(long_name, where)
    if inst != instance:
        raise DiagramError(f"{where}: property {long_name!r} is inside component {instance!r}")
    try:
        code = int(el.get("Type", "3"))
        subtype = int(el.get("SubType", "0"))
    except ValueError:
        raise DiagramError(f"{where}: property {long_name!r} has a non-numeric Type/SubType") from None
    if code not in PROPERTY_TYPES:
        raise DiagramError(f"{where}: property {long_name!r} has unknown Type {code} (0..4)")
    rel = next((c.text or "" for c in el if _local(c.tag) == "Relative"), None)
    return PropertySpec(name, code, el.text or "", subtype, rel)


def _port(el: ET.Element, instance: str, where: str) -> PortSpec:
    name = el.get("Name") or ""
    if not name:
        raise DiagramError(f"{where}: component {instance!r} has a port without a Name")
    port = PortSpec(name)
    for p in el:
        if _local(p.tag) == "Property":
            spec = _property(p, instance, where)
            # port names may hold dots (a Player's `recording.output`): strip the whole port name
            short = spec.name[len(name) + 1 :] if spec.name.startswith(name + ".") else spec.name.rsplit(".", 1)[-1]
            port.properties[short] = spec
    return port


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xef\xbb\xbf", "utf-8"),
)
_DECL = re.compile(r"^\s*<\?xml[^>]*?\?>", re.DOTALL)
_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def _as_utf8(data: bytes, where: str) -> bytes:
    """The diagram re-encoded as UTF-8 without its XML declaration: decoded by its byte order mark, else by the
    encoding its declaration names (UTF-8 by default), so that every later check sees the same text."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            encoding, data = enc, data[len(bom) :]
            break
    else:
        m = _DECL_ENCODING.match(data)
        encoding = m.group(1).decode("ascii") if m else "utf-8"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as e:
        raise DiagramError(f"{where}: cannot decode the diagram as {encoding} ({e})") from None
    return _DECL.sub("", text, count=1).encode("utf-8")


def _refuse_dtd(data: bytes, where: str) -> None:
    """Parse once with expat, failing on the first DOCTYPE or ENTITY declaration, in any encoding expat reads."""

    def refuse(*_args: object) -> None:
        raise DiagramError(f"{where}: refusing a diagram with a DTD (<!DOCTYPE>/<!ENTITY>): entities are not allowed")

    parser = xml.parsers.expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ElementDeclHandler = refuse
    parser.AttlistDeclHandler = refuse
    parser.ExternalEntityRefHandler = lambda *a: refuse()
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as e:
        raise DiagramError(f"{where}: not well-formed XML ({e})") from None


def parse_rtd_text(data: bytes, path: Path) -> Diagram:
    """Parse diagram bytes; DiagramError naming `path` for anything unsafe or malformed."""
    where = str(path)
    if len(data) > MAX_BYTES:
        raise DiagramError(f"{where}: {len(data)} bytes is too large for a diagram (limit {MAX_BYTES})")
    data = _as_utf8(data, where)
    if _DTD.search(data):  # on the decoded text, whatever the file's encoding
        raise DiagramError(f"{where}: refusing a diagram with a DTD (<!DOCTYPE>/<!ENTITY>): entities are not allowed")
    _refuse_dtd(data, where)  # and by the parser itself: a doctype declaration fails the parse
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise DiagramError(f"{where}: not well-formed XML ({e})") from None
    if _local(root.tag) != "RTMapsDiagram":
        raise DiagramError(f"{where}: root element is <{_local(root.tag)}>, expected <RTMapsDiagram>")
    components: dict[str, ComponentSpec] = {}
    connections: list[ConnectionSpec] = []
    macros: dict[str, str] = {}
    for el in root:
        tag = _local(el.tag)
        if tag == "MacroComponent":
            macros[el.get("InstanceName") or "?"] = el.get("Model") or "?"
        elif tag == "Component":
            inst, model = el.get("InstanceName") or "", el.get("Model") or ""
            if not inst or not model or "." in inst:
                raise DiagramError(
                    f"{where}: a <Component> needs InstanceName (no dots) and Model, "
                    f"got InstanceName={inst!r} Model={model!r}"
                )
            if inst in components:
                raise DiagramError(f"{where}: two components are named {inst!r}")
            comp = ComponentSpec(inst, model, el.get("Version", ""))
            for child in el:
                ctag = _local(child.tag)
                if ctag == "Property":
                    spec = _property(child, inst, where)
                    comp.properties[spec.name] = spec
                elif ctag in ("Input", "Output"):
                    port = _port(child, inst, where)
                    (comp.inputs if ctag == "Input" else comp.outputs)[port.name] = port
            components[inst] = comp
        elif tag == "Connection":
            out_i, out_p = _split(el.get("Output") or "", f"{where}: <Connection Output>")
            in_i, in_p = _split(el.get("Input") or "", f"{where}: <Connection Input>")
            connections.append(ConnectionSpec(out_i, out_p, in_i, in_p))
    for c in connections:
        for inst in (c.out_instance, c.in_instance):
            if inst in macros:
                raise DiagramError(
                    f"{where}: connection {c} uses <MacroComponent> {inst!r} (model {macros[inst]!r}): "
                    f"macro components are not supported by the host emulator"
                )
            if inst not in components:
                raise DiagramError(f"{where}: connection {c} names a component {inst!r} the diagram does not define")
    if not components:
        raise DiagramError(f"{where}: the diagram defines no <Component>")
    if macros:
        names = ", ".join(f"{k} ({v})" for k, v in macros.items())
        raise DiagramError(
            f"{where}: <MacroComponent> {names}: macro components are not supported by the host emulator"
        )
    return Diagram(Path(path).resolve(), components, connections, macros)


def load_rtd(path: str | Path) -> Diagram:
    """Read and parse a .rtd file."""
    p = Path(path)
    try:
        if not stat.S_ISREG(os.stat(p).st_mode):  # before open(): opening a FIFO would block until a writer came
            raise DiagramError(f"{p}: not a regular file (a diagram is an .rtd file)")
        with open(p, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise DiagramError(f"{p}: not a regular file (a diagram is an .rtd file)")
            if st.st_size > MAX_BYTES:
                raise DiagramError(f"{p}: {st.st_size} bytes is too large for a diagram (limit {MAX_BYTES})")
            data = f.read(MAX_BYTES + 1)  # bounded even if the file grows meanwhile
    except OSError as e:
        raise DiagramError(f"{p}: cannot read the diagram ({e.strerror or e})") from None
    return parse_rtd_text(data, p)
