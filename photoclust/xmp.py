"""XMP face regions: read, merge and write them (pure: no database, no models).

Formats
-------
* **MWG regions** (Metadata Working Group, ``mwg-rs:Regions``), what digiKam, Lightroom Classic, Picasa,
  exiftool, Immich and PhotoPrism read and write: ``mwg-rs:AppliedToDimensions`` (``stDim:w``/``h``,
  ``unit=pixel``) and a ``mwg-rs:RegionList`` bag of regions, each with ``mwg-rs:Name``,
  ``mwg-rs:Type`` (``Face``) and ``mwg-rs:Area``: ``stArea:x``/``y`` the region's *centre* and
  ``stArea:w``/``h`` its size, normalised to 0..1 (``stArea:unit=normalized``).
* **Microsoft People Tagging** (``MP:RegionInfo/MPRI:Regions``), read only: ``MPReg:PersonDisplayName`` and
  ``MPReg:Rectangle`` = ``"x, y, w, h"`` normalised, (x, y) the *top-left* corner. Used when a packet has
  no MWG region (digiKam writes both; MWG is preferred, as digiKam and ExifToolGUI do).

Orientation: the MWG guidelines (2.0, §5.9 "Image Region Metadata" and §5.4 "Orientation") apply regions to
the *stored* image: a photo with EXIF orientation 6 stored 4000x3000 has ``AppliedToDimensions`` 4000x3000
and regions in those unrotated pixels, even though it is shown 3000x4000. photoclust's boxes are in the
*oriented* (shown) photo, so :func:`to_stored` / :func:`to_oriented` convert with the EXIF orientation.
Readers that ignore the orientation of a sidecar misplace regions on such photos (known bugs of several
galleries); when ``AppliedToDimensions`` matches the *shown* size of a 90-degree-turned photo instead, the
writer did not follow the guidelines and :func:`regions_in_oriented_frame` takes the regions as shown.

Merging: :func:`merge_regions` parses an existing packet and changes only the ``mwg-rs:Regions`` of one
description (``AppliedToDimensions``, and the regions the caller replaces; the others are kept as they
are). Every other property, description, namespace declaration, comment, the whitespace between elements
and the ``xpacket`` wrapper are kept; only attribute quoting may change (``'`` becomes ``"``).
Packets with a DOCTYPE (entity expansion) are refused, and a packet that is not XML is never overwritten.
"""

from __future__ import annotations

import io
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

NormBox = tuple[float, float, float, float]  # x1, y1, x2, y2 in 0..1

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_MWGRS = "http://www.metadataworkinggroup.com/schemas/regions/"
NS_STAREA = "http://ns.adobe.com/xmp/sType/Area#"
NS_STDIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
NS_MP = "http://ns.microsoft.com/photo/1.2/"
NS_MPRI = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
NS_MPREG = "http://ns.microsoft.com/photo/1.2/t/Region#"

PREFERRED_PREFIXES = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_MWGRS: "mwg-rs",
    NS_STAREA: "stArea",
    NS_STDIM: "stDim",
    NS_MP: "MP",
    NS_MPRI: "MPRI",
    NS_MPREG: "MPReg",
}

SidecarStyle = Literal["digikam", "lightroom"]
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


class XmpError(ValueError):
    """An XMP packet that cannot be parsed (the file is then left alone)."""


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


RDF_DESCRIPTION = _q(NS_RDF, "Description")
RDF_LI = _q(NS_RDF, "li")
RDF_PARSETYPE = _q(NS_RDF, "parseType")
RDF_ABOUT = _q(NS_RDF, "about")
RDF_CONTAINERS = (_q(NS_RDF, "Bag"), _q(NS_RDF, "Seq"), _q(NS_RDF, "Alt"))
MWG_REGIONS = _q(NS_MWGRS, "Regions")
MWG_REGIONLIST = _q(NS_MWGRS, "RegionList")
MWG_DIMS = _q(NS_MWGRS, "AppliedToDimensions")


# ------------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """One region of a packet: a name (None when unnamed), a normalised box in the packet's frame
    (the stored image for MWG), the MWG type (``Face``, ``Pet``..., None when absent) and the schema."""

    name: str | None
    box: NormBox
    type: str | None = "Face"
    schema: Literal["mwg", "mp"] = "mwg"

    @property
    def is_face(self) -> bool:
        return self.type is None or self.type.casefold() == "face"


@dataclass(frozen=True)
class RegionInfo:
    regions: tuple[Region, ...]
    dimensions: tuple[int, int] | None  # AppliedToDimensions (w, h) in pixels, when given


# ------------------------------------------------------------------------------------------------
# Geometry
# ------------------------------------------------------------------------------------------------


def _map_point(u: float, v: float, orientation: int) -> tuple[float, float]:
    """A normalised point of the stored image -> the same point in the image shown with EXIF ``orientation``."""
    if orientation == 2:
        return 1 - u, v
    if orientation == 3:
        return 1 - u, 1 - v
    if orientation == 4:
        return u, 1 - v
    if orientation == 5:
        return v, u
    if orientation == 6:
        return 1 - v, u
    if orientation == 7:
        return 1 - v, 1 - u
    if orientation == 8:
        return v, 1 - u
    return u, v


_INVERSE = {6: 8, 8: 6}


def _map_box(box: NormBox, orientation: int) -> NormBox:
    a = _map_point(box[0], box[1], orientation)
    b = _map_point(box[2], box[3], orientation)
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))


def to_oriented(box: NormBox, orientation: int) -> NormBox:
    """A normalised box of the stored image -> the shown (EXIF-oriented) image."""
    return _map_box(box, orientation)


def to_stored(box: NormBox, orientation: int) -> NormBox:
    """A normalised box of the shown (EXIF-oriented) image -> the stored image."""
    return _map_box(box, _INVERSE.get(orientation, orientation))


def normalise(box: tuple[float, float, float, float], width: int, height: int) -> NormBox:
    """A pixel box -> normalised, clamped to the image."""
    x1, y1, x2, y2 = box
    return (
        min(max(x1 / width, 0.0), 1.0),
        min(max(y1 / height, 0.0), 1.0),
        min(max(x2 / width, 0.0), 1.0),
        min(max(y2 / height, 0.0), 1.0),
    )


def regions_in_oriented_frame(info: RegionInfo, orientation: int, shown_size: tuple[int, int]) -> list[Region]:
    """The packet's regions as boxes of the shown photo (``shown_size`` = its oriented width, height)."""
    sw, sh = shown_size
    as_shown = (
        orientation in (5, 6, 7, 8)
        and info.dimensions is not None
        and sw != sh
        and _same_size(info.dimensions, (sw, sh))
    )
    if as_shown or orientation == 1:
        return list(info.regions)
    return [Region(r.name, to_oriented(r.box, orientation), r.type, r.schema) for r in info.regions]


def _same_size(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1


# ------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------


class _Builder(ET.TreeBuilder):
    """A tree builder that keeps comments, processing instructions and where each prefix was declared."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self._pending: list[tuple[str, str]] = []
        self.declarations: dict[int, list[tuple[str, str]]] = {}
        self.keep: list[ET.Element] = []

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        el = super().start(tag, attrs)
        if self._pending:
            self.declarations[id(el)] = self._pending
            self.keep.append(el)
            self._pending = []
        return el


@dataclass
class _Doc:
    head: str  # everything before the root element (xpacket begin, xml declaration, comments)
    root: ET.Element
    tail: str  # everything after it (padding, xpacket end)
    declarations: dict[int, list[tuple[str, str]]]
    keep: list[ET.Element]  # keeps the ids in ``declarations`` valid


_ROOT_START = re.compile(r"\s*(<\?.*?\?>|<!--.*?-->)", re.S)


def _split(text: str) -> tuple[str, str, str]:
    """(head, root element text, tail) of an XML document."""
    i = 0
    while True:
        m = _ROOT_START.match(text, i)
        if not m:
            break
        i = m.end()
    while i < len(text) and text[i].isspace():
        i += 1
    if text.startswith("<!", i):
        raise XmpError("XMP packet with a DOCTYPE or entity declaration: refusing to parse it")
    j = len(text)
    while True:
        stripped = text[:j].rstrip()
        if stripped.endswith("?>"):
            k = stripped.rfind("<?")
        elif stripped.endswith("-->"):
            k = stripped.rfind("<!--")
        else:
            k = -1
        if k < i:
            j = len(stripped)
            break
        j = k
    return text[:i], text[i:j], text[j:]


def _parse(text: str) -> _Doc:
    text = text.lstrip("\ufeff")
    head, body, tail = _split(text)
    if not body.strip():
        raise XmpError("no XML element in the XMP packet")
    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    try:
        parser.feed(body)
        root = parser.close()
    except ET.ParseError as exc:
        raise XmpError(f"not valid XML: {exc}") from exc
    return _Doc(head, root, tail, builder.declarations, builder.keep)


def decode_packet(data: bytes, strict: bool = False) -> str:
    """XMP bytes (UTF-8, or UTF-16/32 with a byte order mark) -> text.

    ``strict``: raise :class:`XmpError` on bytes that are not valid in the encoding (before rewriting a
    file: replacing them would change text we mean to keep); otherwise they become U+FFFD.
    """
    errors = "strict" if strict else "replace"
    try:
        for bom, enc in (
            (b"\xff\xfe\x00\x00", "utf-32-le"),
            (b"\x00\x00\xfe\xff", "utf-32-be"),
            (b"\xff\xfe", "utf-16-le"),
            (b"\xfe\xff", "utf-16-be"),
        ):
            if data.startswith(bom):
                return data[len(bom) :].decode(enc, errors=errors)
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise XmpError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _rdf(doc_root: ET.Element) -> ET.Element | None:
    if doc_root.tag == _q(NS_RDF, "RDF"):
        return doc_root
    return doc_root.find(f".//{{{NS_RDF}}}RDF")


def _elements(el: ET.Element) -> list[ET.Element]:
    return [c for c in el if isinstance(c.tag, str)]


Value = str | list["Value"] | dict[str, "Value"]


def _struct(el: ET.Element) -> dict[str, Value]:
    """The properties of a resource: non-RDF attributes and child property elements."""
    props: dict[str, Value] = {}
    for k, v in el.attrib.items():
        if not k.startswith(f"{{{NS_RDF}}}") and not k.startswith(f"{{{NS_XML}}}"):
            props[k] = v
    for child in _elements(el):
        props[child.tag] = _value(child)
    return props


def _value(prop: ET.Element) -> Value:
    """A property element's value in any of RDF/XML's forms: text, struct, array."""
    if prop.get(RDF_PARSETYPE) == "Resource":
        return _struct(prop)
    children = _elements(prop)
    if children:
        c = children[0]
        if c.tag in RDF_CONTAINERS:
            return [_value(li) for li in _elements(c) if li.tag == RDF_LI]
        if c.tag == RDF_DESCRIPTION:
            return _struct(c)
        return _struct(c)
    resource = prop.get(_q(NS_RDF, "resource"))
    if resource is not None:
        return resource
    if any(not k.startswith(f"{{{NS_RDF}}}") and not k.startswith(f"{{{NS_XML}}}") for k in prop.attrib):
        return _struct(prop)
    return (prop.text or "").strip()


def _num(v: Value | None) -> float | None:
    if not isinstance(v, str):
        return None
    try:
        f = float(v.strip().replace(",", "."))
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _text(v: Value | None) -> str | None:
    if isinstance(v, str):
        s = " ".join(v.split())
        return s or None
    if isinstance(v, list) and v and isinstance(v[0], str):  # a lang-alt or list: first item
        return _text(v[0])
    return None


def _mwg_region(item: Value, dims: tuple[int, int] | None) -> Region | None:
    if not isinstance(item, dict):
        return None
    area = item.get(_q(NS_MWGRS, "Area"))
    if not isinstance(area, dict):
        return None
    x, y = _num(area.get(_q(NS_STAREA, "x"))), _num(area.get(_q(NS_STAREA, "y")))
    w, h = _num(area.get(_q(NS_STAREA, "w"))), _num(area.get(_q(NS_STAREA, "h")))
    if x is None or y is None or w is None or h is None or w <= 0 or h <= 0:
        return None  # a point or circle region: not a face box
    unit = _text(area.get(_q(NS_STAREA, "unit"))) or "normalized"
    if unit.casefold() == "pixel":
        if dims is None or dims[0] <= 0 or dims[1] <= 0:
            return None
        x, w = x / dims[0], w / dims[0]
        y, h = y / dims[1], h / dims[1]
    box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return Region(_text(item.get(_q(NS_MWGRS, "Name"))), box, _text(item.get(_q(NS_MWGRS, "Type"))), "mwg")


def _mp_region(item: Value) -> Region | None:
    if not isinstance(item, dict):
        return None
    rect = item.get(_q(NS_MPREG, "Rectangle"))
    if not isinstance(rect, str):
        return None
    parts = [_num(p) for p in rect.split(",")]
    if len(parts) != 4 or any(p is None for p in parts):
        return None
    x, y, w, h = (float(p) for p in parts if p is not None)
    if w <= 0 or h <= 0:
        return None
    return Region(_text(item.get(_q(NS_MPREG, "PersonDisplayName"))), (x, y, x + w, y + h), None, "mp")


def _dims(v: Value | None) -> tuple[int, int] | None:
    if not isinstance(v, dict):
        return None
    w, h = _num(v.get(_q(NS_STDIM, "w"))), _num(v.get(_q(NS_STDIM, "h")))
    if w is None or h is None or w <= 0 or h <= 0:
        return None
    return round(w), round(h)


def read_regions(text: str) -> RegionInfo:
    """The face regions of an XMP packet: MWG regions, or the Microsoft ones when there is no MWG region.

    Raises :class:`XmpError` when the packet is not XML.
    """
    doc = _parse(text)
    rdf = _rdf(doc.root)
    if rdf is None:
        return RegionInfo((), None)
    mwg: list[Region] = []
    mp: list[Region] = []
    dims: tuple[int, int] | None = None
    for desc in _elements(rdf):
        if desc.tag != RDF_DESCRIPTION:
            continue
        for prop in _elements(desc):
            if prop.tag == MWG_REGIONS:
                regions = _value(prop)
                if not isinstance(regions, dict):
                    continue
                d = _dims(regions.get(MWG_DIMS))
                dims = dims or d
                items = regions.get(MWG_REGIONLIST)
                for item in items if isinstance(items, list) else []:
                    r = _mwg_region(item, d)
                    if r is not None:
                        mwg.append(r)
            elif prop.tag == _q(NS_MP, "RegionInfo"):
                info = _value(prop)
                items = info.get(_q(NS_MPRI, "Regions")) if isinstance(info, dict) else None
                for item in items if isinstance(items, list) else []:
                    r = _mp_region(item)
                    if r is not None:
                        mp.append(r)
    return RegionInfo(tuple(mwg) if mwg else tuple(mp), dims)


def find_packet(data: bytes) -> str | None:
    """The first XMP packet (``x:xmpmeta`` element, or a bare ``rdf:RDF``) inside a file's bytes."""
    for start_tag, end_tag in (
        (b"<x:xmpmeta", b"</x:xmpmeta>"),
        (b"<x:xapmeta", b"</x:xapmeta>"),
        (b"<rdf:RDF", b"</rdf:RDF>"),
    ):
        i = data.find(start_tag)
        if i < 0:
            continue
        j = data.find(end_tag, i)
        if j < 0:
            continue
        return data[i : j + len(end_tag)].decode("utf-8", errors="replace")
    return None


def read_embedded(path: str | os.PathLike[str], max_bytes: int = 64 * 1024 * 1024) -> str | None:
    """The XMP packet embedded in a photo file, or None. JPEG: the APP1 XMP segment (only the header
    segments are read); other formats: the first packet in the first ``max_bytes`` of the file."""
    with open(path, "rb") as fh:
        head = fh.read(2)
        if head == b"\xff\xd8":
            return _jpeg_xmp(fh)
        data = head + fh.read(max_bytes)
    return find_packet(data)


def _jpeg_xmp(fh: io.BufferedReader) -> str | None:
    while True:
        b = fh.read(1)
        while b == b"\xff":  # fill bytes
            b = fh.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata segments
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        size = fh.read(2)
        if len(size) < 2:
            return None
        length = int.from_bytes(size, "big") - 2
        if length < 0:
            return None
        if marker == 0xE1:
            payload = fh.read(length)
            if payload.startswith(XMP_APP1_HEADER):
                return decode_packet(payload[len(XMP_APP1_HEADER) :])
        else:
            fh.seek(length, io.SEEK_CUR)


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".") if v != 0 else "0"


def _ws(el_text: str | None, default: str) -> str:
    """The whitespace before a child, reused for new siblings ("\\n" + indentation)."""
    if el_text and not el_text.strip() and "\n" in el_text:
        return "\n" + el_text.rsplit("\n", 1)[1]
    return default


def _region_li(region: Region, ws: str) -> ET.Element:
    """A ``rdf:li`` for one region, laid out for the indentation ``ws`` ("\\n" + spaces) of its line."""
    x1, y1, x2, y2 = region.box
    li = ET.Element(RDF_LI)
    desc = ET.SubElement(li, RDF_DESCRIPTION)
    if region.name:
        desc.set(_q(NS_MWGRS, "Name"), region.name)
    desc.set(_q(NS_MWGRS, "Type"), region.type or "Face")
    area = ET.SubElement(desc, _q(NS_MWGRS, "Area"))
    area.set(_q(NS_STAREA, "x"), _fmt((x1 + x2) / 2))
    area.set(_q(NS_STAREA, "y"), _fmt((y1 + y2) / 2))
    area.set(_q(NS_STAREA, "w"), _fmt(x2 - x1))
    area.set(_q(NS_STAREA, "h"), _fmt(y2 - y1))
    area.set(_q(NS_STAREA, "unit"), "normalized")
    li.text, desc.text = ws + " ", ws + "  "
    area.tail, desc.tail = ws + " ", ws
    return li


def _dims_element(dimensions: tuple[int, int]) -> ET.Element:
    el = ET.Element(MWG_DIMS)
    el.set(_q(NS_STDIM, "w"), str(int(dimensions[0])))
    el.set(_q(NS_STDIM, "h"), str(int(dimensions[1])))
    el.set(_q(NS_STDIM, "unit"), "pixel")
    return el


def _new_regions(ws: str) -> ET.Element:
    """An empty ``mwg-rs:Regions`` struct whose own line is indented by ``ws``."""
    regions = ET.Element(MWG_REGIONS, {RDF_PARSETYPE: "Resource"})
    regions.text = ws + " "
    rlist = ET.SubElement(regions, MWG_REGIONLIST)
    rlist.text, rlist.tail = ws + "  ", ws
    bag = ET.SubElement(rlist, _q(NS_RDF, "Bag"))
    bag.text, bag.tail = ws + "   ", ws + " "
    return regions


def _container(regions: ET.Element) -> ET.Element | None:
    """The element whose children are the Regions struct's fields (None for a shape we do not edit)."""
    if regions.get(RDF_PARSETYPE) == "Resource":
        return regions
    kids = _elements(regions)
    if len(kids) == 1 and kids[0].tag == RDF_DESCRIPTION:
        return kids[0]
    return None


def _bag(container: ET.Element, ws: str) -> ET.Element:
    """The RegionList's ``rdf:Bag`` (created when missing); ``ws``: the container's children's indentation."""
    rlist = next((c for c in _elements(container) if c.tag == MWG_REGIONLIST), None)
    if rlist is None:
        kids = _elements(container)
        rlist = ET.SubElement(container, MWG_REGIONLIST)
        if kids:
            rlist.tail, kids[-1].tail = kids[-1].tail, ws
    kids = _elements(rlist)
    if kids and kids[0].tag in RDF_CONTAINERS:
        return kids[0]
    for k in list(rlist):
        rlist.remove(k)
    rlist.attrib.clear()
    rlist.text = ws + " "
    bag = ET.SubElement(rlist, _q(NS_RDF, "Bag"))
    bag.text, bag.tail = ws + "  ", ws
    return bag


def _parents(root: ET.Element) -> dict[int, ET.Element]:
    return {id(c): p for p in root.iter() for c in p}


def _declare(doc: _Doc, el: ET.Element, wanted: Sequence[str]) -> None:
    """Declare the namespaces ``wanted`` on ``el`` unless ``el`` or an ancestor already does."""
    parents = _parents(doc.root)
    scope: dict[str, str] = {}
    chain = [el]
    while id(chain[-1]) in parents:
        chain.append(parents[id(chain[-1])])
    for node in reversed(chain):
        scope.update(dict(doc.declarations.get(id(node), [])))
    own = doc.declarations.setdefault(id(el), [])
    if el not in doc.keep:
        doc.keep.append(el)
    for uri in wanted:
        if uri in scope.values():
            continue
        want = PREFERRED_PREFIXES[uri]
        prefix, n = want, 1
        while prefix in scope:
            prefix, n = f"{want}{n}", n + 1
        own.append((prefix, uri))
        scope[prefix] = uri


def merge_regions(
    existing: str | None,
    regions: Sequence[Region],
    dimensions: tuple[int, int],
    replaces: Callable[[Region], bool],
) -> str:
    """An XMP packet: ``existing`` (or a new packet) with these MWG face regions written.

    ``regions``: normalised boxes of the stored image (see :func:`to_stored`) with their names.
    ``dimensions``: the stored image's (width, height) in pixels (``mwg-rs:AppliedToDimensions``).
    ``replaces(old)``: whether an existing MWG region is replaced by the new ones (it is dropped); the
    existing regions for which it is False are kept as they are, before the new ones.
    Everything else in ``existing`` is kept. Raises :class:`XmpError` when ``existing`` is not XML.
    """
    if existing is None or not existing.strip():
        existing = _EMPTY_PACKET
    doc = _parse(existing)
    rdf = _rdf(doc.root)
    if rdf is None:
        raise XmpError("XMP packet without rdf:RDF")
    descriptions = [d for d in _elements(rdf) if d.tag == RDF_DESCRIPTION]
    target = next((d for d in descriptions if d.find(MWG_REGIONS) is not None), None)
    if target is None:  # a description of its own, as exiftool lays them out
        target = ET.Element(RDF_DESCRIPTION, {RDF_ABOUT: descriptions[0].get(RDF_ABOUT, "") if descriptions else ""})
        kids = _elements(rdf)
        sep = _ws(rdf.text, "\n ") if kids else "\n "
        target.text = sep + " "
        if kids:
            target.tail, kids[-1].tail = kids[-1].tail, rdf.text if rdf.text and not rdf.text.strip() else sep
        else:
            target.tail = "\n"
            rdf.text = sep
        rdf.append(target)
    _declare(doc, target, [NS_MWGRS, NS_STAREA, NS_STDIM])
    prop_ws = _ws(target.text, "\n  ")
    regions_el = target.find(MWG_REGIONS)
    container = _container(regions_el) if regions_el is not None else None
    if regions_el is None or container is None:  # none yet, or a shape we do not edit: a new one
        new = _new_regions(prop_ws)
        if regions_el is not None:
            idx = list(target).index(regions_el)
            new.tail = regions_el.tail
            target.remove(regions_el)
            target.insert(idx, new)
        else:
            kids = _elements(target)
            if kids:
                new.tail, kids[-1].tail = kids[-1].tail, prop_ws
            else:
                target.text, new.tail = prop_ws, prop_ws[:-1] if prop_ws.endswith(" ") else prop_ws
            target.append(new)
        regions_el = container = new
    field_ws = _ws(container.text, prop_ws + " ")
    # AppliedToDimensions: ours (the kept regions are normalised, so they stay valid)
    for k in [k for k in container.attrib if k.startswith(f"{{{NS_MWGRS}}}")]:
        del container.attrib[k]
    new_dims = _dims_element(dimensions)
    old_dims = next((c for c in _elements(container) if c.tag == MWG_DIMS), None)
    if old_dims is not None:
        idx = list(container).index(old_dims)
        new_dims.tail = old_dims.tail
        container.remove(old_dims)
        container.insert(idx, new_dims)
    else:
        new_dims.tail = field_ws
        container.text = field_ws
        container.insert(0, new_dims)
    bag = _bag(container, field_ws)
    kept = []
    for li in [li for li in _elements(bag) if li.tag == RDF_LI]:
        old_region = _mwg_region(_value(li), dimensions)
        if old_region is not None and replaces(old_region):
            bag.remove(li)
        else:
            kept.append(li)
    item_ws = _ws(bag.text, field_ws + "  ") if kept else field_ws + "  "
    items = kept + [_region_li(r, item_ws) for r in regions]
    for li in items[len(kept) :]:
        bag.append(li)
    bag.text = item_ws
    for i, li in enumerate(items):
        li.tail = item_ws if i < len(items) - 1 else item_ws[:-1]
    if not items:
        bag.text = item_ws[:-1]
    return doc.head + _serialise(doc) + doc.tail


_EMPTY_PACKET = (
    "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
    "<x:xmpmeta xmlns:x='adobe:ns:meta/' x:xmptk='photoclust'>\n"
    "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\n"
    "</rdf:RDF>\n"
    "</x:xmpmeta>\n"
    "<?xpacket end='w'?>\n"
)


def _escape(text: str, attr: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attr:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def _split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


def _serialise(doc: _Doc) -> str:
    known: dict[str, str] = dict(PREFERRED_PREFIXES)
    for decls in doc.declarations.values():
        for prefix, uri in decls:
            if prefix:
                known.setdefault(uri, prefix)
    out: list[str] = []

    def prefix_for(uri: str, scope: dict[str, str], extra: list[tuple[str, str]], attribute: bool) -> str:
        if uri == NS_XML:
            return "xml"
        bound = {p for p, u in scope.items() if u == uri and (p or not attribute)}
        if bound:
            return sorted(bound, key=lambda p: (p == "", p))[0]
        want = known.get(uri, "ns")
        p, n = want, 1
        while p in scope or p == "xml":
            p, n = f"{want}{n}", n + 1
        scope[p] = uri
        extra.append((p, uri))
        return p

    def emit(el: ET.Element, parent_scope: dict[str, str]) -> None:
        tag: object = el.tag  # a str, or for comments and processing instructions the factory function
        if tag is ET.Comment:
            out.append(f"<!--{el.text or ''}-->")
            out.append(el.tail or "")
            return
        if tag is ET.ProcessingInstruction:
            out.append(f"<?{el.text or ''}?>")
            out.append(el.tail or "")
            return
        scope = dict(parent_scope)
        decls = list(doc.declarations.get(id(el), []))
        for p, u in decls:
            scope[p] = u
        extra: list[tuple[str, str]] = []
        uri, local = _split_tag(el.tag)
        if uri:
            p = prefix_for(uri, scope, extra, attribute=False)
            name = f"{p}:{local}" if p else local
        else:
            name = local
        attrs = []
        for k, v in el.attrib.items():
            a_uri, a_local = _split_tag(k)
            if a_uri:
                ap = prefix_for(a_uri, scope, extra, attribute=True)
                attrs.append((f"{ap}:{a_local}", v))
            else:
                attrs.append((a_local, v))
        parts = [name]
        for p, u in decls + extra:
            parts.append(f'{"xmlns:" + p if p else "xmlns"}="{_escape(u, True)}"')
        parts += [f'{k}="{_escape(v, True)}"' for k, v in attrs]
        children = list(el)
        if not children and not el.text:
            out.append("<" + " ".join(parts) + "/>")
        else:
            out.append("<" + " ".join(parts) + ">")
            out.append(_escape(el.text or ""))
            for c in children:
                emit(c, scope)
            out.append(f"</{name}>")
        out.append(_escape(el.tail or ""))

    tail = doc.root.tail
    doc.root.tail = None
    try:
        emit(doc.root, {})
    finally:
        doc.root.tail = tail
    return "".join(out)


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def sidecar_path(photo: str | os.PathLike[str], style: SidecarStyle) -> Path:
    """digiKam: ``photo.jpg.xmp`` (its default; also darktable's); Lightroom: ``photo.xmp`` (the extension
    replaced; Lightroom reads sidecars only for raw files, it embeds XMP into JPEG/TIFF/DNG itself)."""
    p = Path(photo)
    if style == "lightroom":
        return p.with_suffix(".xmp")
    return p.with_name(p.name + ".xmp")


def photo_for_sidecar(sidecar: str | os.PathLike[str]) -> tuple[str | None, str]:
    """(exact photo path for a digiKam-style sidecar or None, the photo's stem for a Lightroom-style one)."""
    s = Path(sidecar)
    inner = Path(s.stem)
    exact = str(s.with_name(s.stem)) if inner.suffix else None
    return exact, str(s.with_suffix(""))
